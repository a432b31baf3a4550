"""The per-request lifecycle actions: ``references.sync``, ``.remind``, ``.conclude``, ``.cancel``.

Each retrieves the request first and applies any change exactly as its webhook would have (so a
lost webhook is repaired on the way), then acts only if the request is still open.

A scan enqueues them with ``due``, the due time it claimed (:mod:`worker.flows.due`). Such a
run acts once per due time (``duelock:{kind}:{request_id}:{due}``; a duplicate delivery does
nothing), re-checks the policy against the fresh state and reschedules itself when the item is
no longer due. Without ``due`` (an operator or another service sent the task) an action does
what it is asked: remind now, conclude now, cancel now, sync now. Crosschq answering "not yet"
(400: reminder too early, not yet concludable) is not a failure: the item is looked at again
after ``SCHEDULE_DEFER_SECONDS``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from config.logs import get_logger
from connectors.ats import ApplicationRef, ReferenceFields
from connectors.crosschq.models import ReferenceRequest
from connectors.crosschq.status import OPEN, REPORT_READY_STATES
from connectors.errors import BadRequest, NotFound
from worker.deps import Deps
from worker.flows import cadence, results
from worker.flows import due as due_index
from worker.flows import requests as request_flows
from worker.flows.ledger import note_once
from worker.store import k

log = get_logger("worker.flows.actions")
T = TypeVar("T")


def sync(deps: Deps, request_id: str, due: float | None = None, *, owner: str) -> str:
    """``references.sync``: retrieve and apply. For a stale request (``due`` from the reconcile
    scan) only a change is written; run directly, the current state is written in any case."""
    state = _known(deps, request_id)
    if state is None:
        return "unknown"
    if due is not None:
        outcome = _refresh(deps, request_id, state, owner=owner)[1]
    else:
        outcome = _guard_not_found(
            deps, request_id, lambda: results.sync_request(deps, request_id, owner=owner)
        )
    due_index.reschedule(deps, request_id, kinds=("reconcile",))
    return outcome


def remind(deps: Deps, request_id: str, due: float | None = None, *, owner: str) -> str:
    """``references.remind``: with ``due`` (from a scan) the policy decides; without, remind now."""
    state = _known(deps, request_id)
    if state is None:
        return "unknown"
    if due is not None and not _first(deps, "remind", request_id, due, owner):
        return "duplicate"
    return _remind(deps, request_id, state, scheduled=due is not None, owner=owner)


def _remind(deps: Deps, request_id: str, state: dict[str, str], *, scheduled: bool, owner: str) -> str:
    now = deps.clock()
    current, _ = _refresh(deps, request_id, state, owner=owner)
    if current.status not in OPEN:
        return _not_open(deps, request_id, "remind", current)
    state = deps.store.request_state(request_id) or state
    policy = deps.rules.policy_for(state.get("trigger")).reminders
    if scheduled and not _reached(cadence.remind_due(state, policy), now):
        due_index.reschedule(deps, request_id, now=now, kinds=("remind",))
        return "not-due"
    if not current.can_send_reminder:
        due_index.defer(deps, request_id, "remind", now=now)
        return "too-early"
    return _send_reminder(deps, request_id, state, owner=owner, now=now)


def _send_reminder(deps: Deps, request_id: str, state: dict[str, str], *, owner: str, now: float) -> str:
    """Send reminder number n once: a claim per (request, n) stops a duplicate task."""
    r = deps.store.r
    number = int(cadence.number(state, "reminders")) + 1
    slot = k("reminder", request_id, number)
    ttl = deps.settings.schedule.lease_seconds
    if not r.set(slot, owner, nx=True, ex=ttl) and r.get(slot) != owner.encode():
        return "in-flight"
    try:
        deps.crosschq.send_reminder(request_id)
    except BadRequest:  # Crosschq throttles reminders (24 h after the request or the last one)
        r.delete(slot)
        due_index.defer(deps, request_id, "remind", now=now)
        return "too-early"
    r.hincrby(k("req", request_id), "reminders", 1)
    deps.store.update_request(request_id, reminded_at=now, remind_after=0)
    due_index.reschedule(deps, request_id, now=now, kinds=("remind",))
    log.info("reminder.sent", request_id=request_id, number=number)
    _timeline(deps, state, "crosschq.reminder_sent", request_id=request_id, number=number)
    return f"reminded:{number}"


def conclude(deps: Deps, request_id: str, due: float | None = None, *, owner: str) -> str:
    """``references.conclude``: with ``due`` the policy decides; without, conclude now."""
    state = _known(deps, request_id)
    if state is None:
        return "unknown"
    if due is not None and not _first(deps, "conclude", request_id, due, owner):
        return "duplicate"
    return _conclude(deps, request_id, state, scheduled=due is not None, owner=owner)


def _conclude(deps: Deps, request_id: str, state: dict[str, str], *, scheduled: bool, owner: str) -> str:
    now = deps.clock()
    current, _ = _refresh(deps, request_id, state, owner=owner)
    if current.status not in OPEN:
        return _not_open(deps, request_id, "conclude", current)
    state = deps.store.request_state(request_id) or state
    policy = deps.rules.policy_for(state.get("trigger")).conclude
    required = due_index.required_references(deps, state)
    if scheduled and not _reached(cadence.conclude_due(state, policy, required=required, now=now), now):
        due_index.reschedule(deps, request_id, now=now, kinds=("conclude",))
        return "not-due"
    try:
        deps.crosschq.conclude_request(request_id)
    except BadRequest:  # before a reference answered, Crosschq refuses (help centre: conclude)
        due_index.defer(deps, request_id, "conclude", now=now)
        return "not-concludable-yet"
    deps.store.update_request(request_id, conclude_requested_at=now)
    due_index.reschedule(deps, request_id, now=now, kinds=("conclude",))
    completed = current.completed_references
    log.info("request.concluded", request_id=request_id, completed=completed)
    _timeline(deps, state, "crosschq.request_concluded", request_id=request_id, completed=completed)
    return "concluded"


def cancel(deps: Deps, request_id: str, due: float | None = None, *, owner: str) -> str:
    """``references.cancel``: without ``due``, cancel now; with it, the no-progress policy decides."""
    state = deps.store.request_state(request_id)
    if due is None or state is None:
        canceled = request_flows.cancel_request(deps, request_id)
        due_index.reschedule(deps, request_id)
        return "canceled" if canceled else "already-finished"
    if not _first(deps, "cancel", request_id, due, owner):
        return "duplicate"
    return _cancel_stalled(deps, request_id, state, owner=owner)


def _cancel_stalled(deps: Deps, request_id: str, state: dict[str, str], *, owner: str) -> str:
    """Auto-cancel after E days without progress, and tell the recruiter why."""
    now = deps.clock()
    current, _ = _refresh(deps, request_id, state, owner=owner)
    if current.status not in OPEN:
        return _not_open(deps, request_id, "cancel", current)
    state = deps.store.request_state(request_id) or state
    policy = deps.rules.policy_for(state.get("trigger")).cancel
    days = policy.after_days_without_progress
    if days is None or not _reached(cadence.cancel_due(state, policy), now):
        due_index.reschedule(deps, request_id, now=now, kinds=("cancel",))
        return "not-due"
    if not request_flows.cancel_request(deps, request_id):
        due_index.reschedule(deps, request_id, now=now)
        return "already-finished"
    connector = deps.connector(state["connector"])
    ref = ApplicationRef(
        application_id=state["application_id"], candidate_id=state.get("candidate_id") or None
    )
    connector.set_reference_fields(ref, ReferenceFields(status="Canceled"))
    # The ledger key of the "canceled" milestone note: Crosschq's webhook adds no second note.
    body = f"Crosschq reference check canceled automatically after {days:g} day(s) without progress."
    note_once(deps.store, request_id, "note:status:canceled", owner, connector, ref, body)
    due_index.reschedule(deps, request_id, now=now)
    log.info("request.auto_canceled", request_id=request_id, days_without_progress=days)
    _timeline(deps, state, "crosschq.request_auto_canceled", request_id=request_id, days=days)
    return "canceled:no-progress"


def _refresh(
    deps: Deps, request_id: str, state: dict[str, str], *, owner: str
) -> tuple[ReferenceRequest, str]:
    """Retrieve the request; when it differs from what was applied, apply it as a webhook."""
    current = _guard_not_found(deps, request_id, lambda: deps.crosschq.retrieve_request(request_id))
    if not _changed(state, current):
        return current, "unchanged"
    event = results.as_event(current, deps.clock())
    outcome = results.apply_event(deps, event, owner=owner, from_reconcile=True)
    before, after = state.get("status"), str(current.status)
    log.info("request.reconciled", request_id=request_id, before=before, after=after)
    return current, outcome


def _changed(state: dict[str, str], current: ReferenceRequest) -> bool:
    status_moved = current.status is not None and str(current.status) != state.get("status")
    report_awaited = current.status in REPORT_READY_STATES and not state.get("reports_attached_at")
    return (
        status_moved
        or report_awaited
        or current.completed_references != int(cadence.number(state, "completed"))
        or len(current.references) != int(cadence.number(state, "references"))
    )


def _guard_not_found(deps: Deps, request_id: str, call: Callable[[], T]) -> T:
    try:
        return call()
    except NotFound:  # gone from Crosschq: nothing will ever be due again
        due_index.clear(deps.store, request_id)
        raise


def _not_open(deps: Deps, request_id: str, kind: str, current: ReferenceRequest) -> str:
    # A status this worker does not know leaves the claimed item parked at its lease: clear it.
    due_index.reschedule(deps, request_id, kinds=(kind,))
    return f"not-open:{current.status}"


def _known(deps: Deps, request_id: str) -> dict[str, str] | None:
    state = deps.store.request_state(request_id)
    if state is None:
        due_index.clear(deps.store, request_id)
    return state


def _first(deps: Deps, kind: str, request_id: str, due: float, owner: str) -> bool:
    ttl = deps.settings.schedule.lease_seconds
    return due_index.take_slot(deps.store, kind, request_id, due, owner, ttl)


def _reached(at: float | None, now: float) -> bool:
    return at is not None and at <= now


def _timeline(deps: Deps, state: dict[str, str], what: str, **fields: object) -> None:
    deps.store.timeline_add(state["connector"], state["application_id"], what, **fields)
