"""The ATS connector contract: normalized models and the interface every ATS implements.

A connector turns its ATS's webhooks into :class:`AtsEvent`, reads an :class:`Application`
with its candidate, job and people, and writes reference-check results back. Vendor JSON never
leaves the connector: the worker sees only these frozen models.

Ids are strings (Greenhouse uses integers, Lever and Ashby UUIDs). Connectors register under the
entry-point group ``crosschq_worker.ats_connectors`` (see :mod:`connectors.registry`).
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from connectors.http import RateLimiter


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EventKind(StrEnum):
    STAGE_CHANGED = "stage_changed"
    APPLICATION_CREATED = "application_created"
    REJECTED = "rejected"
    UNREJECTED = "unrejected"
    HIRED = "hired"
    UNHIRED = "unhired"
    APPLICATION_DELETED = "application_deleted"
    CANDIDATE_DELETED = "candidate_deleted"
    CANDIDATE_MERGED = "candidate_merged"
    CANDIDATE_UPDATED = "candidate_updated"
    CANDIDATE_ANONYMIZED = "candidate_anonymized"
    IGNORED = "ignored"


class AtsEvent(Frozen):
    """One verified, normalized ATS webhook. Holds ids only, never personal data."""

    connector: str
    kind: EventKind
    action: str = Field(description="The ATS's own event name, e.g. candidate_stage_change.")
    event_id: str | None = Field(None, description="The ATS's delivery/event id, if it sends one.")
    application_id: str | None = None
    candidate_id: str | None = None
    merged_candidate_ids: tuple[str, ...] = ()
    deleted_application_ids: tuple[str, ...] = Field(
        (), description="Applications removed with a deleted candidate, when the ATS lists them."
    )
    job_id: str | None = None
    stage_id: str | None = None
    stage_name: str | None = None
    occurred_at: datetime | None = None

    @property
    def acted_on(self) -> bool:
        return self.kind is not EventKind.IGNORED


class ContactPoint(Frozen):
    value: str
    type: str | None = None


class Person(Frozen):
    """A user of the ATS (recruiter, coordinator, hiring manager)."""

    id: str | None = None
    first_name: str = ""
    last_name: str = ""
    email: str | None = None


class Candidate(Frozen):
    id: str
    first_name: str = ""
    last_name: str = ""
    emails: tuple[ContactPoint, ...] = ()
    phones: tuple[ContactPoint, ...] = ()
    tags: tuple[str, ...] = ()


class Job(Frozen):
    id: str
    name: str = ""
    departments: tuple[str, ...] = ()
    offices: tuple[str, ...] = ()


class Stage(Frozen):
    id: str
    name: str


class Application(Frozen):
    id: str
    candidate: Candidate
    job: Job | None = None
    stage: Stage | None = None
    status: str = "active"
    tags: tuple[str, ...] = ()
    custom_fields: Mapping[str, Any] = Field(default_factory=dict)
    recruiter: Person | None = None
    coordinator: Person | None = None
    credited_to: Person | None = None
    hiring_managers: tuple[Person, ...] = ()

    @property
    def ref(self) -> ApplicationRef:
        return ApplicationRef(application_id=self.id, candidate_id=self.candidate.id)


class ApplicationRef(Frozen):
    """Enough to address writes without re-reading the application."""

    application_id: str
    candidate_id: str | None = None


class ReferenceFields(Frozen):
    """The reference-check fields shown on the application; ``None`` leaves a field unchanged."""

    status: str | None = None
    progress: int | None = None
    score: float | None = None
    report_url: str | None = None


class AtsConnector(abc.ABC):
    """What the worker needs from an ATS. Subclasses are registered by entry point.

    Errors: every method raises only from :mod:`connectors.errors` — ``RetryableError`` for
    outages and rate limits, ``PermanentError`` subclasses for everything a retry cannot fix.
    """

    name: ClassVar[str]
    #: The status the receiver answers once an event is stored. 202 says "accepted for
    #: processing"; an ATS that counts only 200 as delivered (Greenhouse retries anything else
    #: for hours) declares 200.
    accepted_status: ClassVar[int] = 202

    @classmethod
    @abc.abstractmethod
    def from_settings(cls, settings: Any, *, limiter: RateLimiter | None = None) -> AtsConnector:
        """Build from the project's settings (or the connector's own); no network I/O."""

    # -- inbound ---------------------------------------------------------------------------
    @abc.abstractmethod
    def verify_and_parse(self, headers: Mapping[str, str], raw_body: bytes) -> AtsEvent:
        """Verify the signature on the raw bytes, then normalize.

        Pure (no I/O), idempotent. Raises ``WebhookAuthError`` (bad or missing signature) or
        ``WebhookPayloadError`` (not JSON, or an acted-on event without its ids). Pings and
        unknown event types return ``kind=IGNORED``.
        """

    # -- reads -----------------------------------------------------------------------------
    @abc.abstractmethod
    def get_application(self, application_id: str) -> Application:
        """The application with candidate, job, stage, status, tags, custom fields and people.

        Read-only. Raises ``NotFound`` when it no longer exists.
        """

    # -- writes ----------------------------------------------------------------------------
    @abc.abstractmethod
    def set_reference_fields(self, ref: ApplicationRef, fields: ReferenceFields) -> None:
        """Set the reference-check fields in place. Idempotent: same values, same state."""

    @abc.abstractmethod
    def add_note(self, ref: ApplicationRef, body: str) -> str:
        """Add a note visible to the recruiter; returns the note id.

        Not idempotent: each call adds a note. The worker's write-back ledger guards it.
        """

    @abc.abstractmethod
    def attach_report(self, ref: ApplicationRef, filename: str, content: bytes) -> None:
        """Attach a PDF to the application. Not idempotent; guarded by the ledger."""

    @abc.abstractmethod
    def move_to_stage(self, ref: ApplicationRef, stage_name: str) -> None:
        """Move the application to the stage of its job with this name (case-insensitive).

        Idempotent when already there. Raises ``Conflict`` when the ATS refuses (stale stage,
        inactive application) and ``NotFound`` when the job has no such stage.
        """

    def has_note(self, ref: ApplicationRef, body: str) -> bool | None:
        """Whether a note with this exact body exists; ``None`` when the ATS cannot tell.

        Read-only. Used after a note write that may have landed (a timeout) before writing again.
        """
        return None

    def has_attachment(self, ref: ApplicationRef, filename: str) -> bool | None:
        """Whether the application has an attachment of this name; ``None`` when unknown."""
        return None

    @abc.abstractmethod
    def check_connection(self) -> None:
        """Prove the credentials work with one cheap read. Raises on failure."""
