"""Harvest v1 and v3 endpoints of the Greenhouse sandbox.

v1 paths are Greenhouse's documented ones. v3 paths are an assumption built from the
v3 migration guides (its write routes are not fully documented): the same resources and
shapes under ``/v3``, cursor pagination, notes as their own resource, and these routes::

    GET   /v3/applications, /v3/applications/{id}     PATCH /v3/applications/{id}
    POST  /v3/applications/{id}/attachments           POST  /v3/applications/{id}/move
    GET   /v3/candidates, /v3/candidates/{id}         PATCH /v3/candidates/{id}
    GET   /v3/jobs, /v3/jobs/{id}, /v3/jobs/{id}/hiring_team, /v3/job_stages?job_id=N
    GET   /v3/users, /v3/users/{id}
    GET   /v3/notes?candidate_id=N                    POST  /v3/notes

A v3 move without ``to_stage_id`` advances to the next stage (as the v3 write guide
describes); a v3 note's ``user_id`` defaults to the token's user.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from connectors.greenhouse import sandbox_attachments as attachments
from connectors.greenhouse import sandbox_views as views
from connectors.greenhouse import sandbox_writes as writes
from connectors.greenhouse.sandbox_http import Request, Response
from connectors.greenhouse.sandbox_paging import page_v1, page_v3
from connectors.greenhouse.sandbox_runtime import Runtime
from connectors.greenhouse.sandbox_state import JsonDict, SandboxState, validation_error

PAGING_PARAMS = ("page", "per_page", "skip_count")


@dataclass
class ApiCall:
    request: Request
    version: str  # "v1" or "v3"
    ids: tuple[int, ...]
    actor: int | None  # v1: On-Behalf-Of user on writes; v3: the token's user

    @property
    def id(self) -> int:
        return self.ids[0]


Handler = Callable[[Runtime, ApiCall], Response]
Selector = Callable[[SandboxState, dict[str, str]], list[JsonDict]]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    versions: tuple[str, ...]


def _int(value: str | None) -> int | None:
    return int(value) if value is not None and value.isdigit() else None


def _after(stamp: str, bound: str | None) -> bool:
    if bound is None:
        return True
    try:
        return datetime.fromisoformat(stamp) >= datetime.fromisoformat(bound)
    except ValueError:
        return False


def select_applications(state: SandboxState, f: dict[str, str]) -> list[JsonDict]:
    apps = sorted(state.applications.values(), key=lambda a: a["id"])
    if "job_id" in f:
        apps = [a for a in apps if a["job_id"] == _int(f["job_id"])]
    if "candidate_id" in f:
        apps = [a for a in apps if a["candidate_id"] == _int(f["candidate_id"])]
    if "status" in f:  # an unknown status gives an empty list, not an error
        apps = [a for a in apps if a["status"] == f["status"]]
    apps = [a for a in apps if _after(a["applied_at"], f.get("created_after"))
            and _after(a["last_activity_at"], f.get("last_activity_after"))]
    return [views.application_json(state, a) for a in apps]


def select_candidates(state: SandboxState, f: dict[str, str]) -> list[JsonDict]:
    cands = sorted(state.candidates.values(), key=lambda c: c["id"])
    if "candidate_ids" in f:
        wanted = {_int(x.strip()) for x in f["candidate_ids"].split(",")}
        cands = [c for c in cands if c["id"] in wanted]
    if "job_id" in f:
        on_job = {a["candidate_id"] for a in state.applications.values()
                  if a["job_id"] == _int(f["job_id"])}
        cands = [c for c in cands if c["id"] in on_job]
    if "email" in f:
        email = f["email"].casefold()
        cands = [c for c in cands
                 if any(e["value"].casefold() == email for e in c["email_addresses"])]
    cands = [c for c in cands if _after(c["updated_at"], f.get("updated_after"))]
    return [views.candidate_json(state, c) for c in cands]


def select_jobs(state: SandboxState, f: dict[str, str]) -> list[JsonDict]:
    jobs = sorted(state.jobs.values(), key=lambda j: j["id"])
    if "status" in f:
        jobs = [j for j in jobs if j["status"] == f["status"]]
    if "department_id" in f:
        jobs = [j for j in jobs if _int(f["department_id"]) in j["department_ids"]]
    return [views.job_json(state, j) for j in jobs]


def select_stages(state: SandboxState, f: dict[str, str]) -> list[JsonDict]:
    stages = sorted(state.stages.values(), key=lambda s: (s["job_id"], s["priority"]))
    if "job_id" in f:
        stages = [s for s in stages if s["job_id"] == _int(f["job_id"])]
    return [views.stage_json(s) for s in stages]


def select_users(state: SandboxState, f: dict[str, str]) -> list[JsonDict]:
    users = sorted(state.users.values(), key=lambda u: u["id"])
    if "email" in f:
        email = f["email"].casefold()
        users = [u for u in users if email in (e.casefold() for e in u["emails"])]
    return [views.user_json(u) for u in users]


def select_notes(state: SandboxState, f: dict[str, str]) -> list[JsonDict]:
    notes = state.notes
    if "candidate_id" in f:
        notes = [n for n in notes if n["candidate_id"] == _int(f["candidate_id"])]
    return [{**views.note_json(state, n), "candidate_id": n["candidate_id"]} for n in notes]


def lister(select: Selector) -> Handler:
    def handle(rt: Runtime, call: ApiCall) -> Response:
        def chosen(filters: dict[str, str]) -> list[JsonDict]:
            with rt.state.lock:
                return select(rt.state, filters)

        if call.version == "v3":
            return page_v3(call.request, chosen)
        filters = {k: v for k, v in call.request.query if k not in PAGING_PARAMS}
        return page_v1(call.request, chosen(filters))

    return handle


def getter(render: Callable[[SandboxState, int], Any]) -> Handler:
    def handle(rt: Runtime, call: ApiCall) -> Response:
        with rt.state.lock:
            return Response(200, render(rt.state, call.id))

    return handle


def _v1_only_stages(state: SandboxState, job_id: int) -> list[JsonDict]:
    state.job(job_id)
    return [views.stage_json(s) for s in state.job_stages(job_id)]


def custom_fields(rt: Runtime, call: ApiCall) -> Response:
    parts = call.request.path.rstrip("/").split("/")
    field_type = parts[3] if len(parts) > 3 else None
    with rt.state.lock:
        found = sorted(rt.state.custom_fields.values(), key=lambda f: (f["priority"], f["id"]))
        items = [views.custom_field_json(f) for f in found
                 if field_type is None or f["field_type"] == field_type]
    return page_v1(call.request, items, next_only=True)


def patch_application(rt: Runtime, call: ApiCall) -> Response:
    body = writes.update_application(rt.state, call.id, call.request.json(),
                                     actor=call.actor, api=call.version)
    return Response(200, body)


def patch_candidate(rt: Runtime, call: ApiCall) -> Response:
    body = writes.update_candidate(rt.state, call.id, call.request.json(),
                                   actor=call.actor, api=call.version)
    return Response(200, body)


def add_attachment(rt: Runtime, call: ApiCall) -> Response:
    body = attachments.add_attachment(rt.state, call.id, call.request.json(),
                                 actor=call.actor, api=call.version)
    return Response(201, body)


def move(rt: Runtime, call: ApiCall, *, advance: bool = False) -> Response:
    body = writes.json_object(call.request.json())
    advance = advance or (call.version == "v3" and body.get("to_stage_id") is None)
    with rt.lock:
        notify = rt.config.api_move_webhooks
    result = writes.move_application(rt.state, call.id, body, actor=call.actor,
                                     api=call.version, advance=advance, notify=notify)
    return Response(200, result)


def add_note_v1(rt: Runtime, call: ApiCall) -> Response:
    note = writes.add_note(rt.state, call.id, call.request.json(),
                           actor=call.actor, api=call.version)
    return Response(201, note)


def add_note_v3(rt: Runtime, call: ApiCall) -> Response:
    body = writes.json_object(call.request.json())
    candidate_id = writes.int_param(body, "candidate_id")
    with rt.state.lock:
        known = candidate_id in rt.state.candidates
    if candidate_id is None or not known:
        raise validation_error("candidate_id must name an existing candidate", "candidate_id")
    body = {**body, "user_id": body.get("user_id", call.actor)}
    note = writes.add_note(rt.state, candidate_id, body, actor=call.actor, api="v3")
    return Response(201, {**note, "candidate_id": candidate_id})


def _route(method: str, path: str, handler: Handler, *versions: str) -> Route:
    pattern = re.compile("^" + path.replace("{id}", r"(\d+)") + "/?$")
    return Route(method, pattern, handler, versions or ("v1", "v3"))


ROUTES: tuple[Route, ...] = (
    _route("GET", "/applications", lister(select_applications)),
    _route("GET", "/applications/{id}",
           getter(lambda s, i: views.application_json(s, s.application(i)))),
    _route("PATCH", "/applications/{id}", patch_application),
    _route("POST", "/applications/{id}/attachments", add_attachment),
    _route("POST", "/applications/{id}/move", move),
    _route("POST", "/applications/{id}/advance", lambda rt, c: move(rt, c, advance=True), "v1"),
    _route("GET", "/candidates", lister(select_candidates)),
    _route("GET", "/candidates/{id}", getter(lambda s, i: views.candidate_json(s, s.candidate(i)))),
    _route("PATCH", "/candidates/{id}", patch_candidate),
    _route("GET", "/candidates/{id}/activity_feed",
           getter(lambda s, i: views.activity_feed_json(s, s.candidate(i)["id"])), "v1"),
    _route("POST", "/candidates/{id}/activity_feed/notes", add_note_v1, "v1"),
    _route("GET", "/jobs", lister(select_jobs)),
    _route("GET", "/jobs/{id}", getter(lambda s, i: views.job_json(s, s.job(i)))),
    _route("GET", "/jobs/{id}/stages", getter(_v1_only_stages), "v1"),
    _route("GET", "/jobs/{id}/hiring_team",
           getter(lambda s, i: views.hiring_team_json(s.job(i)))),
    _route("GET", "/job_stages", lister(select_stages)),
    _route("GET", "/users", lister(select_users)),
    _route("GET", "/users/{id}", getter(lambda s, i: views.user_json(s.user(i)))),
    _route("GET", "/custom_fields", custom_fields, "v1"),
    _route("GET", "/custom_fields/[a-z_]+", custom_fields, "v1"),
    _route("GET", "/notes", lister(select_notes), "v3"),
    _route("POST", "/notes", add_note_v3, "v3"),
)


def find_route(method: str, version: str, path: str) -> tuple[Route, tuple[int, ...]] | None:
    for route in ROUTES:
        match = route.pattern.match(path)
        if match and route.method == method and version in route.versions:
            return route, tuple(int(g) for g in match.groups())
    return None
