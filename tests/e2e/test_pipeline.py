"""Flows A and B under a real Celery worker: the scenarios the pipeline promises."""

from __future__ import annotations

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
    return [
        str(w["value"])
        for w in e2e.writes(app_id)
        if w.get("kind") == "custom_fields" and w.get("name_key") == "crosschq_status"
    ]


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
