"""A real stack per test: the receiver and a Celery worker as subprocesses, both sandboxes
in this process, everything over loopback HTTP, Redis real."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
import requests

from connectors.crosschq.sandbox import CrosschqSandbox
from connectors.greenhouse.sandbox import GreenhouseSandbox
from worker.stack import Stack, free_port, sandbox_env, wait_for_http, worker_answers

CQ_TOKEN = "e2e-crosschq-token"
CQ_SECRET = "e2e-crosschq-webhook-secret"
GH_KEY = "e2e-harvest-key"
GH_SECRET = "e2e-greenhouse-webhook-secret"
CANARY_EMAIL = "canary.zebedee@example.org"
CANARY_PHONE = "+1 415 555 0199"


@dataclass
class E2E:
    stack: Stack
    crosschq: CrosschqSandbox
    greenhouse: GreenhouseSandbox
    web_url: str
    redis: redis.Redis
    log_dir: Path
    canary_email: str = CANARY_EMAIL
    canary_phone: str = CANARY_PHONE

    # -- Greenhouse side ---------------------------------------------------------------------
    def gh(self, method: str, path: str, **kw: Any) -> Any:
        response = requests.request(method, self.greenhouse.url + path.lstrip("/"), timeout=10, **kw)
        assert response.status_code < 300, (path, response.status_code, response.text)
        return response.json() if response.content else None

    def move(self, application_id: int, stage: str = "Reference Check") -> None:
        self.gh("POST", f"_sandbox/applications/{application_id}/move", json={"stage": stage})

    def ats_state(self, application_id: int) -> dict[str, Any]:
        return dict(self.gh("GET", f"_sandbox/applications/{application_id}/state"))

    def writes(self, application_id: int | None = None) -> list[dict[str, Any]]:
        rows = self.gh("GET", "_sandbox/writes")
        return [
            w for w in rows if application_id is None or int(w.get("application_id") or 0) == application_id
        ]

    # -- Crosschq side -----------------------------------------------------------------------
    def cq(self, method: str, path: str, **kw: Any) -> Any:
        response = requests.request(method, self.crosschq.url + path.lstrip("/"), timeout=10, **kw)
        assert response.status_code < 300, (path, response.status_code, response.text)
        return response.json() if response.content else None

    def cq_requests(self) -> list[dict[str, Any]]:
        return list(self.cq("GET", "_sandbox/requests"))

    def step(self, request_id: str, step: str, **body: Any) -> None:
        self.cq("POST", f"_sandbox/requests/{request_id}/{step}", json=body)

    # -- waiting -----------------------------------------------------------------------------
    def wait_for(self, what: str, predicate: Callable[[], Any], timeout: float = 30.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.1)
        raise AssertionError(
            f"timed out waiting for {what}\n--- worker log ---\n" + self.stack.processes["worker"].tail(40)
        )

    def wait_request(self, timeout: float = 30.0) -> str:
        found = self.wait_for("a Crosschq request", lambda: self.cq_requests(), timeout)
        return str(found[0]["id"])

    def dead_letters(self) -> list[dict[str, Any]]:
        return [json.loads(raw) for raw in self.redis.zrange("cqw:dead", 0, -1)]

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in self.log_dir.glob("*.log"))

    def worker_children(self) -> list[int]:
        main = self.stack.processes["worker"].popen.pid
        out = subprocess.run(["pgrep", "-f", "celery|worker.cli"], capture_output=True, text=True).stdout
        pids = [int(p) for p in out.split()]
        children = []
        for pid in pids:
            try:
                ppid = int(Path(f"/proc/{pid}/stat").read_text().split()[3])
            except (OSError, ValueError):
                continue
            if ppid == main:
                children.append(pid)
        return children


@pytest.fixture
def e2e(redis_url: str, tmp_path: Path) -> Iterator[E2E]:
    web_port = free_port()
    web_url = f"http://127.0.0.1:{web_port}"
    crosschq = CrosschqSandbox(
        token=CQ_TOKEN,
        webhook_url=f"{web_url}/webhooks/crosschq",
        webhook_auth=("token", CQ_SECRET),
        reminder_delay_seconds=0,
    )
    greenhouse = GreenhouseSandbox(
        api_key=GH_KEY,
        webhook_url=f"{web_url}/webhooks/ats/greenhouse",
        webhook_secret=GH_SECRET,
        rate_limit=1000,
        rate_window=1.0,
    )
    crosschq.start()
    greenhouse.start()
    # A candidate whose personal data must never reach logs, task arguments or results.
    greenhouse_seed(greenhouse)
    env = sandbox_env(
        redis_url,
        crosschq.url,
        greenhouse.url,
        crosschq_token=CQ_TOKEN,
        crosschq_webhook_secret=CQ_SECRET,
        greenhouse_key=GH_KEY,
        greenhouse_webhook_secret=GH_SECRET,
        WORKER_RETRY_BACKOFF_BASE="0.3",
        WORKER_RETRY_BACKOFF_CAP="3",
        WORKER_MAX_RETRIES="6",
        WORKER_CREATE_UNCERTAIN_SECONDS="30",
        HTTP_TIMEOUT_READ="10",
        PYTHONHASHSEED="random",
    )
    log_dir = tmp_path / "logs"
    stack = Stack(env=env, log_dir=log_dir)
    client = redis.Redis.from_url(redis_url)
    try:
        stack.start("web", "web", "--port", str(web_port))
        wait_for_http(f"{web_url}/healthz")
        stack.start("worker", "worker", "--concurrency", "2", "--hostname", f"e2e-{os.getpid()}@%h")
        handle = E2E(stack, crosschq, greenhouse, web_url, client, log_dir)
        handle.wait_for("the worker to consume", lambda: worker_answers(redis_url), timeout=30)
        yield handle
    finally:
        stack.stop()
        crosschq.stop()
        greenhouse.stop()
        client.close()


def greenhouse_seed(greenhouse: GreenhouseSandbox) -> None:
    greenhouse.seed(
        {
            "candidates": [
                {
                    "id": 5099,
                    "first_name": "Zebedee",
                    "last_name": "Quackenbush",
                    "email_addresses": [{"value": CANARY_EMAIL, "type": "personal"}],
                    "phone_numbers": [{"value": CANARY_PHONE, "type": "mobile"}],
                    "recruiter_id": 1002,
                    "coordinator_id": 1003,
                }
            ],
            "applications": [
                {
                    "id": 6099,
                    "candidate_id": 5099,
                    "job_id": 4001,
                    "stage": "Phone Screen",
                    "status": "active",
                }
            ],
        }
    )
