"""``python -m bench [NAME...]``: run the benchmarks (all by default), each printing its table and
writing its JSON under ``bench/results/``. A benchmark is a module here with ``main() -> bool``
(True when its targets were met); the exit status is 1 when any missed."""

from __future__ import annotations

import importlib
import sys

BENCHMARKS = ("scan", "ingest", "pipeline", "ratelimit", "memory", "economy")


def main(argv: list[str]) -> int:
    ok = True
    for name in argv or BENCHMARKS:
        module = importlib.import_module(f"bench.{name}")
        ok = bool(module.main()) and ok
        print()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
