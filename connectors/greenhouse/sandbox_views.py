"""Harvest response shapes for the Greenhouse sandbox's records.

Faithful to grnhse/greenhouse-api-docs ``source/includes/harvest``: the application object
(``_applications.md``, including ``recruiter``/``coordinator`` added in June 2025), the
candidate object (``_candidates.md``), the job object with its ``hiring_team``
(``_jobs.md``), job stages (``_job_stages.md``), users (``_users.md``), custom fields
(``_custom_fields.md``), notes and the activity feed (``_candidates.md``). Harvest v3 is
assumed to use the same shapes. Callers hold ``state.lock``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from connectors.greenhouse.sandbox_fields import keyed_values, plain_values
from connectors.greenhouse.sandbox_state import JsonDict, SandboxState, full_name

PROSPECT_DETAIL: JsonDict = {"prospect_pool": None, "prospect_stage": None, "prospect_owner": None}


def user_ref(state: SandboxState, user_id: int | None) -> JsonDict | None:
    """The short user object Harvest nests (recruiter, coordinator, credited_to...)."""
    user = state.users.get(user_id) if user_id is not None else None
    if user is None:
        return None
    return {
        "id": user["id"],
        "first_name": user["first_name"],
        "last_name": user["last_name"],
        "name": full_name(user),
        "employee_id": user.get("employee_id"),
    }


def user_json(user: JsonDict) -> JsonDict:
    return {
        "id": user["id"],
        "name": full_name(user),
        "first_name": user["first_name"],
        "last_name": user["last_name"],
        "primary_email_address": user["primary_email_address"],
        "updated_at": user["updated_at"],
        "created_at": user["created_at"],
        "disabled": user["disabled"],
        "site_admin": user["site_admin"],
        "emails": list(user["emails"]),
        "employee_id": user.get("employee_id"),
        "linked_candidate_ids": [],
        "offices": [],
        "departments": [],
    }


def file_url(state: SandboxState, attachment: JsonDict) -> str:
    """Download link served by the sandbox (Greenhouse gives 7-day signed S3 links)."""
    return f"{state.base_url}_sandbox/files/{attachment['token']}/{quote(attachment['filename'])}"


def attachment_json(state: SandboxState, attachment: JsonDict) -> JsonDict:
    return {
        "filename": attachment["filename"],
        "url": file_url(state, attachment),
        "type": attachment["type"],
        "created_at": attachment["created_at"],
    }


def stage_ref(state: SandboxState, stage_id: int | None) -> JsonDict | None:
    stage = state.stages.get(stage_id) if stage_id is not None else None
    return None if stage is None else {"id": stage["id"], "name": stage["name"]}


def rejection_reason(state: SandboxState, app: JsonDict) -> JsonDict | None:
    reason = state.rejection_reasons.get(app.get("rejection_reason_id") or 0)
    return None if reason is None else dict(reason)


def application_json(state: SandboxState, app: JsonDict) -> JsonDict:
    job = state.jobs.get(app["job_id"])
    source = state.sources.get(app.get("source_id") or 0)
    rejected = app["status"] == "rejected"
    return {
        "id": app["id"],
        "candidate_id": app["candidate_id"],
        "prospect": app["prospect"],
        "applied_at": app["applied_at"],
        "rejected_at": app["rejected_at"],
        "last_activity_at": app["last_activity_at"],
        "location": None,
        "source": None if source is None else {"id": source["id"], "public_name": source["name"]},
        "credited_to": user_ref(state, app.get("credited_to_id")),
        "recruiter": user_ref(state, app.get("recruiter_id")),
        "coordinator": user_ref(state, app.get("coordinator_id")),
        "rejection_reason": rejection_reason(state, app),
        "rejection_details": (
            {"custom_fields": {}, "keyed_custom_fields": {}} if rejected else None
        ),
        "jobs": [] if job is None else [{"id": job["id"], "name": job["name"]}],
        "job_post_id": None,
        "status": app["status"],
        "current_stage": stage_ref(state, app.get("current_stage_id")),
        "answers": [],
        "prospective_office": None,
        "prospective_department": None,
        "prospect_detail": dict(PROSPECT_DETAIL),
        "custom_fields": plain_values(state, "application", app["custom_fields"]),
        "keyed_custom_fields": keyed_values(state, "application", app["custom_fields"]),
        "attachments": [attachment_json(state, a) for a in app["attachments"]],
    }


def candidate_attachments(state: SandboxState, cand: JsonDict) -> list[JsonDict]:
    """The candidate's own files followed by those of each of their applications."""
    files = list(cand["attachments"])
    for app in state.candidate_applications(cand["id"]):
        files.extend(app["attachments"])
    return files


def candidate_json(state: SandboxState, cand: JsonDict) -> JsonDict:
    apps = state.candidate_applications(cand["id"])
    return {
        "id": cand["id"],
        "first_name": cand["first_name"],
        "last_name": cand["last_name"],
        "company": cand["company"],
        "title": cand["title"],
        "created_at": cand["created_at"],
        "updated_at": cand["updated_at"],
        "last_activity": cand["last_activity"],
        "is_private": cand["is_private"],
        "photo_url": None,
        "attachments": [attachment_json(state, a) for a in candidate_attachments(state, cand)],
        "application_ids": [a["id"] for a in apps],
        "phone_numbers": [dict(p) for p in cand["phone_numbers"]],
        "addresses": [dict(a) for a in cand["addresses"]],
        "email_addresses": [dict(e) for e in cand["email_addresses"]],
        "website_addresses": [dict(w) for w in cand["website_addresses"]],
        "social_media_addresses": [dict(s) for s in cand["social_media_addresses"]],
        "recruiter": user_ref(state, cand.get("recruiter_id")),
        "coordinator": user_ref(state, cand.get("coordinator_id")),
        "can_email": cand["can_email"],
        "tags": list(cand["tags"]),
        "applications": [application_json(state, a) for a in apps],
        "educations": [dict(e) for e in cand["educations"]],
        "employments": [dict(e) for e in cand["employments"]],
        "linked_user_ids": [],
        "custom_fields": plain_values(state, "candidate", cand["custom_fields"]),
        "keyed_custom_fields": keyed_values(state, "candidate", cand["custom_fields"]),
    }


def _team_member(state: SandboxState, member: JsonDict, with_responsible: bool) -> JsonDict:
    ref = user_ref(state, member["user_id"]) or {"id": member["user_id"]}
    if with_responsible:
        ref["responsible"] = member.get("responsible", False)
    return ref


def job_hiring_team_inline(state: SandboxState, job: JsonDict) -> JsonDict:
    """``hiring_team`` as embedded in the job object (user objects, active members only)."""
    team = job["hiring_team"]
    result: JsonDict = {}
    for role in ("hiring_managers", "recruiters", "coordinators", "sourcers"):
        responsible = role in ("recruiters", "coordinators")
        result[role] = [
            _team_member(state, m, responsible) for m in team[role] if m.get("active", True)
        ]
    return result


def hiring_team_json(job: JsonDict) -> JsonDict:
    """``GET /v1/jobs/{id}/hiring_team``: user ids with active/responsible flags."""
    team = job["hiring_team"]
    result: JsonDict = {}
    for role in ("hiring_managers", "recruiters", "coordinators", "sourcers"):
        members = []
        for member in team[role]:
            entry: JsonDict = {"user_id": member["user_id"], "active": member.get("active", True)}
            if role in ("recruiters", "coordinators"):
                entry["responsible"] = member.get("responsible", False)
            members.append(entry)
        result[role] = members
    return result


def department_json(dept: JsonDict) -> JsonDict:
    return {
        "id": dept["id"],
        "name": dept["name"],
        "parent_id": None,
        "child_ids": [],
        "external_id": dept.get("external_id"),
    }


def office_json(office: JsonDict) -> JsonDict:
    return {
        "id": office["id"],
        "name": office["name"],
        "location": {"name": office.get("location")},
        "primary_contact_user_id": None,
        "parent_id": None,
        "child_ids": [],
        "external_id": office.get("external_id"),
    }


def job_json(state: SandboxState, job: JsonDict) -> JsonDict:
    return {
        "id": job["id"],
        "name": job["name"],
        "requisition_id": job["requisition_id"],
        "notes": job["notes"],
        "confidential": job["confidential"],
        "status": job["status"],
        "created_at": job["created_at"],
        "opened_at": job["opened_at"],
        "closed_at": job["closed_at"],
        "updated_at": job["updated_at"],
        "is_template": False,
        "copied_from_id": None,
        "departments": [department_json(state.departments[d]) for d in job["department_ids"]],
        "offices": [office_json(state.offices[o]) for o in job["office_ids"]],
        "custom_fields": plain_values(state, "job", job["custom_fields"]),
        "keyed_custom_fields": keyed_values(state, "job", job["custom_fields"]),
        "hiring_team": job_hiring_team_inline(state, job),
        "openings": [],
    }


def stage_json(stage: JsonDict) -> JsonDict:
    return {
        "id": stage["id"],
        "name": stage["name"],
        "created_at": stage["created_at"],
        "updated_at": stage["updated_at"],
        "job_id": stage["job_id"],
        "priority": stage["priority"],
        "active": stage["active"],
        "interviews": [],
    }


def custom_field_json(field: JsonDict) -> JsonDict:
    return {key: value for key, value in field.items() if not key.startswith("_")}


def note_json(state: SandboxState, note: JsonDict) -> JsonDict:
    # ``visiblity`` is a legacy misspelling Greenhouse still returns next to ``visibility``.
    return {
        "id": note["id"],
        "created_at": note["created_at"],
        "body": note["body"],
        "user": user_ref(state, note["user_id"]),
        "private": note["visibility"] != "public",
        "visiblity": note["visibility"],
        "visibility": note["visibility"],
    }


def activity_feed_json(state: SandboxState, candidate_id: int) -> JsonDict:
    """Newest first, like the product's activity feed."""
    notes = [note_json(state, n) for n in reversed(state.candidate_notes(candidate_id))]
    activities: list[Any] = [
        {
            "id": a["id"],
            "created_at": a["created_at"],
            "subject": a["subject"],
            "body": a["body"],
            "user": user_ref(state, a["user_id"]),
        }
        for a in reversed(state.activities)
        if a["candidate_id"] == candidate_id
    ]
    return {"notes": notes, "emails": [], "activities": activities}
