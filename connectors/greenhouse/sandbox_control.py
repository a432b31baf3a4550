"""Control API of the Greenhouse sandbox (``/_sandbox/...``): no auth, JSON in and out.

Greenhouse has nothing like it: these routes let tests and demos act as a Greenhouse user
(move, reject, hire...; each sends its webhook), load data, inject faults and read back
what the integration did::

    POST /_sandbox/seed                               body: see sandbox_seed
    POST /_sandbox/applications/{id}/move             {"stage": "Reference Check"} | {"stage_id": N}
    POST /_sandbox/applications/{id}/reject           {"rejection_reason_id"?}
    POST /_sandbox/applications/{id}/hire             {"start_date"?}
    POST /_sandbox/applications/{id}/unreject | /unhire | /delete
    POST /_sandbox/applications/{id}/set-hiring-manager  {"user_id", "replace"?: true}
    GET  /_sandbox/applications/{id}/state
    POST /_sandbox/candidates/{id}/update             candidate fields (seed format)
    POST /_sandbox/candidates/{id}/merge              {"into": other candidate id}
    POST /_sandbox/candidates/{id}/anonymize          {"fields"?: [...]}
    POST /_sandbox/candidates/{id}/delete
    POST /_sandbox/ping
    GET  /_sandbox/writes | /_sandbox/calls | /_sandbox/webhooks
    POST /_sandbox/webhooks/{event_id}/redeliver
    GET  /_sandbox/config      POST /_sandbox/config   (see sandbox_runtime.CHECKS)
    POST /_sandbox/reset       {"config"?: false}
    POST /_sandbox/wait-idle   {"timeout"?: 10}
    GET  /_sandbox/files/{token}/{filename}
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from connectors.greenhouse import sandbox_lifecycle as lifecycle
from connectors.greenhouse.sandbox_http import Request, Response, route_not_found, serve_file
from connectors.greenhouse.sandbox_runtime import Runtime
from connectors.greenhouse.sandbox_seed import apply_seed
from connectors.greenhouse.sandbox_state import JsonDict, SandboxState, validation_error
from connectors.greenhouse.sandbox_views import file_url, stage_ref

Action = Callable[[Runtime, Request, str], Any]


def _body(request: Request) -> JsonDict:
    body = request.json()
    if not isinstance(body, dict):
        raise validation_error("The request body must be a JSON object", "body")
    return body


def application_state(state: SandboxState, app_id: int) -> JsonDict:
    """What the integration changed on one application, in one read."""
    with state.lock:
        app = state.application(app_id)
        notes = state.candidate_notes(app["candidate_id"])
        return {
            "application_id": app["id"],
            "candidate_id": app["candidate_id"],
            "job_id": app["job_id"],
            "status": app["status"],
            "current_stage": stage_ref(state, app["current_stage_id"]),
            "custom_fields": dict(app["custom_fields"]),
            "notes": [{k: n[k] for k in ("id", "body", "visibility", "user_id", "created_at")}
                      for n in notes],
            "attachments": [
                {"filename": a["filename"], "type": a["type"], "content_type": a["content_type"],
                 "visibility": a["visibility"], "size_bytes": a["size_bytes"],
                 "url": file_url(state, a)}
                for a in app["attachments"]
            ],
        }


def _move(rt: Runtime, request: Request, target: str) -> Any:
    body = _body(request)
    stage = body.get("stage_id", body.get("stage"))
    if not isinstance(stage, int | str) or isinstance(stage, bool):
        raise validation_error("Give stage (a name) or stage_id", "stage")
    return lifecycle.move(rt.state, int(target), stage)


def _set_hiring_manager(rt: Runtime, request: Request, target: str) -> Any:
    body = _body(request)
    return lifecycle.set_hiring_manager(rt.state, int(target), body.get("user_id"),
                                        bool(body.get("replace", True)))


def _wait_idle(rt: Runtime, request: Request, target: str) -> Any:
    timeout = _body(request).get("timeout", 10)
    if not isinstance(timeout, int | float) or isinstance(timeout, bool) or timeout < 0:
        raise validation_error("timeout must be a number of seconds", "timeout")
    return {"idle": rt.outbox.wait_idle(float(timeout))}


def _redeliver(rt: Runtime, request: Request, target: str) -> Any:
    if not rt.outbox.redeliver(target):
        raise validation_error(f"No event {target!r}", "event_id")
    return {"event_id": target}


def _reset(rt: Runtime, request: Request, target: str) -> Any:
    rt.reset(config=bool(_body(request).get("config", False)))
    return {"reset": True}


ID = r"(\d+)"
ROUTES: tuple[tuple[str, str, Action], ...] = (
    ("POST", "seed", lambda rt, rq, t: apply_seed(rt.state, rq.json())),
    ("POST", f"applications/{ID}/move", _move),
    ("POST", f"applications/{ID}/reject",
     lambda rt, rq, t: lifecycle.reject(rt.state, int(t), _body(rq))),
    ("POST", f"applications/{ID}/hire",
     lambda rt, rq, t: lifecycle.hire(rt.state, int(t), _body(rq))),
    ("POST", f"applications/{ID}/unreject", lambda rt, rq, t: lifecycle.unreject(rt.state, int(t))),
    ("POST", f"applications/{ID}/unhire", lambda rt, rq, t: lifecycle.unhire(rt.state, int(t))),
    ("POST", f"applications/{ID}/delete",
     lambda rt, rq, t: lifecycle.delete_application(rt.state, int(t))),
    ("POST", f"applications/{ID}/set-hiring-manager", _set_hiring_manager),
    ("GET", f"applications/{ID}/state", lambda rt, rq, t: application_state(rt.state, int(t))),
    ("POST", f"candidates/{ID}/update",
     lambda rt, rq, t: lifecycle.update_candidate(rt.state, int(t), _body(rq))),
    ("POST", f"candidates/{ID}/merge",
     lambda rt, rq, t: lifecycle.merge(rt.state, int(t), _body(rq).get("into"))),
    ("POST", f"candidates/{ID}/anonymize",
     lambda rt, rq, t: lifecycle.anonymize(rt.state, int(t), _body(rq).get("fields"))),
    ("POST", f"candidates/{ID}/delete",
     lambda rt, rq, t: lifecycle.delete_candidate(rt.state, int(t))),
    ("POST", "ping", lambda rt, rq, t: lifecycle.ping(rt.state, rt.config.web_hook_id)),
    ("GET", "writes", lambda rt, rq, t: rt.writes()),
    ("GET", "calls", lambda rt, rq, t: rt.call_log()),
    ("GET", "webhooks", lambda rt, rq, t: rt.outbox.attempts()),
    ("POST", "webhooks/([0-9a-f-]+)/redeliver", _redeliver),
    ("GET", "config", lambda rt, rq, t: rt.configure({})),
    ("POST", "config", lambda rt, rq, t: rt.configure(rq.json())),
    ("POST", "reset", _reset),
    ("POST", "wait-idle", _wait_idle),
)
COMPILED = tuple((m, re.compile(f"^/_sandbox/{p}/?$"), a) for m, p, a in ROUTES)


def handle(rt: Runtime, request: Request) -> Response:
    if request.path.startswith("/_sandbox/files/"):
        return serve_file(rt, request)
    for method, pattern, action in COMPILED:
        match = pattern.match(request.path)
        if match and method == request.method:
            target = match.group(1) if pattern.groups else ""
            return Response(200, action(rt, request, target))
    return route_not_found()
