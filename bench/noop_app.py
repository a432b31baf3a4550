"""The bare Celery baseline: a no-op task on the same broker, with the same delivery settings.

``acks_late`` and prefetch 1, as the worker, so both ack after running; no result backend,
events or time limits, which the worker has and the baseline does not. The task only counts
itself in Redis so that the benchmark sees when all are done.

Run: ``python -m celery -A bench.noop_app worker -Q bench_noop -c 2``.
"""

from __future__ import annotations

import os

import redis
from celery import Celery

QUEUE = "bench_noop"
COUNTER = "bench:noop:done"

BROKER = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
app = Celery("bench_noop", broker=BROKER, set_as_current=False)
app.conf.update(
    task_acks_late=True,
    worker_prefetch_multiplier=1,
    task_serializer="json",
    accept_content=["json"],
    task_ignore_result=True,
    task_default_queue=QUEUE,
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
)
_client: redis.Redis | None = None


@app.task(name="bench.noop")
def noop(n: int) -> None:
    global _client
    if _client is None:  # one connection per pool process, made after the fork
        _client = redis.Redis.from_url(app.conf.broker_url)
    _client.incr(COUNTER)
