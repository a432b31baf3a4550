"""The webhook receiver (ASGI, served by uvicorn): ``worker.web:app``.

Verify, store durably, enqueue by id, answer. Nothing slow happens in a request.

========================================  ======================================================
answer                                    when
========================================  ======================================================
202 ``{"event_id": ...}``                 stored (or already stored: a duplicate) and enqueued
200 ``{"status": "ignored"}``             a ping or an event type the worker does not act on
400 ``{"error": reason}``                 body not JSON, not an object, or missing its ids
401                                       signature or shared secret missing or wrong
404                                       unknown connector
413                                       body over ``WORKER_WEBHOOK_MAX_BYTES``
415                                       content type is not JSON
503                                       Redis could not store the event: the sender retries
========================================  ======================================================

Nothing is stored for any 4xx. No input produces a 500: unexpected errors answer 503, because
the sender's retry is the only way such an event is not lost.
"""

from __future__ import annotations

import base64
import hmac
import json
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from functools import partial
from typing import Any

import redis
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from config.errors import ConfigError
from config.logs import configure_logging, get_logger
from config.settings import Settings, get_settings
from connectors import registry
from connectors.ats import AtsConnector
from connectors.crosschq import lenient_json
from connectors.crosschq.models import WebhookEvent
from connectors.errors import WebhookAuthError, WebhookPayloadError
from worker.deps import redis_client
from worker.inbox import AsyncInbox, async_client
from worker.publish import InlineEnqueue, celery_enqueue
from worker.store import Store, body_hash

log = get_logger("worker.web")

# Only these inbound headers are kept with an event (enough to verify it again on replay).
KEPT_HEADERS = ("content-type", "signature", "greenhouse-event-id", "user-agent", "x-fake-signature")


class BodyTooLarge(Exception):
    pass


@dataclass
class Receiver:
    settings: Settings
    store: Store
    connectors: dict[str, AtsConnector]
    enqueue: Callable[[str, str], None]
    inbox: AsyncInbox | None = None  # the async write path; without it the store runs in a thread
    last_canary_sent: float = 0.0

    def check_crosschq_auth(self, headers: Mapping[str, str]) -> bool:
        cq = self.settings.crosschq
        if cq.webhook_auth == "none":
            return True
        secret = cq.webhook_secret.get_secret_value()
        given = headers.get("authorization", "")
        scheme, _, value = given.partition(" ")
        if cq.webhook_auth == "token":
            return scheme.lower() in ("token", "bearer") and hmac.compare_digest(
                value.strip().encode(), secret.encode()
            )
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(value.strip(), validate=True)
        except ValueError:
            return False
        expected = f"{cq.webhook_user}:{secret}".encode()
        return hmac.compare_digest(decoded, expected)


def _json_content_type(request: Request) -> bool:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return ctype == "application/json" or ctype.endswith("+json")


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _error(status: int, reason: str) -> JSONResponse:
    return JSONResponse({"error": reason}, status_code=status)


def _kept_headers(request: Request) -> dict[str, str]:
    return {h: request.headers[h] for h in KEPT_HEADERS if h in request.headers}


async def ats_webhook(request: Request) -> JSONResponse:
    rx: Receiver = request.app.state.receiver
    name = request.path_params["connector"]
    connector = rx.connectors.get(name)
    if connector is None:
        return _error(404, f"unknown connector {name!r}")
    try:
        body = await _read_body(request, rx.settings.worker.webhook_max_bytes)
    except BodyTooLarge:
        return _error(413, "body too large")
    if not _json_content_type(request):
        return _error(415, "content type must be application/json")
    try:
        event = connector.verify_and_parse({k.lower(): v for k, v in request.headers.items()}, body)
    except WebhookAuthError as exc:
        log.warning("webhook.rejected", source=name, status=401, reason=exc.message)
        return _error(401, "signature missing or invalid")
    except WebhookPayloadError as exc:
        log.warning("webhook.rejected", source=name, status=400, reason=exc.message)
        return _error(400, exc.message)
    if not event.acted_on:
        return JSONResponse({"status": "ignored"}, status_code=200)
    dedup = f"id:{event.event_id}" if event.event_id else f"sha256:{body_hash(body)}"
    return await _store_and_enqueue(
        rx,
        source="ats",
        connector=name,
        dedup=dedup,
        body=body,
        headers=_kept_headers(request),
        event=event.model_dump(mode="json"),
        candidate_id=event.candidate_id,
        task="ats.process_event",
        accepted=connector.accepted_status,
    )


async def crosschq_webhook(request: Request) -> JSONResponse:
    rx: Receiver = request.app.state.receiver
    if not rx.check_crosschq_auth(request.headers):
        log.warning("webhook.rejected", source="crosschq", status=401)
        return _error(401, "authorization missing or invalid")
    try:
        body = await _read_body(request, rx.settings.worker.webhook_max_bytes)
    except BodyTooLarge:
        return _error(413, "body too large")
    if not _json_content_type(request):
        return _error(415, "content type must be application/json")
    try:
        data = lenient_json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return _error(400, "body is not JSON")
    if not isinstance(data, dict):
        return _error(400, "body is not a JSON object")
    request_id = data.get("id")
    if not isinstance(request_id, str) or not request_id.strip() or len(request_id) > 128:
        return _error(400, 'missing request id ("id")')
    if not any(isinstance(data.get(key), str) for key in ("status", "status_message", "event_name")):
        return _error(400, "missing status, status_message or event_name")
    # The worker parses the same model: what it would refuse is refused here, before storing.
    try:
        WebhookEvent.model_validate(data)
    except ValidationError as exc:
        fields = sorted({".".join(str(p) for p in err["loc"][:2]) or "body" for err in exc.errors()})
        return _error(400, f"invalid Crosschq webhook: {', '.join(fields)[:200]}")
    except (ValueError, TypeError, OverflowError):
        return _error(400, "invalid Crosschq webhook")
    return await _store_and_enqueue(
        rx,
        source="crosschq",
        connector=None,
        dedup=f"sha256:{body_hash(body)}",
        body=body,
        headers={"content-type": request.headers.get("content-type", "")},
        event={"request_id": request_id},
        candidate_id=None,
        task="crosschq.process_webhook",
    )


async def _store_and_enqueue(
    rx: Receiver,
    *,
    source: str,
    connector: str | None,
    dedup: str,
    body: bytes,
    headers: dict[str, str],
    event: dict[str, Any],
    candidate_id: str | None,
    task: str,
    accepted: int = 202,
) -> JSONResponse:
    fields = {
        "source": source,
        "connector": connector,
        "dedup_key": dedup,
        "body": body,
        "headers": headers,
        "event": event,
        "candidate_id": candidate_id,
    }
    try:
        event_id, is_new, to_enqueue = await _store(rx, task, fields)
    except (redis.RedisError, OSError) as exc:
        log.error("webhook.not_stored", source=source, error=type(exc).__name__)
        return _error(503, "could not store the event; retry later")
    if not is_new:
        log.info("webhook.duplicate", source=source, event_id=event_id)
        return JSONResponse({"event_id": event_id, "duplicate": True}, status_code=accepted)
    if to_enqueue:
        await run_in_threadpool(_enqueue_stored, rx, task, event_id, source)
    log.info("webhook.stored", source=source, connector=connector, event_id=event_id)
    return JSONResponse({"event_id": event_id}, status_code=accepted)


async def _store(rx: Receiver, task: str, fields: dict[str, Any]) -> tuple[str, bool, bool]:
    """``(event id, is new, still to enqueue)``; raises on Redis errors (the sender must retry).

    With the default enqueue the Celery message is pushed by the script that stores the event
    (worker.publish), on redis.asyncio when the receiver has an async inbox: one round trip and
    no worker thread per webhook, which bench/ingest.py measured as most of the receiver's cost.
    """
    message = getattr(rx.enqueue, "message", None)
    inline: list[bool] = []

    def queued(event_id: str) -> tuple[str, bytes] | None:
        built = message(task, event_id) if message is not None else None
        inline.append(built is not None)
        return built

    if rx.inbox is not None:
        event_id, is_new = await rx.inbox.store_event(**fields, enqueue=queued)
    else:
        event_id, is_new = await run_in_threadpool(partial(rx.store.store_event, **fields, enqueue=queued))
    return event_id, is_new, is_new and inline != [True]


def _enqueue_stored(rx: Receiver, task: str, event_id: str, source: str) -> None:
    """Enqueue an event already stored; on failure beat re-dispatches it, so the answer stays 2xx."""
    try:
        rx.enqueue(task, event_id)
    except Exception as exc:  # noqa: BLE001 - stored already; beat re-dispatches pending events
        log.error("webhook.not_enqueued", source=source, event_id=event_id, error=type(exc).__name__)
        return
    with suppress(redis.RedisError, OSError):  # the state is informative; stored and queued is what counts
        rx.store.mark_enqueued(event_id)


async def healthz(request: Request) -> JSONResponse:
    rx: Receiver = request.app.state.receiver
    try:
        await run_in_threadpool(rx.store.r.ping)
    except (redis.RedisError, OSError):
        return JSONResponse({"redis": "down", "worker": "unknown"}, status_code=503)
    now = time.time()
    if now - rx.last_canary_sent > 10:
        rx.last_canary_sent = now
        try:
            await run_in_threadpool(rx.enqueue, "health.canary", "")
        except Exception:  # noqa: BLE001 - health reporting must not fail on the canary
            log.warning("health.canary_not_sent")
    age = await run_in_threadpool(rx.store.canary_age)
    worker_ok = age is not None and age < 120
    body = {
        "redis": "ok",
        "worker": "ok" if worker_ok else "stale",
        "canary_age_s": None if age is None else round(age, 1),
    }
    return JSONResponse(body, status_code=200 if worker_ok else 503)


def build_receiver(settings: Settings, enqueue: Callable[[str, str], None] | None = None) -> Receiver:
    cq = settings.crosschq
    if cq.webhook_auth != "none" and not cq.webhook_secret.get_secret_value():
        raise ConfigError(
            "CROSSCHQ_WEBHOOK_SECRET is empty: set it, or set CROSSCHQ_WEBHOOK_AUTH=none explicitly"
        )
    if cq.webhook_auth == "none":
        log.warning(
            "receiver.crosschq_unauthenticated",
            reason="CROSSCHQ_WEBHOOK_AUTH=none: anyone who can reach this port can post events",
        )
    names = [n.strip() for n in settings.worker.connectors.split(",") if n.strip()]
    connectors = {name: registry.load(name, settings) for name in names}
    store = Store(redis_client(settings.redis.url), inbox_ttl=settings.worker.inbox_ttl)
    inbox = AsyncInbox(async_client(settings.redis.url), inbox_ttl=settings.worker.inbox_ttl)
    enqueue = enqueue or InlineEnqueue(settings.redis.url)
    return Receiver(settings=settings, store=store, connectors=connectors, enqueue=enqueue, inbox=inbox)


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    if getattr(app.state, "receiver", None) is None:
        settings = get_settings()
        configure_logging(settings.log.format, settings.log.level)
        app.state.receiver = build_receiver(settings)
    log.info("receiver.started", connectors=sorted(app.state.receiver.connectors))
    yield
    inbox = app.state.receiver.inbox
    if inbox is not None:
        await inbox.client.aclose()


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("receiver.unexpected_error", error=type(exc).__name__, path=request.url.path)
    return _error(503, "temporarily unable to accept the event; retry later")


def create_app(receiver: Receiver | None = None) -> Starlette:
    application = Starlette(
        exception_handlers={Exception: _unexpected},
        routes=[
            Route("/webhooks/ats/{connector}", ats_webhook, methods=["POST"]),
            Route("/webhooks/crosschq", crosschq_webhook, methods=["POST", "PUT"]),
            Route("/healthz", healthz, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    application.state.receiver = receiver
    return application


app = create_app()

__all__ = ["app", "celery_enqueue", "create_app", "json"]
