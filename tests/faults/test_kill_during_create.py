"""Pool processes SIGKILLed while a create is waiting on Crosschq: no duplicate, nothing lost.

Each trial: a fresh application moves to Reference Check while Crosschq answers creates after
2.5 s; once the create is in flight (its claim is taken) both pool processes are killed. Celery
redelivers the task (acks_late + reject_on_worker_lost); the retry finds the claim pending and
adopts the request from Crosschq's "sent" webhook instead of creating a second one.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import pytest

TRIALS = int(os.environ.get("FAULT_TRIALS", "2"))
pytestmark = pytest.mark.e2e


def kill_mid_create(s: Any, app_id: int) -> None:
    s.cq("POST", "_sandbox/faults", json={"latency_ms": 2500})
    s.gh("POST", f"_sandbox/applications/{app_id}/move", json={"stage": "Reference Check"})
    claims = f"cqw:claim:create:greenhouse:{app_id}:*"
    s.wait_for("the create's claim", lambda: s.redis.keys(claims), timeout=30, every=0.02)
    time.sleep(0.8)  # the create is now waiting on Crosschq
    children = s.worker_children()
    assert children, "no pool processes found"
    for pid in children:
        os.kill(pid, signal.SIGKILL)
    s.cq("DELETE", "_sandbox/faults")


def test_sigkill_during_creates_makes_exactly_one_request_each(fault_stack: Any, fault_report: Any) -> None:
    s = fault_stack
    s.start_worker()
    s.warm_catalogue()
    apps = s.seed_applications(TRIALS)
    for app_id in apps:
        kill_mid_create(s, app_id)
        s.wait_for(f"Sent on application {app_id}", lambda a=app_id: "Sent" in s.statuses(a), timeout=90)
    s.crosschq.wait_idle(10)
    time.sleep(2)  # let any second create (the bug this guards against) show up
    created = s.cq("GET", "_sandbox/requests")
    recorded = {a: s.redis.hgetall(f"cqw:app:greenhouse:{a}") for a in apps}
    fault_report("worker SIGKILL during create", trials=TRIALS, crosschq_requests=len(created),
                 duplicates=max(0, len(created) - TRIALS),
                 lost=sum(1 for a in apps if "Sent" not in s.statuses(a)),
                 dead_letters=len(s.dead_letters()))  # fmt: skip
    assert len(created) == TRIALS, f"{len(created)} Crosschq requests for {TRIALS} applications"
    assert all(len(r) == 1 for r in recorded.values()), recorded
    assert {r["id"] for r in created} == {v.decode() for r in recorded.values() for v in r.values()}
    for app_id in apps:
        # The status field is set in place (a repeated "Sent" changes nothing); the note is not.
        assert s.greenhouse.application_state(app_id)["custom_fields"]["crosschq_status"] == "Sent"
        assert sum("requested" in n for n in s.notes(app_id)) == 1
    assert s.dead_letters() == []
