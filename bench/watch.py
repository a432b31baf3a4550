"""Watching a benchmark's processes: waiting for a condition, rates, CPU time from ``/proc``."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def wait_until(what: str, predicate: Callable[[], Any], timeout: float, every: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


def time_until(
    count: Callable[[], int], total: int, timeout: float, *, cpu_of: int | None = None, every: float = 0.02
) -> dict[str, float]:
    """Watch ``count()`` reach ``total``: the rate from the first completion seen to the last, and
    (with ``cpu_of``, a process id) the CPU that process and its children spent per completion."""
    deadline = time.monotonic() + timeout
    first: tuple[float, int, float] | None = None
    done = 0
    while time.monotonic() < deadline:
        done = count()
        now = time.perf_counter()
        if done and first is None:
            first = (now, done, tree_cpu(cpu_of) if cpu_of else 0.0)
        if done >= total:
            break
        time.sleep(every)
    if first is None or done < total:
        raise TimeoutError(f"only {done} of {total} done within {timeout:.0f}s")
    seconds = max(time.perf_counter() - first[0], 1e-6)
    result = {"done": done, "seconds": round(seconds, 3), "rate": round((done - first[1]) / seconds, 1)}
    if cpu_of and done > first[1]:
        result["cpu_ms_per_item"] = round(1000 * (tree_cpu(cpu_of) - first[2]) / (done - first[1]), 2)
    return result


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) of a process and its direct children (a Celery pool)."""
    total = 0.0
    for each in (pid, *children(pid)):
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total
