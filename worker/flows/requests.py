"""Flow A: an ATS event becomes (at most one) Crosschq reference request.

``process_ats_event`` re-reads the application (events can be stale), evaluates the trigger rules
and creates the request at most once per (connector, application, trigger): a Redis claim is
taken before the call. When the answer to a create is lost (timeout, worker killed), the claim
stays pending; the retry then adopts the request Crosschq reports in its "Sent" webhook
(matched by a hash of candidate e-mail and job position) or, once the uncertainty window has
passed with no such webhook, creates it.
"""

from __future__ import annotations

import hashlib

from structlog.contextvars import bind_contextvars

from config.logs import get_logger
from config.redaction import remember
from config.rules import Trigger
from connectors.ats import (
    Application,
    ApplicationRef,
    AtsConnector,
    AtsEvent,
    EventKind,
    ReferenceFields,
)
from connectors.crosschq.models import EditReferenceRequest, HiringManager
from connectors.crosschq.status import Status, is_terminal
from connectors.crosschq.validation import validate_create
from connectors.errors import (
    BadRequest,
    MappingError,
    PermanentError,
    RequestValidationError,
    RetryableError,
    ServerError,
)
from worker.deps import Deps
from worker.flows import due
from worker.flows.ledger import note_once
from worker.store import fingerprint
from worker.triggers import build_request, hiring_manager, hiring_manager_hash, matching_trigger

log = get_logger("worker.flows.requests")


class CreateInFlight(RetryableError):
    """Another attempt at the same create has not finished; look again shortly."""


STATUS_FIELDS_ON_CREATE = ReferenceFields(status="Sent", progress=0)
REACTIVATING = {
    EventKind.STAGE_CHANGED,
    EventKind.APPLICATION_CREATED,
    EventKind.UNREJECTED,
    EventKind.UNHIRED,
}


def process_ats_event(deps: Deps, event_id: str, *, owner: str) -> str:
    """Handle one stored ATS event; returns a short outcome for the task result."""
    stored = deps.store.load_event(event_id)
    if stored is None:
        return "missing"
    event = AtsEvent.model_validate(stored.event)
    bind_contextvars(connector=event.connector, application_id=event.application_id)
    connector = deps.connector(event.connector)
    outcome = dispatch(deps, connector, event, owner=owner)
    deps.store.mark_event(event_id, "processed")
    if event.application_id:
        deps.store.timeline_add(
            event.connector,
            event.application_id,
            "ats.event_processed",
            kind=event.kind.value,
            outcome=outcome,
            event_id=event_id,
        )
    return outcome


def dispatch(deps: Deps, connector: AtsConnector, event: AtsEvent, *, owner: str) -> str:
    policy = deps.rules.policy.cancel
    if event.kind is EventKind.CANDIDATE_ANONYMIZED and event.candidate_id:
        erased = deps.store.erase_candidate(connector.name, event.candidate_id)
        return f"erased:{erased}"
    cancel_reason = {
        EventKind.REJECTED: "the application was rejected" if policy.on_rejected else None,
        EventKind.HIRED: "the candidate was hired" if policy.on_hired else None,
        EventKind.APPLICATION_DELETED: "the application was deleted" if policy.on_deleted else None,
        EventKind.CANDIDATE_DELETED: "the candidate was deleted" if policy.on_deleted else None,
    }.get(event.kind)
    if cancel_reason:
        return cancel_open_requests(deps, connector, event, cancel_reason, owner=owner)
    if event.kind in REACTIVATING and event.application_id:
        return consider_application(deps, connector, event.application_id, owner=owner)
    if event.kind is EventKind.CANDIDATE_UPDATED:
        return reconsider_candidate(deps, connector, event, owner=owner)
    return "ignored"


def reconsider_candidate(deps: Deps, connector: AtsConnector, event: AtsEvent, *, owner: str) -> str:
    """A candidate changed: their applications may have a new hiring manager or reached the stage."""
    app_ids: set[str] = {event.application_id} if event.application_id else set()
    if event.candidate_id:
        for request_id in deps.store.requests_for_candidate(connector.name, event.candidate_id):
            app_id = (deps.store.request_state(request_id) or {}).get("application_id")
            if app_id:
                app_ids.add(app_id)
    outcomes = [consider_application(deps, connector, a, owner=owner) for a in sorted(app_ids)]
    return ";".join(outcomes) or "ignored"


def consider_application(
    deps: Deps, connector: AtsConnector, application_id: str, *, owner: str, jobrole: str | None = None
) -> str:
    application = connector.get_application(application_id)
    remember_person_data(application)
    sync_hiring_manager(deps, connector, application)
    if application.status != "active":
        return f"inactive:{application.status}"
    trigger = matching_trigger(deps.rules, application)
    if trigger is None and jobrole:
        trigger = api_trigger(deps, jobrole)
    if trigger is None:
        return "no-trigger"
    if jobrole and trigger.jobrole != jobrole:
        trigger = trigger.model_copy(update={"jobrole": jobrole})
    request_id = request_reference(deps, connector, application, trigger, owner=owner)
    return f"request:{request_id}"


def api_trigger(deps: Deps, jobrole: str) -> Trigger:
    """A trigger for ``references.request`` calls that name a job role no rule matched."""
    base = next((t for t in deps.rules.triggers if t.jobrole == jobrole), None)
    if base is not None:
        return base
    template = deps.rules.triggers[0] if deps.rules.triggers else None
    relationships = template.relationships if template else ({"rel": "any", "required": 2},)
    return Trigger.model_validate(
        {
            "name": f"api-{jobrole}",
            "stage": "*",
            "jobrole": jobrole,
            "relationships": [r if isinstance(r, dict) else r.model_dump() for r in relationships],
        }
    )


def remember_person_data(application: Application) -> None:
    """Mask this candidate's and these users' names wherever they might be logged."""
    cand = application.candidate
    remember(
        cand.first_name, cand.last_name, *(e.value for e in cand.emails), *(p.value for p in cand.phones)
    )
    for person in (
        application.recruiter,
        application.coordinator,
        application.credited_to,
        *application.hiring_managers,
    ):
        if person is not None:
            remember(person.first_name, person.last_name, person.email)


def request_reference(
    deps: Deps, connector: AtsConnector, application: Application, trigger: Trigger, *, owner: str
) -> str:
    store, name = deps.store, connector.name
    existing = store.request_for(name, application.id, trigger.name)
    if existing:
        return existing
    try:
        request = build_request(application, trigger, default_requestor=deps.rules.default_requestor_email)
        request = validate_create(
            request, deps.catalogue(), default_region=deps.settings.crosschq.default_region
        )
    except (MappingError, RequestValidationError) as exc:
        report_cannot_start(deps, connector, application, trigger, exc, owner=owner)
        raise
    fp = fingerprint(request.candidate.email, request.job_position)
    key = store.claim_key(name, application.id, trigger.name)
    ttl = deps.settings.worker.hard_time_limit * 3 + deps.settings.worker.create_uncertain_seconds
    taken, current = store.take_claim(key, owner, ttl)
    if not taken:
        request_id = resolve_claim(deps, key, current, fp, owner=owner, ttl=ttl)
        if request_id:
            return finish_create(deps, connector, application, trigger, request_id, fp, owner=owner)
    try:
        request_id = deps.crosschq.create_request(request)
    except (ServerError, PermanentError) as exc:
        if exc.status is not None and exc.status >= 400:
            # Crosschq refused, so nothing was created: the retry (or a person) starts afresh.
            store.release_claim(key, owner)
        if isinstance(exc, PermanentError):
            report_cannot_start(deps, connector, application, trigger, exc, owner=owner)
        raise
    # Timeouts, connection errors and unreadable 2xx answers keep the claim pending: the
    # create may have landed, and the retry adopts it from Crosschq's "Sent" webhook.
    log.info("request.created", request_id=request_id, connector=name, application_id=application.id)
    store.timeline_add(
        name,
        application.id,
        "crosschq.request_created",
        request_id=request_id,
        trigger=trigger.name,
        jobrole=trigger.jobrole,
    )
    return finish_create(deps, connector, application, trigger, request_id, fp, owner=owner)


def resolve_claim(
    deps: Deps, key: str, current: str | None, fp: str | None, *, owner: str, ttl: int
) -> str | None:
    """A create is claimed already: adopt its request, wait, or take over when it is dead."""
    if current and current.startswith("done:"):
        return current.split(":", 1)[1]
    started = float(current.rsplit(":", 1)[1]) if current and current.count(":") >= 2 else 0.0
    # Only a request Crosschq reported after this claim began can be its lost answer (a minute
    # of slack for clock differences between processes).
    adopted = deps.store.request_by_fingerprint(fp, seen_since=started - 60) if fp else None
    if adopted:
        log.warning("request.adopted", request_id=adopted, reason="create answer was lost")
        return adopted
    age = deps.clock() - started
    if age < deps.settings.worker.create_uncertain_seconds:
        raise CreateInFlight(
            "a create for this application is in flight or its answer was lost; waiting for Crosschq",
            retry_after=min(15.0, max(2.0, deps.settings.worker.create_uncertain_seconds / 10)),
            service="crosschq",
        )
    # Nothing heard from Crosschq for the whole window: the earlier attempt never landed. Take
    # the claim over only if nobody else did meanwhile.
    if current is None or not deps.store.guards.take_over_claim(key, current, owner, ttl):
        raise CreateInFlight("another task took this create over", retry_after=5.0, service="crosschq")
    log.warning("request.claim_taken_over", age_s=round(age, 1))
    return None


def finish_create(
    deps: Deps,
    connector: AtsConnector,
    application: Application,
    trigger: Trigger,
    request_id: str,
    fp: str | None,
    *,
    owner: str,
) -> str:
    store, name = deps.store, connector.name
    store.record_request(
        request_id,
        connector=name,
        application_id=application.id,
        candidate_id=application.candidate.id,
        trigger=trigger.name,
        hm=hiring_manager_hash(application),
    )
    store.complete_claim(store.claim_key(name, application.id, trigger.name), request_id)
    if fp:
        store.remember_fingerprint(fp, request_id)
    ref = application.ref
    if store.apply_status_if_newer(request_id, Status.SENT.value, initial_status_key()):
        connector.set_reference_fields(ref, STATUS_FIELDS_ON_CREATE)
    total = sum(r.required for r in trigger.relationships)
    note_once(
        store,
        request_id,
        "note:started",
        owner,
        connector,
        ref,
        f"Crosschq reference check requested (job role {trigger.jobrole}, {total} reference(s)). "
        f"Crosschq request id: {request_id}.",
    )
    store.timeline_add(name, application.id, "ats.status_written", request_id=request_id, status="Sent")
    due.reschedule(deps, request_id, policy=deps.rules.policy_for(trigger.name))  # flow C: first due times
    for orphan in store.pop_orphans(request_id):
        deps.enqueue("crosschq.process_webhook", event_id=orphan)
    return request_id


def initial_status_key() -> str:
    """The lowest possible key: "Sent" written at create time never hides a real webhook.

    Webhooks carry Crosschq's clock; ours may differ, and a webhook that arrived before the
    create was recorded (kept as an orphan) must still apply.
    """
    from worker.flows.results import status_key  # local: results imports this module's helpers

    return status_key(None, Status.SENT, 0)


def report_cannot_start(
    deps: Deps,
    connector: AtsConnector,
    application: Application,
    trigger: Trigger,
    exc: Exception,
    *,
    owner: str,
) -> None:
    """Tell the recruiter, in the ATS, why no reference check started (once per reason)."""
    reason = str(exc)
    fields = getattr(exc, "field_errors", None)
    detail = "; ".join(f"{k}: {' '.join(v)}" for k, v in sorted(fields.items())) if fields else reason
    body = f"Crosschq reference check not started ({trigger.name}): {detail}"
    # A stable digest (not hash(), which differs between processes) so each reason is noted once.
    key = "note:cannot-start:" + hashlib.sha256(body.encode()).hexdigest()[:16]
    ref = application.ref
    ledger_id = f"app:{connector.name}:{application.id}"
    note_once(deps.store, ledger_id, key, owner, connector, ref, body)
    try:
        connector.set_reference_fields(ref, ReferenceFields(status="Failed"))
    except PermanentError as field_exc:  # the ATS may not offer the option; the note is enough
        log.warning("ats.status_not_written", error=type(field_exc).__name__)
    deps.store.timeline_add(connector.name, application.id, "request.not_started", reason=detail[:300])


def sync_hiring_manager(deps: Deps, connector: AtsConnector, application: Application) -> None:
    """Send a changed hiring manager to every open request of this application."""
    manager = hiring_manager(application)
    digest = hiring_manager_hash(application)
    if manager is None or not manager.email:
        return
    for request_id in deps.store.requests_for_application(connector.name, application.id).values():
        state = deps.store.request_state(request_id) or {}
        if state.get("hm", "") == digest or is_terminal(state.get("status")):
            continue
        deps.crosschq.edit_request(
            request_id,
            EditReferenceRequest(
                hiring_manager=HiringManager(
                    first_name=manager.first_name, last_name=manager.last_name, email=manager.email
                )
            ),
        )
        deps.store.update_request(request_id, hm=digest)
        deps.store.timeline_add(
            connector.name, application.id, "crosschq.hiring_manager_updated", request_id=request_id
        )


def cancel_open_requests(
    deps: Deps, connector: AtsConnector, event: AtsEvent, reason: str, *, owner: str
) -> str:
    ids: set[str] = set()
    if event.application_id:
        ids.update(deps.store.requests_for_application(connector.name, event.application_id).values())
    if event.candidate_id and event.kind is EventKind.CANDIDATE_DELETED:
        ids.update(deps.store.requests_for_candidate(connector.name, event.candidate_id))
    canceled = 0
    for request_id in sorted(ids):
        state = deps.store.request_state(request_id) or {}
        if is_terminal(state.get("status")):
            continue
        cancel_request(deps, request_id)
        canceled += 1
        app_id = state.get("application_id") or event.application_id or ""
        if event.kind not in (EventKind.APPLICATION_DELETED, EventKind.CANDIDATE_DELETED) and app_id:
            ref_fields = ReferenceFields(status="Canceled")
            ref = ApplicationRef(application_id=app_id, candidate_id=state.get("candidate_id") or None)
            connector.set_reference_fields(ref, ref_fields)
            note_once(
                deps.store,
                request_id,
                "note:canceled-by-ats",
                owner,
                connector,
                ref,
                f"Crosschq reference check canceled because {reason}.",
            )
        deps.store.timeline_add(
            connector.name, app_id, "crosschq.request_canceled", request_id=request_id, reason=reason
        )
    return f"canceled:{canceled}"


def cancel_request(deps: Deps, request_id: str) -> bool:
    """Cancel in Crosschq; a 400 (already finished) is not an error. True when it was canceled."""
    try:
        deps.crosschq.cancel_request(request_id)
    except BadRequest:
        log.info("request.cancel_refused", request_id=request_id, reason="already finished")
        return False
    deps.store.update_request(request_id, status=Status.CANCELED.value)
    return True
