"""The ``beat`` fixture: flow C's test bench (tests/worker/test_schedule*.py).

The in-memory ATS, the Crosschq sandbox over loopback HTTP, real Redis and a clock the test
moves. Scans enqueue into a list (``beat.sent``); ``beat.drain()`` runs what they enqueued, in
order, as a worker would. (Flows A and B in test_flows.py keep their own fixtures.)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis
import requests

from config.rules import Policy, load_rules
from config.settings import Settings
from connectors.crosschq.client import CrosschqClient
from connectors.crosschq.sandbox import CrosschqSandbox
from connectors.fake import InMemoryConnector
from worker.deps import Deps
from worker.flows import actions, due
from worker.flows import requests as flow_a
from worker.flows import results as flow_b
from worker.store import Store

TOKEN = "cq-token"
APPS = ("6001", "6002", "6003")
FLOWS: dict[str, Callable[..., str]] = {
    "references.remind": actions.remind,
    "references.conclude": actions.conclude,
    "references.cancel": actions.cancel,
    "references.sync": actions.sync,
    "crosschq.process_webhook": flow_b.process_crosschq_webhook,
    "ats.process_event": flow_a.process_ats_event,
}


class Clock:
    """``deps.clock``: starts at the current second and moves only when told."""

    def __init__(self) -> None:
        self.start = self.now = float(int(time.time()))

    def __call__(self) -> float:
        return self.now

    def at(self, hours: float) -> float:
        self.now = self.start + hours * 3600
        return self.now


@dataclass
class Beat:
    deps: Deps
    ats: InMemoryConnector
    crosschq: CrosschqSandbox
    sink: Any
    clock: Clock
    sent: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def policy(self, **parts: Any) -> None:
        self.deps.rules = self.deps.rules.model_copy(update={"policy": Policy(**parts)})

    def create(self, app_id: str = "6001") -> str:
        outcome = flow_a.consider_application(self.deps, self.ats, app_id, owner="create")
        assert outcome.startswith("request:")
        return outcome.split(":", 1)[1]

    def due(self, kind: str, request_id: str) -> float | None:
        return due.scheduled(self.deps.store, kind, request_id)

    def drain(self) -> list[str]:
        outcomes = []
        while self.sent:
            name, kwargs = self.sent.pop(0)
            outcomes.append(FLOWS[name](self.deps, **kwargs, owner=f"task-{time.monotonic_ns()}"))
        return outcomes

    def feed(self) -> list[str]:
        """Deliver the webhooks the sandbox sent so far (stored and processed like the receiver)."""
        self.crosschq.wait_idle()
        outcomes = []
        for body in self.sink.bodies():
            event_id, new = self.deps.store.store_event(
                source="crosschq", connector=None, dedup_key=str(hash(body)), body=body, headers={}, event={}
            )
            if new:
                outcomes.append(flow_b.process_crosschq_webhook(self.deps, event_id, owner="webhook"))
        self.sink.clear()
        return outcomes

    def cq(self, method: str, path: str, **body: Any) -> Any:
        url = f"{self.crosschq.url}_sandbox/{path}"
        response = requests.request(method, url, json=body or None, timeout=5)
        assert response.status_code == 200, response.text
        return response.json()

    def step(self, request_id: str, *steps: str) -> None:
        for name in steps:
            self.cq("POST", f"requests/{request_id}/{name}")

    def reminders_sent(self, request_id: str) -> int:
        return int(self.cq("GET", f"requests/{request_id}")["reminders_sent"])


@pytest.fixture
def beat(redis_client: redis.Redis, webhook_sink: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Beat]:
    sandbox = CrosschqSandbox(token=TOKEN, webhook_url=webhook_sink.url, reminder_delay_seconds=0)
    sandbox.start()
    ats = InMemoryConnector()
    for n, app_id in enumerate(APPS):
        ats.seed_application(
            application_id=app_id,
            candidate_id=f"50{n}",
            emails=[(f"candidate{n}@example.com", "personal")],
            stage_name="Reference Check",
            recruiter={"id": "1", "first_name": "Riley", "last_name": "R", "email": "riley@example.com"},
        )
    monkeypatch.setenv("CROSSCHQ_BASE_URL", sandbox.url)
    monkeypatch.setenv("CROSSCHQ_API_TOKEN", TOKEN)
    settings, clock = Settings.load(), Clock()
    deps = Deps(
        settings=settings,
        store=Store(redis_client),
        crosschq=CrosschqClient.from_settings(settings),
        rules=load_rules(None),
        connectors={"memory": ats},
        clock=clock,
    )
    bench = Beat(deps=deps, ats=ats, crosschq=sandbox, sink=webhook_sink, clock=clock)
    deps.send_task = lambda name, kwargs: bench.sent.append((name, kwargs))
    yield bench
    sandbox.stop()
