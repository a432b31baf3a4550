"""Flows A and B under a real Celery worker: the scenarios the pipeline promises."""

from __future__ import annotations

import json
import os
import signal
import time
from typing import Any

import pytest

LIFECYCLE = (
    "accept",
    "self-assessment",
    "add-reference",
    "add-reference",
    "complete-reference",
    "complete-reference",
    "report-ready",
)
pytestmark = pytest.mark.e2e


def statuses(e2e: Any, app_id: int) -> list[str]:
    """The status values written, in order, repeats of the same value folded."""
    values = [
        str(w["value"])
        for w in e2e.writes(app_id)
        if w.get("kind") == "custom_fields" and w.get("name_key") == "crosschq_status"
    ]
    return [v for i, v in enumerate(values) if i == 0 or v != values[i - 1]]


def test_happy_path(e2e: Any) -> None:
    e2e.move(6001)
    request_id = e2e.wait_request()
    detail = e2e.cq("GET", f"_sandbox/requests/{request_id}")
    assert detail["jobrole"] == "consulting-services-manager"
    e2e.wait_for("Sent in the ATS", lambda: "Sent" in statuses(e2e, 6001))
    expected = {"accept": "Accepted", "self-assessment": "Assigning", "add-reference": "Collecting"}
    for step in LIFECYCLE:
        e2e.step(request_id, step)
        if step in expected:  # one at a time, so every intermediate status is observable
            e2e.wait_for(expected[step], lambda s=step: statuses(e2e, 6001)[-1:] == [expected[s]])
    e2e.wait_for("the report attached", lambda: e2e.ats_state(6001).get("attachments"), timeout=40)
    e2e.wait_for("Completed", lambda: statuses(e2e, 6001)[-1:] == ["Completed"])
    state = e2e.ats_state(6001)
    print(state)
    assert statuses(e2e, 6001) == ["Sent", "Accepted", "Assigning", "Collecting", "Completed"]
    assert len(state["attachments"]) == 1
    # Greenhouse counts only a 200 as delivered: every webhook must land on its first attempt.
    deliveries = e2e.gh("GET", "_sandbox/webhooks")
    assert deliveries and all(d["http_status"] == 200 and d["attempt"] == 1 for d in deliveries)


def notes(e2e: Any, app_id: int) -> list[str]:
    return [str(n.get("body", n)) if isinstance(n, dict) else str(n) for n in e2e.ats_state(app_id)["notes"]]


def run_lifecycle(e2e: Any, request_id: str, steps: tuple[str, ...] = LIFECYCLE) -> None:
    for step in steps:
        e2e.step(request_id, step)


def warm_catalogue(e2e: Any) -> None:
    """Fill the worker's job-role cache so later faults hit the create itself."""
    import json

    import requests

    roles = requests.get(e2e.crosschq.url + "api/v2/settings/jobrole/",
                         headers={"Authorization": "Token e2e-crosschq-token"}, timeout=5).json()
    e2e.redis.set("cqw:jobroles", json.dumps(roles), ex=3600)


def test_duplicates_create_once_and_write_each_milestone_once(e2e: Any) -> None:
    e2e.move(6001)
    request_id = e2e.wait_request()
    # The same Greenhouse delivery three times, and the same event posted again by hand.
    sent = [w for w in e2e.gh("GET", "_sandbox/webhooks") if w.get("action") == "candidate_stage_change"]
    for _ in range(2):
        e2e.gh("POST", f"_sandbox/webhooks/{sent[0]['event_id']}/redeliver")
    e2e.move(6001, "Phone Screen")
    e2e.move(6001, "Reference Check")
    # Every Crosschq webhook three times.
    e2e.cq("POST", "_sandbox/faults", json={"duplicate_webhooks": 1.0})
    e2e.wait_for("Sent", lambda: "Sent" in statuses(e2e, 6001))
    for step in LIFECYCLE:
        e2e.step(request_id, step)
        e2e.step(request_id, "resend-webhook")
    e2e.wait_for("the report", lambda: e2e.ats_state(6001)["attachments"], timeout=40)
    e2e.crosschq.wait_idle()
    time.sleep(2)  # let every duplicate reach the worker
    assert len(e2e.cq_requests()) == 1
    state = e2e.ats_state(6001)
    assert len(state["attachments"]) == 1
    bodies = notes(e2e, 6001)
    assert sum("requested" in b for b in bodies) == 1
    assert sum("added by the candidate" in b for b in bodies) == 2
    assert sum("reference(s) completed" in b for b in bodies) == 2
    assert sum("reference check completed" in b for b in bodies) == 1
    assert state["custom_fields"]["crosschq_status"] == "Completed"


def test_shuffled_webhooks_end_on_the_latest_status(e2e: Any) -> None:
    e2e.move(6001)
    request_id = e2e.wait_request()
    e2e.wait_for("Sent", lambda: "Sent" in statuses(e2e, 6001))
    e2e.cq("POST", "_sandbox/faults", json={"reorder_webhooks": True, "reorder_window_ms": 300, "seed": 7})
    run_lifecycle(e2e, request_id)
    e2e.wait_for("the report", lambda: e2e.ats_state(6001)["attachments"], timeout=40)
    e2e.crosschq.wait_idle()
    time.sleep(2)
    state = e2e.ats_state(6001)
    assert state["custom_fields"]["crosschq_status"] == "Completed"
    assert state["custom_fields"]["crosschq_progress"] == 100
    assert len(state["attachments"]) == 1


def test_worker_killed_during_create_makes_exactly_one_request(e2e: Any) -> None:
    warm_catalogue(e2e)
    e2e.cq("POST", "_sandbox/faults", json={"latency_ms": 2500})
    e2e.move(6001)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not e2e.redis.keys("cqw:claim:create:*"):
        time.sleep(0.05)
    time.sleep(0.8)  # the create is now waiting on Crosschq
    children = e2e.worker_children()
    assert children, "no pool processes found"
    for pid in children:
        os.kill(pid, signal.SIGKILL)
    e2e.cq("DELETE", "_sandbox/faults")
    e2e.wait_for("Sent in the ATS", lambda: "Sent" in statuses(e2e, 6001), timeout=60)
    time.sleep(2)
    assert len(e2e.cq_requests()) == 1
    assert sum("requested" in b for b in notes(e2e, 6001)) == 1


def test_server_errors_then_success_creates_one_request(e2e: Any) -> None:
    warm_catalogue(e2e)
    e2e.cq("POST", "_sandbox/faults", json={"fail_next": [500, 500]})
    e2e.move(6001)
    e2e.wait_for("Sent in the ATS", lambda: "Sent" in statuses(e2e, 6001), timeout=40)
    creates = [c for c in e2e.cq("GET", "_sandbox/calls") if c["method"] == "POST"]
    assert [c["status"] for c in creates] == [500, 500, 201]
    assert len(e2e.cq_requests()) == 1
    assert e2e.dead_letters() == []


def test_bad_request_is_a_dead_letter_naming_the_field_without_retry(e2e: Any) -> None:
    warm_catalogue(e2e)  # the cache still lists the job role Crosschq no longer offers
    e2e.cq("POST", "_sandbox/jobroles/consulting-services-manager/disable")
    e2e.move(6001)
    dead = e2e.wait_for("a dead letter", e2e.dead_letters, timeout=30)
    assert dead[0]["task"] == "ats.process_event"
    assert "jobrole" in dead[0]["reason"]
    creates = [c for c in e2e.cq("GET", "_sandbox/calls") if c["method"] == "POST"]
    assert len(creates) == 1  # no retry
    e2e.wait_for("a note", lambda: notes(e2e, 6001))
    assert "jobrole" in notes(e2e, 6001)[0]


def test_candidate_without_email_gets_a_note_and_a_failed_task(e2e: Any) -> None:
    e2e.move(6002)
    dead = e2e.wait_for("a dead letter", e2e.dead_letters, timeout=30)
    assert "no e-mail" in dead[0]["reason"]
    assert dead[0]["kwargs"] == {"event_id": dead[0]["kwargs"]["event_id"]}
    e2e.wait_for("a note", lambda: notes(e2e, 6002))
    assert "no e-mail" in notes(e2e, 6002)[0]
    assert e2e.cq_requests() == []
    meta = [json.loads(e2e.redis.get(k)) for k in e2e.redis.keys("celery-task-meta-*")]
    failed = [m for m in meta if m["status"] == "FAILURE"]
    assert failed and "no e-mail" in failed[0]["result"]["exc_message"][0]


def test_canary_personal_data_never_reaches_logs_arguments_or_results(e2e: Any) -> None:
    e2e.move(6099)
    request_id = e2e.wait_request()
    run_lifecycle(e2e, request_id)
    e2e.wait_for("the report", lambda: e2e.ats_state(6099)["attachments"], timeout=40)
    haystack = e2e.logs()
    for key in e2e.redis.keys("celery-task-meta-*"):
        haystack += e2e.redis.get(key).decode()
    for raw in e2e.redis.lrange("cqw:timeline:greenhouse:6099", 0, -1):
        haystack += raw.decode()
    for queue in (b"ingest", b"ats", b"crosschq", b"periodic"):
        for raw in e2e.redis.lrange(queue, 0, -1):
            haystack += raw.decode()
    assert "task_id" in haystack  # the logs were captured
    assert e2e.canary_email not in haystack
    assert "Quackenbush" not in haystack and "Zebedee" not in haystack
    squeezed = "".join(ch for ch in haystack if ch not in " -()")
    assert "4155550199" not in squeezed
