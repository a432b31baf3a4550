"""Loading seed data into the Greenhouse sandbox (``POST /_sandbox/seed``).

A seed is one JSON object with optional lists, applied in this order and merged into what
is already there (an item whose ``id`` exists updates that record; without ``id`` a new one
is created)::

    {"sources": [{"id", "name"}],
     "custom_fields": [{"id", "name", "name_key", "field_type", "value_type", "options": [..]}],
     "users": [{"id", "first_name", "last_name", "email", "employee_id"}],
     "jobs": [{"id", "name", "departments": ["Consulting"], "offices": ["Remote"],
               "stages": ["Application Review", {"id": 7, "name": "Offer"}],
               "hiring_team": {"hiring_managers": [1004], "recruiters": [{"user_id": 1002,
                               "responsible": true}], "coordinators": [], "sourcers": []}}],
     "candidates": [{"id", "first_name", "last_name", "title", "company",
                     "email_addresses": ["a@example.com" | {"value", "type"}],
                     "phone_numbers": [...], "tags": [...], "recruiter_id", "coordinator_id",
                     "custom_fields": {"name_key": value}, "attachments": [{"filename", "type"}]}],
     "applications": [{"id", "candidate_id", "job_id", "stage": "Phone Screen" | "stage_id",
                       "status", "credited_to_id", "recruiter_id", "coordinator_id",
                       "source_id", "custom_fields": {...}}],
     "notify": false}

With ``"notify": true`` each newly created application sends ``new_candidate_application``.
Items are applied one by one; an invalid item answers 422 and stops there.
"""

from __future__ import annotations

from typing import Any

from connectors.greenhouse import sandbox_seed_records as records
from connectors.greenhouse.sandbox_state import (
    JsonDict,
    SandboxState,
    now_iso,
    validation_error,
)

SECTIONS = ("sources", "custom_fields", "users", "jobs", "candidates", "applications")


def _items(data: JsonDict, key: str) -> list[JsonDict]:
    items = data.get(key) or []
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise validation_error(f"{key} must be an array of objects", key)
    return items


def apply_seed(state: SandboxState, data: Any) -> JsonDict:
    """Merge ``data`` into ``state``; returns the ids touched, per kind."""
    if not isinstance(data, dict):
        raise validation_error("The seed must be a JSON object", "seed")
    result: JsonDict = {key: [] for key in SECTIONS}
    result["stages"] = {}
    created_apps: list[int] = []
    with state.lock:
        for item in _items(data, "sources"):
            result["sources"].append(records.seed_source(state, item))
        for item in _items(data, "custom_fields"):
            result["custom_fields"].append(records.seed_custom_field(state, item))
        for item in _items(data, "users"):
            result["users"].append(records.seed_user(state, item))
        for item in _items(data, "jobs"):
            job_id = records.seed_job(state, item)
            result["jobs"].append(job_id)
            result["stages"][str(job_id)] = [s["id"] for s in state.job_stages(job_id)]
        for item in _items(data, "candidates"):
            result["candidates"].append(_seed_candidate(state, item))
        for item in _items(data, "applications"):
            is_new = item.get("id") not in state.applications
            app_id = _seed_application(state, item)
            result["applications"].append(app_id)
            if is_new:
                created_apps.append(app_id)
        if data.get("notify"):
            _notify_new_applications(state, created_apps)
    return result


def _notify_new_applications(state: SandboxState, app_ids: list[int]) -> None:
    # Imported here: the payload module renders records and is not needed to load them.
    from connectors.greenhouse import sandbox_payloads as payloads

    for app_id in app_ids:
        payload = payloads.new_candidate_application(state, state.applications[app_id])
        state.emit("new_candidate_application", payload)


CANDIDATE_KEYS = (
    "first_name", "last_name", "company", "title", "is_private", "can_email", "tags",
    "addresses", "website_addresses", "social_media_addresses", "educations", "employments",
    "created_at",
)


def _seed_candidate(state: SandboxState, item: JsonDict) -> int:
    cand_id = records.record_id(state, item, "candidate")
    now = now_iso()
    cand = state.candidates.setdefault(cand_id, {
        "id": cand_id, "first_name": "Sandbox", "last_name": f"Candidate {cand_id}",
        "company": None, "title": None, "created_at": now, "updated_at": now,
        "last_activity": now, "is_private": False, "can_email": True, "phone_numbers": [],
        "email_addresses": [], "addresses": [], "website_addresses": [],
        "social_media_addresses": [], "educations": [], "employments": [],
        "recruiter_id": None, "coordinator_id": None, "tags": [], "custom_fields": {},
        "attachments": [],
    })
    cand.update({k: item[k] for k in CANDIDATE_KEYS if k in item})
    if "email_addresses" in item:
        cand["email_addresses"] = records.contacts(
            item["email_addresses"], "personal", "email_addresses")
    if "phone_numbers" in item:
        cand["phone_numbers"] = records.contacts(item["phone_numbers"], "mobile", "phone_numbers")
    for role in ("recruiter", "coordinator"):
        present, user_id = records.user_ref(state, item, f"{role}_id", role)
        if present:
            cand[f"{role}_id"] = user_id
    if "custom_fields" in item:
        records.field_values(state, "candidate", cand["custom_fields"], item["custom_fields"])
    for attachment in item.get("attachments") or []:
        cand["attachments"].append(records.seed_attachment(state, attachment))
    cand["updated_at"] = now
    return cand_id


def _new_application(state: SandboxState, app_id: int, item: JsonDict) -> JsonDict:
    cand = state.candidates.get(records.int_or_zero(item.get("candidate_id")))
    job = state.jobs.get(records.int_or_zero(item.get("job_id")))
    if cand is None:
        raise validation_error("candidate_id must name a seeded candidate", "candidate_id")
    if job is None:
        raise validation_error("job_id must name a seeded job", "job_id")
    now = now_iso()
    first_stage = state.job_stages(job["id"])[0]
    return {
        "id": app_id, "candidate_id": cand["id"], "job_id": job["id"], "prospect": False,
        "status": "active", "applied_at": now, "rejected_at": None, "last_activity_at": now,
        "current_stage_id": first_stage["id"], "stage_before_hire_id": None,
        "source_id": min(state.sources, default=None), "credited_to_id": None,
        "recruiter_id": cand["recruiter_id"], "coordinator_id": cand["coordinator_id"],
        "rejection_reason_id": None, "custom_fields": {}, "attachments": [], "offer": None,
    }


def _place_in_stage(state: SandboxState, app: JsonDict, item: JsonDict) -> None:
    wanted = item.get("stage_id", item.get("current_stage_id", item.get("stage")))
    if wanted is None:
        return
    stage = state.find_stage(app["job_id"], wanted)
    if stage is None:
        raise validation_error(f"Job {app['job_id']} has no stage {wanted!r}", "stage")
    app["current_stage_id"] = stage["id"]


def _set_status(state: SandboxState, app: JsonDict, status: Any) -> None:
    if status not in records.APPLICATION_STATUSES:
        raise validation_error(f"Unknown status {status!r}", "status")
    app["status"] = status
    if status == "rejected":
        app["rejected_at"] = app["rejected_at"] or now_iso()
        app["rejection_reason_id"] = app["rejection_reason_id"] or min(state.rejection_reasons)
    if status == "hired" and app["current_stage_id"] is not None:
        app["stage_before_hire_id"] = app["current_stage_id"]
        app["current_stage_id"] = None


def _seed_application(state: SandboxState, item: JsonDict) -> int:
    app_id = records.record_id(state, item, "application")
    app = state.applications.get(app_id)
    if app is None:
        app = state.applications[app_id] = _new_application(state, app_id, item)
    for key in ("applied_at", "last_activity_at", "source_id"):
        if key in item:
            app[key] = item[key]
    for role in ("credited_to", "recruiter", "coordinator"):
        present, user_id = records.user_ref(state, item, f"{role}_id", role)
        if present:
            app[f"{role}_id"] = user_id
    _place_in_stage(state, app, item)
    if "status" in item:
        _set_status(state, app, item["status"])
    if "custom_fields" in item:
        records.field_values(state, "application", app["custom_fields"], item["custom_fields"])
    return app_id
