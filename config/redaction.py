"""Masking of personal data (e-mail addresses, phone numbers, person names) in log events.

Three nets, applied to every string in every field, nested or not:

1. values under name-like keys (``first_name``, ``last_name``, ``name``, ``email`` ...) are masked whole;
2. e-mail addresses and phone numbers are found by pattern inside any free text;
3. names cannot be found by pattern, so code that handles a person registers that person's
   values with :func:`remember` for the current context (a task run); they are then masked
   wherever they appear, including inside free text such as an error message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from typing import Any

MASK = "[redacted]"

_SENSITIVE_KEYS = frozenset(
    {
        "first_name",
        "last_name",
        "name",
        "full_name",
        "display_name",
        "email",
        "emails",
        "email_address",
        "email_addresses",
        "mobile_phone",
        "phone",
        "phone_number",
        "phone_numbers",
        "requestor",
        "requestor_first_name",
        "requestor_last_name",
        "candidate_email",
        "to",
        "from",
        "cc",
        "password",
        "token",
        "secret",
        "authorization",
        "api_key",
        "client_secret",
    }
)
# Starts only where a run of address characters starts: a long run without an "@" is then
# scanned once, not once per position (which made a 100k-character id take seconds).
_EMAIL = re.compile(r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
# A run of at least seven digits, optionally led by + and broken by spaces, dots, dashes or
# parentheses: catches E.164 and the usual national formats without eating ISO timestamps.
_PHONE = re.compile(r"(?<![\w:.-])\+?\(?\d[\d\s().-]{5,}\d(?![\w:])")
_DATEISH = re.compile(r"^\d{4}-\d{2}-\d{2}")

_remembered: ContextVar[tuple[str, ...]] = ContextVar("redaction_remembered", default=())


def remember(*values: str | None) -> None:
    """Mask these exact values (names, e-mails, phones) in every log event of this context."""
    keep = [v.strip() for v in values if v and len(v.strip()) >= 2]
    if keep:
        current = _remembered.get()
        _remembered.set(tuple(dict.fromkeys((*current, *keep))))


def forget_all() -> None:
    """Drop the remembered values (called between tasks)."""
    _remembered.set(())


def _mask_phone(match: re.Match[str]) -> str:
    text = match.group(0)
    digits = sum(ch.isdigit() for ch in text)
    if digits < 7 or _DATEISH.match(text):
        return text
    return MASK


# A log value longer than this is cut (with a marker) before it is searched: log lines stay
# readable, and the cost of redaction stays bounded whatever a webhook carries.
MAX_TEXT = 4096


def redact_text(text: str) -> str:
    """Mask e-mails, phone numbers and remembered values inside ``text``."""
    if len(text) > MAX_TEXT:
        # Cut at the last whitespace, so no e-mail or phone number is split into a partial
        # value the patterns would no longer see.
        head = text[:MAX_TEXT]
        head = head[: max(head.rfind(" "), head.rfind("\n"), head.rfind("\t")) + 1]
        text = f"{head}...[{len(text) - len(head)} more characters]"
    for value in sorted(_remembered.get(), key=len, reverse=True):
        if value in text:
            text = text.replace(value, MASK)
    text = _EMAIL.sub(MASK, text)
    return _PHONE.sub(_mask_phone, text)


def redact_value(value: Any, key: str | None = None) -> Any:
    """Redact one field value; recurse into mappings and sequences."""
    if key is not None and key.lower() in _SENSITIVE_KEYS and value not in (None, "", [], {}):
        if isinstance(value, Mapping):
            return {k: redact_value(v, str(k)) for k, v in value.items()}
        return MASK
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {k: redact_value(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [redact_value(v) for v in value]
    if isinstance(value, BaseException):
        return redact_text(f"{type(value).__name__}: {value}")
    return value


def redact_event(event: Mapping[str, Any]) -> dict[str, Any]:
    """Redact a whole structlog event dict (the ``event`` message text included)."""
    return {key: redact_value(value, None if key == "event" else key) for key, value in event.items()}


def known_sensitive_keys() -> Iterable[str]:
    return sorted(_SENSITIVE_KEYS)
