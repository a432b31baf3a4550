"""The Crosschq Partner API v2 client: one method per endpoint of the spec.

Crosschq's paths need their trailing slash (a public .NET client notes the same), and the token
goes in ``AUTHORIZATION: <scheme> <token>`` with a scheme the spec leaves open (``Token`` by
default, configurable). The client never retries or sleeps: errors are raised from
:mod:`connectors.errors` and the calling task decides.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import TypeAdapter, ValidationError

from connectors.crosschq.models import (
    CreatedRequest,
    CreateReferenceRequest,
    EditReferenceRequest,
    JobRole,
    ReferenceRequest,
)
from connectors.errors import ServerError
from connectors.http import HttpClient, RateLimiter, Timeouts

ReportKind = Literal["summary", "full"]
_JOBROLES = TypeAdapter(list[JobRole])
SERVICE = "crosschq"


class CrosschqClient:
    def __init__(self, http: HttpClient) -> None:
        self.http = http

    @classmethod
    def from_settings(cls, settings: Any, *, limiter: RateLimiter | None = None) -> CrosschqClient:
        cq = settings.crosschq
        token = cq.api_token.get_secret_value()
        scheme = cq.auth_scheme

        def auth() -> dict[str, str]:
            return {"Authorization": f"{scheme} {token}"}

        http = HttpClient(
            SERVICE,
            cq.base_url,
            timeouts=Timeouts(settings.http.timeout_connect, settings.http.timeout_read),
            auth=auth,
            limiter=limiter,
        )
        return cls(http)

    @staticmethod
    def _json(response: Any, path: str) -> Any:
        try:
            return response.json()
        except ValueError:
            # A 2xx that is not JSON (a proxy's or maintenance page) is as unreadable as a
            # wrong shape.
            raise ServerError("response is not JSON", service=SERVICE, path=path) from None

    @staticmethod
    def _parse(model: Any, data: Any, path: str) -> Any:
        try:
            return (
                model.model_validate(data)
                if hasattr(model, "model_validate")
                else model.validate_python(data)
            )
        except ValidationError as exc:
            # An answer we cannot read is Crosschq's fault and may be transient.
            raise ServerError(
                f"unexpected response shape ({exc.error_count()} problems)", service=SERVICE, path=path
            ) from None

    def list_jobroles(self) -> list[JobRole]:
        path = "api/v2/settings/jobrole/"
        response = self.http.request("GET", path)
        return list(self._parse(_JOBROLES, self._json(response, path), path))

    def create_request(self, request: CreateReferenceRequest) -> str:
        """Start a reference request; returns its ``request_id``. Not idempotent."""
        path = "api/v2/reference-request/"
        body = request.model_dump(exclude_none=True)
        response = self.http.request("POST", path, json_body=body)
        created: CreatedRequest = self._parse(CreatedRequest, self._json(response, path), path)
        return created.request_id

    def retrieve_request(self, request_id: str) -> ReferenceRequest:
        path = f"api/v2/reference-request/{request_id}/"
        template = "api/v2/reference-request/{id}/"
        response = self.http.request("GET", path, path_template=template)
        data = self._json(response, template)
        result: ReferenceRequest = self._parse(ReferenceRequest, data, template)
        return result

    def edit_request(self, request_id: str, edit: EditReferenceRequest) -> None:
        self.http.request(
            "PATCH",
            f"api/v2/reference-request/{request_id}/edit/",
            path_template="api/v2/reference-request/{id}/edit/",
            json_body=edit.model_dump(exclude_none=True),
        )

    def cancel_request(self, request_id: str) -> None:
        self._post_action(request_id, "cancel")

    def conclude_request(self, request_id: str) -> None:
        self._post_action(request_id, "conclude")

    def send_reminder(self, request_id: str) -> None:
        self._post_action(request_id, "send-reminder")

    def _post_action(self, request_id: str, action: str) -> None:
        self.http.request(
            "POST",
            f"api/v2/reference-request/{request_id}/{action}/",
            path_template=f"api/v2/reference-request/{{id}}/{action}/",
        )

    def download_report(self, request_id: str, kind: ReportKind = "summary") -> bytes:
        """The PDF report's bytes. 400 (``BadRequest``) until the request is completed or concluded."""
        template = "api/v2/reference-request/{id}/download-report/"
        response = self.http.request(
            "GET",
            f"api/v2/reference-request/{request_id}/download-report/",
            path_template=template,
            params={"report": kind},
            headers={"Accept": "application/pdf"},
        )
        content = response.content
        if not content.startswith(b"%PDF"):
            raise ServerError("report is not a PDF", service=SERVICE, path=template)
        return content
