"""When each lifecycle action on a request falls due, from its recorded state and the policy.

Pure arithmetic on the ``req:{request_id}`` hash (see :mod:`worker.store`), no Redis and no
clock of its own, so every rule can be tested with chosen times. Fields read:

- ``opened_at``: when the worker first scheduled the request (its creation, in practice);
- ``reminders``, ``reminded_at``: reminders sent so far and when the last one went;
- ``completed``, ``references``: completed and added references, as last seen from Crosschq;
- ``progress_at``: last time the status or either count changed;
- ``conclude_requested_at``: set once the worker asked Crosschq to conclude;
- ``reports_attached_at``: set once every report kind the policy wants is attached;
- ``{kind}_after``: not before this time (Crosschq answered "not yet", see ``due.defer``).

Crosschq itself reminds references every 24 h and shows the manual "Send Reminder" only 24 h
after the request or the previous reminder (Crosschq help centre, "How to send a reminder to
references"); the worker's reminders are the extra, policy-driven nudges on top of those.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from config.rules import CancelPolicy, ConcludePolicy, Policy, ReminderPolicy
from connectors.crosschq.status import OPEN, REPORT_READY_STATES, TERMINAL

KINDS: tuple[str, ...] = ("remind", "conclude", "reconcile", "cancel")
HOUR = 3600.0
DAY = 86400.0
# A finished request whose report is not attached yet stays under reconciliation this long after
# its last progress: the "report ready" webhook may be lost, and a retrieve cannot tell whether
# the PDF exists (only a download can), so the reconcile scan keeps trying to download it.
REPORT_WAIT_DAYS = 14.0

State = Mapping[str, str]


def number(state: State, name: str, default: float = 0.0) -> float:
    raw = state.get(name)
    try:
        return float(raw) if raw not in (None, "") else default
    except ValueError:
        return default


def not_before(state: State, kind: str, due: float | None) -> float | None:
    return None if due is None else max(due, number(state, f"{kind}_after"))


def in_quiet_hours(hour: int, quiet: tuple[int, int]) -> bool:
    start, end = quiet
    if start == end:
        return False
    return start <= hour < end if start < end else hour >= start or hour < end


def outside_quiet_hours(when: float, quiet: tuple[int, int] | None, timezone: str) -> float:
    """``when``, or the end of the quiet period it falls in (local time of ``timezone``)."""
    if quiet is None:
        return when
    local = datetime.fromtimestamp(when, ZoneInfo(timezone))
    if not in_quiet_hours(local.hour, quiet):
        return when
    end = local.replace(hour=quiet[1], minute=0, second=0, microsecond=0)
    if end <= local:
        end += timedelta(days=1)  # wall-clock arithmetic: stays at the end hour across DST
    return end.timestamp()


def remind_due(state: State, policy: ReminderPolicy) -> float | None:
    """First reminder N hours after opening, then every M hours, at most K."""
    sent = int(number(state, "reminders"))
    if not policy.enabled or sent >= policy.max_count:
        return None
    if sent == 0:
        due = number(state, "opened_at") + policy.first_after_hours * HOUR
    else:
        due = number(state, "reminded_at") + policy.every_hours * HOUR
    due = max(due, number(state, "remind_after"))
    return outside_quiet_hours(due, policy.quiet_hours, policy.timezone)


def conclude_due(
    state: State, policy: ConcludePolicy, *, required: int | None, now: float
) -> float | None:
    """Now when every required reference is in; else after D days with at least X completed."""
    if not policy.enabled or state.get("conclude_requested_at"):
        return None
    completed = int(number(state, "completed"))
    if required and completed >= required:
        due: float | None = now
    elif completed >= policy.min_completed:
        due = number(state, "opened_at") + policy.after_days * DAY
    else:
        due = None  # the next completed reference arrives with a webhook, which reschedules
    return not_before(state, "conclude", due)


def cancel_due(state: State, policy: CancelPolicy) -> float | None:
    """E days after the last progress, when the policy asks for it (off by default)."""
    if policy.after_days_without_progress is None:
        return None
    since = number(state, "progress_at", number(state, "opened_at"))
    return not_before(state, "cancel", since + policy.after_days_without_progress * DAY)


def awaiting_report(state: State, now: float) -> bool:
    """Finished, the reports not all attached yet, and not given up on (``REPORT_WAIT_DAYS``)."""
    if state.get("reports_attached_at"):
        return False
    since = number(state, "progress_at", number(state, "opened_at", now))
    return now < since + REPORT_WAIT_DAYS * DAY


def due_times(
    state: State, status: str | None, policy: Policy, *, required: int | None, now: float
) -> dict[str, float | None]:
    """Every kind's due time; ``None`` clears it. Terminal: nothing, except a reconcile while a
    finished request's report is awaited; unknown status: reconcile only."""
    times: dict[str, float | None] = dict.fromkeys(KINDS)
    if status in TERMINAL:
        if status in REPORT_READY_STATES and awaiting_report(state, now):
            times["reconcile"] = now + policy.reconcile_after_hours * HOUR
        return times
    times["reconcile"] = now + policy.reconcile_after_hours * HOUR
    if status not in OPEN:
        return times  # a status this worker does not know: keep looking, act on nothing
    times["remind"] = remind_due(state, policy.reminders)
    times["conclude"] = conclude_due(state, policy.conclude, required=required, now=now)
    times["cancel"] = cancel_due(state, policy.cancel)
    return times
