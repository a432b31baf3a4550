"""Signed webhook delivery for the Greenhouse sandbox.

Faithful to webhooks/_introduction.md: each event is ``POST``ed as
``{"action": ..., "payload": {...}}`` with ``Content-Type: application/json``,
``Signature: sha256 <hex>`` (HMAC-SHA256 of the entire raw body with the secret key; an
algorithm name, a space, the digest), ``Greenhouse-Event-ID`` and a ``User-Agent``.
Greenhouse escapes unicode and HTML characters before signing (``<`` becomes ``\\u003c``),
so the body is ASCII JSON with ``<``, ``>`` and ``&`` escaped, and the signature covers
exactly those bytes. Only HTTP 200 counts as delivered; a timeout, another status or a
network error is retried six times following Greenhouse's 1/15/60/120/240/480-minute
schedule, compressed to ``RETRY_DELAYS`` seconds.

Assumptions: retries reuse the event's ``Greenhouse-Event-ID`` (the docs call it unique
per delivery); events go out one at a time from a single sender thread, oldest due first;
an event whose webhook URL is unset is dropped (and recorded) rather than queued.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import http.client
import itertools
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from connectors.greenhouse.sandbox_state import JsonDict, now_iso

RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0, 4.0, 8.0)
USER_AGENT = "Greenhouse-Webhook-Sandbox"
# Reads (url, secret, timeout) at send time, so configuration changes apply to retries too.
Target = Callable[[], tuple[str | None, str | None, float]]


def encode_body(action: str, payload: JsonDict) -> bytes:
    """The exact bytes Greenhouse would send: compact ASCII JSON, ``<>&`` escaped."""
    text = json.dumps(
        {"action": action, "payload": payload}, ensure_ascii=True, separators=(",", ":")
    )
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return text.encode("ascii")


def signature(body: bytes, secret: str) -> str:
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"sha256 {digest}"


@dataclass(order=True)
class _Event:
    due: float
    seq: int
    action: str = field(compare=False)
    event_id: str = field(compare=False)
    body: bytes = field(compare=False)
    attempts: int = field(default=0, compare=False)


def _post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
    """POST with http.client: it keeps header names as written (urllib would send
    ``Greenhouse-event-id``) and ignores proxy settings, which suits a loopback receiver."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("webhook_url must be an http(s) URL")
    connection_class = (
        http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    )
    connection = connection_class(parts.hostname, parts.port, timeout=timeout)
    try:
        path = parts.path or "/"
        connection.request("POST", f"{path}?{parts.query}" if parts.query else path, body,
                           headers)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


class WebhookOutbox:
    """A FIFO of signed events and the background thread that delivers them."""

    def __init__(self, target: Target, retry_delays: tuple[float, ...] = RETRY_DELAYS) -> None:
        self._target = target
        self._delays = retry_delays
        self._queue: list[_Event] = []
        self._seq = itertools.count()
        self._sent: dict[str, _Event] = {}
        self._attempts: list[JsonDict] = []
        self._busy = False
        self._generation = 0  # bumped by clear(), so an in-flight event is then forgotten
        self._running = False
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        with self._cond:
            if self._running:
                return
            self._running = True
        self._thread = threading.Thread(
            target=self._run, name="greenhouse-sandbox-webhooks", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._running = False
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def clear(self) -> None:
        """Drop queued events and the attempt log (used by reset)."""
        with self._cond:
            self._generation += 1
            self._queue.clear()
            self._sent.clear()
            self._attempts.clear()
            self._cond.notify_all()

    # -- producers -------------------------------------------------------------------

    def enqueue(self, action: str, payload: JsonDict) -> str | None:
        """Queue one event; returns its Greenhouse-Event-ID (None when no URL is set)."""
        event_id = str(uuid.uuid4())
        body = encode_body(action, payload)
        url, _secret, _timeout = self._target()
        with self._cond:
            if not url:
                self._log(action, event_id, 0, None, False, "no webhook_url configured")
                return None
            event = _Event(time.monotonic(), next(self._seq), action, event_id, body)
            self._sent[event_id] = event
            heapq.heappush(self._queue, event)
            self._cond.notify_all()
        return event_id

    def redeliver(self, event_id: str) -> bool:
        """Send a past event again, same body and Greenhouse-Event-ID."""
        with self._cond:
            past = self._sent.get(event_id)
            if past is None:
                return False
            again = _Event(time.monotonic(), next(self._seq), past.action, event_id, past.body)
            heapq.heappush(self._queue, again)
            self._cond.notify_all()
            return True

    def body_of(self, event_id: str) -> bytes | None:
        with self._cond:
            event = self._sent.get(event_id)
            return None if event is None else event.body

    # -- observers -------------------------------------------------------------------

    def attempts(self) -> list[JsonDict]:
        with self._cond:
            return [dict(a) for a in self._attempts]

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until nothing is queued or being sent; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queue or self._busy:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, 0.05))
            return True

    # -- sender ----------------------------------------------------------------------

    def _log(
        self, action: str, event_id: str, attempt: int, status: int | None,
        delivered: bool, error: str | None, will_retry: bool = False,
    ) -> None:
        self._attempts.append({
            "action": action, "event_id": event_id, "attempt": attempt,
            "http_status": status, "delivered": delivered, "error": error,
            "will_retry": will_retry, "at": now_iso(),
        })

    def _next_due(self) -> tuple[_Event, int] | None:
        """Pop the next due event (and the current generation); None once stopped."""
        with self._cond:
            while self._running:
                if self._queue and self._queue[0].due <= time.monotonic():
                    self._busy = True
                    return heapq.heappop(self._queue), self._generation
                wait = self._queue[0].due - time.monotonic() if self._queue else 0.5
                self._cond.wait(max(0.001, min(wait, 0.5)))
            return None

    def _run(self) -> None:
        while True:
            due = self._next_due()
            if due is None:
                return
            self._deliver(*due)

    def _deliver(self, event: _Event, generation: int) -> None:
        url, secret, timeout = self._target()
        event.attempts += 1
        status: int | None = None
        error: str | None = None
        if url:
            headers = {
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
                "Greenhouse-Event-ID": event.event_id,
            }
            if secret:
                headers["Signature"] = signature(event.body, secret)
            try:
                status = _post(url, event.body, headers, timeout)
            except (OSError, ValueError, http.client.HTTPException) as exc:
                error = type(exc).__name__
        else:
            error = "no webhook_url configured"
        delivered = status == 200
        retry = not delivered and event.attempts <= len(self._delays)
        with self._cond:
            self._busy = False
            self._cond.notify_all()
            if generation != self._generation:
                return
            self._log(event.action, event.event_id, event.attempts, status, delivered, error, retry)
            if retry:
                event.due = time.monotonic() + self._delays[event.attempts - 1]
                heapq.heappush(self._queue, event)
