"""Flow B: a Crosschq webhook (or a retrieve, when reconciling) flows back into the ATS.

Order of work for one event, under a short per-request lock:

1. unknown request id -> kept as an orphan, replayed when the create records the id;
2. terminal statuses are confirmed with a retrieve before anything is written;
3. the status fields are written only when the event is newer than what was applied
   (``status_updated_on``, then the lifecycle rank, then progress: Crosschq gives several
   events of one moment the same timestamp);
4. one note per milestone and the report attachments go through the write-back ledger, so
   duplicates and redeliveries add nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial

from structlog.contextvars import bind_contextvars

from config.logs import get_logger
from connectors.ats import ApplicationRef, AtsConnector, ReferenceFields
from connectors.crosschq import lenient_json
from connectors.crosschq.models import ReferenceRequest, WebhookEvent
from connectors.crosschq.status import (
    CANCELED_STATES,
    RANK,
    REPORT_READY_STATES,
    Status,
    is_terminal,
    label,
)
from connectors.errors import BadRequest, RetryableError, WebhookPayloadError
from worker.deps import Deps
from worker.flows import due
from worker.flows.ledger import attach_once, note_once, once
from worker.store import fingerprint

log = get_logger("worker.flows.results")


class RequestBusy(RetryableError):
    """Another task is applying an event to this request right now."""


class ReportNotReady(RetryableError):
    """Crosschq said the report is ready but the download is refused for now."""


CLOCK_SKEW = 300.0  # seconds a webhook's timestamp may run ahead of this machine's clock as is


def status_key(when: datetime | float | None, status: Status | str | None, progress: int | None) -> str:
    if isinstance(when, int | float):
        when = datetime.fromtimestamp(when, UTC)
    stamp = when.astimezone(UTC).strftime("%Y%m%dT%H%M%S.%f") if when else "00000000T000000.000000"
    return f"{stamp}|{RANK.get(str(status), 3):02d}|{(progress or 0):03d}"


def _family(status: Status | str | None) -> str:
    if status in REPORT_READY_STATES:
        return "done"
    if status in CANCELED_STATES:
        return "canceled"
    return str(status)


def parse_webhook(raw: bytes) -> WebhookEvent:
    try:
        data = lenient_json.loads(raw)
        return WebhookEvent.model_validate(data)
    except ValueError as exc:
        raise WebhookPayloadError(f"not a Crosschq webhook: {type(exc).__name__}") from None


def process_crosschq_webhook(deps: Deps, event_id: str, *, owner: str) -> str:
    stored = deps.store.load_event(event_id)
    if stored is None:
        return "missing"
    event = parse_webhook(stored.body)
    outcome = apply_event(deps, event, owner=owner, inbox_event_id=event_id)
    deps.store.mark_event(event_id, "orphaned" if outcome == "orphaned" else "processed")
    return outcome


def apply_event(
    deps: Deps,
    event: WebhookEvent,
    *,
    owner: str,
    inbox_event_id: str | None = None,
    from_reconcile: bool = False,
) -> str:
    store = deps.store
    state = store.request_state(event.id)
    if state is None:
        if inbox_event_id is None:
            return "unknown"
        fp = fingerprint(event.candidate.email if event.candidate else None, event.job_position)
        if fp:
            store.remember_fingerprint(fp, event.id)
        store.add_orphan(event.id, inbox_event_id)
        if store.request_state(event.id) is None:  # the create may have recorded it meanwhile
            log.info("webhook.orphaned", request_id=event.id)
            return "orphaned"
        store.pop_orphans(event.id)
        state = store.request_state(event.id)
        assert state is not None
    lock = f"req:{event.id}"
    # Re-entrant for this task id, so a redelivery after a crash resumes instead of waiting.
    busy_for = store.guards.lock(lock, owner)
    if busy_for:
        raise RequestBusy("another event for this request is being applied", retry_after=min(busy_for, 30.0))
    try:
        return _apply_locked(deps, state, event, owner=owner, from_reconcile=from_reconcile)
    finally:
        store.guards.unlock(lock, owner)


def _apply_locked(
    deps: Deps, state: dict[str, str], event: WebhookEvent, *, owner: str, from_reconcile: bool
) -> str:
    store, rid = deps.store, event.id
    bind_contextvars(request_id=rid, connector=state["connector"], application_id=state["application_id"])
    connector = deps.connector(state["connector"])
    ref = ApplicationRef(
        application_id=state["application_id"], candidate_id=state.get("candidate_id") or None
    )
    status = event.status
    report_ready = event.report_ready
    # A terminal status is confirmed with Crosschq before it is acted on, once: a later webhook of
    # the same family (the "report ready" after "completed") changes nothing a forger could use.
    confirmed_before = _family(state.get("status")) == _family(status)
    if is_terminal(status) and not from_reconcile and not confirmed_before:
        confirmed = deps.crosschq.retrieve_request(rid)
        if _family(confirmed.status) != _family(status):
            log.warning(
                "webhook.unconfirmed", request_id=rid, claimed=str(status), actual=str(confirmed.status)
            )
            status, report_ready = (
                confirmed.status,
                confirmed.status in (Status.CONCLUDED, Status.AUTO_CONCLUDED),
            )
    counts_grew, current = due.count_references(
        deps, rid, event.completed_references, len(event.references)
    )
    stamped = event.status_updated_on or event.updated_on
    when: datetime | float | None = stamped
    if stamped is not None and stamped.timestamp() > deps.clock() + CLOCK_SKEW:
        # A time far ahead (a sender's clock, or a forged body) would make every later status
        # look older than this one, and freeze the ATS field until that time.
        ahead = round(stamped.timestamp() - deps.clock())
        log.warning("webhook.future_timestamp", request_id=rid, ahead_s=ahead)
        when = deps.clock()  # taken as received now: later news still counts as later
    key = status_key(when, status, event.progress)
    outcome = "stale"
    if current and _is_newer(current, key):
        connector.set_reference_fields(
            ref,
            ReferenceFields(
                status=label(status),
                progress=event.progress,
                score=event.score,
                report_url=event.report_url or None,
            ),
        )
        written = {"progress": event.progress or 0, "updated_at": deps.clock()}
        applied = store.apply_status_if_newer(rid, str(status), key, **written)
        after = {**current, **{f: str(v) for f, v in written.items()}}
        after.update(status=str(status), status_key=key)
        pipe = store.r.pipeline()  # the due times and the timeline entry in one round trip
        # flow C: what falls due next (the state just written, unless a newer status won the race)
        known = after if applied else None
        due.reschedule(deps, rid, status=str(status), now=deps.clock(), state=known, pipe=pipe)
        store.timeline_add(
            state["connector"],
            ref.application_id,
            "ats.status_written",
            pipe=pipe,
            request_id=rid,
            status=str(status),
            progress=event.progress,
        )
        pipe.execute()
        outcome = f"applied:{status}"
    elif counts_grew and current:
        # flow C: a reference came in, the status did not move
        due.reschedule(deps, rid, now=deps.clock(), state=current)
    _milestone_notes(deps, connector, ref, rid, event, status, owner=owner)
    if report_ready:
        _attach_reports(
            deps, connector, ref, rid, state.get("trigger"), owner=owner, required=not from_reconcile
        )
    return outcome


def _is_newer(state: dict[str, str], key: str) -> bool:
    return key > state.get("status_key", "")


def _milestone_notes(
    deps: Deps,
    connector: AtsConnector,
    ref: ApplicationRef,
    rid: str,
    event: WebhookEvent,
    status: Status | str | None,
    *,
    owner: str,
) -> None:
    def note(key: str, body: str) -> None:
        note_once(deps.store, rid, key, owner, connector, ref, body)

    refs = event.references
    for index, reference in enumerate(refs, start=1):
        rel = f" ({reference.relationship})" if reference.relationship else ""
        note(f"note:reference-added:{index}", f"Crosschq: reference {index}{rel} added by the candidate.")
    for index in range(1, event.completed_references + 1):
        note(f"note:reference-completed:{index}", f"Crosschq: {index} of {len(refs)} reference(s) completed.")
    declined = sum(1 for r in refs if r.declined)
    for index in range(1, declined + 1):
        note(f"note:reference-declined:{index}", f"Crosschq: {index} reference(s) declined to give feedback.")
    if status in REPORT_READY_STATES:
        score = f" Score: {event.score}." if event.score is not None else ""
        note("note:status:completed", f"Crosschq reference check {label(status).lower()}.{score}")
    elif status in CANCELED_STATES:
        note("note:status:canceled", f"Crosschq reference check {label(status).lower()}.")
    elif status == Status.DECLINED:
        note("note:status:declined", "Crosschq reference check declined by the candidate.")

def _attach_reports(
    deps: Deps,
    connector: AtsConnector,
    ref: ApplicationRef,
    rid: str,
    trigger: str | None,
    *,
    owner: str,
    required: bool,
) -> None:
    policy = deps.rules.policy_for(trigger)
    missing = False
    for kind in policy.report_kinds:
        filename = f"crosschq-{kind}-report-{rid[:8]}.pdf"
        sizes: list[int] = []

        def download(kind: str = kind, sizes: list[int] = sizes) -> bytes:
            try:
                pdf = deps.crosschq.download_report(rid, kind)  # type: ignore[arg-type]
            except BadRequest as exc:
                raise ReportNotReady(f"{kind} report not downloadable yet", retry_after=30.0) from exc
            sizes.append(len(pdf))
            return pdf

        try:
            if attach_once(deps.store, rid, f"attach:{kind}", owner, connector, ref, filename, download):
                deps.store.timeline_add(
                    connector.name,
                    ref.application_id,
                    "ats.report_attached",
                    request_id=rid,
                    filename=filename,
                    size=sizes[0] if sizes else None,
                )
        except ReportNotReady:
            if required:
                raise
            missing = True
    if not missing:  # flow C stops reconciling a finished request once its reports are in
        deps.store.update_request(rid, reports_attached_at=deps.clock())
        due.reschedule(deps, rid, kinds=("reconcile",))
    stage = policy.move_to_stage_on_complete
    if stage:
        once(deps.store, rid, "stage:on-complete", owner, partial(connector.move_to_stage, ref, stage))


def sync_request(deps: Deps, request_id: str, *, owner: str) -> str:
    """Retrieve a request and apply what changed, as if its webhook had arrived."""
    if deps.store.request_state(request_id) is None:
        return "unknown"
    current = deps.crosschq.retrieve_request(request_id)
    return apply_event(deps, as_event(current, deps.clock()), owner=owner, from_reconcile=True)


def as_event(request: ReferenceRequest, now: float) -> WebhookEvent:
    status = request.status
    return WebhookEvent(
        id=request.id,
        status=status,
        status_message=request.status_message,
        status_updated_on=datetime.fromtimestamp(now, UTC),
        progress=None,
        references=request.references,
        score=request.ref_score,
        event_name="reference_request_full_completed" if status in REPORT_READY_STATES else None,
    )
