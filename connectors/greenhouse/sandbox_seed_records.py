"""One seed item → one sandbox record (see ``sandbox_seed`` for the seed format).

Each function creates the record or updates the existing one with the same ``id``, checks
references (users, jobs, candidates, stages, custom fields) and returns the record id.
Callers hold ``state.lock``.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from connectors.greenhouse.sandbox_fields import coerce_value
from connectors.greenhouse.sandbox_state import (
    JsonDict,
    SandboxState,
    now_iso,
    validation_error,
)

VALUE_TYPES = {
    "short_text", "long_text", "yes_no", "single_select", "multi_select", "currency",
    "number", "date", "url", "user",
}
ROLES = ("hiring_managers", "recruiters", "coordinators", "sourcers")
APPLICATION_STATUSES = ("active", "rejected", "hired", "converted")


def record_id(state: SandboxState, item: JsonDict, kind: str) -> int:
    if "id" not in item:
        return state.new_id()
    value = item["id"]
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise validation_error(f"{kind} id must be a positive integer", f"{kind}.id")
    return state.reserve_id(value)


def int_or_zero(value: Any) -> int:
    """``value`` when it is an integer id, else 0 (which names no record)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def user_ref(state: SandboxState, item: JsonDict, *keys: str) -> tuple[bool, int | None]:
    """(present, user id or None) for the first of ``keys`` found in ``item``."""
    for key in keys:
        if key in item:
            value = item[key]
            if value is not None and value not in state.users:
                raise validation_error(f"Unknown user {value!r}", key)
            return True, value
    return False, None


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def seed_source(state: SandboxState, item: JsonDict) -> int:
    source_id = record_id(state, item, "source")
    name = item.get("name") or item.get("public_name") or f"Source {source_id}"
    state.sources[source_id] = {"id": source_id, "name": str(name)}
    return source_id


def _options(state: SandboxState, raw: Any) -> list[JsonDict]:
    if not isinstance(raw, list):
        raise validation_error("options must be an array", "custom_fields.options")
    options = []
    for priority, entry in enumerate(raw):
        entry = entry if isinstance(entry, dict) else {"name": entry}
        option_id = record_id(state, entry, "option")
        options.append(
            {"id": option_id, "name": str(entry["name"]), "priority": priority, "external_id": None}
        )
    return options


def seed_custom_field(state: SandboxState, item: JsonDict) -> int:
    field_id = record_id(state, item, "custom_field")
    record = state.custom_fields.get(field_id)
    if record is None:
        name = item.get("name")
        if not isinstance(name, str) or not name:
            raise validation_error("A custom field needs a name", "custom_fields.name")
        if item.get("value_type") not in VALUE_TYPES:
            raise validation_error("Unsupported value_type", "custom_fields.value_type")
        record = {
            "id": field_id, "name": name, "active": True,
            "field_type": item.get("field_type", "application"),
            "priority": len(state.custom_fields), "value_type": item["value_type"],
            "private": False, "required": False, "require_approval": False,
            "trigger_new_version": False, "name_key": item.get("name_key") or slug(name),
            "description": None, "expose_in_job_board_api": False, "api_only": False,
            "offices": [], "departments": [], "template_token_string": None,
            "custom_field_options": [],
        }
        state.custom_fields[field_id] = record
    for key in ("name", "active", "private", "required", "description"):
        if key in item:
            record[key] = item[key]
    if "options" in item:
        record["custom_field_options"] = _options(state, item["options"])
    return field_id


def seed_user(state: SandboxState, item: JsonDict) -> int:
    user_id = record_id(state, item, "user")
    now = now_iso()
    record = state.users.setdefault(user_id, {
        "id": user_id, "first_name": "Sandbox", "last_name": f"User {user_id}",
        "primary_email_address": f"user{user_id}@example.com", "emails": [],
        "employee_id": None, "created_at": now, "updated_at": now,
        "disabled": False, "site_admin": False,
    })
    for key in ("first_name", "last_name", "employee_id", "disabled", "site_admin"):
        if key in item:
            record[key] = item[key]
    email = item.get("primary_email_address") or item.get("email")
    if email:
        record["primary_email_address"] = str(email)
    record["emails"] = list(item.get("emails") or [record["primary_email_address"]])
    record["updated_at"] = now
    return user_id


def _org_units(state: SandboxState, table: dict[int, JsonDict], raw: Any, kind: str) -> list[int]:
    """Departments or offices given by name or object; created when new."""
    if not isinstance(raw, list):
        raise validation_error(f"{kind} must be an array", kind)
    ids = []
    for entry in raw:
        entry = entry if isinstance(entry, dict) else {"name": str(entry)}
        same_name = next((u for u in table.values() if u["name"] == entry.get("name")), None)
        if "id" not in entry and same_name is not None:
            ids.append(same_name["id"])
            continue
        unit_id = record_id(state, entry, kind)
        unit = table.setdefault(unit_id, {"id": unit_id, "name": f"{kind} {unit_id}",
                                          "external_id": None, "location": None})
        unit.update({k: entry[k] for k in ("name", "external_id", "location") if k in entry})
        ids.append(unit_id)
    return ids


def _seed_stages(state: SandboxState, job_id: int, raw: Any) -> None:
    if not isinstance(raw, list) or not raw:
        raise validation_error("stages must be a non-empty array", "jobs.stages")
    now = now_iso()
    for priority, entry in enumerate(raw):
        entry = entry if isinstance(entry, dict) else {"name": str(entry)}
        wanted: int | str = entry.get("id") or str(entry.get("name", ""))
        existing = state.find_stage(job_id, wanted)
        stage_id = existing["id"] if existing else record_id(state, entry, "stage")
        stage = state.stages.setdefault(stage_id, {
            "id": stage_id, "job_id": job_id, "name": f"Stage {stage_id}",
            "created_at": now, "updated_at": now, "active": True,
        })
        stage.update({k: entry[k] for k in ("name", "active") if k in entry})
        stage["priority"] = priority


def _hiring_team(state: SandboxState, team: JsonDict, raw: Any) -> None:
    if not isinstance(raw, dict):
        raise validation_error("hiring_team must be an object", "jobs.hiring_team")
    for role in ROLES:
        if role not in raw:
            continue
        members = []
        for entry in raw[role]:
            entry = entry if isinstance(entry, dict) else {"user_id": entry}
            if entry.get("user_id") not in state.users:
                raise validation_error(f"Unknown user {entry.get('user_id')!r}", role)
            member = {"user_id": entry["user_id"], "active": entry.get("active", True)}
            if role in ("recruiters", "coordinators"):
                member["responsible"] = entry.get("responsible", False)
            members.append(member)
        team[role] = members


def field_values(state: SandboxState, field_type: str, target: JsonDict, raw: Any) -> None:
    if not isinstance(raw, dict):
        raise validation_error("custom_fields must be an object of name_key: value", field_type)
    for key, value in raw.items():
        field = next((f for f in state.fields(field_type) if f["name_key"] == key), None)
        if field is None:
            raise validation_error(f"Unknown {field_type} custom field {key!r}", "custom_fields")
        if value is None:
            target.pop(key, None)
        else:
            target[key] = coerce_value(state, field, value)


def seed_job(state: SandboxState, item: JsonDict) -> int:
    job_id = record_id(state, item, "job")
    now = now_iso()
    job = state.jobs.setdefault(job_id, {
        "id": job_id, "name": f"Job {job_id}", "requisition_id": None, "notes": None,
        "confidential": False, "status": "open", "created_at": now, "opened_at": now,
        "closed_at": None, "updated_at": now, "department_ids": [], "office_ids": [],
        "custom_fields": {}, "hiring_team": {role: [] for role in ROLES},
    })
    job.update({k: item[k] for k in ("name", "requisition_id", "notes", "confidential",
                                      "status", "created_at", "opened_at") if k in item})
    if "departments" in item:
        job["department_ids"] = _org_units(state, state.departments, item["departments"],
                                           "department")
    if "offices" in item:
        job["office_ids"] = _org_units(state, state.offices, item["offices"], "office")
    if "stages" in item:
        _seed_stages(state, job_id, item["stages"])
    elif not state.job_stages(job_id):
        _seed_stages(state, job_id, ["Application Review"])
    if "hiring_team" in item:
        _hiring_team(state, job["hiring_team"], item["hiring_team"])
    if "custom_fields" in item:
        field_values(state, "job", job["custom_fields"], item["custom_fields"])
    return job_id


def contacts(raw: Any, default_type: str, key: str) -> list[JsonDict]:
    if not isinstance(raw, list):
        raise validation_error(f"{key} must be an array", key)
    result = []
    for entry in raw:
        entry = entry if isinstance(entry, dict) else {"value": str(entry)}
        result.append({"value": str(entry["value"]), "type": entry.get("type", default_type)})
    return result


def seed_attachment(state: SandboxState, item: JsonDict) -> JsonDict:
    """A file record from ``{filename, type, content_type?, content? (base64)}``."""
    content_type = str(item.get("content_type", "application/pdf"))
    try:
        data = base64.b64decode(item["content"], validate=True) if "content" in item else None
    except (binascii.Error, ValueError):
        raise validation_error("content must be base64", "attachments.content") from None
    filename = str(item.get("filename", "file.pdf"))
    if data is None:
        data = f"%PDF-1.4\n% sandbox placeholder for {filename}\n%%EOF\n".encode()
    return {
        "filename": filename, "type": str(item.get("type", "resume")),
        "content_type": content_type, "visibility": item.get("visibility", "public"),
        "size_bytes": len(data), "token": state.store_file(data, content_type),
        "created_at": item.get("created_at") or now_iso(),
    }
