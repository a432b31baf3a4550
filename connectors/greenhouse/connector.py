"""The Greenhouse connector: Harvest reads and write-backs, webhook verification.

Write-backs follow the "Harvest + webhooks" model most reference and background-check vendors
use with Greenhouse (it needs no partnership): application custom fields for the status,
progress, score and report link; a note on the candidate's activity feed; the PDF report as an
application attachment (``type: other``); and an optional stage move.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, ClassVar

from config.errors import ConfigError
from config.logs import get_logger
from connectors import errors
from connectors.ats import (
    Application,
    ApplicationRef,
    AtsConnector,
    AtsEvent,
    ReferenceFields,
)
from connectors.greenhouse import mapping, webhooks
from connectors.greenhouse.auth import BasicKeyAuth, HarvestAuth, OAuthClientCredentials
from connectors.greenhouse.harvest import SERVICE, HarvestClient
from connectors.http import HttpClient, RateLimiter, Timeouts

log = get_logger("connectors.greenhouse")


def _secret(value: Any) -> str:
    if value is None:
        return ""
    getter = getattr(value, "get_secret_value", None)
    return str(getter() if callable(getter) else value)


class GreenhouseConnector(AtsConnector):
    """Greenhouse Harvest v1 or v3.

    Every method raises only from :mod:`connectors.errors`: ``RetryableError`` for outages and
    429s (with ``retry_after``), ``AuthenticationError`` for a bad key or missing permission,
    ``NotFound``, ``Conflict`` for Greenhouse's 422s (with ``field_errors``).
    """

    name: ClassVar[str] = "greenhouse"
    # Greenhouse treats any answer but 200 as a failed delivery and retries it for ~15 hours
    # (developers.greenhouse.io, "Web Hooks: Retry policy").
    accepted_status: ClassVar[int] = 200
    USER_TTL: ClassVar[float] = 300.0
    USER_CACHE_SIZE: ClassVar[int] = 1000

    def __init__(
        self,
        client: HarvestClient,
        *,
        on_behalf_of: str,
        webhook_secret: str = "",
        field_keys: Mapping[str, str] | None = None,
        note_visibility: str = "private",
        attachment_visibility: str = "admin_only",
    ) -> None:
        self.client = client
        self.on_behalf_of = on_behalf_of
        self._webhook_secret = webhook_secret
        keys = {
            "status": "crosschq_status",
            "progress": "crosschq_progress",
            "score": "crosschq_score",
            "report_url": "crosschq_report_url",
        }
        keys.update(field_keys or {})
        self.field_keys = keys
        self.note_visibility = note_visibility
        self.attachment_visibility = attachment_visibility
        # Recruiters and hiring managers recur across applications, and Harvest allows 50 calls
        # per 10 s: a user read serves this process for USER_TTL seconds (in memory only).
        self._user_cache: dict[str, tuple[float, dict[str, Any]]] = {}

    @classmethod
    def from_settings(cls, settings: Any, *, limiter: RateLimiter | None = None) -> GreenhouseConnector:
        """Build from ``settings.greenhouse`` (``GREENHOUSE_*``) and ``settings.http``; no I/O.

        Raises ``ConfigError`` naming the variable when a credential is missing.
        """
        gh = getattr(settings, "greenhouse", settings)
        http_settings = getattr(settings, "http", None)
        timeouts = Timeouts(
            getattr(http_settings, "timeout_connect", 5.0),
            getattr(http_settings, "timeout_read", 30.0),
        )
        on_behalf_of = str(gh.on_behalf_of or "").strip()
        if not on_behalf_of:
            raise ConfigError("GREENHOUSE_ON_BEHALF_OF: needed (the Greenhouse user id writes are made as)")
        auth: HarvestAuth
        if gh.api_version == "v3":
            if not gh.client_id or not _secret(gh.client_secret):
                raise ConfigError("GREENHOUSE_CLIENT_ID / GREENHOUSE_CLIENT_SECRET: needed for Harvest v3")
            auth = OAuthClientCredentials(
                gh.token_url,
                gh.client_id,
                _secret(gh.client_secret),
                on_behalf_of,
                timeouts=timeouts,
            )
        else:
            if not _secret(gh.api_key):
                raise ConfigError("GREENHOUSE_API_KEY: needed for Harvest v1")
            auth = BasicKeyAuth(_secret(gh.api_key), on_behalf_of)
        http = HttpClient(SERVICE, gh.base_url, timeouts=timeouts, limiter=limiter)
        return cls(
            HarvestClient(http, auth, gh.api_version),
            on_behalf_of=on_behalf_of,
            webhook_secret=_secret(gh.webhook_secret),
            field_keys={
                "status": gh.field_status,
                "progress": gh.field_progress,
                "score": gh.field_score,
                "report_url": gh.field_report_url,
            },
            note_visibility=gh.note_visibility,
            attachment_visibility=gh.attachment_visibility,
        )

    # -- inbound ---------------------------------------------------------------------------
    def verify_and_parse(self, headers: Mapping[str, str], raw_body: bytes) -> AtsEvent:
        """Check ``Signature: sha256 <hex>`` over the raw bytes, then normalize.

        Pure and idempotent. Raises ``WebhookAuthError`` (no secret configured, header missing
        or malformed, digest wrong) or ``WebhookPayloadError`` (not JSON, ids missing).
        """
        return webhooks.verify_and_parse(headers, raw_body, self._webhook_secret)

    # -- reads -----------------------------------------------------------------------------
    def get_application(self, application_id: str) -> Application:
        """Application, candidate, job (with departments and offices), stage and people.

        Read-only; about four calls plus one per user to resolve e-mail addresses (a user read
        is reused by this connector for ``USER_TTL`` seconds). Raises
        ``NotFound`` when the application or its candidate is gone.
        """
        app = self.client.get_application(_checked_id(application_id, "application"))
        candidate_id = mapping.to_id(app.get("candidate_id"))
        if candidate_id is None:
            raise errors.ServerError("application without candidate_id", service=SERVICE, path="application")
        candidate = self.client.get_candidate(candidate_id)
        job_data, team = self._job_and_team(app)
        users = self._users(mapping.people_ids(app, candidate, team))
        return mapping.application(app, candidate, job_data=job_data, hiring_team=team, users=users)

    def _job_and_team(self, app: Mapping[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        job_ref = mapping.job(app)
        if job_ref is None:
            return None, None
        try:
            job_data = self.client.get_job(job_ref.id)
        except errors.NotFound:
            # A deleted job leaves the application's own {id, name} reference; that is enough.
            return None, None
        team = job_data.get("hiring_team")
        if not isinstance(team, dict):
            team = self.client.get_hiring_team(job_ref.id)
        return job_data, team

    def _users(self, user_ids: list[str]) -> dict[str, dict[str, Any]]:
        users: dict[str, dict[str, Any]] = {}
        now = time.monotonic()
        for user_id in user_ids:
            cached = self._user_cache.get(user_id)
            if cached is not None and now - cached[0] < self.USER_TTL:
                users[user_id] = cached[1]
                continue
            try:
                users[user_id] = self.client.get_user(user_id)
            except errors.NotFound:
                self._user_cache.pop(user_id, None)
                continue  # a deleted user: the person keeps their name, without e-mail
            if len(self._user_cache) >= self.USER_CACHE_SIZE:
                self._user_cache.pop(next(iter(self._user_cache)))  # the oldest entry
            self._user_cache[user_id] = (now, users[user_id])
        return users

    # -- writes ----------------------------------------------------------------------------
    def set_reference_fields(self, ref: ApplicationRef, fields: ReferenceFields) -> None:
        """PATCH the application's custom fields by ``name_key``. Idempotent.

        ``None`` values and fields configured with an empty key are skipped; with nothing to
        set, no call is made. The status is written as the single-select option's text.
        Raises ``Conflict`` (422, e.g. an option that does not exist, with ``field_errors``).
        """
        values: dict[str, Any] = {
            "status": fields.status,
            "progress": fields.progress,
            "score": fields.score,
            "report_url": fields.report_url,
        }
        items = [
            {"name_key": self.field_keys[name], "value": value}
            for name, value in values.items()
            if value is not None and self.field_keys.get(name)
        ]
        if not items:
            return
        application_id = _checked_id(ref.application_id, "application")
        self.client.patch_application_custom_fields(application_id, items)
        # Debug: the PATCH has its http.response line, and the timeline records the status.
        log.debug(
            "greenhouse.fields_set",
            application_id=application_id,
            fields=[i["name_key"] for i in items],
        )

    def add_note(self, ref: ApplicationRef, body: str) -> str:
        """A note on the candidate's activity feed, written as ``on_behalf_of``; returns its id.

        Not idempotent: each call adds a note (Harvest has no idempotency key).
        """
        candidate_id = self._candidate_id(ref)
        created = self.client.add_note(candidate_id, self.on_behalf_of, body, self.note_visibility)
        note_id = mapping.to_id(created.get("id")) or ""
        log.info("greenhouse.note_added", application_id=ref.application_id, note_id=note_id)
        return note_id

    def attach_report(self, ref: ApplicationRef, filename: str, content: bytes) -> None:
        """The PDF as an application attachment (``type: other``). Not idempotent."""
        application_id = _checked_id(ref.application_id, "application")
        self.client.add_application_attachment(
            application_id,
            filename=filename,
            content=content,
            content_type="application/pdf",
            attachment_type="other",
            visibility=self.attachment_visibility,
        )
        log.info("greenhouse.report_attached", application_id=application_id, size=len(content))

    def move_to_stage(self, ref: ApplicationRef, stage_name: str) -> None:
        """Move to the job's stage called ``stage_name`` (case-insensitive).

        Re-reads the application so ``from_stage_id`` is current. Idempotent: nothing is sent
        when it is already there. Raises ``NotFound`` (no such stage in the job), ``Conflict``
        (no job, not active, or Greenhouse's 422 when the stage changed meanwhile).
        """
        application_id = _checked_id(ref.application_id, "application")
        app = self.client.get_application(application_id)
        job = mapping.job(app)
        if job is None:
            raise errors.Conflict("application has no job to move within", service=SERVICE, path="move")
        target = mapping.find_stage(self.client.list_job_stages(job.id), stage_name)
        if target is None:
            raise errors.NotFound(
                f"job has no stage named {stage_name!r}", service=SERVICE, path="job_stages"
            )
        current = mapping.stage(app)
        target_id = mapping.to_id(target.get("id")) or ""
        if current is not None and current.id == target_id:
            return
        if (app.get("status") or "active") != "active":
            # Harvest docs: only active applications can be moved.
            raise errors.Conflict(
                f"application is {app.get('status')}, not active", service=SERVICE, path="move"
            )
        if current is None:
            raise errors.Conflict("application has no current stage", service=SERVICE, path="move")
        self.client.move_application(application_id, current.id, target_id)
        log.info("greenhouse.stage_moved", application_id=application_id, stage_id=target_id)

    def has_note(self, ref: ApplicationRef, body: str) -> bool:
        """Whether a note with exactly this body is on the candidate's feed. Read-only."""
        return body in self.client.list_note_bodies(self._candidate_id(ref))

    def has_attachment(self, ref: ApplicationRef, filename: str) -> bool:
        """Whether the application has an attachment of this name. Read-only."""
        app = self.client.get_application(_checked_id(ref.application_id, "application"))
        return any(a.get("filename") == filename for a in app.get("attachments") or [] if isinstance(a, dict))

    def check_connection(self) -> None:
        """One cheap read (the first user). Raises ``AuthenticationError`` on bad credentials."""
        next(iter(self.client.list_users(per_page=1)), None)

    # -- helpers ---------------------------------------------------------------------------
    def _candidate_id(self, ref: ApplicationRef) -> str:
        if ref.candidate_id:
            return _checked_id(ref.candidate_id, "candidate")
        app = self.client.get_application(_checked_id(ref.application_id, "application"))
        candidate_id = mapping.to_id(app.get("candidate_id"))
        if candidate_id is None:
            raise errors.ServerError("application without candidate_id", service=SERVICE, path="application")
        return candidate_id


def _checked_id(value: str, kind: str) -> str:
    """Greenhouse ids are integers; anything else cannot exist (and must not reach a path)."""
    text = str(value).strip()
    if not (text.isascii() and text.isdigit()):
        raise errors.NotFound(f"not a Greenhouse {kind} id", service=SERVICE, path=kind)
    return text
