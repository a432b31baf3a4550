"""Four worker processes against a Greenhouse sandbox that allows L requests per window.

The sandbox is Greenhouse's fixed window (connectors/greenhouse/sandbox_runtime.py): L calls,
then 429 until the window that began with the first call has passed. The worker's limiter is
set to the same L and window (``GREENHOUSE_RATE_LIMIT``/``GREENHOUSE_RATE_WINDOW``). The window is
scaled down (L=20 per 2 s instead of Greenhouse's 50 per 10 s) to keep the run short; enough status
webhooks are queued that the workers always have work, each costing exactly one Harvest call.

Achieved rate: calls per window as the sandbox counts them (see :func:`achieved`), against L.
Targets: at least 0.95 L per window, and no 429.
"""

from __future__ import annotations

import os
import time
from datetime import datetime
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
from bench.watch import wait_until

LIMIT = int(os.environ.get("BENCH_RATE_LIMIT", "20"))
WINDOW = float(os.environ.get("BENCH_RATE_WINDOW", "2"))
WINDOWS = 12
WORKERS = 4
TARGET_SHARE = 0.95
EVENTS = LIMIT * (WINDOWS + 1)


def call_times(bs: BenchStack) -> tuple[list[float], int]:
    """Times of the successful Harvest calls, and the number answered 429."""
    calls = [c for c in bs.greenhouse.calls() if c.get("api") == "v1"]
    ok = sorted(_epoch(c["at"]) for c in calls if int(c["status"]) < 400)
    return ok, sum(1 for c in calls if int(c["status"]) == 429)


def _epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def achieved(times: list[float]) -> dict[str, float]:
    """Calls per window as the sandbox counts them: a window opens with the first call after the
    previous one closed. Complete windows only, over the time from the first window's start to
    the start of the window after them (gaps between windows count)."""
    starts: list[float] = []
    counts: list[int] = []
    for t in times:
        if not starts or t >= starts[-1] + WINDOW:
            starts.append(t)
            counts.append(0)
        counts[-1] += 1
    if len(starts) < 2:
        return {"windows": 0, "per_window": 0.0}
    span = starts[-1] - starts[0]
    return {"windows": len(starts) - 1, "per_window": round(sum(counts[:-1]) * WINDOW / span, 2)}


def busiest(times: list[float]) -> int:
    """The most calls that fell in any interval of one window's length."""
    most, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= WINDOW:
            start += 1
        most = max(most, end - start + 1)
    return most


def measure(bs: BenchStack) -> dict[str, Any]:
    apps = seed_applications(bs.greenhouse, EVENTS)
    requests = record_requests(bs.store(), apps)
    now = time.time()
    post_webhooks(bs, [crosschq_webhook(rid, "accepted", now) for rid in requests])
    bs.start_worker("worker", WORKERS, wait=False)
    timeout = EVENTS / LIMIT * WINDOW * 3 + 30
    wait_until("every write-back", lambda: len(call_times(bs)[0]) >= EVENTS, timeout, every=0.2)
    times, throttled = call_times(bs)
    dead = len(bs.redis.zrange("cqw:dead", 0, -1))
    return {"calls": len(times), "answered_429": throttled, "busiest_window": busiest(times),
            "dead_letters": dead, **achieved(times)}  # fmt: skip


def run() -> dict[str, Any]:
    env = {"GREENHOUSE_RATE_LIMIT": str(LIMIT), "GREENHOUSE_RATE_WINDOW": str(WINDOW)}
    with bench_stack(gh_rate=(LIMIT, WINDOW), env=env) as bs:
        result = measure(bs)
    share = round(result["per_window"] / LIMIT, 3)
    result.update(limit=LIMIT, window_s=WINDOW, worker_processes=WORKERS, share_of_limit=share)
    result["met"] = {"share": share >= TARGET_SHARE, "no_429": result["answered_429"] == 0}
    row = [LIMIT, WINDOW, result["calls"], result["windows"], result["per_window"], share,
           result["busiest_window"], result["answered_429"], result["dead_letters"]]  # fmt: skip
    print(table(
        f"rate limit: {WORKERS} worker processes, Greenhouse sandbox at {LIMIT} per {WINDOW:g} s",
        ["L", "window s", "calls", "windows", "calls/window", "share of L", "busiest window", "429s", "dead"],
        [row],
    ))  # fmt: skip
    print(f"share of L {share} (target >= {TARGET_SHARE}): {verdict(result['met']['share'])}; "
          f"429 answers {result['answered_429']} (target 0): {verdict(result['met']['no_429'])}\n")
    write_result("ratelimit", result)
    return result


def main() -> bool:
    """``python -m bench``: True when every target was met."""
    return all(run()["met"].values())


if __name__ == "__main__":
    raise SystemExit(0 if main() else 1)
