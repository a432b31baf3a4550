"""Webhook delivery for the Crosschq sandbox.

Faithful to Crosschq's connector settings: the body is JSON, the method is
``POST`` (default) or ``PUT``, and the receiver is authenticated with no
auth, ``Authorization: Basic base64(user:password)`` or a token.

ASSUMPTIONS (Crosschq publishes no delivery policy):

* the token method sends ``Authorization: Token <secret>``;
* one sender thread delivers in FIFO order; a delivery that fails
  (connection error or a non-2xx answer, redirects included) is retried up
  to 5 times after 0.2 s, 0.5 s, 1 s, 2 s and 4 s, blocking later events
  meanwhile, and is then given up;
* proxy environment variables are ignored and the timeout is 5 s.

Fault injection (``drop_webhooks``, ``duplicate_webhooks``,
``reorder_webhooks``) is applied here and in ``SandboxState.next_batch``.
Every attempt is logged without personal data.
"""

from __future__ import annotations

import base64
import dataclasses
import http.client
import threading
import urllib.error
import urllib.request
from typing import Any

from .sandbox_model import Delivery
from .sandbox_state import SandboxState


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class WebhookSender:
    """Background thread draining ``SandboxState.outbox``."""

    def __init__(self, state: SandboxState) -> None:
        self._state = state
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, name="crosschq-sandbox-webhooks", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with self._state.cond:
            self._state.cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            batch = self._state.next_batch(self._stop)
            try:
                for delivery in batch:
                    if self._stop.is_set():
                        break
                    try:
                        self._deliver(delivery)
                    except Exception:  # keep the sender alive whatever one delivery does
                        self._log(delivery, error=True)
            finally:
                self._state.batch_done(len(batch))

    def _log(self, delivery: Delivery, **fields: Any) -> None:
        entry = {
            "request_id": delivery.request_id,
            "event_name": delivery.event_name,
            "status": delivery.status,
            "delivered": False,
            "http_status": None,
            "attempt": 0,
            "dropped": False,
            "duplicate": delivery.duplicate,
        }
        entry.update(fields)
        self._state.log_webhook(entry)

    def _deliver(self, delivery: Delivery) -> None:
        with self._state.cond:
            config = self._state.config
            url, auth, method = config.webhook_url, config.webhook_auth, config.webhook_method
            delays, timeout = config.webhook_retry_delays, config.webhook_timeout
            faults = self._state.faults
            drop, duplicate = faults.drop_webhooks, faults.duplicate_webhooks
        if not url:
            self._log(delivery)
            return
        if self._state.chance(drop):
            self._log(delivery, dropped=True)
            return
        copies = [delivery]
        if self._state.chance(duplicate):
            copies.append(dataclasses.replace(delivery, duplicate=True))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "crosschq-sandbox-webhooks/2.0",
        }
        if auth and auth[0] == "basic":
            pair = f"{auth[1]}:{auth[2]}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        elif auth and auth[0] == "token":
            headers["Authorization"] = f"Token {auth[1]}"
        for copy in copies:
            for attempt in range(1, len(delays) + 2):
                ok, status = self._attempt(url, method, headers, copy.body, timeout)
                self._log(copy, delivered=ok, http_status=status, attempt=attempt, method=method)
                if ok or attempt > len(delays) or self._stop.wait(delays[attempt - 1]):
                    break

    def _attempt(
        self, url: str, method: str, headers: dict[str, str], body: bytes, timeout: float
    ) -> tuple[bool, int | None]:
        request = urllib.request.Request(url, data=body, headers=headers, method=method)
        try:
            with self._opener.open(request, timeout=timeout) as response:
                response.read()
                return 200 <= response.status < 300, response.status
        except urllib.error.HTTPError as exc:
            exc.close()
            return False, exc.code
        except (OSError, http.client.HTTPException, ValueError):
            return False, None
