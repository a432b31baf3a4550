"""Front door of the sandbox's Harvest API: injected faults, auth, rate limit, routing.

Faithful to harvest/_introduction.md for v1: HTTP Basic with the API key as user name and
an empty password (``Authorization: Basic base64("<key>:")``), 401
``{"message": "Invalid Basic Auth credentials"}`` otherwise; every write (POST, PATCH,
PUT, DELETE) names the acting user in ``On-Behalf-Of``; a GET that carries a body gets 403.
Assumptions: the password part is not checked; a missing, non-numeric or unknown
``On-Behalf-Of`` answers 403 ``{"message": ...}`` (the docs do not give the status).

Harvest v3 (harvestdocs.greenhouse.io ``/docs/authentication``): ``POST /token`` with HTTP
Basic ``client_id:client_secret`` and the form ``grant_type=client_credentials&sub=<user
id>`` returns ``{"access_token", "token_type": "bearer", "expires_in"}``; a bad client gets
401 ``{"error": "invalid_client"}``, an unknown ``sub`` 400 ``{"error": "invalid_request"}``.
API calls then send ``Authorization: Bearer <token>``; the token's user acts, so no
``On-Behalf-Of``. Assumption: a missing, unknown or expired token answers 401
``{"message": ...}`` with ``WWW-Authenticate: Bearer error="invalid_token"``.

Injected faults (control API), applied before anything else: ``latency_ms``, then
``unreachable`` (503 with no body), then ``fail_next`` (one status per call; an injected
429 carries ``Retry-After: 1``). Injected answers and the token endpoint (a separate host
at Greenhouse) carry no rate-limit headers and use no rate-limit budget.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import math
import time
from urllib.parse import parse_qsl

from connectors.greenhouse.sandbox_harvest_routes import ApiCall, find_route
from connectors.greenhouse.sandbox_http import Request, Response, error_response, route_not_found
from connectors.greenhouse.sandbox_runtime import Runtime
from connectors.greenhouse.sandbox_state import SandboxError, now_iso

WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})
BAD_BASIC = SandboxError(401, {"message": "Invalid Basic Auth credentials"})


def parse_basic(header: str | None) -> tuple[str, str] | None:
    """(user, password) from a Basic ``Authorization`` header, or None."""
    scheme, _, encoded = (header or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    if ":" not in decoded:
        return None
    user, _, password = decoded.partition(":")
    return user, password


def parse_bearer(header: str | None) -> str | None:
    scheme, _, token = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def handle(rt: Runtime, request: Request) -> Response:
    """Answer one Harvest or token call and log it for ``GET /_sandbox/calls``."""
    response = _respond(rt, request)
    version = request.path.split("/")[1] if request.path.count("/") > 1 else "token"
    rt.record_call({"method": request.method, "path": request.path, "status": response.status,
                    "api": version, "at": now_iso()})
    return response


def _injected(status: int, limit: int) -> Response:
    headers = {}
    if status == 429:
        headers = {"Retry-After": "1", "X-RateLimit-Reset": str(math.ceil(time.time() + 1)),
                   "X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": "0"}
    return Response(status, {"message": "Simulated failure"}, headers)


def _respond(rt: Runtime, request: Request) -> Response:
    with rt.lock:
        latency, unreachable, limit = (rt.config.latency_ms, rt.config.unreachable,
                                       rt.config.rate_limit)
    if latency:
        time.sleep(latency / 1000)
    if unreachable:
        return Response(503)
    failure = rt.take_failure()
    if failure is not None:
        return _injected(failure, limit)
    if request.path.rstrip("/") == "/token":
        return token_endpoint(rt, request)
    version = request.path.split("/")[1]
    if version not in ("v1", "v3"):
        return route_not_found()
    decision = rt.limiter.hit(_bucket(rt, request, version))
    if not decision.allowed:
        return Response(429, {"message": "Rate limit exceeded"}, decision.headers())
    try:
        response = _authorized(rt, request, version)
    except SandboxError as error:
        response = error_response(error)
    response.headers.update(decision.headers())
    return response


def _bucket(rt: Runtime, request: Request, version: str) -> str:
    """Rate-limit key: the API key (v1) or the OAuth client (v3)."""
    header = request.headers.get("Authorization")
    if version == "v1":
        creds = parse_basic(header)
        return f"key:{creds[0]}" if creds else "key:"
    token = parse_bearer(header)
    client = rt.tokens.client_of(token) if token else None
    return f"client:{client or ''}"


def _authenticate(rt: Runtime, request: Request, version: str) -> int | None:
    """The token's user for v3 (None for v1, whose actor comes from On-Behalf-Of)."""
    header = request.headers.get("Authorization")
    with rt.lock:
        api_key = rt.config.api_key
    if version == "v1":
        creds = parse_basic(header)
        if creds is None or not same(creds[0], api_key):
            raise BAD_BASIC
        return None
    token = rt.tokens.find(parse_bearer(header) or "")
    if token is None:
        raise SandboxError(401, {"message": "Invalid or expired access token"},
                           {"WWW-Authenticate": 'Bearer error="invalid_token"'})
    return token.sub


def _on_behalf_of(rt: Runtime, request: Request) -> int:
    raw = (request.headers.get("On-Behalf-Of") or "").strip()
    with rt.state.lock:
        known = raw.isdigit() and int(raw) in rt.state.users
    if not known:
        raise SandboxError(403, {"message": "On-Behalf-Of must name an existing user id"})
    return int(raw)


def _authorized(rt: Runtime, request: Request, version: str) -> Response:
    actor = _authenticate(rt, request, version)
    found = find_route(request.method, version, request.path[len(version) + 1:])
    if found is None:
        return route_not_found()
    route, ids = found
    if request.method == "GET" and request.body:
        raise SandboxError(403, {"message": "GET requests must not carry a body"})
    if request.method in WRITE_METHODS and version == "v1":
        actor = _on_behalf_of(rt, request)
    return route.handler(rt, ApiCall(request, version, ids, actor))


def token_endpoint(rt: Runtime, request: Request) -> Response:
    if request.method != "POST":
        return Response(405, {"error": "invalid_request"}, {"Allow": "POST"})
    with rt.lock:
        client_id, secret = rt.config.client_id, rt.config.client_secret
        expires_in = rt.config.token_expires_in
    creds = parse_basic(request.headers.get("Authorization"))
    if creds is None or not (same(creds[0], client_id) and same(creds[1], secret)):
        return Response(401, {"error": "invalid_client"},
                        {"WWW-Authenticate": 'Basic realm="greenhouse"'})
    form = dict(parse_qsl(request.body.decode("utf-8", "replace")))
    if form.get("grant_type") != "client_credentials":
        return Response(400, {"error": "unsupported_grant_type"})
    sub = form.get("sub", "")
    with rt.state.lock:
        known = sub.isdigit() and int(sub) in rt.state.users
    if not known:
        return Response(400, {"error": "invalid_request"})
    token = rt.tokens.issue(client_id, int(sub), expires_in)
    shown = int(expires_in) if float(expires_in).is_integer() else expires_in
    return Response(200, {"access_token": token, "token_type": "bearer", "expires_in": shown},
                    {"Cache-Control": "no-store"})
