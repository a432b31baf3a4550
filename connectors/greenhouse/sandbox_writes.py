"""Harvest write endpoints of the Greenhouse sandbox: what each one changes.

Faithful to harvest/_applications.md and _candidates.md:

- ``PATCH applications/{id}`` and ``PATCH candidates/{id}`` take ``custom_fields[]`` (see
  ``sandbox_fields``); applications of status active, rejected or hired can be updated.
- A note needs ``user_id``, ``body`` and ``visibility`` (admin_only, private, public); the
  answer keeps the legacy ``visiblity`` key. Notes belong to the candidate.
- Application attachments live in ``sandbox_attachments``.
- ``move`` needs ``from_stage_id`` (the current stage) and ``to_stage_id`` on the same
  job, for active applications only; ``advance`` goes to the next stage.

Assumptions: a stale ``from_stage_id``, a stage of another job, an inactive stage or a
non-active application answer 422 with a ``field``; a stage move made through the API
sends ``candidate_stage_change`` like one made in the product (switchable by
configuration, ``api_move_webhooks``).
"""

from __future__ import annotations

from typing import Any

from connectors.greenhouse import sandbox_payloads as payloads
from connectors.greenhouse.sandbox_fields import apply_items
from connectors.greenhouse.sandbox_state import (
    JsonDict,
    SandboxState,
    now_iso,
    validation_error,
)
from connectors.greenhouse.sandbox_views import application_json, candidate_json, note_json

VISIBILITIES = ("admin_only", "private", "public")


def json_object(body: Any) -> JsonDict:
    if not isinstance(body, dict):
        raise validation_error("The request body must be a JSON object", "body")
    return body


def int_param(body: JsonDict, key: str, *, required: bool = True) -> int | None:
    value = body.get(key)
    if value is None and not required:
        return None
    if isinstance(value, str) and value.isdigit():
        return int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise validation_error(f"{key} must be an integer", key)
    return value


def _log_field_changes(
    state: SandboxState, changes: list[tuple[JsonDict, Any, bool]], **where: Any
) -> None:
    for field, value, deleted in changes:
        state.record_write(
            "custom_fields", name_key=field["name_key"], field_id=field["id"],
            value=value, deleted=deleted, **where,
        )


def _user_param(state: SandboxState, body: JsonDict, key: str) -> int | None:
    value = int_param(body, key, required=False)
    if value is not None and value not in state.users:
        raise validation_error(f"User {value} does not exist", key)
    return value


def update_application(
    state: SandboxState, app_id: int, body: Any, *, actor: int | None, api: str
) -> JsonDict:
    body = json_object(body)
    with state.lock:
        app = state.application(app_id)
        if app["status"] not in ("active", "rejected", "hired"):
            raise validation_error("This application can't be updated", "status")
        people = {k: _user_param(state, body, k) for k in ("recruiter_id", "coordinator_id")
                  if k in body}
        source_id = int_param(body, "source_id", required=False)
        if source_id is not None and source_id not in state.sources:
            raise validation_error(f"Source {source_id} does not exist", "source_id")
        changes = apply_items(state, "application", app["custom_fields"],
                              body.get("custom_fields", []))
        app.update(people)
        if source_id is not None:
            app["source_id"] = source_id
        if changes or people or source_id is not None:
            app["last_activity_at"] = now_iso()
        _log_field_changes(state, changes, api=api, target="application",
                           application_id=app_id, candidate_id=app["candidate_id"],
                           acting_user_id=actor)
        return application_json(state, app)


CANDIDATE_TEXT = ("first_name", "last_name", "company", "title")


def _candidate_changes(body: JsonDict) -> JsonDict:
    changes: JsonDict = {}
    for key in CANDIDATE_TEXT:
        if key in body:
            if body[key] is not None and not isinstance(body[key], str):
                raise validation_error(f"{key} must be a string", key)
            changes[key] = body[key]
    if "is_private" in body:
        if not isinstance(body["is_private"], bool):
            raise validation_error("is_private must be true or false", "is_private")
        changes["is_private"] = body["is_private"]
    if "tags" in body:
        tags = body["tags"]
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise validation_error("tags must be an array of strings", "tags")
        changes["tags"] = list(tags)
    return changes


def update_candidate(
    state: SandboxState, cand_id: int, body: Any, *, actor: int | None, api: str
) -> JsonDict:
    body = json_object(body)
    with state.lock:
        cand = state.candidate(cand_id)
        plain = _candidate_changes(body)
        changes = apply_items(state, "candidate", cand["custom_fields"],
                              body.get("custom_fields", []))
        cand.update(plain)
        if plain or changes:
            cand["updated_at"] = cand["last_activity"] = now_iso()
        if plain:
            state.record_write("candidate_update", api=api, application_id=None,
                               candidate_id=cand_id, acting_user_id=actor, fields=plain)
        _log_field_changes(state, changes, api=api, target="candidate", application_id=None,
                           candidate_id=cand_id, acting_user_id=actor)
        return candidate_json(state, cand)


def add_note(
    state: SandboxState, cand_id: int, body: Any, *, actor: int | None, api: str
) -> JsonDict:
    body = json_object(body)
    with state.lock:
        cand = state.candidate(cand_id)
        user_id = int_param(body, "user_id")
        if user_id not in state.users:
            raise validation_error(f"User {user_id} does not exist", "user_id")
        text = body.get("body")
        if not isinstance(text, str) or not text.strip():
            raise validation_error("body can't be blank", "body")
        visibility = body.get("visibility")
        if visibility not in VISIBILITIES:
            raise validation_error("visibility must be admin_only, private or public",
                                   "visibility")
        note = {"id": state.new_id(), "candidate_id": cand_id, "created_at": now_iso(),
                "body": text, "user_id": user_id, "visibility": visibility}
        state.notes.append(note)
        cand["last_activity"] = note["created_at"]
        state.record_write("note", api=api, application_id=None, candidate_id=cand_id,
                           acting_user_id=actor, note_id=note["id"], user_id=user_id,
                           body=text, visibility=visibility)
        return note_json(state, note)


def change_stage(
    state: SandboxState, app: JsonDict, stage: JsonDict, *, user_id: int | None
) -> JsonDict:
    """Put ``app`` in ``stage``; returns the stage it left. Caller holds the lock."""
    old = state.stages[app["current_stage_id"]]
    app["current_stage_id"] = stage["id"]
    app["last_activity_at"] = now_iso()
    state.candidates[app["candidate_id"]]["last_activity"] = app["last_activity_at"]
    job = state.jobs[app["job_id"]]
    subject = f"Moved from {old['name']} to {stage['name']} on {job['name']}"
    state.add_activity(app["candidate_id"], subject, user_id)
    return old


def _target_stage(state: SandboxState, app: JsonDict, body: JsonDict, advance: bool) -> JsonDict:
    stages = state.job_stages(app["job_id"])
    if advance:
        current = state.stages[app["current_stage_id"]]["priority"]
        later = [s for s in stages if s["priority"] > current and s["active"]]
        if not later:
            raise validation_error("The application is already in the last stage", "from_stage_id")
        return later[0]
    to_id = int_param(body, "to_stage_id")
    stage = next((s for s in stages if s["id"] == to_id), None)
    if stage is None:
        raise validation_error(f"Stage {to_id} is not a stage of this job", "to_stage_id")
    if not stage["active"]:
        raise validation_error(f"Stage {to_id} is not active", "to_stage_id")
    return stage


def move_application(
    state: SandboxState, app_id: int, body: Any, *, actor: int | None, api: str,
    advance: bool = False, notify: bool = True,
) -> JsonDict:
    """``move`` (``advance=True``: ``advance``, or a v3 move without ``to_stage_id``)."""
    body = json_object(body)
    from_id = int_param(body, "from_stage_id")
    with state.lock:
        app = state.application(app_id)
        if app["status"] != "active" or app["current_stage_id"] is None:
            raise validation_error("Only active applications can be moved", "status")
        if from_id != app["current_stage_id"]:
            raise validation_error(
                f"The application is not in stage {from_id}", "from_stage_id")
        stage = _target_stage(state, app, body, advance)
        if stage["id"] == app["current_stage_id"]:
            return application_json(state, app)
        old = change_stage(state, app, stage, user_id=actor)
        state.record_write("stage_move", api=api, application_id=app_id,
                           candidate_id=app["candidate_id"], acting_user_id=actor,
                           from_stage_id=old["id"], from_stage_name=old["name"],
                           to_stage_id=stage["id"], to_stage_name=stage["name"])
        if notify:
            state.emit("candidate_stage_change", payloads.stage_change(state, app))
        return application_json(state, app)
