"""Webhook payloads the Greenhouse sandbox sends (the ``payload`` half of the envelope).

Faithful to grnhse/greenhouse-api-docs ``source/includes/webhooks``:

- ``candidate_stage_change``, ``reject_candidate``, ``unreject_candidate``,
  ``unhire_candidate``, ``hire_candidate``: ``{"application": {...}}`` with the candidate
  and ``jobs[]`` nested, custom fields keyed ``{name_key: {name, type, value}}``, users as
  ``{id, email, name, employee_id}``. The documented examples name the source
  ``{id, name}`` for stage changes and new applications but ``{id, public_name}`` for
  reject/unreject/hire/unhire; the sandbox reproduces that difference on purpose.
  ``hire_candidate`` adds ``offer`` and ``opening``; a hired application has no stage.
- ``new_candidate_application``: adds ``prospect_detail`` and, per job, ``url`` and
  ``hiring_team`` (``{user_id, employee_id}`` per member).
- ``delete_application``: the flat application record the docs show (ids, dates).
- ``delete_candidate``: ``{"person": {...}}`` with ``deleted_application_ids``.
- ``merge_candidate``: ``{"person": {...}}`` of the candidate merged away, plus
  ``new_candidate_id`` (the winning record), as documented; ``deleted_application_ids``
  is empty because the applications move to the winner.
- ``update_candidate``: ``{"candidate": {...}}``.
- ``candidate_anonymized``: ``{"candidate_id", "anonymized_fields"}``.

Assumption (undocumented): ``ping`` is ``{"web_hook_id": N}``.
Callers hold ``state.lock``.
"""

from __future__ import annotations

from connectors.greenhouse.sandbox_fields import keyed_values
from connectors.greenhouse.sandbox_state import JsonDict, SandboxState, full_name
from connectors.greenhouse.sandbox_views import candidate_attachments, file_url, rejection_reason

APP_URL = "https://app.greenhouse.io"


def webhook_user(state: SandboxState, user_id: int | None) -> JsonDict | None:
    user = state.users.get(user_id) if user_id is not None else None
    if user is None:
        return None
    return {
        "id": user["id"],
        "email": user["primary_email_address"],
        "name": full_name(user),
        "employee_id": user.get("employee_id"),
    }


def candidate_payload(state: SandboxState, cand: JsonDict) -> JsonDict:
    return {
        "id": cand["id"],
        "first_name": cand["first_name"],
        "last_name": cand["last_name"],
        "title": cand["title"],
        "company": cand["company"],
        "created_at": cand["created_at"],
        "external_id": None,
        "photo_url": None,
        "url": f"{APP_URL}/people/{cand['id']}",
        "is_private": cand["is_private"],
        "can_email": cand["can_email"],
        "phone_numbers": [dict(p) for p in cand["phone_numbers"]],
        "email_addresses": [dict(e) for e in cand["email_addresses"]],
        "addresses": [dict(a) for a in cand["addresses"]],
        "website_addresses": [dict(w) for w in cand["website_addresses"]],
        "social_media_addresses": [dict(s) for s in cand["social_media_addresses"]],
        "educations": [dict(e) for e in cand["educations"]],
        "employments": [dict(e) for e in cand["employments"]],
        "recruiter": webhook_user(state, cand.get("recruiter_id")),
        "coordinator": webhook_user(state, cand.get("coordinator_id")),
        "attachments": [
            {"filename": a["filename"], "url": file_url(state, a), "type": a["type"]}
            for a in candidate_attachments(state, cand)
        ],
        "tags": list(cand["tags"]),
        "custom_fields": keyed_values(state, "candidate", cand["custom_fields"], webhook=True),
    }


def _hiring_team(state: SandboxState, job: JsonDict) -> JsonDict:
    team: JsonDict = {}
    for role, members in job["hiring_team"].items():
        team[role] = [
            {
                "user_id": m["user_id"],
                "employee_id": (state.users.get(m["user_id"]) or {}).get("employee_id"),
            }
            for m in members
            if m.get("active", True)
        ]
    return team


def job_payload(state: SandboxState, job: JsonDict, *, with_team: bool = False) -> JsonDict:
    payload: JsonDict = {
        "id": job["id"],
        "name": job["name"],
        "requisition_id": job["requisition_id"],
        "notes": job["notes"],
        "confidential": job["confidential"],
        "job_post_id": None,
        "status": job["status"],
        "created_at": job["created_at"],
        "opened_at": job["opened_at"],
        "closed_at": job["closed_at"],
        "departments": [
            {"id": d["id"], "name": d["name"], "external_id": d.get("external_id")}
            for d in (state.departments[i] for i in job["department_ids"])
        ],
        "offices": [
            {"id": o["id"], "name": o["name"], "location": o.get("location"),
             "external_id": o.get("external_id")}
            for o in (state.offices[i] for i in job["office_ids"])
        ],
        "custom_fields": keyed_values(state, "job", job["custom_fields"], webhook=True),
    }
    if with_team:
        payload["url"] = f"{APP_URL}/sdash/{job['id']}"
        payload["hiring_team"] = _hiring_team(state, job)
    return payload


def application_payload(
    state: SandboxState, app: JsonDict, *, source_key: str = "name", with_team: bool = False
) -> JsonDict:
    stage = state.stages.get(app.get("current_stage_id") or 0)
    source = state.sources.get(app.get("source_id") or 0)
    job = state.jobs.get(app["job_id"])
    rejected = app["status"] == "rejected"
    return {
        "id": app["id"],
        "rejected_at": app["rejected_at"],
        "prospect": app["prospect"],
        "status": app["status"],
        "applied_at": app["applied_at"],
        "last_activity_at": app["last_activity_at"],
        "url": f"{APP_URL}/people/{app['candidate_id']}?application_id={app['id']}",
        "source": None if source is None else {"id": source["id"], source_key: source["name"]},
        "credited_to": webhook_user(state, app.get("credited_to_id")),
        "rejection_reason": rejection_reason(state, app),
        "rejection_details": {"custom_fields": {}} if rejected else None,
        "current_stage": (
            None if stage is None
            else {"id": stage["id"], "name": stage["name"], "interviews": []}
        ),
        "custom_fields": keyed_values(state, "application", app["custom_fields"], webhook=True),
        "candidate": candidate_payload(state, state.candidates[app["candidate_id"]]),
        "jobs": [] if job is None else [job_payload(state, job, with_team=with_team)],
    }


def stage_change(state: SandboxState, app: JsonDict) -> JsonDict:
    return {"application": application_payload(state, app)}


def status_change(state: SandboxState, app: JsonDict) -> JsonDict:
    """reject_candidate, unreject_candidate and unhire_candidate."""
    return {"application": application_payload(state, app, source_key="public_name")}


def hire(state: SandboxState, app: JsonDict) -> JsonDict:
    payload = application_payload(state, app, source_key="public_name")
    offer = app.get("offer") or {}
    payload["offer"] = {
        "id": offer.get("id"),
        "version": offer.get("version", 1),
        "created_at": offer.get("created_at"),
        "sent_at": offer.get("sent_at"),
        "resolved_at": offer.get("resolved_at"),
        "starts_at": offer.get("starts_at"),
        "custom_fields": {},
    }
    payload["opening"] = {"opening_id": None, "custom_fields": []}
    return {"application": payload}


def new_candidate_application(state: SandboxState, app: JsonDict) -> JsonDict:
    payload = application_payload(state, app, with_team=True)
    payload["prospect_detail"] = {
        "prospect_pool": None, "prospect_stage": None, "prospect_owner": None,
    }
    return {"application": payload}


def delete_application(app: JsonDict, rejected_by_user_id: int | None = None) -> JsonDict:
    return {
        "application": {
            "id": app["id"],
            "candidate_id": app["candidate_id"],
            "job_id": app["job_id"],
            "created_at": app["applied_at"],
            "source_id": app.get("source_id"),
            "candidate_rejection_reason_id": app.get("rejection_reason_id"),
            "rejection_note_id": None,
            "rejected_at": app["rejected_at"],
            "referrer_id": app.get("credited_to_id"),
            "prospect": app["prospect"],
            "rejected_by_user_id": rejected_by_user_id,
        }
    }


def person(cand: JsonDict) -> JsonDict:
    return {
        "id": cand["id"],
        "first_name": cand["first_name"],
        "last_name": cand["last_name"],
        "company": cand["company"],
        "title": cand["title"],
        "created_at": cand["created_at"],
        "headline": None,
        "is_private": cand["is_private"],
        "recruiter_user_id": cand.get("recruiter_id"),
        "coordinator_user_id": cand.get("coordinator_id"),
        "can_email": cand["can_email"],
    }


def delete_candidate(cand: JsonDict, deleted_application_ids: list[int]) -> JsonDict:
    return {"person": {**person(cand), "deleted_application_ids": deleted_application_ids}}


def merge_candidate(loser: JsonDict, winner_id: int) -> JsonDict:
    return {
        "person": {**person(loser), "deleted_application_ids": [], "new_candidate_id": winner_id}
    }


def update_candidate(state: SandboxState, cand: JsonDict) -> JsonDict:
    return {"candidate": candidate_payload(state, cand)}


def candidate_anonymized(candidate_id: int, fields: list[str]) -> JsonDict:
    return {"candidate_id": candidate_id, "anonymized_fields": list(fields)}


def ping(web_hook_id: int) -> JsonDict:
    return {"web_hook_id": web_hook_id}
