"""In-memory lifecycle model of the Crosschq Partner API v2 sandbox.

Everything lives in :class:`SandboxState`, guarded by one re-entrant lock
(exposed as the condition variable ``cond``). The webhook outbox lives here
too, so events are queued in exactly the order the state changed.

Faithful to the spec (crosschq-partner-api-v2):

* statuses ``sent, accepted, assigning, collecting, completed, concluded,
  auto-concluded, canceled, canceled-by-candidate, declined, auto-canceled``
  and their ``status_message`` labels;
* progress 0 (sent, accepted), 50 (assigning), 75 (collecting), 100 (completed);
* webhook bodies: ``id, candidate{first_name, last_name, mobile_phone, email},
  job_position, status, status_message, status_updated_on, progress,
  references[...], report_url, created_at, updated_on, event_name`` and
  ``score`` (optional feature) on the "completed" and "report ready" events;
* events: ``reference_request_status_updated`` for status changes (including
  "first reference added" which moves the request to collecting),
  ``reference_request_reference_added`` once all required references were
  added, ``reference_request_reference_completed`` per completed reference
  (carrying status ``completed`` for the last one),
  ``reference_request_full_completed`` when the report is ready and for
  auto-conclusion;
* the retrieve body keys, without ``status`` (opt-in flag adds it);
* conclude needs at least one completed reference; the report is only
  downloadable for completed or concluded requests.

ASSUMPTIONS (not in the spec):

* ``reference_request_reference_declined`` is the event name for a reference
  that declines; the spec lists the trigger but shows no example.
* Adding a reference that is neither the first nor the last required one
  sends no webhook.
* ``report_summary_pdf`` / ``report_full_pdf`` appear in every webhook (the
  spec shows them on auto-canceled only): download URLs once the report is
  ready, else ``""``.
* ``status_updated_on`` (millisecond precision, as in the spec examples)
  changes only when the status changes and is strictly increasing across
  changes; ``updated_on`` (microseconds) is strictly increasing per event.
* Progress stays at 75 while collecting (one spec example shows 100), and a
  canceled/declined request keeps the progress it had.
* Reference statuses are ``pending``, ``completed``, ``declined`` and
  ``canceled``; outstanding references become ``canceled`` on (auto-)conclude.
* ``completed`` is terminal for the partner endpoints (edit, cancel, conclude).
* ``flex_params`` can be edited only before the first reference is added.
* cancel and conclude answer 200 with the retrieve body; send-reminder
  answers 200 ``{"detail": "Reminder sent."}``.
* ``asmt_score`` stays null; ``ref_score`` is the score once complete.
* The score is a deterministic number in [1.00, 4.99] derived from the id.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
import threading
import time
import uuid
from collections import deque
from dataclasses import asdict
from typing import Any

from .sandbox_model import (
    ACTIVE,
    EV_FULL_COMPLETED,
    EV_REFERENCE_ADDED,
    EV_REFERENCE_COMPLETED,
    EV_REFERENCE_DECLINED,
    EV_STATUS,
    REPORTABLE,
    STATUS_DESCRIPTIONS,
    STATUS_MESSAGES,
    TERMINAL,
    Delivery,
    Faults,
    Reference,
    ReferenceRequest,
    Relationship,
    SandboxConfig,
    iso_ms,
    iso_us,
    seed_jobroles,
    utcnow,
)
from .sandbox_pdf import ReportData, ReportReference
from .sandbox_validation import (
    JSON,
    PersonInput,
    RelationshipCatalogue,
    SandboxError,
    detail,
    validate_create,
    validate_edit,
)

_MISSING = object()
_FLEX_LOCKED = "References can no longer be changed once the candidate added references."


def _relationship_view(item: Relationship) -> JSON:
    return {"id": item.id, "notes": item.notes, "rel": item.rel, "required": item.required}


class SandboxState:
    """All sandbox data plus the lifecycle operations; every method locks."""

    def __init__(self, config: SandboxConfig) -> None:
        self.cond = threading.Condition(threading.RLock())
        self.config = config
        self.faults = Faults()
        self.rng = random.Random()
        self.jobroles = seed_jobroles()
        self.requests: dict[str, ReferenceRequest] = {}
        self.calls: list[JSON] = []
        self.webhook_log: list[JSON] = []
        self.outbox: deque[Delivery] = deque()
        self.inflight = 0
        self.last_enqueue = 0.0
        self.base_url = "http://127.0.0.1/"

    # ----------------------------------------------------------- helpers
    def _get(self, request_id: str) -> ReferenceRequest:
        req = self.requests.get(request_id)
        if req is None:
            raise detail(404, "Not found.")
        return req

    def _enabled_catalogue(self, codename: str) -> RelationshipCatalogue | None:
        role = self.jobroles.get(codename)
        return role.relationships if role is not None and role.enabled else None

    def _report_urls(self, req: ReferenceRequest) -> tuple[str, str]:
        if not req.report_ready:
            return "", ""
        base = f"{self.base_url}api/v2/reference-request/{req.id}/download-report/?report="
        return base + "summary", base + "full"

    def _can_send_reminder(self, req: ReferenceRequest) -> bool:
        if req.status not in ACTIVE:
            return False
        return (
            req.reminder_forced
            or time.time() >= req.reminder_basis + self.config.reminder_delay_seconds
        )

    def _finish(self, req: ReferenceRequest, status: str) -> None:
        """Enter a report-bearing status: progress 100, score, completion time."""
        for ref in req.references:
            if ref.status == "pending":
                ref.status = "canceled"
        req.set_status(status, 100)
        req.completed_on = req.updated_on
        digest = hashlib.sha256(req.id.encode()).digest()
        req.score = round(1.0 + int.from_bytes(digest[:4], "big") % 400 / 100, 2)

    def _emit(self, req: ReferenceRequest, event_name: str) -> None:
        summary_pdf, full_pdf = self._report_urls(req)
        payload: JSON = {
            "id": req.id,
            "candidate": {
                "first_name": req.candidate.first_name,
                "last_name": req.candidate.last_name,
                "mobile_phone": req.candidate.mobile_phone,
                "email": req.candidate.email,
            },
            "job_position": req.job_position,
            "status": req.status,
            "status_message": STATUS_MESSAGES[req.status],
            "status_updated_on": iso_ms(req.status_updated_on),
            "progress": req.progress,
            "references": [ref.webhook_view() for ref in req.references],
            "report_url": f"{self.base_url}request/references/{req.id}/",
            "report_summary_pdf": summary_pdf,
            "report_full_pdf": full_pdf,
            "created_at": iso_us(req.created_on),
            "updated_on": iso_us(req.updated_on),
            "event_name": event_name,
        }
        if (
            self.config.score_enabled
            and req.status in REPORTABLE
            and event_name in (EV_REFERENCE_COMPLETED, EV_FULL_COMPLETED)
        ):
            payload["score"] = req.score
        delivery = Delivery(req.id, event_name, req.status, json.dumps(payload).encode())
        req.last_event = delivery
        self._enqueue(delivery)

    def _enqueue(self, delivery: Delivery) -> None:
        self.outbox.append(delivery)
        self.last_enqueue = time.monotonic()
        self.cond.notify_all()

    def _report_ready(self, req: ReferenceRequest) -> None:
        req.report_ready = True
        req.touch()
        self._emit(req, EV_FULL_COMPLETED)

    # ------------------------------------------------------- partner API
    def list_jobroles(self) -> list[JSON]:
        with self.cond:
            return [role.as_api() for role in self.jobroles.values() if role.enabled]

    def create_request(self, data: Any) -> str:
        with self.cond:
            clean = validate_create(data, self._enabled_catalogue)
            now = utcnow()
            req = ReferenceRequest(
                id=uuid.uuid4().hex,
                candidate=clean.candidate,
                candidate_id=uuid.uuid4().hex,
                requestor={
                    "avatar": "",
                    "email": clean.requestor,
                    "first_name": clean.requestor_first_name,
                    "id": str(uuid.uuid4()),
                    "last_name": clean.requestor_last_name,
                    "mobile_phone": "",
                    "org": {
                        "id": "00000000-0000-4000-8000-000000000001",
                        "logo": "",
                        "name": "Sandbox Org",
                    },
                },
                jobrole=self.jobroles[clean.jobrole],
                job_position=clean.job_position,
                hiring_manager=clean.hiring_manager or PersonInput(),
                relationships=[
                    Relationship(str(uuid.uuid4()), item.rel, item.required, item.notes)
                    for item in clean.relationships
                ],
                created_on=now,
                use_sms=clean.use_sms,
                send_past_due_notification=clean.send_past_due_notification,
                send_completed_notification=clean.send_completed_notification,
                status_updated_on=now.replace(microsecond=now.microsecond // 1000 * 1000),
                updated_on=now,
                reminder_basis=time.time(),
            )
            self.requests[req.id] = req
            self._emit(req, EV_STATUS)
            return req.id

    def retrieve(self, request_id: str) -> JSON:
        with self.cond:
            req = self._get(request_id)
            manager = req.hiring_manager
            body: JSON = {
                "asmt_score": None,
                "can_send_reminder": self._can_send_reminder(req),
                "candidate": {
                    "avatar": "",
                    "created_on": iso_us(req.created_on),
                    "email": req.candidate.email,
                    "first_name": req.candidate.first_name,
                    "id": req.candidate_id,
                    "last_name": req.candidate.last_name,
                    "mobile_phone": req.candidate.mobile_phone,
                },
                "comments_count": 0,
                "completed_on": iso_us(req.completed_on) if req.completed_on else None,
                "created_on": iso_us(req.created_on),
                "elapsed_level": "0",
                "elapsed_time": int((utcnow() - req.created_on).total_seconds()),
                "flex_params": {
                    "relationships": [_relationship_view(item) for item in req.relationships]
                },
                "hire_status": "unknown",
                "hiring_manager": {
                    "email": manager.email,
                    "first_name": manager.first_name,
                    "last_name": manager.last_name,
                    "title": manager.title,
                },
                "id": req.id,
                "is_past_due": False,
                "job_position": req.job_position,
                "jobrole": {"id": req.jobrole.codename, "name": req.jobrole.name},
                "ref_score": req.score,
                "references": [{"id": ref.id, **ref.webhook_view()} for ref in req.references],
                "request_detail_url": f"{self.base_url}request/references/{req.id}/",
                "requestor": json.loads(json.dumps(req.requestor)),
                "status_description": STATUS_DESCRIPTIONS[req.status],
                "status_message": STATUS_MESSAGES[req.status],
            }
            if self.config.retrieve_includes_status:
                body["status"] = req.status
            return body

    def edit(self, request_id: str, data: Any) -> JSON:
        with self.cond:
            req = self._get(request_id)
            if req.status in TERMINAL:
                raise detail(400, f"A request in status '{req.status}' cannot be edited.")
            clean = validate_edit(data, req.jobrole.relationships)
            if clean.relationships is not None:
                if req.references:
                    errors = {"flex_params": {"relationships": [_FLEX_LOCKED]}}
                    raise SandboxError(400, {"errors": errors})
                req.relationships = [
                    Relationship(str(uuid.uuid4()), item.rel, item.required, item.notes)
                    for item in clean.relationships
                ]
            if clean.hiring_manager is not None:
                req.hiring_manager = clean.hiring_manager
            if clean.use_sms is not None:
                req.use_sms = clean.use_sms
            if clean.sms_message is not None:
                req.sms_message = clean.sms_message
            if clean.candidate_message is not None:
                req.candidate_message = clean.candidate_message
            req.touch()
            return self.retrieve(request_id)

    def cancel(self, request_id: str) -> JSON:
        with self.cond:
            req = self._get(request_id)
            if req.status in TERMINAL:
                raise detail(400, f"A request in status '{req.status}' cannot be canceled.")
            req.set_status("canceled")
            self._emit(req, EV_STATUS)
            return self.retrieve(request_id)

    def conclude(self, request_id: str) -> JSON:
        with self.cond:
            req = self._get(request_id)
            if req.status in TERMINAL:
                raise detail(400, f"A request in status '{req.status}' cannot be concluded.")
            if req.count("completed") == 0:
                raise detail(
                    400,
                    "The request cannot be concluded until at least one reference has answered.",
                )
            self._finish(req, "concluded")
            self._emit(req, EV_STATUS)
            self._report_ready(req)
            return self.retrieve(request_id)

    def send_reminder(self, request_id: str) -> JSON:
        with self.cond:
            req = self._get(request_id)
            if not self._can_send_reminder(req):
                raise detail(400, "Reminder cannot be sent yet.")
            req.reminders_sent += 1
            req.reminder_basis = time.time()
            req.reminder_forced = False
            return {"detail": "Reminder sent."}

    def report_data(self, request_id: str, kind: str) -> ReportData:
        with self.cond:
            req = self._get(request_id)
            if kind not in ("summary", "full"):
                raise detail(400, f'"{kind}" is not a valid report; use "summary" or "full".')
            if req.status not in REPORTABLE:
                raise detail(
                    400, "The report is only available for completed or concluded requests."
                )
            if not req.report_ready:
                raise detail(400, "The report is not ready yet.")
            return ReportData(
                request_id=req.id,
                candidate_name=f"{req.candidate.first_name} {req.candidate.last_name}".strip(),
                job_position=req.job_position,
                jobrole_name=req.jobrole.name,
                status_message=STATUS_MESSAGES[req.status],
                created_on=iso_us(req.created_on),
                completed_on=iso_us(req.completed_on) if req.completed_on else "",
                score=req.score,
                references=[
                    ReportReference(
                        id=ref.id,
                        name=f"{ref.first_name} {ref.last_name}",
                        relationship=req.jobrole.relationships.get(ref.relationship, {}).get(
                            "label", ref.relationship
                        ),
                        status=ref.status,
                        workplace_name=ref.workplace_name,
                        job_title=ref.job_title,
                    )
                    for ref in req.references
                ],
            )

    # ---------------------------------------------------- lifecycle control
    def _require(
        self, req: ReferenceRequest, allowed: frozenset[str] | set[str], action: str
    ) -> None:
        if req.status not in allowed:
            raise detail(400, f"Cannot {action} a request in status '{req.status}'.")

    def _pick_reference(self, req: ReferenceRequest, body: JSON) -> tuple[int, Reference]:
        index = body.get("index", _MISSING)
        if index is _MISSING:
            for position, ref in enumerate(req.references):
                if ref.status == "pending":
                    return position, ref
            raise detail(400, "No pending reference.")
        if (
            isinstance(index, bool)
            or not isinstance(index, int)
            or not 0 <= index < len(req.references)
        ):
            raise detail(400, "index must point at an existing reference.")
        ref = req.references[index]
        if ref.status != "pending":
            raise detail(400, f"Reference {index} is {ref.status}, not pending.")
        return index, ref

    def control(self, request_id: str, action: str, body: JSON) -> JSON:
        """Run one ``POST /_sandbox/requests/{id}/{action}`` step."""
        with self.cond:
            req = self._get(request_id)
            index: int | None = None
            if action == "accept":
                self._require(req, {"sent"}, "accept")
                req.set_status("accepted", 0)
                self._emit(req, EV_STATUS)
            elif action == "self-assessment":
                self._require(req, {"accepted"}, "submit the self-assessment of")
                req.set_status("assigning", 50)
                self._emit(req, EV_STATUS)
            elif action == "add-reference":
                index = self._add_reference(req, body)
            elif action == "complete-reference":
                self._require(req, {"collecting"}, "complete a reference of")
                index, ref = self._pick_reference(req, body)
                ref.status = "completed"
                if req.count("completed") >= req.total_required:
                    self._finish(req, "completed")
                else:
                    req.touch()
                self._emit(req, EV_REFERENCE_COMPLETED)
                if req.status == "completed" and self.config.auto_report:
                    self._report_ready(req)
            elif action == "decline-reference":
                self._require(req, {"collecting"}, "decline a reference of")
                index, ref = self._pick_reference(req, body)
                ref.status = "declined"
                req.touch()
                self._emit(req, EV_REFERENCE_DECLINED)
            elif action == "report-ready":
                self._require(req, REPORTABLE, "generate the report of")
                self._report_ready(req)
            elif action in ("candidate-cancel", "candidate-decline", "auto-cancel"):
                self._require(req, ACTIVE, action.replace("-", " "))
                status = {
                    "candidate-cancel": "canceled-by-candidate",
                    "candidate-decline": "declined",
                }
                req.set_status(status.get(action, "auto-canceled"))
                self._emit(req, EV_STATUS)
            elif action == "auto-conclude":
                self._require(req, ACTIVE, "auto-conclude")
                if req.count("completed") == 0:
                    raise detail(400, "Auto-conclude needs at least one completed reference.")
                self._finish(req, "auto-concluded")
                req.report_ready = True
                self._emit(req, EV_FULL_COMPLETED)
            elif action == "allow-reminder":
                req.reminder_forced = True
            elif action == "resend-webhook":
                if req.last_event is None:
                    raise detail(400, "No webhook was sent for this request yet.")
                last = req.last_event
                self._enqueue(
                    Delivery(
                        last.request_id, last.event_name, last.status, last.body, duplicate=True
                    )
                )
            else:
                raise detail(404, "Not found.")
            result = self._summary(req)
            if index is not None:
                result["index"] = index
            return result

    def _add_reference(self, req: ReferenceRequest, body: JSON) -> int:
        self._require(req, {"assigning", "collecting"}, "add a reference to")
        active = [ref for ref in req.references if ref.status in ("pending", "completed")]
        used: dict[str, int] = {}
        for ref in active:
            used[ref.slot] = used.get(ref.slot, 0) + 1
        free = {item.rel: item.required - used.get(item.rel, 0) for item in req.relationships}
        wanted = body.get("relationship") or None
        if wanted is not None and not isinstance(wanted, str):
            raise detail(400, "relationship must be a string.")
        if wanted == "any":
            wanted = None
        if wanted is not None and wanted not in req.jobrole.relationships:
            raise detail(
                400, f"'{wanted}' is not a relationship of job role {req.jobrole.codename}."
            )
        any_slot = "any" if free.get("any", 0) > 0 else ""
        if wanted is not None:
            slot = wanted if free.get(wanted, 0) > 0 else any_slot
            relationship = wanted
        else:
            specific = [rel for rel, left in free.items() if rel != "any" and left > 0]
            slot = specific[0] if specific else any_slot
            roles = req.jobrole.relationships
            relationship = (
                slot if slot != "any" else ("peers" if "peers" in roles else next(iter(roles)))
            )
        if not slot:
            raise detail(400, "No open reference slot for this relationship.")
        number = len(req.references) + 1
        short = req.id[:6]
        req.references.append(
            Reference(
                id=uuid.uuid4().hex,
                first_name=str(body.get("first_name") or f"Reference{number}"),
                last_name=str(body.get("last_name") or "Sandbox"),
                email=str(body.get("email") or f"reference{number}.{short}@example.com"),
                mobile_phone=str(body.get("mobile_phone") or f"+1555010{number:04d}"),
                relationship=relationship,
                slot=slot,
                workplace_name=str(body.get("workplace_name") or "Evergreen"),
                job_title=str(body.get("job_title") or "Engineer"),
            )
        )
        req.touch()
        if req.status == "assigning":
            req.set_status("collecting", 75)
            self._emit(req, EV_STATUS)
        if len(active) + 1 == req.total_required:
            req.touch()
            self._emit(req, EV_REFERENCE_ADDED)
        return number - 1

    def set_jobrole_enabled(self, codename: str, enabled: bool) -> JSON:
        with self.cond:
            role = self.jobroles.get(codename)
            if role is None:
                raise detail(404, "Not found.")
            role.enabled = enabled
            return {"codename": codename, "enabled": enabled}

    def all_jobroles(self) -> list[JSON]:
        with self.cond:
            return [{**role.as_api(), "enabled": role.enabled} for role in self.jobroles.values()]

    # -------------------------------------------------------- introspection
    def _summary(self, req: ReferenceRequest) -> JSON:
        return {
            "id": req.id,
            "status": req.status,
            "progress": req.progress,
            "references_count": len(req.references),
            "references_required": req.total_required,
            "references_completed": req.count("completed"),
            "reminders_sent": req.reminders_sent,
            "can_send_reminder": self._can_send_reminder(req),
            "report_ready": req.report_ready,
            "jobrole": req.jobrole.codename,
            "candidate_email": req.candidate.email,
        }

    def summary(self, request_id: str) -> JSON:
        with self.cond:
            return self._summary(self._get(request_id))

    def summaries(self) -> list[JSON]:
        with self.cond:
            return [self._summary(req) for req in self.requests.values()]

    def record_call(self, method: str, path: str, query: str, status: int) -> None:
        with self.cond:
            self.calls.append(
                {
                    "method": method,
                    "path": path,
                    "query": query,
                    "status": status,
                    "at": iso_us(utcnow()),
                }
            )

    def next_api_fault(self) -> tuple[float, int | None, int]:
        """Latency (s), forced status or None, Retry-After, for one API call."""
        with self.cond:
            faults = self.faults
            status: int | None = None
            if faults.fail_next:
                status = faults.fail_next.pop(0)
            elif faults.error_rate_429 and self.rng.random() < faults.error_rate_429:
                status = 429
            elif faults.error_rate_500 and self.rng.random() < faults.error_rate_500:
                status = 500
            return faults.latency_ms / 1000, status, faults.retry_after

    def set_faults(self, data: JSON) -> JSON:
        """Merge fault settings; nothing changes when one value is invalid."""
        with self.cond:
            updated = dataclasses.replace(self.faults, fail_next=list(self.faults.fail_next))
            updated.update(data)
            self.faults = updated
            if "seed" in data:
                self.rng.seed(self.faults.seed)
            return asdict(self.faults)

    def set_config(self, data: JSON) -> JSON:
        """Merge config values; nothing changes when one value is invalid."""
        with self.cond:
            updated = dataclasses.replace(self.config)
            updated.update(data)
            self.config = updated
            return self.config.public()

    def faults_view(self) -> JSON:
        with self.cond:
            return asdict(self.faults)

    def clear_faults(self) -> JSON:
        with self.cond:
            self.faults = Faults()
            return asdict(self.faults)

    def reset(self) -> None:
        """Forget requests, calls, webhooks and faults; restore the job roles."""
        with self.cond:
            self.requests.clear()
            self.calls.clear()
            self.webhook_log.clear()
            self.outbox.clear()
            self.faults = Faults()
            self.rng = random.Random()
            self.jobroles = seed_jobroles()
            self.cond.notify_all()

    # ------------------------------------------------------------- outbox
    def chance(self, rate: float) -> bool:
        with self.cond:
            return bool(rate) and self.rng.random() < rate

    def next_batch(self, stop: threading.Event) -> list[Delivery]:
        """Block until deliveries are due; [] when ``stop`` is set.

        With ``reorder_webhooks`` the outbox is buffered until no event was
        queued for ``reorder_window_ms`` and then shuffled as one batch.
        """
        with self.cond:
            while not self.outbox:
                if stop.is_set():
                    return []
                self.cond.wait(0.2)
            if not self.faults.reorder_webhooks:
                batch = [self.outbox.popleft()]
            else:
                while not stop.is_set():
                    left = (
                        self.last_enqueue + self.faults.reorder_window_ms / 1000 - time.monotonic()
                    )
                    if left <= 0:
                        break
                    self.cond.wait(left)
                batch = list(self.outbox)
                self.outbox.clear()
                self.rng.shuffle(batch)
            self.inflight += len(batch)
            return batch

    def batch_done(self, size: int) -> None:
        with self.cond:
            self.inflight -= size
            self.cond.notify_all()

    def log_webhook(self, entry: JSON) -> None:
        with self.cond:
            self.webhook_log.append({**entry, "at": iso_us(utcnow())})

    def wait_idle(self, timeout: float) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: not self.outbox and self.inflight == 0, timeout)
