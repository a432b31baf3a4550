"""List pagination of the Greenhouse sandbox, Harvest v1 and v3 styles.

v1 (harvest/_introduction.md): ``per_page`` (1-500, default 100), ``page`` (1-based) and
``skip_count``; bodies are bare JSON arrays; the ``Link`` header (RFC 5988) carries
``rel="next"``, ``rel="prev"`` and ``rel="last"`` (no ``last`` with ``skip_count=true``),
built from the host the client used; there is no ``Link`` header when everything fits on
one page. Endpoints on the newer scheme (custom fields) give only ``rel="next"``.
Assumption: a ``per_page`` or ``page`` outside its range answers 422.

v3 (harvestdocs.greenhouse.io ``/docs/pagination``): ``per_page`` and filters on the first
request only; ``Link: <...?cursor=...>; rel="next"`` until the last page; a request with
``cursor`` and any other parameter answers 400, as does ``page``. The cursor is opaque
(here: base64url JSON of offset, page size and filters).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from connectors.greenhouse.sandbox_http import Request, Response
from connectors.greenhouse.sandbox_state import SandboxError, validation_error

MAX_PER_PAGE = 500
DEFAULT_PER_PAGE = 100


def _bounded(request: Request, name: str, default: int, upper: int | None) -> int:
    raw = request.param(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or int(raw) < 1 or (upper is not None and int(raw) > upper):
        limit = f"between 1 and {upper}" if upper else "a positive integer"
        raise validation_error(f"{name} must be {limit}", name)
    return int(raw)


def _link(request: Request, params: list[tuple[str, str]], rel: str) -> str:
    return f'<http://{request.host}{request.path}?{urlencode(params)}>; rel="{rel}"'


def page_v1(request: Request, items: list[Any], *, next_only: bool = False) -> Response:
    per_page = _bounded(request, "per_page", DEFAULT_PER_PAGE, MAX_PER_PAGE)
    page = _bounded(request, "page", 1, None)
    skip_count = (request.param("skip_count") or "").lower() == "true"
    last = max(1, math.ceil(len(items) / per_page))
    chunk = items[(page - 1) * per_page : page * per_page]
    others = [(k, v) for k, v in request.query if k not in ("page", "per_page")]

    def params(number: int) -> list[tuple[str, str]]:
        return [("page", str(number)), ("per_page", str(per_page)), *others]

    links = []
    if page < last:
        links.append(_link(request, params(page + 1), "next"))
    if not next_only:
        if page > 1:
            links.append(_link(request, params(min(page - 1, last)), "prev"))
        if not skip_count and (page > 1 or last > 1):
            links.append(_link(request, params(last), "last"))
    headers = {"Link": ", ".join(links)} if links else {}
    return Response(200, chunk, headers)


def _bad_request(message: str) -> SandboxError:
    return SandboxError(400, {"message": message})


def encode_cursor(offset: int, per_page: int, filters: dict[str, str]) -> str:
    raw = json.dumps({"o": offset, "p": per_page, "f": filters}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, int, dict[str, str]]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        return int(data["o"]), int(data["p"]), {str(k): str(v) for k, v in data["f"].items()}
    except (binascii.Error, ValueError, KeyError, TypeError, AttributeError):
        raise _bad_request("The cursor is not valid") from None


def page_v3(request: Request, select: Callable[[dict[str, str]], list[Any]]) -> Response:
    """``select(filters)`` lists every matching item; this cuts out the requested page."""
    names = [k for k, _ in request.query]
    if "page" in names:
        raise _bad_request("page is not supported; follow the Link header")
    if "cursor" in names:
        if len(names) > 1:
            raise _bad_request("cursor must be the only query parameter")
        offset, per_page, filters = decode_cursor(request.param("cursor") or "")
    else:
        try:
            per_page = _bounded(request, "per_page", DEFAULT_PER_PAGE, MAX_PER_PAGE)
        except SandboxError:
            raise _bad_request(f"per_page must be between 1 and {MAX_PER_PAGE}") from None
        offset = 0
        filters = {k: v for k, v in request.query if k != "per_page"}
    items = select(filters)
    chunk = items[offset : offset + per_page]
    headers = {}
    if offset + per_page < len(items):
        cursor = encode_cursor(offset + per_page, per_page, filters)
        headers["Link"] = _link(request, [("cursor", cursor)], "next")
    return Response(200, chunk, headers)
