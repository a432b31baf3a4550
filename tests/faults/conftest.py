"""A real stack for the fault scenarios: the receiver and Celery workers (and beats when asked)
as subprocesses, both sandboxes in this process, Redis real, everything on loopback.

Sizes come from the environment so that ``make test`` runs short versions and ``make faults``
the long ones: ``FAULT_TRIALS`` (default 2; ``make faults`` sets 20).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis
import requests

from connectors.crosschq.sandbox import CrosschqSandbox
from connectors.greenhouse.sandbox import GreenhouseSandbox
from worker.embedded_redis import EmbeddedRedis
from worker.stack import Process, Stack, free_port, sandbox_env, wait_for_http, worker_answers

TRIALS = int(os.environ.get("FAULT_TRIALS", "2"))
CQ_TOKEN = "faults-crosschq-token"
CQ_SECRET = "faults-crosschq-webhook-secret"
GH_KEY = "faults-harvest-key"
GH_SECRET = "faults-greenhouse-webhook-secret"
CQ_HEADERS = {"Authorization": f"Token {CQ_SECRET}", "Content-Type": "application/json"}


@dataclass
class FaultStack:
    stack: Stack
    crosschq: CrosschqSandbox
    greenhouse: GreenhouseSandbox
    redis_url: str
    redis: redis.Redis
    web_port: int
    next_app: list[int] = field(default_factory=lambda: [80001])

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    # -- processes ---------------------------------------------------------------------------
    def start_web(self) -> Process:
        process = self.stack.start("web", "web", "--port", str(self.web_port))
        wait_for_http(f"{self.web_url}/healthz", timeout=30)
        return process

    def start_worker(self, name: str = "worker", concurrency: int = 2) -> Process:
        argv = ("worker", "--concurrency", str(concurrency), "--hostname", f"{name}@%h")
        process = self.stack.start(name, *argv)
        self.wait_for(f"{name} to answer a ping", lambda: worker_answers(self.redis_url), timeout=60)
        return process

    def start_beat(self, name: str, state_dir: Path) -> Process:
        state_dir.mkdir(parents=True, exist_ok=True)
        return self.stack.start(name, "beat", "--state-dir", str(state_dir))

    def worker_children(self, name: str = "worker") -> list[int]:
        main = self.stack.processes[name].popen.pid
        try:
            return [int(p) for p in Path(f"/proc/{main}/task/{main}/children").read_text().split()]
        except OSError:
            return []

    # -- the two sandboxes -------------------------------------------------------------------
    def cq(self, method: str, path: str, **kw: Any) -> Any:
        response = requests.request(method, self.crosschq.url + path.lstrip("/"), timeout=10, **kw)
        assert response.status_code < 300, (path, response.status_code, response.text)
        return response.json() if response.content else None

    def gh(self, method: str, path: str, **kw: Any) -> Any:
        response = requests.request(method, self.greenhouse.url + path.lstrip("/"), timeout=10, **kw)
        assert response.status_code < 300, (path, response.status_code, response.text)
        return response.json() if response.content else None

    def seed_applications(self, count: int) -> list[int]:
        """Fresh candidates (each with its own e-mail) with an application in Phone Screen."""
        first = self.next_app[0]
        self.next_app[0] += count
        ids = list(range(first, first + count))
        self.greenhouse.seed({
            "candidates": [{"id": a + 100000, "first_name": "Fault", "last_name": f"Case {a}",
                            "email_addresses": [f"fault.{a}@example.com"], "recruiter_id": 1002,
                            "coordinator_id": 1003} for a in ids],
            "applications": [{"id": a, "candidate_id": a + 100000, "job_id": 4001, "stage": "Phone Screen"}
                             for a in ids],
        })  # fmt: skip
        return ids

    def statuses(self, app_id: int) -> list[str]:
        return [
            str(w["value"])
            for w in self.greenhouse.writes()
            if w.get("kind") == "custom_fields"
            and w.get("name_key") == "crosschq_status"
            and int(w.get("application_id") or 0) == app_id
        ]

    def notes(self, app_id: int) -> list[str]:
        return [str(n["body"]) for n in self.greenhouse.application_state(app_id)["notes"]]

    def warm_catalogue(self) -> None:
        """Fill the worker's job-role cache so that faults hit the create itself."""
        roles = requests.get(self.crosschq.url + "api/v2/settings/jobrole/",
                             headers={"Authorization": f"Token {CQ_TOKEN}"}, timeout=5).json()  # fmt: skip
        self.redis.set("cqw:jobroles", json.dumps(roles), ex=3600)

    # -- waiting and reporting ---------------------------------------------------------------
    def wait_for(
        self, what: str, predicate: Callable[[], Any], timeout: float = 30, every: float = 0.1
    ) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(every)
        tails = "\n".join(f"--- {n} ---\n{p.tail(25)}" for n, p in self.stack.processes.items())
        raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}\n{tails}")

    def dead_letters(self) -> list[dict[str, Any]]:
        client: Any = self.redis  # bytes replies (decode_responses off)
        return [json.loads(item) for item in client.zrange("cqw:dead", 0, -1)]


def stack_env(redis_url: str, crosschq: CrosschqSandbox, greenhouse: GreenhouseSandbox) -> dict[str, str]:
    return sandbox_env(
        redis_url,
        crosschq.url,
        greenhouse.url,
        crosschq_token=CQ_TOKEN,
        crosschq_webhook_secret=CQ_SECRET,
        greenhouse_key=GH_KEY,
        greenhouse_webhook_secret=GH_SECRET,
        GREENHOUSE_RATE_LIMIT="100000",
        GREENHOUSE_RATE_WINDOW="1",
        CROSSCHQ_RATE_LIMIT="100000",
        WORKER_RETRY_BACKOFF_BASE="0.3",
        WORKER_RETRY_BACKOFF_CAP="3",
        WORKER_MAX_RETRIES="6",
        WORKER_CREATE_UNCERTAIN_SECONDS="30",
        HTTP_TIMEOUT_READ="10",
    )


@contextmanager
def fault_stack_on(redis_url: str, log_dir: Path, env: dict[str, str] | None = None) -> Iterator[FaultStack]:
    """Both sandboxes and the receiver; workers and beats are started by the test."""
    web_port = free_port()
    crosschq = CrosschqSandbox(
        token=CQ_TOKEN, webhook_url=f"http://127.0.0.1:{web_port}/webhooks/crosschq",
        webhook_auth=("token", CQ_SECRET), reminder_delay_seconds=0,
    )  # fmt: skip
    greenhouse = GreenhouseSandbox(
        api_key=GH_KEY, webhook_url=f"http://127.0.0.1:{web_port}/webhooks/ats/greenhouse",
        webhook_secret=GH_SECRET, rate_limit=100000, rate_window=1.0,
    )  # fmt: skip
    crosschq.start()
    greenhouse.start()
    stack = Stack(env={**stack_env(redis_url, crosschq, greenhouse), **(env or {})}, log_dir=log_dir)
    client = redis.Redis.from_url(redis_url)
    handle = FaultStack(stack, crosschq, greenhouse, redis_url, client, web_port)
    try:
        handle.start_web()
        yield handle
    finally:
        stack.stop()
        crosschq.stop()
        greenhouse.stop()
        client.close()


@pytest.fixture
def fault_stack(redis_url: str, tmp_path: Path) -> Iterator[FaultStack]:
    with fault_stack_on(redis_url, tmp_path / "logs") as handle:
        yield handle


@pytest.fixture
def stack_with(redis_url: str, tmp_path: Path) -> Iterator[Callable[[dict[str, str]], FaultStack]]:
    """Start the stack with extra settings: ``stack_with({"RULES_FILE": ...})``."""
    with ExitStack() as stacks:

        def start(env: dict[str, str]) -> FaultStack:
            return stacks.enter_context(fault_stack_on(redis_url, tmp_path / "logs", env))

        yield start


RULES = """
[policy]
report_kinds = ["summary"]
reconcile_after_hours = {reconcile_after_hours}

[policy.reminders]
enabled = {reminders}
first_after_hours = {first_after_hours}
every_hours = {every_hours}
max_count = {max_count}

[[trigger]]
name = "reference-check"
stage = "Reference Check"
jobrole = "consulting-services-manager"

[[trigger.relationships]]
rel = "managers"
required = 1

[[trigger.relationships]]
rel = "any"
required = 1
"""


@pytest.fixture
def rules_file(tmp_path: Path) -> Callable[..., str]:
    """Write a rules file (the default trigger; policy timings in seconds); returns its path."""

    def write(*, reconcile_after_s: float = 6 * 3600, reminders: bool = False,
              first_reminder_s: float = 48 * 3600, every_s: float = 48 * 3600, max_count: int = 3) -> str:
        path = tmp_path / "rules.toml"
        path.write_text(RULES.format(
            reconcile_after_hours=reconcile_after_s / 3600, reminders=str(reminders).lower(),
            first_after_hours=first_reminder_s / 3600, every_hours=every_s / 3600, max_count=max_count,
        ))  # fmt: skip
        return str(path)

    return write


@pytest.fixture
def durable_redis() -> Iterator[EmbeddedRedis]:
    """A private redis-server with an fsync-always append-only file, restartable on its port."""
    server = EmbeddedRedis(port=free_port(), appendonly=True)
    server.start()
    try:
        yield server
    finally:
        server.stop()


# Beat re-dispatches inbox events not processed 5 s after they were stored, every 2 s; short time
# limits bound how long a lock left by a task cut off mid-way is held (worker.guards: hard + 30 s).
QUICK_RECOVERY = {
    "SCHEDULE_INBOX_SECONDS": "2",
    "SCHEDULE_INBOX_AFTER_SECONDS": "5",
    "WORKER_SOFT_TIME_LIMIT": "4",
    "WORKER_HARD_TIME_LIMIT": "6",
}


@pytest.fixture
def durable_stack(durable_redis: EmbeddedRedis, tmp_path: Path) -> Iterator[FaultStack]:
    """The stack on :func:`durable_redis`, with the quick recovery timings above."""
    with fault_stack_on(durable_redis.url, tmp_path / "logs", QUICK_RECOVERY) as handle:
        yield handle



# What each scenario observed, printed as one table at the end of the run (``make faults``).
FIGURES: dict[str, dict[str, Any]] = {}


@pytest.fixture
def fault_report(request: pytest.FixtureRequest) -> Callable[..., None]:
    """``fault_report(scenario, name=value, ...)``: figures for the summary table (merged)."""

    def record(scenario: str, **figures: Any) -> None:
        row = FIGURES.setdefault(request.node.nodeid, {"scenario": scenario})
        row.update(figures)

    return record


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not FIGURES:
        return
    outcome = {
        report.nodeid: report.outcome
        for key in ("passed", "failed", "error")
        for report in terminalreporter.stats.get(key, [])
        if report.when == "call" or report.outcome != "passed"
    }
    rows = [
        (row["scenario"], outcome.get(nodeid, "?"),
         ", ".join(f"{k}={v}" for k, v in row.items() if k != "scenario"))
        for nodeid, row in FIGURES.items()
    ]  # fmt: skip
    width = max(len(r[0]) for r in rows)
    terminalreporter.write_sep("=", f"fault scenarios (FAULT_TRIALS={TRIALS})")
    terminalreporter.write_line(f"{'scenario'.ljust(width)}  outcome  figures")
    for scenario, result, figures in rows:
        terminalreporter.write_line(f"{scenario.ljust(width)}  {result.ljust(7)}  {figures}")
