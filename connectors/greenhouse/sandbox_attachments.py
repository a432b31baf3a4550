"""``POST applications/{id}/attachments`` in the Greenhouse sandbox.

Faithful to harvest/_applications.md "Add Attachment to Application": a JSON body (not
multipart) with ``filename``, ``type`` (resume, cover_letter, other, take_home_test,
offer_letter, signed_offer_letter) and either base64 ``content`` with a ``content_type``
from Greenhouse's allow-list, or a ``url``. ``visibility`` (public, private, admin_only)
only applies to ``other`` and defaults to admin_only; resumes, cover letters and
take-home tests are public, offer letters private. take_home_test needs an outstanding
test (the sandbox has none, so it is always refused); offer letters need an offer. The
answer is ``{filename, url, type, content_type}``.

Assumptions: base64 may contain line breaks but nothing else outside the alphabet; a
``url`` is downloaded once, without proxies, within 10 seconds and up to 50 MB, and its
``Content-Type`` is used when the request gives none. The sandbox serves stored files
itself (Greenhouse gives 7-day signed S3 links).
"""

from __future__ import annotations

import base64
import binascii
import http.client
import urllib.request
from typing import Any

from connectors.greenhouse.sandbox_state import (
    JsonDict,
    SandboxState,
    not_found,
    now_iso,
    validation_error,
)
from connectors.greenhouse.sandbox_views import file_url
from connectors.greenhouse.sandbox_writes import VISIBILITIES, json_object

ATTACHMENT_TYPES = (
    "resume", "cover_letter", "other", "take_home_test", "offer_letter", "signed_offer_letter",
)
CONTENT_TYPES = frozenset({
    "application/atom+xml", "application/javascript", "application/json",
    "application/msgpack", "application/msword", "application/pdf", "application/rss+xml",
    "application/vnd.ms-excel",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.ms-powerpoint", "application/xml", "application/x-www-form-urlencoded",
    "application/x-yaml", "application/zip", "multipart/form-data", "image/bmp", "image/gif",
    "image/jpeg", "image/png", "image/tiff", "text/calendar", "text/css", "text/csv",
    "text/html", "text/javascript", "text/plain", "text/vcard", "video/mpeg",
})
MAX_DOWNLOAD = 50 * 1024 * 1024
# No proxies: in tests the file is usually served on loopback.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _decode_content(content: Any) -> bytes:
    if not isinstance(content, str) or not content:
        raise validation_error("content must be a base64 string", "content")
    compact = "".join(content.split())
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise validation_error("content is not valid base64", "content") from None


def _download(url: Any) -> tuple[bytes, str | None]:
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise validation_error("url must be an http(s) URL", "url")
    try:
        with _OPENER.open(urllib.request.Request(url), timeout=10) as response:
            data = response.read(MAX_DOWNLOAD + 1)
            header = response.headers.get("Content-Type")
            content_type = response.headers.get_content_type() if header else None
    except (OSError, ValueError, http.client.HTTPException):
        raise validation_error("The file at url could not be downloaded", "url") from None
    if len(data) > MAX_DOWNLOAD:
        raise validation_error("The file at url is too large", "url")
    return data, content_type


def _attachment_input(body: JsonDict) -> tuple[bytes, str, str]:
    """(bytes, content type, how it arrived) after validating the request body."""
    content_type = body.get("content_type")
    if content_type is not None and content_type not in CONTENT_TYPES:
        raise validation_error("content_type is not an accepted content type", "content_type")
    if "content" in body:
        if content_type is None:
            raise validation_error("content_type is required with content", "content_type")
        return _decode_content(body["content"]), content_type, "content"
    if "url" in body:
        data, served_type = _download(body["url"])
        return data, content_type or served_type or "application/octet-stream", "url"
    raise validation_error("Either content or url is required", "content")


def _visibility(kind: str, requested: Any) -> str:
    if requested is not None and requested not in VISIBILITIES:
        raise validation_error("visibility must be public, private or admin_only", "visibility")
    if kind == "other":
        return str(requested or "admin_only")
    return "private" if kind in ("offer_letter", "signed_offer_letter") else "public"


def add_attachment(
    state: SandboxState, app_id: int, body: Any, *, actor: int | None, api: str
) -> JsonDict:
    body = json_object(body)
    with state.lock:
        if app_id not in state.applications:
            raise not_found()
    filename = body.get("filename")
    if not isinstance(filename, str) or not filename.strip():
        raise validation_error("filename is required", "filename")
    kind = body.get("type")
    if kind not in ATTACHMENT_TYPES:
        raise validation_error(f"type must be one of {', '.join(ATTACHMENT_TYPES)}", "type")
    visibility = _visibility(kind, body.get("visibility"))
    data, content_type, source = _attachment_input(body)  # may download: outside the lock
    with state.lock:
        app = state.application(app_id)
        if kind == "take_home_test":
            raise validation_error("There is no outstanding take home test", "type")
        if kind in ("offer_letter", "signed_offer_letter") and not app.get("offer"):
            raise validation_error("The application has no offer", "type")
        record = {"filename": filename, "type": kind, "content_type": content_type,
                  "visibility": visibility, "size_bytes": len(data),
                  "token": state.store_file(data, content_type), "created_at": now_iso()}
        app["attachments"].append(record)
        app["last_activity_at"] = record["created_at"]
        state.record_write("attachment", api=api, application_id=app_id,
                           candidate_id=app["candidate_id"], acting_user_id=actor,
                           filename=filename, type=kind, content_type=content_type,
                           visibility=visibility, size_bytes=len(data), source=source)
        return {"filename": filename, "url": file_url(state, record), "type": kind,
                "content_type": content_type}
