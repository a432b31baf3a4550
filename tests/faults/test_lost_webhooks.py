"""Lost and repeated Crosschq webhooks: reconciliation completes every request, nothing twice.

Beat scans every second for requests with no news for 4 s (``reconcile_after_hours``, 6 h by
default); each is retrieved from Crosschq and what changed is applied as if its webhook had come.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

TRIALS = int(os.environ.get("FAULT_TRIALS", "2"))
REQUESTS = TRIALS + 1  # 3 in make test, 21 in make faults
STEPS = ("accept", "self-assessment", "add-reference", "add-reference", "complete-reference",
         "complete-reference")  # fmt: skip
pytestmark = pytest.mark.e2e


def finished(s: Any, app_id: int) -> bool:
    state = s.greenhouse.application_state(app_id)
    notes = [n["body"] for n in state["notes"]]
    return (
        state["custom_fields"].get("crosschq_status") == "Completed"
        and len(state["attachments"]) >= 1
        and sum("reference check completed" in n for n in notes) >= 1
        and sum("added by the candidate" in n for n in notes) >= 2
        and sum("reference(s) completed" in n for n in notes) >= 2
    )


def start(stack_with: Any, rules_file: Any, tmp_path: Any) -> tuple[Any, list[int], list[str]]:
    s = stack_with({"RULES_FILE": rules_file(reconcile_after_s=4), "SCHEDULE_RECONCILE_SECONDS": "1"})
    s.start_worker()
    s.start_beat("beat", tmp_path / "beat")
    s.warm_catalogue()
    apps = s.seed_applications(REQUESTS)
    for app_id in apps:
        s.gh("POST", f"_sandbox/applications/{app_id}/move", json={"stage": "Reference Check"})
    s.wait_for("every request", lambda: len(s.cq("GET", "_sandbox/requests")) == REQUESTS, timeout=60)
    return s, apps, [r["id"] for r in s.cq("GET", "_sandbox/requests")]


def play(s: Any, request_ids: list[str], steps: tuple[str, ...]) -> None:
    for step in steps:
        for rid in request_ids:
            s.cq("POST", f"_sandbox/requests/{rid}/{step}", json={})
    s.crosschq.wait_idle(30)


def check_once_each(s: Any, apps: list[int], report: Any, scenario: str, timeout: float = 90) -> None:
    log = s.cq("GET", "_sandbox/webhooks")
    report(scenario, requests=len(apps), webhooks=len(log), dropped=sum(1 for w in log if w.get("dropped")),
           duplicated=sum(1 for w in log if w.get("duplicate")))  # fmt: skip
    try:
        s.wait_for("every request reconciled", lambda: all(finished(s, a) for a in apps), timeout, every=0.5)
    finally:
        report(scenario, finished=sum(1 for a in apps if finished(s, a)))
    s.crosschq.wait_idle(10)
    s.wait_for("the inbox to drain", lambda: s.redis.zcard("cqw:inbox:pending") == 0, timeout=30)
    states = [s.greenhouse.application_state(a) for a in apps]
    report(scenario, attachments=sum(len(st["attachments"]) for st in states),
           dead_letters=len(s.dead_letters()))  # fmt: skip
    for app_id in apps:
        state = s.greenhouse.application_state(app_id)
        notes = [n["body"] for n in state["notes"]]
        assert len(state["attachments"]) == 1, (app_id, state["attachments"])
        assert sum("requested" in n for n in notes) == 1
        assert sum("added by the candidate" in n for n in notes) == 2
        assert sum("reference(s) completed" in n for n in notes) == 2
        assert sum("reference check completed" in n for n in notes) == 1
    assert len(s.cq("GET", "_sandbox/requests")) == len(apps)
    assert s.dead_letters() == []


def test_dropped_and_duplicated_webhooks_are_reconciled(
    stack_with: Any, rules_file: Any, tmp_path: Any, fault_report: Any
) -> None:
    """20 % dropped and 20 % delivered twice, up to the references' completion."""
    s, apps, request_ids = start(stack_with, rules_file, tmp_path)
    s.cq("POST", "_sandbox/faults", json={"drop_webhooks": 0.2, "duplicate_webhooks": 0.2, "seed": 11})
    play(s, request_ids, STEPS)
    log = s.cq("GET", "_sandbox/webhooks")
    assert any(w.get("dropped") for w in log) and any(w.get("duplicate") for w in log), "no fault injected"
    s.cq("DELETE", "_sandbox/faults")
    play(s, request_ids, ("report-ready",))
    check_once_each(s, apps, fault_report, "20% webhooks dropped, 20% doubled")


def test_a_lost_report_ready_webhook_is_reconciled(
    stack_with: Any, rules_file: Any, tmp_path: Any, fault_report: Any
) -> None:
    s, apps, request_ids = start(stack_with, rules_file, tmp_path)
    play(s, request_ids, STEPS)
    s.cq("POST", "_sandbox/faults", json={"drop_webhooks": 1.0})
    play(s, request_ids, ("report-ready",))
    s.cq("DELETE", "_sandbox/faults")
    # Reconciling takes 4 s (+1 s for the scan) when it happens.
    check_once_each(s, apps, fault_report, "every 'report ready' webhook dropped", timeout=12)
