"""Crosschq webhooks turned into ATS write-backs per second, next to bare Celery no-op tasks.

Each side gets the same number of messages queued before its two worker processes start, so
both measure consumption alone, from the first completion to the last:

- ours: M status webhooks for M recorded requests (one per seeded Greenhouse application),
  posted through the receiver; done when the Greenhouse sandbox (no latency, no rate limit
  in effect) has M status write-backs. Each one is a real ``crosschq.process_webhook`` task:
  load the event, parse it, lock the request, PATCH the custom fields, record the status,
  reschedule the due index, write the timeline, mark the event processed.
- bare: M ``bench.noop`` tasks (``bench/noop_app.py``) sent with ``send_task``; done when the
  tasks' counter in Redis reaches M.

Rounds alternate between the two. Target: ours at least 0.3 of the bare rate.
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Any

from celery import Celery

from bench.harness import (
    BenchStack,
    bench_stack,
    crosschq_webhook,
    post_webhooks,
    record_requests,
    seed_applications,
)
from bench.noop_app import COUNTER, QUEUE
from bench.report import ratio, table, verdict, write_result
from bench.watch import time_until

EVENTS = int(os.environ.get("BENCH_PIPELINE_EVENTS", "1000"))
ROUNDS = 4
WORKERS = 2
TARGET_RATIO = 0.3
TIMEOUT = 120.0
PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def round_ours(bs: BenchStack, round_no: int) -> dict[str, float]:
    apps = seed_applications(bs.greenhouse, EVENTS, first=100000 + round_no * EVENTS)
    requests = record_requests(bs.store(), apps)
    now = time.time()
    post_webhooks(bs, [crosschq_webhook(rid, "accepted", now) for rid in requests])
    before = bs.status_writes()
    worker = bs.start_worker("worker", WORKERS, wait=False)
    try:
        return time_until(lambda: bs.status_writes() - before, EVENTS, TIMEOUT, cpu_of=worker.popen.pid)
    finally:
        worker.stop()


def round_bare(bs: BenchStack, round_no: int) -> dict[str, float]:
    bs.redis.delete(COUNTER)
    sender = Celery("bench-sender", broker=bs.redis_url, set_as_current=False)
    with sender.connection_for_write() as conn, sender.producer_or_acquire() as producer:
        for i in range(EVENTS):
            sender.send_task("bench.noop", args=[i], queue=QUEUE, connection=conn, producer=producer)
    argv = ["-m", "celery", "-A", "bench.noop_app", "worker", "-Q", QUEUE, "-c", str(WORKERS)]
    argv += ["--loglevel", "WARNING", "-n", f"noop-{round_no}@%h"]
    worker = bs.start_command("noop", argv, {"PYTHONPATH": PROJECT_ROOT})
    try:
        return time_until(lambda: int(bs.redis.get(COUNTER) or 0), EVENTS, TIMEOUT, cpu_of=worker.popen.pid)
    finally:
        worker.stop()
        sender.close()


def run() -> dict[str, Any]:
    runs: dict[str, list[dict[str, float]]] = {"bare": [], "ours": []}
    with bench_stack() as bs:
        for round_no in range(ROUNDS):
            order = ("ours", "bare") if round_no % 2 == 0 else ("bare", "ours")
            for name in order:
                step = round_ours if name == "ours" else round_bare
                runs[name].append(step(bs, round_no))
        failures = len(bs.redis.zrange("cqw:dead", 0, -1))
    pairs = [ratio(o["rate"], b["rate"]) for o, b in zip(runs["ours"], runs["bare"], strict=True)]
    median = statistics.median(pairs)
    result: dict[str, Any] = {
        "events_per_round": EVENTS,
        "rounds": ROUNDS,
        "worker_processes": WORKERS,
        "runs": runs,
        "round_ratios": pairs,
        "rate_ratio": median,
        "dead_letters": failures,
        "target": {"rate_ratio": TARGET_RATIO},
    }
    result["met"] = {"rate_ratio": median >= TARGET_RATIO, "no_dead_letters": failures == 0}
    _print(result)
    write_result("pipeline", result)
    return result


def _print(result: dict[str, Any]) -> None:
    rows = []
    for name, label in (("bare", "bare Celery no-op"), ("ours", "webhook -> ATS write-back")):
        for round_no, item in enumerate(result["runs"][name]):
            cpu = item.get("cpu_ms_per_item", "")
            rows.append([label, round_no + 1, item["done"], item["seconds"], item["rate"], cpu])
    title = f"pipeline: {result['events_per_round']} per round, {result['worker_processes']} worker processes"
    print(table(title, ["what", "round", "done", "seconds", "per second", "worker CPU ms each"], rows))
    pairs = " ".join(f"{r:.2f}" for r in result["round_ratios"])
    print(f"rate ratio, median of rounds ({pairs}): {result['rate_ratio']:.3f}"
          f" (target >= {TARGET_RATIO}): {verdict(result['met']['rate_ratio'])}")
    print(f"dead letters: {result['dead_letters']}\n")


def main() -> bool:
    """``python -m bench``: True when every target was met."""
    return all(run()["met"].values())


if __name__ == "__main__":
    raise SystemExit(0 if main() else 1)
