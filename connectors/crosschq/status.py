"""Crosschq's request status vocabulary (Partner API v2, "Webhooks").

Unknown statuses are kept as text: :func:`parse_status` never raises. The retrieve endpoint's
example carries only ``status_message`` ("Sent", "Auto-concluded"...), so a status can be derived
from it.
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    SENT = "sent"
    ACCEPTED = "accepted"
    ASSIGNING = "assigning"
    COLLECTING = "collecting"
    COMPLETED = "completed"
    CONCLUDED = "concluded"
    AUTO_CONCLUDED = "auto-concluded"
    CANCELED = "canceled"
    CANCELED_BY_CANDIDATE = "canceled-by-candidate"
    AUTO_CANCELED = "auto-canceled"
    DECLINED = "declined"


TERMINAL = frozenset(
    {
        Status.COMPLETED,
        Status.CONCLUDED,
        Status.AUTO_CONCLUDED,
        Status.CANCELED,
        Status.CANCELED_BY_CANDIDATE,
        Status.AUTO_CANCELED,
        Status.DECLINED,
    }
)
OPEN = frozenset({Status.SENT, Status.ACCEPTED, Status.ASSIGNING, Status.COLLECTING})
REPORT_READY_STATES = frozenset({Status.COMPLETED, Status.CONCLUDED, Status.AUTO_CONCLUDED})
CANCELED_STATES = frozenset({Status.CANCELED, Status.CANCELED_BY_CANDIDATE, Status.AUTO_CANCELED})

# Order in which a request moves forward; used to refuse going backwards when timestamps tie.
RANK: dict[str, int] = {
    Status.SENT: 0,
    Status.ACCEPTED: 1,
    Status.ASSIGNING: 2,
    Status.COLLECTING: 3,
    Status.COMPLETED: 4,
    Status.CONCLUDED: 5,
    Status.AUTO_CONCLUDED: 5,
    Status.CANCELED: 6,
    Status.CANCELED_BY_CANDIDATE: 6,
    Status.AUTO_CANCELED: 6,
    Status.DECLINED: 6,
}

LABELS: dict[str, str] = {
    Status.SENT: "Sent",
    Status.ACCEPTED: "Accepted",
    Status.ASSIGNING: "Assigning",
    Status.COLLECTING: "Collecting",
    Status.COMPLETED: "Completed",
    Status.CONCLUDED: "Concluded",
    Status.AUTO_CONCLUDED: "Auto-concluded",
    Status.CANCELED: "Canceled",
    Status.CANCELED_BY_CANDIDATE: "Canceled by candidate",
    Status.AUTO_CANCELED: "Auto-canceled",
    Status.DECLINED: "Declined",
}


def parse_status(value: str | None) -> Status | str | None:
    """``"Auto-concluded"``, ``"auto_concluded"`` or ``"auto-concluded"`` -> ``Status.AUTO_CONCLUDED``.

    Anything unknown comes back as the lower-cased text, so a new Crosschq status is kept and
    shown rather than crashing the worker.
    """
    if value is None:
        return None
    text = value.strip().lower().replace("_", "-").replace(" ", "-")
    if not text:
        return None
    try:
        return Status(text)
    except ValueError:
        return text


def is_terminal(status: Status | str | None) -> bool:
    return status in TERMINAL


def label(status: Status | str | None) -> str:
    if status is None:
        return "Unknown"
    return LABELS.get(status, str(status).replace("-", " ").capitalize())
