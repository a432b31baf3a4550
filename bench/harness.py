"""Local stacks for the benchmarks: Redis, both sandboxes in this process, the receiver and
Celery workers as subprocesses. Everything listens on loopback.

Redis is a private ``redis-server`` started for the run (nothing else is touched), unless
``BENCH_REDIS_URL`` names one; that database is then emptied first.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis

from bench.watch import wait_until
from connectors.crosschq.sandbox import CrosschqSandbox
from connectors.greenhouse.sandbox import GreenhouseSandbox
from worker.embedded_redis import EmbeddedRedis
from worker.stack import Process, Stack, free_port, sandbox_env, wait_for_http, worker_answers
from worker.store import Store

# Credentials of the local sandboxes only (loopback, generated data).
CQ_TOKEN = "bench-crosschq-token"  # noqa: S105
CQ_SECRET = "bench-crosschq-webhook-secret"  # noqa: S105
GH_KEY = "bench-harvest-key"
GH_SECRET = "bench-greenhouse-webhook-secret"  # noqa: S105
TRIGGER = "reference-check"  # the default rules' trigger name
STATUS_LABELS = {"sent": "Sent", "accepted": "Accepted", "assigning": "Assigning", "collecting": "Collecting"}


@contextmanager
def redis_server() -> Iterator[str]:
    given = os.environ.get("BENCH_REDIS_URL")
    if given:
        redis.Redis.from_url(given).flushdb()
        yield given
        return
    server = EmbeddedRedis()
    url = server.start()
    try:
        yield url
    finally:
        server.stop()


@dataclass
class BenchStack:
    redis_url: str
    redis: redis.Redis
    crosschq: CrosschqSandbox
    greenhouse: GreenhouseSandbox
    stack: Stack
    web_port: int
    _writes_seen: int = 0
    _status_writes: int = 0

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def store(self) -> Store:
        return Store(self.redis)

    def start_web(self) -> Process:
        process = self.stack.start("web", "web", "--port", str(self.web_port))
        wait_for_http(f"{self.web_url}/healthz", timeout=30)
        return process

    def start_worker(self, name: str = "worker", concurrency: int = 2, *, wait: bool = True) -> Process:
        hostname = f"{name}-{uuid.uuid4().hex[:6]}@%h"
        process = self.stack.start(name, "worker", "--concurrency", str(concurrency), "--hostname", hostname)
        if wait:
            wait_until(f"{name} to answer a ping", lambda: worker_answers(self.redis_url), timeout=60)
        return process

    def start_command(self, name: str, argv: list[str], env: Mapping[str, str] | None = None) -> Process:
        """Any other process (the bare endpoints), with this stack's environment."""
        return start_process(self.stack, name, argv, env)

    def status_writes(self) -> int:
        """Status write-backs the Greenhouse sandbox has seen (reads only the new writes: the
        benchmarks poll this every 20 ms, and copying every write each time costs CPU they measure)."""
        new = self.greenhouse.writes(since=self._writes_seen)
        self._writes_seen += len(new)
        self._status_writes += sum(1 for w in new if is_status_write(w))
        return self._status_writes


def is_status_write(write: Mapping[str, Any]) -> bool:
    return write.get("kind") == "custom_fields" and write.get("name_key") == "crosschq_status"


def start_process(stack: Stack, name: str, argv: list[str], env: Mapping[str, str] | None = None) -> Process:
    stack.log_dir.mkdir(parents=True, exist_ok=True)
    log_path = stack.log_dir / f"{name}.log"
    with log_path.open("ab") as handle:
        popen = subprocess.Popen(
            [sys.executable, *argv],
            env={**os.environ, **stack.env, **(env or {})},
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    process = Process(name, popen, log_path)
    stack.processes[name] = process
    return process


def stack_env(redis_url: str, cq_url: str, gh_url: str, extra: Mapping[str, str]) -> dict[str, str]:
    return sandbox_env(
        redis_url,
        cq_url,
        gh_url,
        crosschq_token=CQ_TOKEN,
        crosschq_webhook_secret=CQ_SECRET,
        greenhouse_key=GH_KEY,
        greenhouse_webhook_secret=GH_SECRET,
        **{
            "CROSSCHQ_RATE_LIMIT": "100000",
            "GREENHOUSE_RATE_LIMIT": "100000",
            "GREENHOUSE_RATE_WINDOW": "1",
            "WORKER_RETRY_BACKOFF_BASE": "0.5",
            "WORKER_RETRY_BACKOFF_CAP": "5",
            **extra,  # a benchmark's own settings win
        },
    )


@contextmanager
def bench_stack(
    *, gh_rate: tuple[int, float] = (100000, 1.0), env: Mapping[str, str] | None = None, web: bool = True
) -> Iterator[BenchStack]:
    """Redis, both sandboxes and (unless ``web`` is false) the receiver; workers are started by the caller."""
    with redis_server() as url:
        web_port = free_port()
        crosschq = CrosschqSandbox(
            token=CQ_TOKEN,
            webhook_url=f"http://127.0.0.1:{web_port}/webhooks/crosschq",
            webhook_auth=("token", CQ_SECRET),
            reminder_delay_seconds=0,
        )
        greenhouse = GreenhouseSandbox(
            api_key=GH_KEY,
            webhook_url=f"http://127.0.0.1:{web_port}/webhooks/ats/greenhouse",
            webhook_secret=GH_SECRET,
            rate_limit=gh_rate[0],
            rate_window=gh_rate[1],
        )
        crosschq.start()
        greenhouse.start()
        log_dir = Path(tempfile.mkdtemp(prefix="cqw-bench-"))
        stack = Stack(env=stack_env(url, crosschq.url, greenhouse.url, env or {}), log_dir=log_dir)
        client = redis.Redis.from_url(url)
        handle = BenchStack(url, client, crosschq, greenhouse, stack, web_port)
        try:
            if web:
                handle.start_web()
            yield handle
        finally:
            stack.stop()
            crosschq.stop()
            greenhouse.stop()
            client.close()


# -- data ------------------------------------------------------------------------------------
def seed_applications(greenhouse: GreenhouseSandbox, count: int, first: int = 70001) -> list[int]:
    """``count`` candidates with an e-mail, each with an application on job 4001 in Phone Screen."""
    candidates = [
        {
            "id": first + 100000 + i,
            "first_name": "Bench",
            "last_name": f"Candidate {i}",
            "email_addresses": [f"bench.{first + i}@example.com"],
            "phone_numbers": [{"value": f"+1 415 555 01{i % 100:02d}", "type": "mobile"}],
            "recruiter_id": 1002,
            "coordinator_id": 1003,
        }
        for i in range(count)
    ]
    applications = [
        {"id": first + i, "candidate_id": first + 100000 + i, "job_id": 4001, "stage": "Phone Screen"}
        for i in range(count)
    ]
    greenhouse.seed({"candidates": candidates, "applications": applications})
    return [first + i for i in range(count)]


def record_requests(store: Store, app_ids: list[int]) -> list[str]:
    """One recorded Crosschq request per application, as flow A leaves it after a create."""
    ids = []
    for app_id in app_ids:
        request_id = uuid.uuid4().hex
        store.record_request(
            request_id, connector="greenhouse", application_id=str(app_id), candidate_id=None, trigger=TRIGGER
        )
        ids.append(request_id)
    return ids


def crosschq_webhook(request_id: str, status: str, when: float, progress: int = 0) -> bytes:
    """A Crosschq status webhook body, in the shape the sandbox (and the spec) sends."""
    stamp = datetime.fromtimestamp(when, UTC)
    return json.dumps(
        {
            "id": request_id,
            "event_name": "reference_request_status_updated",
            "job_position": "Business Consultant",
            "status": status,
            "status_message": STATUS_LABELS.get(status, status.title()),
            "status_updated_on": stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z",
            "progress": progress,
            "references": [],
            "created_at": stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "updated_on": stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        }
    ).encode()


CROSSCHQ_HEADERS = {"Content-Type": "application/json", "Authorization": f"Token {CQ_SECRET}"}


def post_webhooks(bs: BenchStack, bodies: list[bytes], concurrency: int = 8) -> dict[str, Any]:
    """Post Crosschq webhooks to the receiver; every one must be answered 202."""
    from bench.load import build_requests, run_load

    def make(i: int) -> tuple[str, Mapping[str, str], bytes]:
        return "/webhooks/crosschq", CROSSCHQ_HEADERS, bodies[i]

    result = run_load(bs.web_port, build_requests(len(bodies), make, bs.web_port), concurrency=concurrency)
    summary = result.summary()
    if summary["statuses"] != {"202": len(bodies)}:
        answers = f"{summary['statuses']} {summary['errors']}"
        raise RuntimeError(f"the receiver did not accept every webhook: {answers}")
    return summary
