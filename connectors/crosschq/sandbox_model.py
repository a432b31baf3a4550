"""Data model of the Crosschq Partner API v2 sandbox: constants, config,
fault settings, the job-role catalogue and the reference-request records.

Faithful to the spec: event names (except the declined one), statuses and
their ``status_message`` labels, the job-role catalogue entries of
``brand-marketer-manager``, ``brand-marketer-team-member`` and
``consulting-services-manager`` (five relationships, default 2, min 0,
max 10), and timestamp formats (``Z`` suffix; milliseconds for
``status_updated_on``, microseconds elsewhere, as in the examples).

ASSUMPTIONS: the ``reference_request_reference_declined`` event name, the
``status_description`` texts other than "sent", the extra job role
``software-engineer-ic`` (managers min 1 max 3, peers max 5, mentors max 2),
the webhook retry delays and the ``basic:USER:PASS`` / ``token:SECRET``
notation of the webhook auth settings.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Any

from .sandbox_validation import JSON, PersonInput, detail

EV_STATUS = "reference_request_status_updated"
EV_REFERENCE_ADDED = "reference_request_reference_added"
EV_REFERENCE_COMPLETED = "reference_request_reference_completed"
EV_REFERENCE_DECLINED = "reference_request_reference_declined"
EV_FULL_COMPLETED = "reference_request_full_completed"

ACTIVE = frozenset({"sent", "accepted", "assigning", "collecting"})
REPORTABLE = frozenset({"completed", "concluded", "auto-concluded"})
TERMINAL = REPORTABLE | {"canceled", "canceled-by-candidate", "declined", "auto-canceled"}
STATUS_MESSAGES = {
    "sent": "Sent",
    "accepted": "Accepted",
    "assigning": "Assigning",
    "collecting": "Collecting",
    "completed": "Completed",
    "concluded": "Concluded",
    "auto-concluded": "Auto-concluded",
    "canceled": "Canceled",
    "canceled-by-candidate": "Canceled",
    "declined": "Declined",
    "auto-canceled": "Auto-canceled",
}
# Only the "sent" text is quoted from the spec; the others are ASSUMPTIONS.
STATUS_DESCRIPTIONS = {
    "sent": "The request was sent to the candidate, but it has not yet been accepted.",
    "accepted": "The candidate accepted the request.",
    "assigning": "The candidate completed the self-assessment and is adding references.",
    "collecting": "Waiting for the references to answer the survey.",
    "completed": "All references answered the survey.",
    "concluded": "The request was concluded.",
    "auto-concluded": "The request was concluded by the auto-conclude rules.",
    "canceled": "The request was canceled.",
    "canceled-by-candidate": "The candidate canceled the request.",
    "declined": "The candidate declined the request.",
    "auto-canceled": "The request was canceled by the auto-cancel rules.",
}
DEFAULT_RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0, 4.0)


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso_us(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def iso_ms(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_webhook_auth(text: str | None) -> tuple[str, ...] | None:
    """Parse ``"basic:USER:PASS"`` or ``"token:SECRET"``; None/"" means no auth.

    The error message never repeats the value, which holds a secret.
    """
    if text is None or not text.strip() or text.strip().lower() == "none":
        return None
    kind, _, rest = text.partition(":")
    kind = kind.strip().lower()
    if kind == "basic":
        user, sep, password = rest.partition(":")
        if sep and user:
            return ("basic", user, password)
    elif kind == "token" and rest:
        return ("token", rest)
    raise ValueError("invalid webhook auth; expected basic:USER:PASS or token:SECRET")


def check_webhook_auth(auth: tuple[str, ...] | None) -> tuple[str, ...] | None:
    if auth is None:
        return None
    normalized = (str(auth[0]).lower(), *auth[1:]) if auth else ()
    if (normalized[:1] == ("basic",) and len(normalized) == 3) or (
        normalized[:1] == ("token",) and len(normalized) == 2
    ):
        return normalized
    raise ValueError('webhook_auth must be ("basic", user, password) or ("token", secret)')


@dataclass
class SandboxConfig:
    reminder_delay_seconds: float = 86400.0
    auto_report: bool = False
    score_enabled: bool = True
    retrieve_includes_status: bool = False
    webhook_url: str | None = None
    webhook_auth: tuple[str, ...] | None = None
    webhook_method: str = "POST"
    webhook_retry_delays: tuple[float, ...] = DEFAULT_RETRY_DELAYS
    webhook_timeout: float = 5.0

    def public(self) -> JSON:
        """Config as JSON, with the webhook secret masked."""
        auth = self.webhook_auth
        return {
            "reminder_delay_seconds": self.reminder_delay_seconds,
            "auto_report": self.auto_report,
            "score_enabled": self.score_enabled,
            "retrieve_includes_status": self.retrieve_includes_status,
            "webhook_url": self.webhook_url,
            "webhook_auth": f"{auth[0]}:***" if auth else None,
            "webhook_method": self.webhook_method,
            "webhook_retry_delays": list(self.webhook_retry_delays),
            "webhook_timeout": self.webhook_timeout,
        }

    def update(self, data: JSON) -> None:
        """Apply a ``POST /_sandbox/config`` body; raise 400 on bad values."""
        try:
            for key, value in data.items():
                if key in ("auto_report", "score_enabled", "retrieve_includes_status"):
                    if not isinstance(value, bool):
                        raise ValueError(f"{key} must be a boolean")
                    setattr(self, key, value)
                elif key in ("reminder_delay_seconds", "webhook_timeout"):
                    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                        raise ValueError(f"{key} must be a number >= 0")
                    setattr(self, key, float(value))
                elif key == "webhook_url":
                    if value is not None and not (
                        isinstance(value, str) and value.startswith("http")
                    ):
                        raise ValueError("webhook_url must be an http(s) URL or null")
                    self.webhook_url = value or None
                elif key == "webhook_auth":
                    if isinstance(value, list):
                        self.webhook_auth = check_webhook_auth(tuple(str(v) for v in value))
                    else:
                        self.webhook_auth = parse_webhook_auth(value)
                elif key == "webhook_method":
                    if str(value).upper() not in ("POST", "PUT"):
                        raise ValueError("webhook_method must be POST or PUT")
                    self.webhook_method = str(value).upper()
                elif key == "webhook_retry_delays":
                    self.webhook_retry_delays = tuple(float(v) for v in value)
                else:
                    raise ValueError(f"unknown config key {key!r}")
        except (TypeError, ValueError) as exc:
            raise detail(400, str(exc)) from None


@dataclass
class Faults:
    latency_ms: int = 0
    error_rate_429: float = 0.0
    error_rate_500: float = 0.0
    retry_after: int = 1
    fail_next: list[int] = field(default_factory=list)
    drop_webhooks: float = 0.0
    duplicate_webhooks: float = 0.0
    reorder_webhooks: bool = False
    reorder_window_ms: int = 100
    seed: int | None = None

    def update(self, data: JSON) -> None:
        """Merge a ``POST /_sandbox/faults`` body; raise 400 on bad values."""
        known = {item.name: item for item in fields(self)}
        for key, value in data.items():
            if key not in known:
                raise detail(400, f"unknown fault {key!r}")
            if key == "fail_next":
                if not isinstance(value, list) or not all(
                    isinstance(code, int) and 400 <= code <= 599 for code in value
                ):
                    raise detail(400, "fail_next must be a list of HTTP error statuses (400-599)")
                self.fail_next = list(value)
            elif key == "reorder_webhooks":
                if not isinstance(value, bool):
                    raise detail(400, "reorder_webhooks must be a boolean")
                self.reorder_webhooks = value
            elif key == "seed":
                if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                    raise detail(400, "seed must be an integer or null")
                self.seed = value
            else:
                if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                    raise detail(400, f"{key} must be a number >= 0")
                if key.startswith(("error_rate", "drop", "duplicate")) and value > 1:
                    raise detail(400, f"{key} must be between 0 and 1")
                setattr(
                    self,
                    key,
                    int(value)
                    if key in ("latency_ms", "retry_after", "reorder_window_ms")
                    else float(value),
                )


@dataclass
class JobRole:
    codename: str
    name: str
    relationships: dict[str, dict[str, Any]]
    enabled: bool = True

    def as_api(self) -> JSON:
        return {
            "codename": self.codename,
            "name": self.name,
            "relationships": json.loads(json.dumps(self.relationships)),
        }


_LABELS = {
    "business": "Customers/Suppliers",
    "employees": "Direct Reports",
    "managers": "Managers",
    "peers": "Coworkers/Peers",
    "social": "Mentors",
}


def _rel(key: str, default: int = 2, low: int = 0, high: int = 10) -> dict[str, Any]:
    return {
        "default": default,
        "label": _LABELS[key],
        "max": high,
        "min": low,
        "skip_reference_optin": False,
        "whv_mode": "default",
    }


def seed_jobroles() -> dict[str, JobRole]:
    """The three job roles of the spec plus one with tighter limits (ASSUMPTION)."""
    spec_roles = [
        ("brand-marketer-manager", "Brand Marketer - Manager"),
        ("brand-marketer-team-member", "Brand Marketer - Team Member"),
        ("consulting-services-manager", "Consulting Services - Manager"),
    ]
    roles = {
        code: JobRole(code, name, {key: _rel(key) for key in sorted(_LABELS)})
        for code, name in spec_roles
    }
    roles["software-engineer-ic"] = JobRole(
        "software-engineer-ic",
        "Software Engineer - Individual Contributor",
        {
            "managers": _rel("managers", default=1, low=1, high=3),
            "peers": _rel("peers", default=2, low=0, high=5),
            "social": _rel("social", default=0, low=0, high=2),
        },
    )
    return roles


@dataclass
class Relationship:
    id: str
    rel: str
    required: int
    notes: str = ""


@dataclass
class Reference:
    id: str
    first_name: str
    last_name: str
    email: str
    mobile_phone: str
    relationship: str
    slot: str
    workplace_name: str
    job_title: str
    status: str = "pending"

    def webhook_view(self) -> JSON:
        return {
            "first_name": self.first_name,
            "last_name": self.last_name,
            "mobile_phone": self.mobile_phone,
            "email": self.email,
            "status": self.status,
            "relationship": self.relationship,
            "workplace_name": self.workplace_name,
            "job_title": self.job_title,
        }


@dataclass
class Delivery:
    request_id: str
    event_name: str
    status: str
    body: bytes
    duplicate: bool = False


@dataclass
class ReferenceRequest:
    id: str
    candidate: PersonInput
    candidate_id: str
    requestor: JSON
    jobrole: JobRole
    job_position: str
    hiring_manager: PersonInput
    relationships: list[Relationship]
    created_on: datetime
    status: str = "sent"
    progress: int = 0
    use_sms: bool = False
    sms_message: str = ""
    candidate_message: str = ""
    send_past_due_notification: bool = False
    send_completed_notification: bool = False
    status_updated_on: datetime = field(default_factory=utcnow)
    updated_on: datetime = field(default_factory=utcnow)
    completed_on: datetime | None = None
    references: list[Reference] = field(default_factory=list)
    reminders_sent: int = 0
    reminder_basis: float = field(default_factory=time.time)
    reminder_forced: bool = False
    report_ready: bool = False
    score: float | None = None
    last_event: Delivery | None = None

    @property
    def total_required(self) -> int:
        return sum(item.required for item in self.relationships)

    def count(self, *statuses: str) -> int:
        return sum(1 for ref in self.references if ref.status in statuses)

    def touch(self) -> None:
        self.updated_on = max(utcnow(), self.updated_on + timedelta(microseconds=1))

    def set_status(self, status: str, progress: int | None = None) -> None:
        now = utcnow()
        now = now.replace(microsecond=now.microsecond // 1000 * 1000)
        self.status_updated_on = max(now, self.status_updated_on + timedelta(milliseconds=1))
        self.status = status
        if progress is not None:
            self.progress = progress
        self.updated_on = max(
            utcnow(), self.updated_on + timedelta(microseconds=1), self.status_updated_on
        )
