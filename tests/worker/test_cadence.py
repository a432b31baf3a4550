"""Due-time arithmetic of flow C (no Redis, no clock): reminders, quiet hours, conclude, cancel."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from config.rules import CancelPolicy, ConcludePolicy, Policy, ReminderPolicy
from worker.flows import cadence

H = 3600.0
NY = ZoneInfo("America/New_York")


def at(text: str, tz: ZoneInfo = NY) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=tz).timestamp()


def test_reminders_first_after_n_then_every_m_at_most_k() -> None:
    policy = ReminderPolicy(first_after_hours=48, every_hours=24, max_count=2)
    assert cadence.remind_due({"opened_at": "1000"}, policy) == 1000 + 48 * H
    assert cadence.remind_due({"opened_at": "1000", "reminders": "1", "reminded_at": "5000"}, policy) == (
        5000 + 24 * H
    )
    assert cadence.remind_due({"opened_at": "1000", "reminders": "2", "reminded_at": "5000"}, policy) is None
    assert cadence.remind_due({"opened_at": "1000"}, policy.model_copy(update={"enabled": False})) is None


def test_a_deferred_reminder_waits_for_its_not_before_time() -> None:
    policy = ReminderPolicy(first_after_hours=1)
    assert cadence.remind_due({"opened_at": "0", "remind_after": str(9 * H)}, policy) == 9 * H


@pytest.mark.parametrize(
    ("due", "expected"),
    [
        ("2026-03-10 23:30", "2026-03-11 08:00"),  # in the evening part of a period across midnight
        ("2026-03-11 03:00", "2026-03-11 08:00"),  # in the morning part
        ("2026-03-11 08:00", "2026-03-11 08:00"),  # the end hour is no longer quiet
        ("2026-03-11 20:59", "2026-03-11 20:59"),  # before it starts
        ("2026-03-07 22:00", "2026-03-08 08:00"),  # across the spring DST change: 08:00 local still
    ],
)
def test_a_reminder_due_in_quiet_hours_waits_for_their_end(due: str, expected: str) -> None:
    policy = ReminderPolicy(first_after_hours=1, quiet_hours=(21, 8), timezone="America/New_York")
    state = {"opened_at": str(at(due) - H)}
    assert cadence.remind_due(state, policy) == at(expected)


def test_quiet_hours_within_one_day_and_empty_periods() -> None:
    assert cadence.outside_quiet_hours(at("2026-03-11 12:30"), (12, 14), "America/New_York") == at(
        "2026-03-11 14:00"
    )
    assert cadence.outside_quiet_hours(at("2026-03-11 12:30"), (12, 12), "America/New_York") == at(
        "2026-03-11 12:30"
    )


def test_quiet_hours_reject_impossible_values() -> None:
    with pytest.raises(ValueError, match="hours of the day"):
        ReminderPolicy(quiet_hours=(22, 24))
    with pytest.raises(ValueError, match="unknown time zone"):
        ReminderPolicy(timezone="Europe/Atlantis")


def test_conclude_when_all_required_are_in_or_after_the_deadline_with_enough() -> None:
    policy = ConcludePolicy(enabled=True, min_completed=2, after_days=7)
    state = {"opened_at": "0", "completed": "1"}
    assert cadence.conclude_due(state, policy, required=3, now=50.0) is None
    assert cadence.conclude_due({**state, "completed": "2"}, policy, required=3, now=50.0) == 7 * 86400
    assert cadence.conclude_due({**state, "completed": "3"}, policy, required=3, now=50.0) == 50.0
    assert cadence.conclude_due({**state, "completed": "3", "conclude_requested_at": "9"}, policy,
                                required=3, now=50.0) is None
    assert cadence.conclude_due({**state, "completed": "3"}, ConcludePolicy(), required=3, now=50.0) is None


def test_cancel_counts_from_the_last_progress_and_is_off_by_default() -> None:
    state = {"opened_at": "0", "progress_at": str(86400)}
    assert cadence.cancel_due(state, CancelPolicy()) is None
    assert cadence.cancel_due(state, CancelPolicy(after_days_without_progress=3)) == 4 * 86400


def test_terminal_clears_everything_and_unknown_status_only_reconciles() -> None:
    policy = Policy(cancel=CancelPolicy(after_days_without_progress=1))
    state = {"opened_at": "0"}
    assert set(cadence.due_times(state, "sent", policy, required=2, now=0.0).values()) != {None}
    assert set(cadence.due_times(state, "canceled", policy, required=2, now=0.0).values()) == {None}
    odd = cadence.due_times(state, "paused-by-crosschq", policy, required=2, now=0.0)
    assert odd == {"remind": None, "conclude": None, "reconcile": 6 * H, "cancel": None}


def test_a_finished_request_is_reconciled_until_its_report_is_attached() -> None:
    policy = Policy()
    state = {"opened_at": "0", "progress_at": str(10 * H)}
    waiting = cadence.due_times(state, "completed", policy, required=2, now=11 * H)
    assert waiting == {"remind": None, "conclude": None, "reconcile": 17 * H, "cancel": None}
    assert cadence.due_times(state, "concluded", policy, required=2, now=11 * H)["reconcile"] == 17 * H
    attached = {**state, "reports_attached_at": str(12 * H)}
    assert set(cadence.due_times(attached, "completed", policy, required=2, now=13 * H).values()) == {None}
    late = 10 * H + cadence.REPORT_WAIT_DAYS * 24 * H
    assert set(cadence.due_times(state, "completed", policy, required=2, now=late).values()) == {None}
    assert set(cadence.due_times(state, "declined", policy, required=2, now=11 * H).values()) == {None}
