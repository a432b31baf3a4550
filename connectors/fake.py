"""An in-memory ATS: a connector with no network, for fast tests and third-party examples.

It implements the whole :class:`~connectors.ats.AtsConnector` interface and passes the contract
suite (:mod:`connectors.contract`), so the worker's flows can be tested against it exactly as
against Greenhouse. Webhooks are signed like most ATSs sign them: ``X-Fake-Signature:
sha256=<hex>`` with HMAC-SHA256 over the raw body. Every write is recorded (:attr:`writes`), and
:meth:`fail_next` makes the next call of a method raise, to exercise retries and dead letters.

Typical use::

    ats = InMemoryConnector()
    app = ats.seed_application(first_name="Ada", emails=[("ada@example.com", "personal")])
    headers, body = ats.make_webhook("candidate_stage_change", app.id, "Reference Check")
    event = ats.verify_and_parse(headers, body)
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import itertools
import json
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

from connectors.ats import (
    Application,
    ApplicationRef,
    AtsConnector,
    AtsEvent,
    Candidate,
    ContactPoint,
    EventKind,
    Job,
    Person,
    ReferenceFields,
    Stage,
)
from connectors.errors import (
    Conflict,
    NotFound,
    WebhookAuthError,
    WebhookPayloadError,
)
from connectors.http import NoRateLimit, RateLimiter

SIGNATURE_HEADER = "X-Fake-Signature"
EVENT_ID_HEADER = "X-Fake-Event-Id"
DEFAULT_SECRET = "memory-webhook-secret"  # noqa: S105 - a test fixture, not a credential
DEFAULT_STAGES: tuple[str, ...] = ("Application Review", "Phone Screen", "Reference Check", "Offer")
FIELD_KEYS: dict[str, str] = {
    "status": "crosschq_status",
    "progress": "crosschq_progress",
    "score": "crosschq_score",
    "report_url": "crosschq_report_url",
}
# The fake's own action names; EventKind values are accepted as well.
ACTIONS: dict[str, EventKind] = {
    "candidate_stage_change": EventKind.STAGE_CHANGED,
    "new_application": EventKind.APPLICATION_CREATED,
    "reject": EventKind.REJECTED,
    "unreject": EventKind.UNREJECTED,
    "hire": EventKind.HIRED,
    "unhire": EventKind.UNHIRED,
    "delete_application": EventKind.APPLICATION_DELETED,
    "delete_candidate": EventKind.CANDIDATE_DELETED,
    "merge_candidate": EventKind.CANDIDATE_MERGED,
    "update_candidate": EventKind.CANDIDATE_UPDATED,
    "anonymize_candidate": EventKind.CANDIDATE_ANONYMIZED,
    **{kind.value: kind for kind in EventKind if kind is not EventKind.IGNORED},
}
PeopleArg = Person | Mapping[str, Any] | None
ContactsArg = Iterable[ContactPoint | tuple[str, str | None] | str]


@dataclass
class _Record:
    """Mutable state of one application (the frozen model is rebuilt on every read)."""

    application: Application
    stage_name: str
    stages: list[Stage]
    custom_fields: dict[str, Any] = field(default_factory=dict)
    notes: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[dict[str, Any]] = field(default_factory=list)


class InMemoryConnector(AtsConnector):
    name: ClassVar[str] = "memory"

    def __init__(self, *, webhook_secret: str = DEFAULT_SECRET, limiter: RateLimiter | None = None) -> None:
        self.webhook_secret = webhook_secret
        self.limiter: RateLimiter = limiter or NoRateLimit()
        self.writes: list[dict[str, Any]] = []
        self.calls: list[str] = []
        self._records: dict[str, _Record] = {}
        self._failures: dict[str, list[Exception]] = {}
        self._ids = itertools.count(1001)
        self._lock = threading.RLock()

    @classmethod
    def from_settings(cls, settings: Any, *, limiter: RateLimiter | None = None) -> InMemoryConnector:
        """No settings of its own; an empty ATS ready to be seeded."""
        return cls(limiter=limiter)

    # -- test helpers ----------------------------------------------------------------------
    def seed_application(
        self,
        application_id: str | None = None,
        *,
        candidate_id: str | None = None,
        first_name: str = "Test",
        last_name: str = "Candidate",
        emails: ContactsArg = (("test.candidate@example.com", "personal"),),
        phones: ContactsArg = (("+1 555 0100", "mobile"),),
        tags: Sequence[str] = (),
        job_id: str = "1",
        job_name: str = "Business Consultant",
        departments: Sequence[str] = ("Consulting",),
        offices: Sequence[str] = ("Remote",),
        stages: Sequence[str] = DEFAULT_STAGES,
        stage_name: str = "Phone Screen",
        status: str = "active",
        recruiter: PeopleArg = None,
        coordinator: PeopleArg = None,
        credited_to: PeopleArg = None,
        hiring_managers: Iterable[PeopleArg] = (),
        custom_fields: Mapping[str, Any] | None = None,
    ) -> Application:
        """Add (or replace) an application; returns it as :meth:`get_application` would."""
        with self._lock:
            app_id = application_id or str(next(self._ids))
            stage_list = [Stage(id=f"{job_id}-{i + 1}", name=n) for i, n in enumerate(stages)]
            if stage_name not in stages:
                raise ValueError(f"stage {stage_name!r} is not one of {list(stages)}")
            candidate = Candidate(
                id=candidate_id or str(next(self._ids)),
                first_name=first_name,
                last_name=last_name,
                emails=_contacts(emails),
                phones=_contacts(phones),
                tags=tuple(tags),
            )
            managers = tuple(p for p in (_person(m) for m in hiring_managers) if p is not None)
            application = Application(
                id=app_id,
                candidate=candidate,
                job=Job(id=job_id, name=job_name, departments=tuple(departments), offices=tuple(offices)),
                status=status,
                tags=tuple(tags),
                recruiter=_person(recruiter),
                coordinator=_person(coordinator),
                credited_to=_person(credited_to),
                hiring_managers=managers,
            )
            self._records[app_id] = _Record(
                application=application,
                stage_name=stage_name,
                stages=stage_list,
                custom_fields=dict(custom_fields or {}),
            )
            return self._render(self._records[app_id])

    def sign(self, raw_body: bytes) -> dict[str, str]:
        digest = hmac.new(self.webhook_secret.encode(), raw_body, hashlib.sha256).hexdigest()
        return {SIGNATURE_HEADER: f"sha256={digest}"}

    def make_webhook(
        self, kind: str | EventKind, application_id: str, stage_name: str | None = None
    ) -> tuple[dict[str, str], bytes]:
        """A signed webhook about a seeded application, as the fake ATS would send it.

        ``stage_name`` defaults to the application's current stage; it is not moved.
        """
        with self._lock:
            record = self._record(application_id)
            name = stage_name or record.stage_name
            stage = next((s for s in record.stages if s.name == name), None)
            app = record.application
            body = {
                "action": kind.value if isinstance(kind, EventKind) else kind,
                "application_id": app.id,
                "candidate_id": app.candidate.id,
                "job_id": app.job.id if app.job else None,
                "stage": {"id": stage.id if stage else None, "name": name},
                "occurred_at": datetime.now(UTC).isoformat(),
            }
            raw = json.dumps(body).encode()
            headers = {**self.sign(raw), EVENT_ID_HEADER: f"evt-{next(self._ids)}"}
            return headers, raw

    def state(self, application_id: str) -> dict[str, Any]:
        """What has landed: reference fields, note bodies, attachments (name, size), stage."""
        with self._lock:
            record = self._record(application_id)
            reference = {
                name: record.custom_fields[key]
                for name, key in FIELD_KEYS.items()
                if key in record.custom_fields
            }
            return {
                "fields": reference,
                "notes": [n["body"] for n in record.notes],
                "attachments": [
                    {"filename": a["filename"], "size": len(a["content"])} for a in record.attachments
                ],
                "stage": record.stage_name,
                "status": record.application.status,
            }

    def set_status(self, application_id: str, status: str) -> None:
        """What a recruiter does in the ATS (reject, hire...): only the status changes."""
        with self._lock:
            record = self._record(application_id)
            record.application = record.application.model_copy(update={"status": status})

    def fail_next(self, method: str, error: Exception, times: int = 1) -> None:
        """The next ``times`` calls of ``method`` (e.g. ``"add_note"``) raise ``error``."""
        with self._lock:
            self._failures.setdefault(method, []).extend([error] * times)

    # -- the interface ---------------------------------------------------------------------
    def verify_and_parse(self, headers: Mapping[str, str], raw_body: bytes) -> AtsEvent:
        """Pure and idempotent; ``WebhookAuthError`` / ``WebhookPayloadError`` as documented."""
        given = _header(headers, SIGNATURE_HEADER)
        if not given:
            raise WebhookAuthError("missing X-Fake-Signature header", service=self.name)
        algo, sep, digest = given.strip().partition("=")
        if algo.lower() != "sha256" or not sep or not digest:
            raise WebhookAuthError("malformed X-Fake-Signature header", service=self.name)
        expected = hmac.new(self.webhook_secret.encode(), raw_body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, digest.strip().lower()):
            raise WebhookAuthError("signature does not match the body", service=self.name)
        try:
            body = json.loads(raw_body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise WebhookPayloadError("body is not JSON", service=self.name) from None
        if not isinstance(body, dict):
            raise WebhookPayloadError("body is not a JSON object", service=self.name)
        action = str(body.get("action") or "")
        event_id = _header(headers, EVENT_ID_HEADER)
        kind = ACTIONS.get(action)
        if kind is None:
            return AtsEvent(connector=self.name, kind=EventKind.IGNORED, action=action, event_id=event_id)
        stage = body.get("stage")
        stage = stage if isinstance(stage, dict) else {}
        if not body.get("application_id") and kind not in (
            EventKind.CANDIDATE_DELETED,
            EventKind.CANDIDATE_MERGED,
            EventKind.CANDIDATE_UPDATED,
            EventKind.CANDIDATE_ANONYMIZED,
        ):
            raise WebhookPayloadError(f"{action}: missing application_id", service=self.name)
        return AtsEvent(
            connector=self.name,
            kind=kind,
            action=action,
            event_id=event_id,
            application_id=_str(body.get("application_id")),
            candidate_id=_str(body.get("candidate_id")),
            job_id=_str(body.get("job_id")),
            stage_id=_str(stage.get("id")),
            stage_name=_str(stage.get("name")),
            occurred_at=body.get("occurred_at"),
        )

    def get_application(self, application_id: str) -> Application:
        """Read-only. ``NotFound`` for an unknown id."""
        self._enter("get_application")
        with self._lock:
            return self._render(self._record(application_id))

    def set_reference_fields(self, ref: ApplicationRef, fields: ReferenceFields) -> None:
        """Idempotent; ``None`` fields are left unchanged; nothing recorded when nothing to set."""
        self._enter("set_reference_fields")
        with self._lock:
            record = self._record(ref.application_id)
            values = {FIELD_KEYS[k]: v for k, v in fields.model_dump().items() if v is not None}
            if not values:
                return
            record.custom_fields.update(values)
            self._write("set_reference_fields", ref.application_id, fields=values)

    def add_note(self, ref: ApplicationRef, body: str) -> str:
        """Not idempotent: each call adds a note; returns its id."""
        self._enter("add_note")
        with self._lock:
            record = self._record(ref.application_id)
            note_id = str(next(self._ids))
            record.notes.append({"id": note_id, "body": body})
            self._write("add_note", ref.application_id, note_id=note_id)
            return note_id

    def attach_report(self, ref: ApplicationRef, filename: str, content: bytes) -> None:
        """Not idempotent: each call adds an attachment."""
        self._enter("attach_report")
        with self._lock:
            record = self._record(ref.application_id)
            record.attachments.append({"filename": filename, "content": bytes(content)})
            self._write("attach_report", ref.application_id, filename=filename, size=len(content))

    def move_to_stage(self, ref: ApplicationRef, stage_name: str) -> None:
        """Idempotent when already there.

        Raises ``NotFound`` for an unknown stage and ``Conflict`` when the application is not active.
        """
        self._enter("move_to_stage")
        with self._lock:
            record = self._record(ref.application_id)
            folded = stage_name.strip().casefold()
            stage = next((s for s in record.stages if s.name.casefold() == folded), None)
            if stage is None:
                raise NotFound(f"job has no stage named {stage_name!r}", service=self.name)
            if stage.name == record.stage_name:
                return
            if record.application.status != "active":
                raise Conflict(f"application is {record.application.status}", service=self.name)
            record.stage_name = stage.name
            self._write("move_to_stage", ref.application_id, stage=stage.name)

    def has_note(self, ref: ApplicationRef, body: str) -> bool:
        with self._lock:
            return any(n["body"] == body for n in self._record(ref.application_id).notes)

    def has_attachment(self, ref: ApplicationRef, filename: str) -> bool:
        with self._lock:
            return any(a["filename"] == filename for a in self._record(ref.application_id).attachments)

    def check_connection(self) -> None:
        self._enter("check_connection")

    # -- internals -------------------------------------------------------------------------
    def _enter(self, method: str) -> None:
        self.limiter.acquire(self.name)
        with self._lock:
            self.calls.append(method)
            pending = self._failures.get(method)
            error = pending.pop(0) if pending else None
        if error is not None:
            raise error

    def _record(self, application_id: str) -> _Record:
        record = self._records.get(str(application_id))
        if record is None:
            raise NotFound("application not found", service=self.name, path="application")
        return record

    def _render(self, record: _Record) -> Application:
        stage = next(s for s in record.stages if s.name == record.stage_name)
        return record.application.model_copy(
            update={"stage": stage, "custom_fields": copy.deepcopy(record.custom_fields)}
        )

    def _write(self, kind: str, application_id: str, **details: Any) -> None:
        self.writes.append({"kind": kind, "application_id": application_id, **details})


def _contacts(values: ContactsArg) -> tuple[ContactPoint, ...]:
    points = []
    for value in values:
        if isinstance(value, ContactPoint):
            points.append(value)
        elif isinstance(value, str):
            points.append(ContactPoint(value=value))
        else:
            points.append(ContactPoint(value=value[0], type=value[1]))
    return tuple(points)


def _person(value: PeopleArg) -> Person | None:
    if value is None or isinstance(value, Person):
        return value
    return Person.model_validate(dict(value))


def _header(headers: Mapping[str, str], name: str) -> str | None:
    lowered = name.lower()
    return next((v for k, v in headers.items() if k.lower() == lowered), None)


def _str(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


class RecordingLimiter:
    """A rate limiter that grants every call and records what it was asked (for tests)."""

    def __init__(self) -> None:
        self.acquired: list[str] = []
        self.penalties: list[tuple[str, float]] = []

    def acquire(self, service: str) -> None:
        self.acquired.append(service)

    def penalize(self, service: str, seconds: float) -> None:
        self.penalties.append((service, seconds))
