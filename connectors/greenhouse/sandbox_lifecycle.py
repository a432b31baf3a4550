"""What a Greenhouse user does in the product, and the webhook each action sends.

These back the control API (``/_sandbox/...``) and the matching ``GreenhouseSandbox``
methods. State rules follow harvest/_applications.md: only active applications change
stage, get rejected or hired; only rejected ones are unrejected, only hired ones unhired
(Greenhouse answers ``{"errors": [{"message": ...}]}`` otherwise); a hired application has
no current stage. Anonymising follows the documented field list of
webhooks/_candidate_events.md for the fields the sandbox stores; merging moves the losing
candidate's applications, notes and files to the winner and deletes the loser.

Assumption: unhiring puts the application back in the stage it was hired from.
Every function returns JSON for the control API, with the webhook's ``event_id``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.greenhouse import sandbox_payloads as payloads
from connectors.greenhouse.sandbox_seed import apply_seed
from connectors.greenhouse.sandbox_state import (
    JsonDict,
    SandboxState,
    business_error,
    full_name,
    now_iso,
    validation_error,
)
from connectors.greenhouse.sandbox_views import application_json, candidate_json
from connectors.greenhouse.sandbox_writes import change_stage

DEFAULT_ANONYMIZED = (
    "full_name", "email_addresses", "phone_numbers", "current_title", "current_company",
    "addresses", "attachments", "notes",
)


def _answer(state: SandboxState, app: JsonDict, event_id: str | None) -> JsonDict:
    return {"application": application_json(state, app), "event_id": event_id}


def _require_status(app: JsonDict, status: str) -> None:
    if app["status"] != status:
        raise business_error(f"Application must be '{status}', is currently '{app['status']}'")


def _touch(state: SandboxState, app: JsonDict, subject: str) -> None:
    app["last_activity_at"] = now_iso()
    state.candidates[app["candidate_id"]]["last_activity"] = app["last_activity_at"]
    state.add_activity(app["candidate_id"], subject, None)


def move(state: SandboxState, app_id: int, stage: str | int) -> JsonDict:
    with state.lock:
        app = state.application(app_id)
        _require_status(app, "active")
        target = state.find_stage(app["job_id"], stage)
        if target is None:
            raise validation_error(f"Job {app['job_id']} has no stage {stage!r}", "stage")
        if target["id"] == app["current_stage_id"]:
            raise business_error(f"The application is already in {target['name']}")
        change_stage(state, app, target, user_id=None)
        event = state.emit("candidate_stage_change", payloads.stage_change(state, app))
        return _answer(state, app, event)


def reject(state: SandboxState, app_id: int, body: JsonDict) -> JsonDict:
    with state.lock:
        app = state.application(app_id)
        _require_status(app, "active")
        reason_id = body.get("rejection_reason_id", min(state.rejection_reasons))
        if reason_id not in state.rejection_reasons:
            raise validation_error(f"Unknown rejection reason {reason_id!r}",
                                   "rejection_reason_id")
        app.update(status="rejected", rejected_at=now_iso(), rejection_reason_id=reason_id)
        _touch(state, app, "Rejected")
        event = state.emit("reject_candidate", payloads.status_change(state, app))
        return _answer(state, app, event)


def unreject(state: SandboxState, app_id: int) -> JsonDict:
    with state.lock:
        app = state.application(app_id)
        _require_status(app, "rejected")
        app.update(status="active", rejected_at=None, rejection_reason_id=None)
        _touch(state, app, "Unrejected")
        event = state.emit("unreject_candidate", payloads.status_change(state, app))
        return _answer(state, app, event)


def hire(state: SandboxState, app_id: int, body: JsonDict) -> JsonDict:
    with state.lock:
        app = state.application(app_id)
        _require_status(app, "active")
        now = datetime.now(UTC)
        start = body.get("start_date") or (now + timedelta(days=30)).date().isoformat()
        app["offer"] = {
            "id": state.new_id(), "version": 1, "created_at": now_iso(),
            "sent_at": now.date().isoformat(), "resolved_at": now_iso(), "starts_at": start,
        }
        app.update(status="hired", stage_before_hire_id=app["current_stage_id"],
                   current_stage_id=None)
        _touch(state, app, "Hired")
        event = state.emit("hire_candidate", payloads.hire(state, app))
        return _answer(state, app, event)


def unhire(state: SandboxState, app_id: int) -> JsonDict:
    with state.lock:
        app = state.application(app_id)
        _require_status(app, "hired")
        stage_id = app.get("stage_before_hire_id") or state.job_stages(app["job_id"])[0]["id"]
        app.update(status="active", current_stage_id=stage_id, stage_before_hire_id=None)
        _touch(state, app, "Unhired")
        event = state.emit("unhire_candidate", payloads.status_change(state, app))
        return _answer(state, app, event)


def delete_application(state: SandboxState, app_id: int) -> JsonDict:
    with state.lock:
        app = state.application(app_id)
        del state.applications[app_id]
        event = state.emit("delete_application", payloads.delete_application(app))
        return {"deleted_application_id": app_id, "event_id": event}


def delete_candidate(state: SandboxState, cand_id: int) -> JsonDict:
    with state.lock:
        cand = state.candidate(cand_id)
        app_ids = [a["id"] for a in state.candidate_applications(cand_id)]
        for app_id in app_ids:
            del state.applications[app_id]
        state.notes = [n for n in state.notes if n["candidate_id"] != cand_id]
        del state.candidates[cand_id]
        event = state.emit("delete_candidate", payloads.delete_candidate(cand, app_ids))
        return {"deleted_candidate_id": cand_id, "deleted_application_ids": app_ids,
                "event_id": event}


def update_candidate(state: SandboxState, cand_id: int, body: JsonDict) -> JsonDict:
    """Change candidate fields as a user would (seed format, see ``sandbox_seed``)."""
    with state.lock:
        state.candidate(cand_id)
        fields = {k: v for k, v in body.items() if k not in ("id", "attachments")}
        apply_seed(state, {"candidates": [{**fields, "id": cand_id}]})
        cand = state.candidates[cand_id]
        event = state.emit("update_candidate", payloads.update_candidate(state, cand))
        return {"candidate": candidate_json(state, cand), "event_id": event}


def merge(state: SandboxState, cand_id: int, into: Any) -> JsonDict:
    """Merge candidate ``cand_id`` into ``into``; ``cand_id`` disappears."""
    with state.lock:
        loser = state.candidate(cand_id)
        if not isinstance(into, int) or into == cand_id or into not in state.candidates:
            raise validation_error("into must name another existing candidate", "into")
        winner = state.candidates[into]
        for app in state.candidate_applications(cand_id):
            app["candidate_id"] = into
        for note in state.candidate_notes(cand_id):
            note["candidate_id"] = into
        winner["attachments"].extend(loser["attachments"])
        del state.candidates[cand_id]
        event = state.emit("merge_candidate", payloads.merge_candidate(loser, into))
        return {"merged_candidate_id": cand_id, "candidate": candidate_json(state, winner),
                "event_id": event}


# Documented anonymize fields that empty a list on the candidate record.
ANONYMIZED_LISTS = {
    "email_addresses": "email_addresses", "phone_numbers": "phone_numbers",
    "addresses": "addresses", "websites": "website_addresses",
    "social_media_links": "social_media_addresses", "tags": "tags",
    "education": "educations", "employment": "employments",
}
# ... and those that clear a single candidate attribute.
ANONYMIZED_ATTRIBUTES = {
    "current_title": "title", "current_company": "company",
    "recruiter": "recruiter_id", "coordinator": "coordinator_id",
}


ANONYMIZABLE = frozenset({
    *ANONYMIZED_LISTS, *ANONYMIZED_ATTRIBUTES, "full_name", "custom_candidate_fields", "notes",
    "activity_items", "attachments", "custom_application_fields", "credited_to", "source",
})


def _anonymize_applications(state: SandboxState, cand: JsonDict, name: str) -> None:
    apps = state.candidate_applications(cand["id"])
    if name == "attachments":
        cand["attachments"] = []
        for app in apps:
            app["attachments"] = []
    elif name == "custom_application_fields":
        for app in apps:
            app["custom_fields"] = {}
    elif name in ("credited_to", "source"):
        for app in apps:
            app[f"{name}_id"] = None


def _anonymize_field(state: SandboxState, cand: JsonDict, name: str) -> None:
    if name in ANONYMIZED_LISTS:
        cand[ANONYMIZED_LISTS[name]] = []
    elif name in ANONYMIZED_ATTRIBUTES:
        cand[ANONYMIZED_ATTRIBUTES[name]] = None
    elif name == "full_name":
        cand["first_name"], cand["last_name"] = "Anonymized", str(cand["id"])
    elif name == "custom_candidate_fields":
        cand["custom_fields"] = {}
    elif name == "notes":
        state.notes = [n for n in state.notes if n["candidate_id"] != cand["id"]]
    elif name == "activity_items":
        state.activities = [a for a in state.activities if a["candidate_id"] != cand["id"]]
    else:
        _anonymize_applications(state, cand, name)


def anonymize(state: SandboxState, cand_id: int, fields: Any) -> JsonDict:
    names = list(DEFAULT_ANONYMIZED) if fields is None else fields
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise validation_error("fields must be an array of field names", "fields")
    unknown = sorted(set(names) - ANONYMIZABLE)
    if unknown:
        raise validation_error(f"Fields the sandbox can't anonymize: {unknown}", "fields")
    with state.lock:
        cand = state.candidate(cand_id)
        for name in names:
            _anonymize_field(state, cand, name)
        cand["updated_at"] = now_iso()
        event = state.emit("candidate_anonymized",
                           payloads.candidate_anonymized(cand_id, names))
        return {"candidate": candidate_json(state, cand), "event_id": event}


def set_hiring_manager(state: SandboxState, app_id: int, user_id: Any, replace: bool) -> JsonDict:
    """Make ``user_id`` a hiring manager of the application's job (no webhook)."""
    with state.lock:
        app = state.application(app_id)
        if user_id not in state.users:
            raise validation_error(f"User {user_id!r} does not exist", "user_id")
        team = state.jobs[app["job_id"]]["hiring_team"]
        others = [] if replace else [m for m in team["hiring_managers"]
                                     if m["user_id"] != user_id]
        team["hiring_managers"] = [{"user_id": user_id, "active": True}, *others]
        user = state.users[user_id]
        return {"job_id": app["job_id"], "hiring_managers": team["hiring_managers"],
                "name": full_name(user)}


def ping(state: SandboxState, web_hook_id: int) -> JsonDict:
    return {"event_id": state.emit("ping", payloads.ping(web_hook_id))}
