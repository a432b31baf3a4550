"""The Greenhouse sandbox's in-memory organisation: records, ids, lookups and logs.

Records are plain dicts keyed with Harvest's own field names (``first_name``,
``email_addresses``...) plus a few internal references (``current_stage_id``,
``recruiter_id``...), so seed data reads like Harvest data. The other sandbox modules
split the behaviour:

- ``sandbox_seed``: loading seed data (and the demo organisation);
- ``sandbox_views``: rendering records in Harvest's response shapes;
- ``sandbox_writes``: what the Harvest API changes (custom fields, notes, files, moves);
- ``sandbox_lifecycle``: what a Greenhouse user changes in the product (reject, hire...),
  each followed by its webhook.

Every read or change of a record happens while holding ``SandboxState.lock``.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

JsonDict = dict[str, Any]
# Queues one webhook (action, payload) and returns its Greenhouse-Event-ID, or None when
# no webhook endpoint is configured.
Emitter = Callable[[str, JsonDict], str | None]

FIRST_GENERATED_ID = 90001
DEFAULT_SOURCES: tuple[JsonDict, ...] = (
    {"id": 701, "name": "Jobs page on your website"},
    {"id": 702, "name": "Referral"},
)
DEFAULT_REJECTION_REASONS: tuple[JsonDict, ...] = (
    {"id": 801, "name": "Lacking skill(s)/qualification(s)",
     "type": {"id": 1, "name": "We rejected them"}},
    {"id": 802, "name": "Withdrew from process", "type": {"id": 2, "name": "They rejected us"}},
)


class SandboxError(Exception):
    """An answer other than success: HTTP status, JSON body (or none) and extra headers."""

    def __init__(
        self, status: int, body: JsonDict | None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.body = body
        self.headers = headers or {}


def not_found() -> SandboxError:
    return SandboxError(404, {"message": "Resource not found"})


def validation_error(message: str, field: str) -> SandboxError:
    """422 in the shape harvest/_introduction.md documents for validation failures."""
    return SandboxError(
        422, {"message": "Validation error", "errors": [{"message": message, "field": field}]}
    )


def business_error(message: str) -> SandboxError:
    """422 for a rule violation; Greenhouse omits ``field`` there (see "Unreject Application")."""
    return SandboxError(422, {"errors": [{"message": message}]})


def now_iso() -> str:
    """Timestamp in Harvest's style: ISO-8601, UTC, milliseconds, ``Z`` suffix."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def full_name(person: JsonDict) -> str:
    return f"{person.get('first_name') or ''} {person.get('last_name') or ''}".strip()


def _no_webhooks(action: str, payload: JsonDict) -> str | None:
    return None


class SandboxState:
    """All records of one sandbox organisation plus the log of API writes."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        # Absolute base for URLs the sandbox serves itself (attachment downloads).
        self.base_url = "http://127.0.0.1/"
        self.emit: Emitter = _no_webhooks
        self.clear()

    def clear(self) -> None:
        with self.lock:
            self.users: dict[int, JsonDict] = {}
            self.departments: dict[int, JsonDict] = {}
            self.offices: dict[int, JsonDict] = {}
            self.jobs: dict[int, JsonDict] = {}
            self.stages: dict[int, JsonDict] = {}
            self.candidates: dict[int, JsonDict] = {}
            self.applications: dict[int, JsonDict] = {}
            self.custom_fields: dict[int, JsonDict] = {}
            # Every Greenhouse organisation starts with built-in sources and rejection reasons.
            self.sources: dict[int, JsonDict] = {
                s["id"]: dict(s) for s in DEFAULT_SOURCES
            }
            self.rejection_reasons: dict[int, JsonDict] = {
                r["id"]: dict(r) for r in DEFAULT_REJECTION_REASONS
            }
            self.notes: list[JsonDict] = []
            self.activities: list[JsonDict] = []
            self.files: dict[str, tuple[bytes, str]] = {}
            self.writes: list[JsonDict] = []
            self._next_id = FIRST_GENERATED_ID

    # -- ids -------------------------------------------------------------------------

    def new_id(self) -> int:
        with self.lock:
            value = self._next_id
            self._next_id += 1
            return value

    def reserve_id(self, value: int) -> int:
        """Accept an explicit id from seed data and keep generated ids clear of it."""
        with self.lock:
            if value >= self._next_id:
                self._next_id = value + 1
            return value

    # -- lookups (raise 404 like Harvest) --------------------------------------------

    @staticmethod
    def _get(table: dict[int, JsonDict], record_id: int) -> JsonDict:
        record = table.get(record_id)
        if record is None:
            raise not_found()
        return record

    def user(self, user_id: int) -> JsonDict:
        return self._get(self.users, user_id)

    def job(self, job_id: int) -> JsonDict:
        return self._get(self.jobs, job_id)

    def candidate(self, candidate_id: int) -> JsonDict:
        return self._get(self.candidates, candidate_id)

    def application(self, application_id: int) -> JsonDict:
        return self._get(self.applications, application_id)

    def job_stages(self, job_id: int) -> list[JsonDict]:
        stages = [s for s in self.stages.values() if s["job_id"] == job_id]
        return sorted(stages, key=lambda s: (s["priority"], s["id"]))

    def find_stage(self, job_id: int, name_or_id: str | int) -> JsonDict | None:
        """A stage of ``job_id`` by id, or by name (exact first, then case-insensitive)."""
        stages = self.job_stages(job_id)
        if isinstance(name_or_id, int):
            return next((s for s in stages if s["id"] == name_or_id), None)
        exact = next((s for s in stages if s["name"] == name_or_id), None)
        if exact is not None:
            return exact
        folded = name_or_id.casefold()
        return next((s for s in stages if s["name"].casefold() == folded), None)

    def fields(self, field_type: str) -> list[JsonDict]:
        """Active custom fields of one type (``application``, ``candidate``, ``job``...)."""
        found = [
            f for f in self.custom_fields.values() if f["field_type"] == field_type and f["active"]
        ]
        return sorted(found, key=lambda f: (f["priority"], f["id"]))

    def candidate_applications(self, candidate_id: int) -> list[JsonDict]:
        found = [a for a in self.applications.values() if a["candidate_id"] == candidate_id]
        return sorted(found, key=lambda a: a["id"])

    def candidate_notes(self, candidate_id: int) -> list[JsonDict]:
        return [n for n in self.notes if n["candidate_id"] == candidate_id]

    def store_file(self, content: bytes, content_type: str) -> str:
        """Keep file bytes for download; returns the token used in the file's URL."""
        with self.lock:
            token = secrets.token_urlsafe(12)
            self.files[token] = (content, content_type)
            return token

    # -- logs ------------------------------------------------------------------------

    def record_write(self, kind: str, **details: Any) -> None:
        """Log one write that reached the organisation (for ``GET /_sandbox/writes``)."""
        with self.lock:
            self.writes.append({"kind": kind, "at": now_iso(), **details})

    def add_activity(self, candidate_id: int, subject: str, user_id: int | None) -> None:
        """An entry of the candidate's activity feed (``activities`` section)."""
        with self.lock:
            self.activities.append(
                {
                    "id": self.new_id(),
                    "candidate_id": candidate_id,
                    "created_at": now_iso(),
                    "subject": subject,
                    "body": None,
                    "user_id": user_id,
                }
            )
