"""Memory of a worker across 10,000 events: peak and trend of every process's resident set.

10,000 full lifecycles would take far longer than the few minutes this run is allowed, so the
events are 10,000 Crosschq status webhooks over 250 requests: 40 rounds, each posting one newer
status per request (accepted, assigning, collecting in turn) through the receiver and waiting
until the worker has processed all of them. Each one is applied and written back to the ATS.

``/proc/<pid>/status`` (VmRSS, VmHWM) of the worker's main process and its two pool processes is
sampled twice a second. Targets: peak at most 150 MiB for every process, and no upward trend (a
process's RSS at 100 % of the events within 5 MiB of its RSS at 25 %).
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

from bench.harness import (
    BenchStack,
    bench_stack,
    crosschq_webhook,
    post_webhooks,
    record_requests,
    seed_applications,
)
from bench.report import table, verdict, write_result
from bench.watch import children, wait_until

REQUESTS = 250
EVENTS = int(os.environ.get("BENCH_MEMORY_EVENTS", "10000"))
STATUSES = ("accepted", "assigning", "collecting")
TARGET_PEAK_MIB = 150.0
TARGET_GROWTH_MIB = 5.0
MARKS = (25, 50, 75, 100)


def status_kib(pid: int) -> dict[str, int]:
    values = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name, _, rest = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                values[name] = int(rest.split()[0])
    except OSError:
        pass
    return values


class Sampler(threading.Thread):
    """RSS of a process tree every ``every`` seconds, with the number of events done."""

    def __init__(self, pid: int, done: list[int], every: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.pid, self.done, self.every = pid, done, every
        self.samples: list[tuple[int, dict[str, dict[str, int]]]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(self.every):
            names = {"main": self.pid, **{f"pool-{i + 1}": c for i, c in enumerate(children(self.pid))}}
            self.samples.append((self.done[0], {name: status_kib(pid) for name, pid in names.items()}))


def drive(bs: BenchStack, done: list[int]) -> None:
    requests = record_requests(bs.store(), seed_applications(bs.greenhouse, REQUESTS))
    base = time.time() - EVENTS
    for round_no in range(EVENTS // REQUESTS):
        status = STATUSES[round_no % len(STATUSES)]
        post_webhooks(bs, [crosschq_webhook(rid, status, base + round_no) for rid in requests])
        wait_until("the round's events", lambda: bs.redis.zcard("cqw:inbox:pending") == 0, 60, every=0.05)
        done[0] += len(requests)


def at_marks(samples: list[tuple[int, dict[str, dict[str, int]]]]) -> dict[str, dict[int, float]]:
    """RSS (MiB) of each process at the first sample taken after each mark's share of events."""
    out: dict[str, dict[int, float]] = {}
    for mark in MARKS:
        wanted = EVENTS * mark // 100
        procs = next((p for d, p in samples if d >= wanted), samples[-1][1])
        for name, values in procs.items():
            out.setdefault(name, {})[mark] = round(values.get("VmRSS", 0) / 1024, 1)
    return out


def run() -> dict[str, Any]:
    done = [0]
    with bench_stack() as bs:
        worker = bs.start_worker("worker", 2)
        sampler = Sampler(worker.popen.pid, done)
        sampler.start()
        started = time.perf_counter()
        drive(bs, done)
        elapsed = time.perf_counter() - started
        time.sleep(1.0)
        sampler.stop.set()
        sampler.join()
        writes = bs.status_writes()
    return report(sampler.samples, elapsed, writes)


Samples = list[tuple[int, dict[str, dict[str, int]]]]


def report(samples: Samples, elapsed: float, writes: int) -> dict[str, Any]:
    marks = at_marks(samples)
    peaks = {name: round(max(p.get(name, {}).get("VmHWM", 0) for _, p in samples) / 1024, 1)
             for name in marks}  # fmt: skip
    growth = {name: round(values[100] - values[25], 1) for name, values in marks.items()}
    result = {
        "events": EVENTS, "requests": REQUESTS, "seconds": round(elapsed, 1), "status_writes": writes,
        "rss_mib_at_percent": marks, "peak_mib": peaks, "growth_25_to_100_mib": growth,
        "samples": len(samples),
    }  # fmt: skip
    met = {
        "peak": max(peaks.values()) <= TARGET_PEAK_MIB,
        "no_upward_trend": max(growth.values()) <= TARGET_GROWTH_MIB,
        "all_written": writes >= EVENTS,
    }
    result["met"] = met
    rows = [[name, *(marks[name][m] for m in MARKS), peaks[name], growth[name]] for name in marks]
    print(table(
        f"memory: {EVENTS} status webhooks over {REQUESTS} requests in {elapsed:.0f}s, {writes} written back",
        ["process", "RSS MiB at 25%", "50%", "75%", "100%", "peak (VmHWM)", "growth 25->100%"],
        rows,
    ))  # fmt: skip
    print(f"peak <= {TARGET_PEAK_MIB} MiB: {verdict(met['peak'])}; growth <= {TARGET_GROWTH_MIB} MiB: "
          f"{verdict(met['no_upward_trend'])}; every event written back: {verdict(met['all_written'])}\n")
    write_result("memory", result)
    return result


def main() -> bool:
    """``python -m bench``: True when every target was met."""
    return all(run()["met"].values())


if __name__ == "__main__":
    raise SystemExit(0 if main() else 1)
