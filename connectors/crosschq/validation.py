"""Checks a create request the way Crosschq will, before it is sent.

Each problem names its field (``candidate.email``, ``flex_params.relationships[0].rel``), so a
recruiter reading the note in the ATS knows what to fix. A phone number is normalized to E.164;
one that cannot be parsed is dropped with a warning and SMS turned off, rather than failing the
whole request.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import phonenumbers

from config.logs import get_logger
from connectors.crosschq.models import CreateReferenceRequest, JobRole
from connectors.errors import RequestValidationError

log = get_logger("connectors.crosschq")

# Deliberately simple: Crosschq's own check (Django's EmailValidator) is the authority; this
# catches what is certainly wrong (no @, spaces, no dot in the domain).
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def valid_email(value: str | None) -> bool:
    return bool(value) and bool(_EMAIL.match(value or ""))


def normalize_phone(value: str | None, default_region: str) -> str | None:
    """E.164, or ``None`` when the number cannot be a phone number."""
    if not value or not value.strip():
        return None
    try:
        number = phonenumbers.parse(value, None if value.strip().startswith("+") else default_region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def validate_create(
    request: CreateReferenceRequest,
    catalogue: Iterable[JobRole] | None,
    *,
    default_region: str = "US",
) -> CreateReferenceRequest:
    """Return the request with its phone normalized, or raise ``RequestValidationError``."""
    problems: dict[str, list[str]] = {}

    def problem(field: str, message: str) -> None:
        problems.setdefault(field, []).append(message)

    cand = request.candidate
    if not cand.first_name.strip():
        problem("candidate.first_name", "This field is required.")
    if not cand.last_name.strip():
        problem("candidate.last_name", "This field is required.")
    if not cand.email.strip():
        problem("candidate.email", "This field is required.")
    elif not valid_email(cand.email):
        problem("candidate.email", "Enter a valid email address.")
    if not valid_email(request.requestor):
        problem("requestor", "Enter a valid email address.")
    if request.hiring_manager is not None and not valid_email(request.hiring_manager.email):
        problem("hiring_manager.email", "Enter a valid email address.")

    roles = {role.codename: role for role in catalogue} if catalogue is not None else None
    role = None
    if not request.jobrole:
        problem("jobrole", "This field is required.")
    elif roles is not None:
        role = roles.get(request.jobrole)
        if role is None:
            problem("jobrole", f"Unknown job role {request.jobrole!r}.")
    if not request.flex_params.relationships:
        problem("flex_params.relationships", "At least one relationship is required.")
    for index, rel in enumerate(request.flex_params.relationships):
        field = f"flex_params.relationships[{index}]"
        if rel.required < 1:
            problem(f"{field}.required", "Must be at least 1.")
        if role is None or rel.rel == "any":
            continue
        spec = role.relationships.get(rel.rel)
        if spec is None:
            problem(f"{field}.rel", f"{rel.rel!r} is not a relationship of {role.codename!r}.")
        elif not spec.min <= rel.required <= spec.max:
            problem(f"{field}.required", f"Must be between {spec.min} and {spec.max}.")
    if problems:
        raise RequestValidationError(
            "reference request is invalid", field_errors=problems, service="crosschq"
        )

    phone = normalize_phone(cand.mobile_phone, default_region)
    if cand.mobile_phone and phone is None:
        log.warning("candidate.phone_dropped", reason="unparseable phone number; SMS turned off")
        return request.model_copy(
            update={"candidate": cand.model_copy(update={"mobile_phone": None}), "use_sms": False}
        )
    if phone is None and request.use_sms:
        return request.model_copy(update={"use_sms": False})
    return request.model_copy(update={"candidate": cand.model_copy(update={"mobile_phone": phone})})
