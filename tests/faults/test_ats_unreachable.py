"""The ATS unreachable for a few seconds, then back: every write-back lands exactly once.

Status webhooks (each also adding a reference, so a note goes through the write-back ledger)
arrive while every Harvest call answers 503. The tasks retry with the configured backoff
(0.3 s doubling, capped at 3 s, plus up to 25 % jitter; at most 6 retries); once Greenhouse is
back each application has its status written once and its note added once. The attempts, read
from the sandbox's call log, are bounded and spaced as the backoff says.
"""

from __future__ import annotations

import json
import os
import time
from collections import defaultdict
from datetime import datetime
from itertools import pairwise
from typing import Any

import pytest
import requests

from worker.store import Store

TRIALS = int(os.environ.get("FAULT_TRIALS", "2"))
REQUESTS = 2 * TRIALS + 1  # 5 in make test, 41 in make faults
OUTAGE = 4.0
BASE, CAP, MAX_RETRIES = 0.3, 3.0, 6  # the stack's WORKER_RETRY_BACKOFF_* and WORKER_MAX_RETRIES
pytestmark = pytest.mark.e2e


def webhook(request_id: str) -> bytes:
    reference = {"first_name": "Robin", "status": "pending", "relationship": "managers"}
    return json.dumps({"id": request_id, "event_name": "reference_request_reference_added",
                       "status": "collecting", "status_message": "Collecting",
                       "status_updated_on": "2026-01-05T10:00:00.000Z", "progress": 0,
                       "references": [reference]}).encode()  # fmt: skip


def attempts_by_application(s: Any) -> dict[int, list[tuple[float, int]]]:
    """(time, status) of every PATCH of each application's fields, in order."""
    out: dict[int, list[tuple[float, int]]] = defaultdict(list)
    for call in s.greenhouse.calls():
        if call["method"] == "PATCH" and call["path"].startswith("/v1/applications/"):
            at = datetime.fromisoformat(call["at"].replace("Z", "+00:00")).timestamp()
            out[int(call["path"].rsplit("/", 1)[1])].append((at, int(call["status"])))
    return {app: sorted(items) for app, items in out.items()}


def check_spacing(app_id: int, attempts: list[tuple[float, int]]) -> None:
    assert 2 <= len(attempts) <= MAX_RETRIES + 1, (app_id, attempts)
    assert [status for _, status in attempts] == [503] * (len(attempts) - 1) + [200], (app_id, attempts)
    for n, ((before, _), (after, _)) in enumerate(pairwise(attempts)):
        backoff = min(CAP, BASE * 2**n)
        gap = after - before
        # Never early; late only by the jitter and the wait for a free worker process.
        assert 0.9 * backoff <= gap <= 1.25 * backoff + 2.5, (app_id, n, round(gap, 3), backoff)


def test_ats_unreachable_then_back_writes_everything_once(fault_stack: Any, fault_report: Any) -> None:
    s = fault_stack
    s.start_worker()
    apps = s.seed_applications(REQUESTS)
    store = Store(s.redis)
    request_ids = {a: f"outage-{a}" for a in apps}
    for app_id, rid in request_ids.items():
        store.record_request(rid, connector="greenhouse", application_id=str(app_id), candidate_id=None,
                             trigger="reference-check")  # fmt: skip
    s.gh("POST", "_sandbox/config", json={"unreachable": True})
    started = time.monotonic()
    for rid in request_ids.values():
        answer = requests.post(f"{s.web_url}/webhooks/crosschq", data=webhook(rid), timeout=10,
                               headers={"Authorization": "Token faults-crosschq-webhook-secret",
                                        "Content-Type": "application/json"})  # fmt: skip
        assert answer.status_code == 202
    time.sleep(max(0.0, OUTAGE - (time.monotonic() - started)))
    s.gh("POST", "_sandbox/config", json={"unreachable": False})
    s.wait_for("every status and note", lambda: all(s.statuses(a) and s.notes(a) for a in apps), timeout=60)
    time.sleep(1.5)  # any duplicate write would show now
    attempts = attempts_by_application(s)
    tries = [len(attempts.get(a, [])) for a in apps]
    fault_report("ATS unreachable, then back", applications=len(apps), outage_s=OUTAGE,
                 attempts_min=min(tries), attempts_max=max(tries), retry_cap=MAX_RETRIES + 1,
                 status_writes=sum(len(s.statuses(a)) for a in apps),
                 notes=sum(len(s.notes(a)) for a in apps), dead_letters=len(s.dead_letters()))  # fmt: skip
    for app_id, rid in request_ids.items():
        assert s.statuses(app_id) == ["Collecting"]
        assert len(s.notes(app_id)) == 1 and "reference 1" in s.notes(app_id)[0]
        assert store.ledger(rid) == {"note:reference-added:1": "done"}
        check_spacing(app_id, attempts[app_id])
    assert s.dead_letters() == []
