"""Beat scan cost: 1,000 versus 100,000 open requests with the same 100 due.

The design promises that a scan costs what is due, not what is open (DESIGN.md, flow C). Redis
is filled directly with pipelines: every open request gets its ``req:`` hash and an entry in
each due index (``due:{kind}``), scored in the future, except the 100 that are due for a
reminder. The reminder scan (``worker.flows.scans.scan_due``) then runs against a counting
enqueue: each per-request action it enqueues is one call to Crosschq later, so "API calls" is
the number of actions enqueued. Each size is measured ``RUNS`` times (after a warm-up) and the
median is reported; the 100 due items are put back between runs.

Targets: scan time ratio (100k / 1k) <= 1.5, and API calls == number due.

Uses a Redis database of its own (``BENCH_REDIS_URL``, default DB 13), starts an embedded
redis-server if none is reachable, and deletes every key it wrote when it is done.
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Any, cast

import redis

from bench import report
from config.logs import configure_logging
from config.rules import load_rules
from config.settings import Settings
from worker.deps import Deps
from worker.embedded_redis import ensure_redis
from worker.flows.cadence import KINDS
from worker.flows.due import due_key
from worker.flows.scans import scan_due
from worker.store import PREFIX, Store, k

SIZES = (1_000, 100_000)
DUE = 100
RUNS = 21
WARMUP = 3
TARGET_RATIO = 1.5
CHUNK = 5_000


def populate(client: redis.Redis, open_count: int, now: float) -> list[str]:
    """Write ``open_count`` open requests; return the ids of the ``DUE`` due for a reminder."""
    step = open_count // DUE
    due_ids = [f"bench-{n:07d}" for n in range(0, open_count, step)][:DUE]
    due_set = set(due_ids)
    pipe = client.pipeline(transaction=False)
    for n in range(open_count):
        rid = f"bench-{n:07d}"
        pipe.hset(
            k("req", rid),
            mapping={"connector": "memory", "application_id": str(n), "trigger": "reference-check",
                     "status": "sent", "opened_at": now - 86400, "progress_at": now - 86400},
        )
        for kind in KINDS:
            later = now + 3600 + n  # open, not yet due
            pipe.zadd(due_key(kind), {rid: now - 60 if kind == "remind" and rid in due_set else later})
        if n % CHUNK == CHUNK - 1:
            pipe.execute()
    pipe.execute()
    return due_ids


def measure(deps: Deps, client: redis.Redis, due_ids: list[str], now: float) -> dict[str, Any]:
    enqueued: list[str] = []
    deps.send_task = lambda name, kwargs: enqueued.append(kwargs["request_id"])
    times: list[float] = []
    calls: list[int] = []
    for run in range(WARMUP + RUNS):
        client.zadd(due_key("remind"), dict.fromkeys(due_ids, now - 60))  # due again
        enqueued.clear()
        started = time.perf_counter()
        scan_due(deps, "remind", now=now)
        elapsed = time.perf_counter() - started
        if run >= WARMUP:
            times.append(elapsed)
            calls.append(len(enqueued))
    return {
        "scan_ms_median": round(statistics.median(times) * 1000, 3),
        "scan_ms_min": round(min(times) * 1000, 3),
        "scan_ms_max": round(max(times) * 1000, 3),
        "api_calls": statistics.median(calls),
        "api_calls_all_runs_equal_due": all(c == DUE for c in calls),
    }


def clean(client: redis.Redis) -> None:
    batch: list[bytes] = []
    for key in client.scan_iter(match=PREFIX + "*", count=10_000):
        batch.append(key)
        if len(batch) >= CHUNK:
            client.unlink(*batch)
            batch.clear()
    if batch:
        client.unlink(*batch)


def run() -> dict[str, Any]:
    configure_logging("console", "WARNING")  # one info line per scan would drown the table
    url, server = ensure_redis(os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13"))
    client = redis.Redis.from_url(url)
    settings = Settings.load()
    deps = Deps(
        settings=settings,
        store=Store(client),
        crosschq=cast(Any, None),  # a scan never calls Crosschq; its actions are only counted
        rules=load_rules(None),
    )
    rows = []
    try:
        for size in SIZES:
            clean(client)
            now = time.time()
            started = time.perf_counter()
            due_ids = populate(client, size, now)
            fill_s = round(time.perf_counter() - started, 2)
            rows.append({"open": size, "due": DUE, "fill_s": fill_s, **measure(deps, client, due_ids, now)})
    finally:
        clean(client)
        client.close()
        if server is not None:
            server.stop()
    ratio = report.ratio(rows[-1]["scan_ms_median"], rows[0]["scan_ms_median"])
    calls_ok = all(r["api_calls_all_runs_equal_due"] for r in rows)
    return {
        "runs": RUNS,
        "batch_size": settings.schedule.batch_size,
        "rows": rows,
        "ratio": ratio,
        "target_ratio": TARGET_RATIO,
        "api_calls_equal_due": calls_ok,
        "passed": ratio <= TARGET_RATIO and calls_ok,
    }


def main() -> bool:
    result = run()
    rows = [
        [r["open"], r["due"], r["scan_ms_median"], r["scan_ms_min"], r["scan_ms_max"], r["api_calls"]]
        for r in result["rows"]
    ]
    title = f"scan: reminder scan, same {DUE} due, median of {result['runs']} runs"
    headers = ["open requests", "due", "scan ms (median)", "min", "max", "API calls"]
    print(report.table(title, headers, rows))
    first, last = result["rows"][0]["open"], result["rows"][-1]["open"]
    print(
        f"ratio {last:,} / {first:,}: {result['ratio']:.2f} (target <= {TARGET_RATIO}): "
        f"{report.verdict(result['ratio'] <= TARGET_RATIO)}; API calls = due: "
        f"{report.verdict(result['api_calls_equal_due'])}"
    )
    print(f"written to {report.write_result('scan', result)}")
    return bool(result["passed"])
