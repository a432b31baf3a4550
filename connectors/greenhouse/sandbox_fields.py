"""Custom-field values in the Greenhouse sandbox: write validation and read rendering.

Faithful to harvest/_candidates.md "Custom Field Parameters": each element of a
``custom_fields`` array names its field by ``id`` or ``name_key``; a single_select takes an
option id or the exact option text; a multi_select takes an array of option ids; empty
strings and nulls are rejected (clear a value with ``delete_value: "true"``); an empty
array changes nothing. Reads give ``custom_fields`` as ``{name_key: value}`` and
``keyed_custom_fields`` as ``{name_key: {name, type, value}}``.

Assumptions (not documented): a url value must be an absolute http(s) URL; a number may
also arrive as a numeric string; a date is ``YYYY-MM-DD``; the whole array is validated
before any value is stored, so one bad element changes nothing.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from connectors.greenhouse.sandbox_state import JsonDict, SandboxState, validation_error

FIELD = "custom_fields"
SHORT_TEXT_MAX = 255
# Webhook payloads call the yes/no type "boolean" (webhooks/_introduction.md, Custom Fields).
WEBHOOK_TYPE_NAMES = {"yes_no": "boolean"}


def resolve_field(state: SandboxState, field_type: str, item: JsonDict) -> JsonDict:
    """The active field of ``field_type`` an element names by ``id`` or ``name_key``."""
    for field in state.fields(field_type):
        if "id" in item and item["id"] == field["id"]:
            return field
        if "name_key" in item and item["name_key"] == field["name_key"]:
            return field
    label = item.get("name_key", item.get("id"))
    raise validation_error(f"Custom field {label!r} does not exist for {field_type}s", FIELD)


def _option_name(field: JsonDict, value: Any) -> str:
    for option in field["custom_field_options"]:
        same_id = isinstance(value, int) and not isinstance(value, bool) and value == option["id"]
        if same_id or value == option["name"]:
            return str(option["name"])
    raise validation_error(
        f"{value!r} is not an option of custom field {field['name_key']!r}", FIELD
    )


def _number(field: JsonDict, value: Any) -> int | float:
    if isinstance(value, bool):
        raise validation_error(f"Custom field {field['name_key']!r} needs a number", FIELD)
    if isinstance(value, int | float):
        return value
    try:
        parsed = float(str(value))
    except ValueError:
        raise validation_error(
            f"Custom field {field['name_key']!r} needs a number", FIELD
        ) from None
    return int(parsed) if parsed.is_integer() else parsed


def _text(field: JsonDict, value: Any) -> str:
    if not isinstance(value, str):
        raise validation_error(f"Custom field {field['name_key']!r} needs a string", FIELD)
    if field["value_type"] == "short_text" and len(value) > SHORT_TEXT_MAX:
        raise validation_error(f"Custom field {field['name_key']!r} is too long", FIELD)
    if field["value_type"] == "url" and not value.startswith(("http://", "https://")):
        raise validation_error(f"Custom field {field['name_key']!r} needs a URL", FIELD)
    return value


def _date(field: JsonDict, value: Any) -> str:
    try:
        return date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise validation_error(
            f"Custom field {field['name_key']!r} needs a date (YYYY-MM-DD)", FIELD
        ) from None


def _yes_no(field: JsonDict, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise validation_error(f"Custom field {field['name_key']!r} needs true or false", FIELD)


def _user(state: SandboxState, field: JsonDict, value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value in state.users:
        return value
    raise validation_error(f"Custom field {field['name_key']!r} needs a user id", FIELD)


def coerce_value(
    state: SandboxState, field: JsonDict, value: Any, unit: str | None = None
) -> Any:
    """The value to store for ``field``; raises a 422 for anything Greenhouse would refuse."""
    kind = field["value_type"]
    if value is None or value == "" or value == []:
        raise validation_error(
            f"Custom field {field['name_key']!r} needs a value; use delete_value to clear it",
            FIELD,
        )
    if kind == "single_select":
        return _option_name(field, value)
    if kind == "multi_select":
        if not isinstance(value, list):
            raise validation_error(f"Custom field {field['name_key']!r} needs an array", FIELD)
        return [_option_name(field, v) for v in value]
    if kind == "number":
        return _number(field, value)
    if kind == "currency":
        return {"amount": _number(field, value), "unit": unit or "USD"}
    if kind in ("short_text", "long_text", "url"):
        return _text(field, value)
    if kind == "date":
        return _date(field, value)
    if kind == "yes_no":
        return _yes_no(field, value)
    if kind == "user":
        return _user(state, field, value)
    raise validation_error(f"Custom fields of type {kind} are not supported here", FIELD)


def is_delete(item: JsonDict) -> bool:
    return str(item.get("delete_value", "")).lower() == "true"


def apply_items(
    state: SandboxState, field_type: str, values: JsonDict, items: Any
) -> list[tuple[JsonDict, Any, bool]]:
    """Validate every element, then store them; returns (field, stored value, deleted)."""
    if not isinstance(items, list):
        raise validation_error("custom_fields must be an array", FIELD)
    changes: list[tuple[JsonDict, Any, bool]] = []
    for item in items:
        if not isinstance(item, dict):
            raise validation_error("Each custom field must be an object", FIELD)
        field = resolve_field(state, field_type, item)
        if is_delete(item):
            changes.append((field, None, True))
        else:
            value = coerce_value(state, field, item.get("value"), item.get("unit"))
            changes.append((field, value, False))
    for field, value, deleted in changes:
        if deleted:
            values.pop(field["name_key"], None)
        else:
            values[field["name_key"]] = value
    return changes


def render_value(state: SandboxState, field: JsonDict, values: JsonDict) -> Any:
    """A stored value as Greenhouse shows it (null or [] when unset)."""
    value = values.get(field["name_key"])
    if value is None:
        return [] if field["value_type"] == "multi_select" else None
    if field["value_type"] == "user":
        user = state.users.get(value)
        if user is None:
            return None
        name = f"{user['first_name']} {user['last_name']}".strip()
        return {
            "user_id": user["id"],
            "name": name,
            "email": user["primary_email_address"],
            "employee_id": user.get("employee_id"),
        }
    return value


def plain_values(state: SandboxState, field_type: str, values: JsonDict) -> JsonDict:
    return {f["name_key"]: render_value(state, f, values) for f in state.fields(field_type)}


def keyed_values(
    state: SandboxState, field_type: str, values: JsonDict, *, webhook: bool = False
) -> JsonDict:
    keyed: JsonDict = {}
    for field in state.fields(field_type):
        kind = field["value_type"]
        if webhook:
            kind = WEBHOOK_TYPE_NAMES.get(kind, kind)
        keyed[field["name_key"]] = {
            "name": field["name"],
            "type": kind,
            "value": render_value(state, field, values),
        }
    return keyed
