"""Flow C, the lifecycle rules: reminders, auto-conclude, auto-cancel, reconciliation.

Plain functions with a controlled clock (the ``beat`` fixture, tests/worker/conftest.py): the
in-memory ATS, the Crosschq sandbox over loopback HTTP, real Redis.
"""

from __future__ import annotations

from typing import Any

import pytest

from config.rules import CancelPolicy, ConcludePolicy, ReminderPolicy
from config.settings import Settings
from connectors.errors import BadRequest
from worker.app import beat_schedule
from worker.flows import actions, scans
from worker.flows.cadence import KINDS

H = 3600.0
DAY = 86400.0


def test_beat_schedule_runs_the_five_scans_at_the_configured_intervals(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SCHEDULE_REMINDERS_SECONDS", "120")
    monkeypatch.setenv("SCHEDULE_INBOX_SECONDS", "15")
    schedule = beat_schedule(Settings.load())
    every = {entry["task"]: entry["schedule"] for entry in schedule.values()}
    assert every == {
        "health.canary": 30.0,
        "schedule.send_due_reminders": 120.0,
        "schedule.conclude_due": 600.0,
        "schedule.reconcile_stale": 600.0,
        "schedule.refresh_jobroles": 3600.0,
        "schedule.redispatch_inbox": 15.0,
    }


def test_reminders_follow_the_cadence_up_to_the_cap(beat: Any) -> None:
    beat.policy(reminders=ReminderPolicy(first_after_hours=48, every_hours=24, max_count=2))
    rid = beat.create()
    assert beat.due("remind", rid) == beat.clock.start + 48 * H
    assert scans.scan_due(beat.deps, "remind", now=beat.clock.at(47)) == 0
    assert scans.scan_due(beat.deps, "remind", now=beat.clock.at(48)) == 1
    assert scans.scan_due(beat.deps, "remind", now=beat.clock.now) == 0  # claimed already
    assert beat.drain() == ["reminded:1"]
    assert scans.scan_due(beat.deps, "remind", now=beat.clock.at(71)) == 0
    assert scans.scan_due(beat.deps, "remind", now=beat.clock.at(72)) == 1
    assert beat.drain() == ["reminded:2"]
    assert beat.due("remind", rid) is None  # the cap is reached
    assert scans.scan_due(beat.deps, "remind", now=beat.clock.at(1000)) == 0
    assert beat.reminders_sent(rid) == 2
    timeline = [e["what"] for e in beat.deps.store.timeline("memory", "6001")]
    assert timeline.count("crosschq.reminder_sent") == 2


def test_a_reminder_due_in_quiet_hours_is_sent_when_they_end(beat: Any) -> None:
    beat.policy(reminders=ReminderPolicy(first_after_hours=1, quiet_hours=(0, 23), timezone="UTC"))
    beat.clock.now = beat.clock.start = beat.clock.start - beat.clock.start % DAY + 5 * H  # 05:00
    rid = beat.create()
    assert beat.due("remind", rid) == beat.clock.start + 18 * H  # 06:00 is quiet: 23:00 it is
    assert scans.scan_due(beat.deps, "remind", now=beat.clock.at(17.9)) == 0
    assert scans.scan_due(beat.deps, "remind", now=beat.clock.at(18)) == 1
    assert beat.drain() == ["reminded:1"]


def test_no_reminder_after_a_terminal_state_even_when_its_webhook_was_lost(beat: Any) -> None:
    first, second = beat.create("6001"), beat.create("6002")
    beat.step(first, "candidate-cancel")
    beat.feed()
    assert all(beat.due(kind, first) is None for kind in KINDS)
    beat.cq("POST", "faults", drop_webhooks=1.0)
    beat.step(second, "candidate-decline")
    assert beat.feed() == []
    assert scans.scan_due(beat.deps, "remind", now=beat.clock.at(48)) == 1
    assert beat.drain() == ["not-open:declined"]
    assert beat.reminders_sent(second) == 0
    assert beat.ats.state("6002")["fields"]["status"] == "Declined"
    assert all(beat.due(kind, second) is None for kind in KINDS)


def test_too_early_for_crosschq_reschedules_instead_of_failing(beat: Any) -> None:
    beat.cq("POST", "config", reminder_delay_seconds=10 * DAY)
    rid = beat.create()
    scans.scan_due(beat.deps, "remind", now=beat.clock.at(48))
    assert beat.drain() == ["too-early"]
    defer = beat.deps.settings.schedule.defer_seconds
    assert beat.due("remind", rid) == beat.clock.now + defer
    assert scans.scan_due(beat.deps, "remind", now=beat.clock.now + defer - 1) == 0

    def refuse(request_id: str) -> None:  # Crosschq's retrieve allowed it, the send did not
        raise BadRequest("Reminder cannot be sent yet.", status=400, service="crosschq")

    beat.step(rid, "allow-reminder")
    beat.deps.crosschq.send_reminder = refuse
    scans.scan_due(beat.deps, "remind", now=beat.clock.at(49))
    assert beat.drain() == ["too-early"]
    del beat.deps.crosschq.send_reminder
    scans.scan_due(beat.deps, "remind", now=beat.clock.at(50))
    assert beat.drain() == ["reminded:1"]


def test_auto_conclude_after_the_deadline_with_enough_completed(beat: Any) -> None:
    beat.policy(conclude=ConcludePolicy(enabled=True, min_completed=1, after_days=2))
    rid = beat.create()
    beat.step(rid, "accept", "self-assessment", "add-reference", "add-reference")
    beat.feed()
    assert beat.due("conclude", rid) is None  # nothing completed yet
    beat.step(rid, "complete-reference")  # Crosschq sends no new status time for it
    beat.feed()
    assert beat.due("conclude", rid) == beat.clock.start + 2 * DAY
    assert scans.conclude_due(beat.deps, now=beat.clock.at(47)) == "enqueued:0"
    assert scans.conclude_due(beat.deps, now=beat.clock.at(48)) == "enqueued:1"
    assert beat.drain() == ["concluded"]
    beat.feed()
    assert beat.ats.state("6001")["fields"]["status"] == "Concluded"
    assert all(beat.due(kind, rid) is None for kind in KINDS)


def test_not_yet_concludable_is_deferred_then_concluded(beat: Any) -> None:
    beat.policy(conclude=ConcludePolicy(enabled=True, min_completed=1, after_days=0))
    rid = beat.create()
    beat.step(rid, "accept", "self-assessment", "add-reference", "add-reference")
    beat.feed()
    beat.clock.at(1)
    assert actions.conclude(beat.deps, rid, owner="ops") == "not-concludable-yet"  # a real 400
    beat.step(rid, "complete-reference")
    beat.feed()
    assert beat.due("conclude", rid) == beat.clock.now + beat.deps.settings.schedule.defer_seconds
    assert scans.conclude_due(beat.deps, now=beat.clock.at(1.5)) == "enqueued:0"
    assert scans.conclude_due(beat.deps, now=beat.clock.at(2)) == "enqueued:1"
    assert beat.drain() == ["concluded"]


def test_auto_cancel_after_days_without_progress_notes_the_ats(beat: Any) -> None:
    beat.policy(cancel=CancelPolicy(after_days_without_progress=3))
    rid = beat.create()
    beat.feed()
    beat.clock.at(48)
    beat.step(rid, "accept")
    beat.feed()  # progress: the three days start again
    assert scans.conclude_due(beat.deps, now=beat.clock.at(72)) == "enqueued:0"
    assert scans.conclude_due(beat.deps, now=beat.clock.at(48 + 72)) == "enqueued:1"
    assert beat.drain() == ["canceled:no-progress"]
    assert beat.cq("GET", f"requests/{rid}")["status"] == "canceled"
    beat.feed()
    state = beat.ats.state("6001")
    assert state["fields"]["status"] == "Canceled"
    assert [n for n in state["notes"] if "canceled" in n] == [
        "Crosschq reference check canceled automatically after 3 day(s) without progress."
    ]


def test_reconciliation_repairs_lost_webhooks(beat: Any) -> None:
    rid = beat.create()
    beat.feed()
    beat.cq("POST", "faults", drop_webhooks=1.0)
    beat.step(rid, "accept", "self-assessment", "add-reference", "add-reference")
    assert beat.feed() == []
    assert beat.ats.state("6001")["fields"]["status"] == "Sent"
    assert scans.reconcile_stale(beat.deps, now=beat.clock.at(5.9)) == "enqueued:0"
    assert scans.reconcile_stale(beat.deps, now=beat.clock.at(6)) == "enqueued:1"
    assert beat.drain() == ["applied:collecting"]
    assert beat.ats.state("6001")["fields"]["status"] == "Collecting"
    beat.step(rid, "complete-reference", "complete-reference")
    assert scans.reconcile_stale(beat.deps, now=beat.clock.at(11.9)) == "enqueued:0"
    assert scans.reconcile_stale(beat.deps, now=beat.clock.at(12)) == "enqueued:1"
    assert beat.drain() == ["applied:completed"]
    state = beat.ats.state("6001")
    assert state["fields"]["status"] == "Completed"
    assert sum("reference check completed" in n for n in state["notes"]) == 1
    assert state["attachments"] == []  # completed, the report not ready yet
    assert [k for k in KINDS if beat.due(k, rid) is not None] == ["reconcile"]
    assert scans.reconcile_stale(beat.deps, now=beat.clock.at(18)) == "enqueued:1"
    assert beat.drain() == ["applied:completed"]  # still no report: keep looking
    assert beat.ats.state("6001")["attachments"] == []
    beat.step(rid, "report-ready")  # and its webhook is lost too
    assert scans.reconcile_stale(beat.deps, now=beat.clock.at(24)) == "enqueued:1"
    assert beat.drain() == ["applied:completed"]
    state = beat.ats.state("6001")
    assert [a["filename"] for a in state["attachments"]] == [f"crosschq-summary-report-{rid[:8]}.pdf"]
    assert sum("reference check completed" in n for n in state["notes"]) == 1
    assert all(beat.due(kind, rid) is None for kind in KINDS)
    assert scans.reconcile_stale(beat.deps, now=beat.clock.at(100)) == "enqueued:0"
