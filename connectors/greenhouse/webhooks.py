"""Greenhouse webhooks: verify the signature on the raw bytes, then normalize to :class:`AtsEvent`.

Greenhouse webhook docs ("Authentication"): the ``Signature`` header is the algorithm name, a
space, and the hex HMAC-SHA256 of the **entire** request body keyed with the webhook's secret.
Greenhouse escapes unicode and HTML characters (``<`` → ``\\u003c``) before signing, so the
digest is computed over the bytes exactly as received; decoding and re-encoding the JSON would
change them.

Envelope: ``{"action": ..., "payload": {...}}``. Candidate events carry ``payload.application``
with the candidate nested; deletes and merges carry ``payload.person``; ``update_candidate``
carries ``payload.candidate``; ``candidate_anonymized`` carries ``payload.candidate_id``. Pings
and actions we do not act on become ``IGNORED``. Ids become strings.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from connectors.ats import AtsEvent, EventKind
from connectors.errors import WebhookAuthError, WebhookPayloadError

SIGNATURE_HEADER = "Signature"
EVENT_ID_HEADER = "Greenhouse-Event-ID"
CONNECTOR = "greenhouse"

# "sha256 <64 hex digits>"; the scheme is matched case-insensitively, nothing else is accepted.
_SIGNATURE = re.compile(r"^(?P<algo>[A-Za-z0-9-]+) +(?P<digest>[0-9a-fA-F]{64})$")

ACTIONS: dict[str, EventKind] = {
    "candidate_stage_change": EventKind.STAGE_CHANGED,
    "new_candidate_application": EventKind.APPLICATION_CREATED,
    "reject_candidate": EventKind.REJECTED,
    "unreject_candidate": EventKind.UNREJECTED,
    "hire_candidate": EventKind.HIRED,
    "unhire_candidate": EventKind.UNHIRED,
    "delete_application": EventKind.APPLICATION_DELETED,
    "delete_candidate": EventKind.CANDIDATE_DELETED,
    "merge_candidate": EventKind.CANDIDATE_MERGED,
    "update_candidate": EventKind.CANDIDATE_UPDATED,
    "candidate_anonymized": EventKind.CANDIDATE_ANONYMIZED,
}
_PERSON_EVENTS = frozenset({EventKind.CANDIDATE_DELETED, EventKind.CANDIDATE_MERGED})
_CANDIDATE_EVENTS = frozenset({EventKind.CANDIDATE_UPDATED, EventKind.CANDIDATE_ANONYMIZED})


_ID_TEXT = re.compile(r"[A-Za-z0-9_-]{1,32}")

def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header by name, whatever the case the web framework stored it in."""
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    for key, candidate in headers.items():
        if key.lower() == lowered:
            return candidate
    return None


def sign(secret: str, raw_body: bytes) -> str:
    """The ``Signature`` header value Greenhouse would send for this body."""
    digest = hmac.new(secret.encode(), raw_body, hashlib.sha256).hexdigest()
    return f"sha256 {digest}"


def verify_signature(headers: Mapping[str, str], raw_body: bytes, secret: str | None) -> None:
    """Raise :class:`WebhookAuthError` unless ``Signature`` matches the raw body."""
    if not secret:
        # Accepting unsigned events would let anyone trigger reference requests.
        raise WebhookAuthError(
            "no Greenhouse webhook secret configured (GREENHOUSE_WEBHOOK_SECRET); refusing",
            service=CONNECTOR,
        )
    value = header(headers, SIGNATURE_HEADER)
    if value is None or not value.strip():
        raise WebhookAuthError("missing Signature header", service=CONNECTOR)
    match = _SIGNATURE.match(value.strip())
    if match is None:
        raise WebhookAuthError(
            "malformed Signature header (expected 'sha256 <hex digest>')", service=CONNECTOR
        )
    if match.group("algo").lower() != "sha256":
        raise WebhookAuthError(
            f"unsupported signature algorithm {match.group('algo')[:16]!r}", service=CONNECTOR
        )
    expected = hmac.new(secret.encode(), raw_body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, match.group("digest").lower()):
        raise WebhookAuthError("signature does not match the body", service=CONNECTOR)


def parse_event(headers: Mapping[str, str], raw_body: bytes) -> AtsEvent:
    """Normalize an already verified body. Pure; raises :class:`WebhookPayloadError`."""
    try:
        document = json.loads(raw_body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise WebhookPayloadError("body is not JSON", service=CONNECTOR) from None
    if not isinstance(document, dict):
        raise WebhookPayloadError("body is not a JSON object", service=CONNECTOR)
    action = document.get("action")
    event_id = header(headers, EVENT_ID_HEADER)
    event_id = event_id.strip()[:200] if event_id and event_id.strip() else None
    kind = ACTIONS.get(action) if isinstance(action, str) else None
    if kind is None or not isinstance(action, str):
        return AtsEvent(
            connector=CONNECTOR,
            kind=EventKind.IGNORED,
            action=str(action)[:100] if action is not None else "",
            event_id=event_id,
        )
    payload = document.get("payload")
    if not isinstance(payload, dict):
        raise WebhookPayloadError(f"{action}: missing payload", service=CONNECTOR)
    if kind in _PERSON_EVENTS:
        fields = _person_fields(action, kind, payload)
    elif kind in _CANDIDATE_EVENTS:
        fields = _candidate_fields(action, payload)
    else:
        fields = _application_fields(action, kind, payload)
    return AtsEvent(connector=CONNECTOR, kind=kind, action=action, event_id=event_id, **fields)


def verify_and_parse(headers: Mapping[str, str], raw_body: bytes, secret: str | None) -> AtsEvent:
    verify_signature(headers, raw_body, secret)
    return parse_event(headers, raw_body)


# -- shapes --------------------------------------------------------------------------------
def _application_fields(action: str, kind: EventKind, payload: dict[str, Any]) -> dict[str, Any]:
    application = _object(payload, "application", action, "payload.application")
    candidate = application.get("candidate")
    candidate = candidate if isinstance(candidate, dict) else {}
    stage = application.get("current_stage")
    stage = stage if isinstance(stage, dict) else {}
    fields: dict[str, Any] = {
        "application_id": _required_id(application.get("id"), action, "payload.application.id"),
        # delete_application carries flat candidate_id/job_id instead of nested objects.
        "candidate_id": _id(candidate.get("id")) or _id(application.get("candidate_id")),
        "job_id": _first_job_id(application),
        "stage_id": _id(stage.get("id")),
        "stage_name": _text(stage.get("name")),
        "occurred_at": _timestamp(application.get("last_activity_at") or application.get("rejected_at")),
    }
    if kind in (EventKind.STAGE_CHANGED, EventKind.APPLICATION_CREATED):
        # The worker acts on these at once; without these ids it could only guess.
        if fields["candidate_id"] is None:
            raise _missing(action, "payload.application.candidate.id")
        if fields["stage_id"] is None:
            raise _missing(action, "payload.application.current_stage.id")
    if kind is EventKind.STAGE_CHANGED and not fields["stage_name"]:
        raise _missing(action, "payload.application.current_stage.name")
    return fields


def _person_fields(action: str, kind: EventKind, payload: dict[str, Any]) -> dict[str, Any]:
    person = _object(payload, "person", action, "payload.person")
    person_id = _required_id(person.get("id"), action, "payload.person.id")
    if kind is EventKind.CANDIDATE_MERGED:
        # candidate_id is the surviving record; the merged-away one is listed separately.
        winner = _required_id(person.get("new_candidate_id"), action, "payload.person.new_candidate_id")
        return {"candidate_id": winner, "merged_candidate_ids": (person_id,)}
    deleted = person.get("deleted_application_ids") or person.get("application_ids") or []
    ids = tuple(i for i in (_id(v) for v in deleted if not isinstance(v, bool)) if i)
    return {"candidate_id": person_id, "deleted_application_ids": ids}


def _candidate_fields(action: str, payload: dict[str, Any]) -> dict[str, Any]:
    # update_candidate: payload.candidate{...}; candidate_anonymized: payload.candidate_id.
    candidate = payload.get("candidate")
    if isinstance(candidate, dict):
        return {"candidate_id": _required_id(candidate.get("id"), action, "payload.candidate.id")}
    return {"candidate_id": _required_id(payload.get("candidate_id"), action, "payload.candidate_id")}


# -- small readers -------------------------------------------------------------------------
def _object(parent: dict[str, Any], key: str, action: str, path: str) -> dict[str, Any]:
    value = parent.get(key)
    if not isinstance(value, dict):
        raise _missing(action, path)
    return value


def _missing(action: str, path: str) -> WebhookPayloadError:
    return WebhookPayloadError(f"{action}: missing {path}", service=CONNECTOR)


def _id(value: Any) -> str | None:
    """Greenhouse ids are integers; a string is taken when it looks like an id (at most 32
    letters, digits, dashes or underscores), so nothing long or path-like reaches the worker."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return str(value) if 0 <= value < 10**32 else None
    if isinstance(value, str) and _ID_TEXT.fullmatch(value.strip()):
        return value.strip()
    return None


def _required_id(value: Any, action: str, path: str) -> str:
    parsed = _id(value)
    if parsed is None:
        raise _missing(action, path)
    return parsed


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _first_job_id(application: dict[str, Any]) -> str | None:
    jobs = application.get("jobs")
    if isinstance(jobs, list) and jobs and isinstance(jobs[0], dict):
        return _id(jobs[0].get("id"))
    job = application.get("job")  # deprecated singular form, still sent on hire_candidate
    if isinstance(job, dict):
        return _id(job.get("id"))
    return _id(application.get("job_id"))


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
