"""Request-body validation for the Crosschq Partner API v2 sandbox.

The real service is a Django REST Framework application, so this module
reproduces DRF's error vocabulary ("This field is required.", "Enter a valid
email address.", ...) and nesting (a dict per nested serializer, a list with
one entry per item for list fields) inside the ``{"errors": {...}}`` wrapper
the spec shows for ``POST /api/v2/reference-request/``.

Faithful to the spec:

* candidate ``first_name``, ``last_name`` and ``email`` are required;
  ``requestor`` is an email; ``jobrole`` is a job role codename;
* ``flex_params.relationships[]`` items carry ``rel`` (a relationship key of
  the job role, or ``"any"``), ``required`` and optional ``notes``;
* error body shape ``{"errors": {"candidate": {"email": ["This field is required."]}}}``.

ASSUMPTIONS (the spec does not say):

* ``required`` must be an integer >= 1 and within the job role's ``min``/``max``
  for that relationship; for ``"any"`` the upper bound is the sum of the job
  role's ``max`` values.
* A relationship may appear only once in ``flex_params.relationships``.
* A missing ``flex_params`` means one ``{"rel": "any", "required": 2}`` entry
  (2 is the ``min_reference_count`` example of Partner API v1).
* ``mobile_phone`` is optional; when given it must hold 7 to 15 digits
  (an optional leading ``+``; spaces, dots, dashes and parentheses are ignored).
* ``hiring_manager``, when given, needs a valid ``email``; names are optional.
* Unknown job role and disabled job role both answer ``["Invalid job role."]``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]
RelationshipCatalogue = Mapping[str, Mapping[str, Any]]

REQUIRED = "This field is required."
BLANK = "This field may not be blank."
NULL = "This field may not be null."
NOT_STRING = "Not a valid string."
NOT_BOOLEAN = "Must be a valid boolean."
NOT_INTEGER = "A valid integer is required."
INVALID_EMAIL = "Enter a valid email address."
INVALID_PHONE = "Enter a valid phone number."
INVALID_JOBROLE = "Invalid job role."
EMPTY_LIST = "This list may not be empty."
DEFAULT_RELATIONSHIPS: tuple[JSON, ...] = ({"rel": "any", "required": 2, "notes": ""},)

# Django's EmailValidator, reduced to the parts that matter for a simulator.
_EMAIL_USER = re.compile(
    r"^[-!#$%&'*+/=?^_`{}|~0-9A-Z]+(\.[-!#$%&'*+/=?^_`{}|~0-9A-Z]+)*$", re.IGNORECASE
)
_EMAIL_DOMAIN = re.compile(
    r"^((?:[A-Z0-9](?:[A-Z0-9-]{0,61}[A-Z0-9])?\.)+)(?:[A-Z0-9-]{2,63}(?<!-))$", re.IGNORECASE
)
_PHONE_NOISE = re.compile(r"[\s().-]")
_TRUE = {True, "true", "True", "TRUE", "1", "yes", "on"}
_FALSE = {False, "false", "False", "FALSE", "0", "no", "off"}


class SandboxError(Exception):
    """An HTTP error answer: ``status`` plus a JSON ``body``."""

    def __init__(self, status: int, body: JSON) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.body = body


def detail(status: int, message: str) -> SandboxError:
    """DRF-style ``{"detail": message}`` error."""
    return SandboxError(status, {"detail": message})


def is_email(value: str) -> bool:
    """Return True when ``value`` passes a Django-like email check."""
    if not value or "@" not in value or len(value) > 254:
        return False
    user, _, domain = value.rpartition("@")
    return bool(_EMAIL_USER.match(user)) and bool(_EMAIL_DOMAIN.match(domain))


def _not_a_dict(value: Any) -> JSON:
    return {
        "non_field_errors": [
            f"Invalid data. Expected a dictionary, but got {type(value).__name__}."
        ]
    }


@dataclass
class RelationshipInput:
    rel: str
    required: int
    notes: str = ""


@dataclass
class PersonInput:
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    mobile_phone: str = ""
    title: str = ""


@dataclass
class CreateInput:
    candidate: PersonInput
    jobrole: str
    requestor: str
    requestor_first_name: str = ""
    requestor_last_name: str = ""
    use_sms: bool = False
    send_past_due_notification: bool = False
    send_completed_notification: bool = False
    relationships: list[RelationshipInput] = field(default_factory=list)
    job_position: str = ""
    hiring_manager: PersonInput | None = None


@dataclass
class EditInput:
    sms_message: str | None = None
    candidate_message: str | None = None
    use_sms: bool | None = None
    relationships: list[RelationshipInput] | None = None
    hiring_manager: PersonInput | None = None


def _string(
    data: Mapping[str, Any],
    key: str,
    errors: JSON,
    *,
    required: bool = False,
    allow_blank: bool = True,
    kind: str = "text",
) -> str:
    """Validate one DRF CharField/EmailField; record problems in ``errors``."""
    if key not in data:
        if required:
            errors[key] = [REQUIRED]
        return ""
    value = data[key]
    if value is None:
        if required or kind == "email":
            errors[key] = [NULL]
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        errors[key] = [NOT_STRING]
        return ""
    text = str(value).strip()
    if not text:
        if required or not allow_blank:
            errors[key] = [BLANK]
        return ""
    if kind == "email" and not is_email(text):
        errors[key] = [INVALID_EMAIL]
    elif kind == "phone":
        digits = _PHONE_NOISE.sub("", text)
        if not re.fullmatch(r"\+?[0-9]{7,15}", digits):
            errors[key] = [INVALID_PHONE]
    return text


def _boolean(data: Mapping[str, Any], key: str, errors: JSON) -> bool | None:
    if key not in data:
        return None
    value = data[key]
    if isinstance(value, (bool, int, str)) and value in _TRUE:
        return True
    if isinstance(value, (bool, int, str)) and value in _FALSE:
        return False
    errors[key] = [NOT_BOOLEAN]
    return None


def _integer(value: Any) -> int | None:
    """DRF IntegerField coercion: ints, integral floats and digit strings."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+(\.0*)?\s*", value):
        return int(float(value))
    return None


def _person(value: Any, *, names_required: bool, phone: bool) -> tuple[PersonInput, JSON]:
    if not isinstance(value, dict):
        return PersonInput(), _not_a_dict(value)
    errors: JSON = {}
    person = PersonInput(
        first_name=_string(value, "first_name", errors, required=names_required),
        last_name=_string(value, "last_name", errors, required=names_required),
        email=_string(value, "email", errors, required=True, kind="email"),
        mobile_phone=_string(value, "mobile_phone", errors, kind="phone") if phone else "",
        title=_string(value, "title", errors),
    )
    return person, errors


def _relationships(
    flex: Any, catalogue: RelationshipCatalogue | None
) -> tuple[list[RelationshipInput], JSON | None]:
    """Validate ``flex_params``; ``catalogue`` None skips the job-role checks."""
    if not isinstance(flex, dict):
        return [], _not_a_dict(flex)
    items = flex.get("relationships")
    if items is None:
        return [], {"relationships": [REQUIRED]}
    if not isinstance(items, list):
        return [], {
            "relationships": [f'Expected a list of items but got type "{type(items).__name__}".']
        }
    if not items:
        return [], {"relationships": [EMPTY_LIST]}
    cleaned: list[RelationshipInput] = []
    item_errors: list[JSON] = []
    seen: set[str] = set()
    any_max = sum(int(spec.get("max", 0)) for spec in catalogue.values()) if catalogue else 0
    for item in items:
        if not isinstance(item, dict):
            item_errors.append(_not_a_dict(item))
            continue
        errors: JSON = {}
        rel = _string(item, "rel", errors, required=True)
        notes = _string(item, "notes", errors)
        low, high = 1, None
        if rel and "rel" not in errors and catalogue is not None:
            if rel == "any":
                high = any_max
            elif rel in catalogue:
                low = max(1, int(catalogue[rel].get("min", 0)))
                high = int(catalogue[rel].get("max", 0))
            else:
                errors["rel"] = [f'"{rel}" is not a valid choice.']
        if rel in seen and "rel" not in errors:
            errors["rel"] = ["Duplicate relationship."]
        seen.add(rel)
        required: int | None = None
        if "required" not in item or item["required"] is None:
            errors["required"] = [REQUIRED]
        else:
            required = _integer(item["required"])
            if required is None:
                errors["required"] = [NOT_INTEGER]
            elif required < low:
                errors["required"] = [f"Ensure this value is greater than or equal to {low}."]
            elif high is not None and required > high:
                errors["required"] = [f"Ensure this value is less than or equal to {high}."]
        item_errors.append(errors)
        if not errors and required is not None:
            cleaned.append(RelationshipInput(rel=rel, required=required, notes=notes))
    if any(item_errors):
        return [], {"relationships": item_errors}
    return cleaned, None


def parse_object(data: Any) -> JSON:
    """Reject a JSON body that is not an object, as DRF serializers do."""
    if not isinstance(data, dict):
        raise SandboxError(400, {"errors": _not_a_dict(data)})
    return data


def validate_create(
    data: Any, find_jobrole: Callable[[str], RelationshipCatalogue | None]
) -> CreateInput:
    """Validate a create body; raise :class:`SandboxError` (400) on problems."""
    body = parse_object(data)
    errors: JSON = {}
    if "candidate" not in body:
        errors["candidate"] = [REQUIRED]
        candidate = PersonInput()
    else:
        candidate, candidate_errors = _person(body["candidate"], names_required=True, phone=True)
        if candidate_errors:
            errors["candidate"] = candidate_errors
    requestor = _string(body, "requestor", errors, required=True, kind="email")
    jobrole = _string(body, "jobrole", errors, required=True)
    catalogue: RelationshipCatalogue | None = None
    if jobrole and "jobrole" not in errors:
        catalogue = find_jobrole(jobrole)
        if catalogue is None:
            errors["jobrole"] = [INVALID_JOBROLE]
    relationships = [RelationshipInput(**item) for item in DEFAULT_RELATIONSHIPS]
    if body.get("flex_params") is not None:
        relationships, flex_errors = _relationships(body["flex_params"], catalogue)
        if flex_errors:
            errors["flex_params"] = flex_errors
    hiring_manager: PersonInput | None = None
    if body.get("hiring_manager") is not None:
        hiring_manager, manager_errors = _person(
            body["hiring_manager"], names_required=False, phone=False
        )
        if manager_errors:
            errors["hiring_manager"] = manager_errors
    result = CreateInput(
        candidate=candidate,
        jobrole=jobrole,
        requestor=requestor,
        requestor_first_name=_string(body, "requestor_first_name", errors),
        requestor_last_name=_string(body, "requestor_last_name", errors),
        use_sms=bool(_boolean(body, "use_sms", errors)),
        send_past_due_notification=bool(_boolean(body, "send_past_due_notification", errors)),
        send_completed_notification=bool(_boolean(body, "send_completed_notification", errors)),
        relationships=relationships,
        job_position=_string(body, "job_position", errors),
        hiring_manager=hiring_manager,
    )
    if errors:
        raise SandboxError(400, {"errors": errors})
    return result


def validate_edit(data: Any, catalogue: RelationshipCatalogue) -> EditInput:
    """Validate a PATCH ``.../edit/`` body; unknown keys are ignored (DRF)."""
    body = parse_object(data)
    errors: JSON = {}
    result = EditInput(use_sms=_boolean(body, "use_sms", errors))
    if "sms_message" in body:
        result.sms_message = _string(body, "sms_message", errors)
    if "candidate_message" in body:
        result.candidate_message = _string(body, "candidate_message", errors)
    if body.get("flex_params") is not None:
        relationships, flex_errors = _relationships(body["flex_params"], catalogue)
        if flex_errors:
            errors["flex_params"] = flex_errors
        else:
            result.relationships = relationships
    if body.get("hiring_manager") is not None:
        manager, manager_errors = _person(body["hiring_manager"], names_required=False, phone=False)
        if manager_errors:
            errors["hiring_manager"] = manager_errors
        else:
            result.hiring_manager = manager
    if errors:
        raise SandboxError(400, {"errors": errors})
    return result
