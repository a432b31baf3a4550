"""The Harvest API client: one method per call the connector makes, v1 and v3 behind one face.

Everything that differs between Harvest v1 and v3 for these calls sits in
:mod:`connectors.greenhouse.routes` and :meth:`HarvestClient.add_note` (v3 moved notes to
``POST /v3/notes`` with the candidate in the body; harvestdocs "write endpoint migration
guide"). Authentication is a strategy from :mod:`connectors.greenhouse.auth`; pagination
follows ``Link`` headers (:mod:`connectors.greenhouse.pagination`).

Methods return Harvest's JSON as plain dicts: turning it into normalized models is
:mod:`connectors.greenhouse.mapping`'s job. Errors come from :mod:`connectors.errors` via the
shared classifier: 429 → ``RateLimited`` with ``retry_after`` from ``Retry-After`` or, failing
that, ``X-RateLimit-Reset`` (epoch seconds); 422 → ``Conflict`` carrying Greenhouse's
``errors[{message, field}]`` as ``field_errors``. The client never retries except once after a
401 when the credentials can be refreshed (an expired v3 token).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import requests

from config.logs import get_logger
from connectors.errors import AuthenticationError, Conflict, IntegrationError, ServerError
from connectors.greenhouse.auth import HarvestAuth
from connectors.greenhouse.pagination import LinkPaginator
from connectors.greenhouse.routes import ROUTES, ApiVersion
from connectors.http import HttpClient

log = get_logger("connectors.greenhouse.harvest")

SERVICE = "greenhouse"
_WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})


@dataclass(frozen=True)
class RateLimitStatus:
    """The last ``X-RateLimit-*`` headers Harvest sent (per 10 s window, Harvest docs)."""

    limit: int | None
    remaining: int | None


class HarvestClient:
    def __init__(self, http: HttpClient, auth: HarvestAuth, version: ApiVersion = "v1") -> None:
        if version not in ROUTES:
            raise ValueError(f"unknown Harvest API version {version!r}")
        self.http = http
        self.auth = auth
        self.version: ApiVersion = version
        self.routes = ROUTES[version]
        self.rate_limit: RateLimitStatus | None = None
        # The HttpClient adds the auth headers on every call; keep our hook after any other.
        previous = http.on_response

        def on_response(response: requests.Response) -> None:
            if previous is not None:
                previous(response)
            self.on_response(response)

        http.auth = auth.headers
        http.on_response = on_response

    # -- plumbing --------------------------------------------------------------------------
    def on_response(self, response: requests.Response) -> None:
        """Remember Harvest's rate-limit headers; the shared log line already records them."""
        limit = _int_header(response.headers, "X-RateLimit-Limit")
        remaining = _int_header(response.headers, "X-RateLimit-Remaining")
        if limit is not None or remaining is not None:
            self.rate_limit = RateLimitStatus(limit=limit, remaining=remaining)

    def request(
        self,
        method: str,
        template: str,
        record_id: str | int | None = None,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
    ) -> requests.Response:
        """One call; writes carry the write headers; one retry after a 401 if auth can refresh."""
        path = template.format(id=record_id) if record_id is not None else template
        return self._send(method, path, template, params=params, json_body=json_body)

    def _send(
        self,
        method: str,
        path: str,
        template: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
    ) -> requests.Response:
        headers = self.auth.write_headers() if method in _WRITE_METHODS else None
        for attempt in (1, 2):
            try:
                return self.http.request(
                    method,
                    path,
                    path_template=template,
                    params=params,
                    json_body=json_body,
                    headers=headers,
                )
            except AuthenticationError as exc:
                # Only a 401 from Harvest itself; a refused token request will not improve.
                from_api = exc.path == template
                if attempt == 1 and exc.status == 401 and from_api and self.auth.invalidate():
                    log.info("greenhouse.auth_refreshed", path=template)
                    continue
                raise
            except Conflict as exc:
                raise _with_field_errors(exc) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _json(self, response: requests.Response, template: str) -> Any:
        try:
            return response.json()
        except ValueError:
            # Harvest always answers JSON; anything else is a broken proxy or an outage page.
            raise ServerError(
                "response is not JSON",
                service=SERVICE,
                method=response.request.method,
                path=template,
            ) from None

    def _get_object(self, template: str, record_id: str | int) -> dict[str, Any]:
        body = self._json(self.request("GET", template, record_id), template)
        if not isinstance(body, dict):
            raise ServerError("expected a JSON object", service=SERVICE, method="GET", path=template)
        return body

    def paginate(
        self,
        template: str,
        params: Mapping[str, Any] | None = None,
        *,
        record_id: str | int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every item of a list endpoint, following ``Link rel="next"``."""

        def fetch(path: str, page_params: Mapping[str, Any] | None) -> requests.Response:
            return self._send("GET", path, template, params=page_params)

        first = template.format(id=record_id) if record_id is not None else template
        for item in LinkPaginator(fetch, path_template=template)(first, params):
            if isinstance(item, dict):
                yield item

    # -- reads -----------------------------------------------------------------------------
    def get_application(self, application_id: str | int) -> dict[str, Any]:
        return self._get_object(self.routes.application, application_id)

    def get_candidate(self, candidate_id: str | int) -> dict[str, Any]:
        return self._get_object(self.routes.candidate, candidate_id)

    def get_job(self, job_id: str | int) -> dict[str, Any]:
        return self._get_object(self.routes.job, job_id)

    def list_job_stages(self, job_id: str | int) -> list[dict[str, Any]]:
        """The stages of one job, in Harvest's order."""
        routes = self.routes
        if routes.job_stages_param:
            return list(self.paginate(routes.job_stages, {routes.job_stages_param: _id(job_id)}))
        return list(self.paginate(routes.job_stages, record_id=job_id))

    def get_hiring_team(self, job_id: str | int) -> dict[str, Any]:
        return self._get_object(self.routes.hiring_team, job_id)

    def get_user(self, user_id: str | int) -> dict[str, Any]:
        return self._get_object(self.routes.user, user_id)

    def list_users(self, per_page: int = 100) -> Iterator[dict[str, Any]]:
        """Every user; ``per_page`` is sent on the first page only (v3 cursors forbid it later)."""
        return self.paginate(self.routes.users, {"per_page": per_page})

    def list_note_bodies(self, candidate_id: str | int) -> list[str]:
        """The bodies of the candidate's notes (to check whether a note already landed)."""
        if self.version == "v3":
            notes = self.paginate(self.routes.notes, {"candidate_id": _id(candidate_id)})
            return [str(n.get("body") or "") for n in notes]
        feed = self._get_object(self.routes.notes, candidate_id)
        return [str(n.get("body") or "") for n in feed.get("notes") or [] if isinstance(n, dict)]

    # -- writes ----------------------------------------------------------------------------
    def patch_application_custom_fields(
        self, application_id: str | int, custom_fields: list[dict[str, Any]]
    ) -> None:
        """``PATCH`` application custom fields (write shape ``{name_key, value}``).

        Idempotent. An empty list sends nothing: Harvest would do nothing with it anyway.
        """
        if not custom_fields:
            return
        self.request(
            "PATCH",
            self.routes.application,
            application_id,
            json_body={"custom_fields": custom_fields},
        )

    def add_note(
        self, candidate_id: str | int, user_id: str | int, body: str, visibility: str
    ) -> dict[str, Any]:
        """A note on the candidate's activity feed. Not idempotent."""
        note: dict[str, Any] = {"user_id": _id(user_id), "body": body, "visibility": visibility}
        if self.version == "v3":
            note["candidate_id"] = _id(candidate_id)
            response = self.request("POST", self.routes.note, json_body=note)
        else:
            response = self.request("POST", self.routes.note, candidate_id, json_body=note)
        created = self._json(response, self.routes.note)
        return created if isinstance(created, dict) else {}

    def add_application_attachment(
        self,
        application_id: str | int,
        *,
        filename: str,
        content: bytes,
        content_type: str = "application/pdf",
        attachment_type: str = "other",
        visibility: str = "admin_only",
    ) -> dict[str, Any]:
        """Attach a file as base64 JSON (not multipart; Harvest docs). Not idempotent."""
        body = {
            "filename": filename,
            "type": attachment_type,
            "content": base64.b64encode(content).decode("ascii"),
            "content_type": content_type,
            # Only honoured for type "other" (Harvest docs, application attachments).
            "visibility": visibility,
        }
        response = self.request("POST", self.routes.attachment, application_id, json_body=body)
        created = self._json(response, self.routes.attachment)
        return created if isinstance(created, dict) else {}

    def move_application(
        self, application_id: str | int, from_stage_id: str | int, to_stage_id: str | int
    ) -> dict[str, Any]:
        """Move within the same job. ``from_stage_id`` must be current, else 422 → ``Conflict``."""
        body = {"from_stage_id": _id(from_stage_id), "to_stage_id": _id(to_stage_id)}
        response = self.request("POST", self.routes.move, application_id, json_body=body)
        moved = self._json(response, self.routes.move)
        return moved if isinstance(moved, dict) else {}


def _id(value: str | int) -> int | str:
    """Greenhouse ids are integers on the wire; keep anything else as given."""
    text = str(value)
    return int(text) if text.isdigit() else text


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    try:
        return int(float(value)) if value is not None else None
    except ValueError:
        return None


def _with_field_errors(exc: Conflict) -> IntegrationError:
    """Say which fields Greenhouse refused (names and its generic messages only)."""
    fields: dict[str, list[str]] = getattr(exc, "field_errors", {}) or {}
    if not fields:
        return exc
    detail = "; ".join(f"{name}: {' '.join(messages)}" for name, messages in sorted(fields.items()))
    enriched = Conflict(
        f"{exc.message} ({detail})",
        service=exc.service,
        method=exc.method,
        path=exc.path,
        status=exc.status,
        request_id=exc.request_id,
    )
    enriched.field_errors = fields  # type: ignore[attr-defined]  # same attribute classify() sets
    return enriched
