"""Benchmarks (``make bench``): they measure what the design promises, outside ``make test``."""
