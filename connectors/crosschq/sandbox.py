"""Local simulator of the Crosschq Partner API v2 and its webhooks.

Run it with ``python -m connectors.crosschq.sandbox --token T --webhook-url U``
(or through the project CLI) and point a client at the printed base URL.

Faithful to the spec (crosschq-partner-api-v2):

* paths, with the trailing slash the spec shows; a path without it is 404;
* the token in the ``Authorization`` header (scheme ``Token`` by default,
  ``Bearer`` accepted too); 401 bodies in Django REST Framework style;
* ``GET /api/v2/settings/jobrole/``, ``POST /api/v2/reference-request/``,
  ``GET .../{id}/``, ``PATCH .../{id}/edit/``, ``POST .../{id}/cancel/``,
  ``POST .../{id}/conclude/``, ``POST .../{id}/send-reminder/``,
  ``GET .../{id}/download-report/?report=summary|full``;
* the create error shape ``{"errors": {...}}`` and ``{"detail": "Not found."}``;
* the webhook bodies and events of every status change (see
  ``sandbox_state``), with POST or PUT and no, Basic or Token auth.

ASSUMPTIONS, beyond those listed in ``sandbox_state``, ``sandbox_validation``,
``sandbox_webhooks`` and ``sandbox_pdf``:

* an unknown path answers Django's plain HTML 404 page, and a wrong method
  DRF's 405 ``{"detail": "Method \\"GET\\" not allowed."}``;
* authentication is checked before the request id is looked up, as in DRF;
* a manual reminder is allowed ``reminder_delay_seconds`` (default 24 h)
  after the request was sent or after the previous reminder;
* injected 5xx answers use Django's HTML error page; 429 and 503 carry
  ``Retry-After``.

A control API under ``/_sandbox/`` (no auth, JSON) drives the candidate and
reference side of the lifecycle, injects faults and exposes call and webhook
logs; see :data:`CONTROL_API`. Nothing is logged to stdout except the
listening line, which never includes the token.
"""

from __future__ import annotations

import argparse
import hmac
import json
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType, TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .sandbox_model import (
    DEFAULT_RETRY_DELAYS,
    SandboxConfig,
    check_webhook_auth,
    parse_webhook_auth,
)
from .sandbox_pdf import render_report
from .sandbox_state import SandboxState
from .sandbox_validation import JSON, SandboxError, detail
from .sandbox_webhooks import WebhookSender

__all__ = ["CONTROL_API", "CrosschqSandbox", "build_arg_parser", "main", "parse_webhook_auth"]

CONTROL_API = (
    "GET    /_sandbox/requests",
    "GET    /_sandbox/requests/{id}",
    "POST   /_sandbox/requests/{id}/accept",
    "POST   /_sandbox/requests/{id}/self-assessment",
    "POST   /_sandbox/requests/{id}/add-reference        {relationship?, first_name?, email?, ...}",
    "POST   /_sandbox/requests/{id}/complete-reference   {index?}",
    "POST   /_sandbox/requests/{id}/decline-reference    {index?}",
    "POST   /_sandbox/requests/{id}/report-ready",
    "POST   /_sandbox/requests/{id}/candidate-cancel",
    "POST   /_sandbox/requests/{id}/candidate-decline",
    "POST   /_sandbox/requests/{id}/auto-cancel",
    "POST   /_sandbox/requests/{id}/auto-conclude",
    "POST   /_sandbox/requests/{id}/allow-reminder",
    "POST   /_sandbox/requests/{id}/resend-webhook",
    "GET    /_sandbox/calls",
    "GET    /_sandbox/webhooks",
    "GET|POST|DELETE /_sandbox/faults",
    "GET|POST /_sandbox/config",
    "POST   /_sandbox/reset",
    "GET    /_sandbox/jobroles",
    "POST   /_sandbox/jobroles/{codename}/enable | disable",
    "POST   /_sandbox/wait-idle",
)
_NOT_FOUND_HTML = (
    b'<!doctype html>\n<html lang="en">\n<head>\n  <title>Not Found</title>\n</head>\n'
    b"<body>\n  <h1>Not Found</h1><p>The requested resource was not found on this server.</p>\n"
    b"</body>\n</html>\n"
)
_ID = r"(?P<rid>[^/]+)"
_API_ROUTES: tuple[tuple[re.Pattern[str], str, str], ...] = (
    (re.compile(r"^/api/v2/settings/jobrole/$"), "GET", "jobroles"),
    (re.compile(r"^/api/v2/reference-request/$"), "POST", "create"),
    (re.compile(rf"^/api/v2/reference-request/{_ID}/$"), "GET", "retrieve"),
    (re.compile(rf"^/api/v2/reference-request/{_ID}/edit/$"), "PATCH", "edit"),
    (re.compile(rf"^/api/v2/reference-request/{_ID}/cancel/$"), "POST", "cancel"),
    (re.compile(rf"^/api/v2/reference-request/{_ID}/conclude/$"), "POST", "conclude"),
    (re.compile(rf"^/api/v2/reference-request/{_ID}/send-reminder/$"), "POST", "send-reminder"),
    (re.compile(rf"^/api/v2/reference-request/{_ID}/download-report/$"), "GET", "download"),
)


@dataclass
class Reply:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


def json_reply(status: int, payload: Any, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, json.dumps(payload).encode(), headers=headers or {})


def _fault_reply(status: int, retry_after: int) -> Reply:
    headers = {"Retry-After": str(retry_after)} if status in (429, 503) else {}
    if status == 429:
        unit = "second" if retry_after == 1 else "seconds"
        message = f"Request was throttled. Expected available in {retry_after} {unit}."
        return json_reply(429, {"detail": message}, headers)
    if status >= 500:
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Error"
        html = f"<!doctype html>\n<html><body><h1>{phrase} ({status})</h1></body></html>\n"
        return Reply(status, html.encode(), "text/html; charset=utf-8", headers)
    return json_reply(status, {"detail": "Simulated error."}, headers)


def _parse_json(raw: bytes) -> Any:
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise detail(400, f"JSON parse error - {exc}") from None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], sandbox: CrosschqSandbox) -> None:
        super().__init__(address, _Handler)
        self.sandbox = sandbox


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "CrosschqSandbox/2.0"
    sys_version = ""
    disable_nagle_algorithm = True  # headers and body are separate writes
    server: _Server

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def log_message(self, format: str, *args: Any) -> None:
        """Stay silent: paths and bodies may carry personal data."""

    def _dispatch(self, method: str) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        raw = self.rfile.read(length) if length > 0 else b""
        parts = urlsplit(self.path)
        sandbox = self.server.sandbox
        try:
            if parts.path == "/_sandbox" or parts.path.startswith("/_sandbox/"):
                reply = sandbox._control(method, parts.path, raw)
            else:
                reply = sandbox._api(
                    method, parts.path, parts.query, raw, self.headers.get("Authorization")
                )
                sandbox.state.record_call(method, parts.path, parts.query, reply.status)
        except Exception:  # pragma: no cover - defensive: never kill the connection silently
            reply = _fault_reply(500, 1)
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(reply.body)


class CrosschqSandbox:
    """In-process Crosschq Partner API v2 simulator (HTTP server + webhooks)."""

    def __init__(
        self,
        *,
        token: str,
        webhook_url: str | None = None,
        webhook_auth: tuple[str, ...] | None = None,
        webhook_method: str = "POST",
        auth_scheme: str = "Token",
        host: str = "127.0.0.1",
        port: int = 0,
        score_enabled: bool = True,
        auto_report: bool = False,
        retrieve_includes_status: bool = False,
        reminder_delay_seconds: float = 86400.0,
        webhook_retry_delays: tuple[float, ...] = DEFAULT_RETRY_DELAYS,
        webhook_timeout: float = 5.0,
    ) -> None:
        if not token:
            raise ValueError("token must not be empty")
        if webhook_method.upper() not in ("POST", "PUT"):
            raise ValueError("webhook_method must be POST or PUT")
        self._token = token
        self._schemes = {auth_scheme.lower(), "bearer"}
        self._host = host
        self._port = port
        self.url = ""
        self.state = SandboxState(
            SandboxConfig(
                reminder_delay_seconds=reminder_delay_seconds,
                auto_report=auto_report,
                score_enabled=score_enabled,
                retrieve_includes_status=retrieve_includes_status,
                webhook_url=webhook_url or None,
                webhook_auth=check_webhook_auth(webhook_auth),
                webhook_method=webhook_method.upper(),
                webhook_retry_delays=tuple(webhook_retry_delays),
                webhook_timeout=webhook_timeout,
            )
        )
        self._sender = WebhookSender(self.state)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"CrosschqSandbox(url={self.url!r})"

    # ---------------------------------------------------------- lifecycle
    def start(self) -> str:
        """Start serving in a daemon thread; return the base URL (trailing slash)."""
        if self._server is not None:
            return self.url
        self._server = _Server((self._host, self._port), self)
        host, port = self._server.server_address[:2]
        host_text = host.decode() if isinstance(host, bytes) else str(host)
        shown = f"[{host_text}]" if ":" in host_text else host_text
        self.url = f"http://{shown}:{port}/"
        with self.state.cond:
            self.state.base_url = self.url
        self._sender.start()
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="crosschq-sandbox",
            daemon=True,
        )
        self._thread.start()
        return self.url

    def stop(self) -> None:
        """Stop the HTTP server and the webhook sender (pending events are dropped)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self._sender.stop()

    def __enter__(self) -> CrosschqSandbox:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until the webhook outbox is empty and nothing is in flight."""
        return self.state.wait_idle(timeout)

    # --------------------------------------------------------- partner API
    def _authenticate(self, header: str | None) -> Reply | None:
        challenge = {"WWW-Authenticate": "Token"}
        scheme, _, credentials = (header or "").strip().partition(" ")
        if not scheme or scheme.lower() not in self._schemes:
            return json_reply(
                401, {"detail": "Authentication credentials were not provided."}, challenge
            )
        if not hmac.compare_digest(credentials.strip().encode(), self._token.encode()):
            return json_reply(401, {"detail": "Invalid token."}, challenge)
        return None

    def _api(
        self, method: str, path: str, query: str, raw: bytes, authorization: str | None
    ) -> Reply:
        latency, forced, retry_after = self.state.next_api_fault()
        if latency:
            time.sleep(latency)
        if forced is not None:
            return _fault_reply(forced, retry_after)
        matches = [
            (route, allowed, name) for route, allowed, name in _API_ROUTES if route.match(path)
        ]
        if not matches:
            return Reply(404, _NOT_FOUND_HTML, "text/html; charset=utf-8")
        denied = self._authenticate(authorization)
        if denied is not None:
            return denied
        route, allowed, name = matches[0]
        if method != allowed:
            return json_reply(
                405, {"detail": f'Method "{method}" not allowed.'}, {"Allow": f"{allowed}, OPTIONS"}
            )
        found = route.match(path)
        rid = found.group("rid") if found is not None and "rid" in route.groupindex else ""
        state = self.state
        try:
            if name == "jobroles":
                return json_reply(200, state.list_jobroles())
            if name == "create":
                return json_reply(201, {"request_id": state.create_request(_parse_json(raw))})
            if name == "retrieve":
                return json_reply(200, state.retrieve(rid))
            if name == "edit":
                return json_reply(200, state.edit(rid, _parse_json(raw)))
            if name == "cancel":
                return json_reply(200, state.cancel(rid))
            if name == "conclude":
                return json_reply(200, state.conclude(rid))
            if name == "send-reminder":
                return json_reply(200, state.send_reminder(rid))
            kind = (parse_qs(query).get("report") or ["summary"])[-1]
            pdf = render_report(state.report_data(rid, kind), kind)
            disposition = f'attachment; filename="crosschq-report-{rid}-{kind}.pdf"'
            return Reply(200, pdf, "application/pdf", {"Content-Disposition": disposition})
        except SandboxError as exc:
            return json_reply(exc.status, exc.body)

    # --------------------------------------------------------- control API
    def _control(self, method: str, path: str, raw: bytes) -> Reply:
        parts = [part for part in path.split("/") if part][1:]
        try:
            body = _parse_json(raw) if method in ("POST", "PUT") else {}
            if not isinstance(body, dict):
                raise detail(400, "Expected a JSON object.")
            handler = self._control_handler(method, parts, body)
            if handler is None:
                return json_reply(404, {"detail": "Not found."})
            return json_reply(200, handler())
        except SandboxError as exc:
            return json_reply(exc.status, exc.body)

    def _control_handler(
        self, method: str, parts: list[str], body: JSON
    ) -> Callable[[], Any] | None:
        state = self.state
        head, rest = (parts[0] if parts else ""), parts[1:]
        routes: dict[tuple[str, str, int], Callable[[], Any]] = {
            ("GET", "requests", 0): state.summaries,
            ("GET", "requests", 1): lambda: state.summary(rest[0]),
            ("POST", "requests", 2): lambda: state.control(rest[0], rest[1], body),
            ("GET", "calls", 0): lambda: list(state.calls),
            ("GET", "webhooks", 0): lambda: list(state.webhook_log),
            ("GET", "faults", 0): state.faults_view,
            ("POST", "faults", 0): lambda: state.set_faults(body),
            ("DELETE", "faults", 0): state.clear_faults,
            ("GET", "config", 0): self._config,
            ("POST", "config", 0): lambda: self._config(body),
            ("POST", "reset", 0): self._reset,
            ("GET", "jobroles", 0): state.all_jobroles,
            ("POST", "jobroles", 2): lambda: self._toggle_jobrole(rest[0], rest[1]),
            ("GET", "wait-idle", 0): lambda: {"idle": self.wait_idle(10.0)},
            ("POST", "wait-idle", 0): lambda: {"idle": self.wait_idle(10.0)},
        }
        return routes.get((method, head, len(rest)))

    def _config(self, data: JSON | None = None) -> JSON:
        return self.state.set_config(data or {})

    def _reset(self) -> JSON:
        self.state.reset()
        return {"reset": True}

    def _toggle_jobrole(self, codename: str, action: str) -> JSON:
        if action not in ("enable", "disable"):
            raise detail(404, "Not found.")
        return self.state.set_jobrole_enabled(codename, action == "enable")


# ------------------------------------------------------------------ CLI
def build_arg_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="crosschq-sandbox",
        description="Local simulator of the Crosschq Partner API v2 and its webhooks.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=8765, help="port to bind, 0 for any (default 8765)"
    )
    parser.add_argument(
        "--token", help="API token clients must send (default: $CROSSCHQ_SANDBOX_TOKEN)"
    )
    parser.add_argument(
        "--webhook-url", help="where webhooks are sent; without it they are only recorded"
    )
    parser.add_argument("--webhook-auth", help="basic:USER:PASS or token:SECRET")
    parser.add_argument(
        "--webhook-method",
        type=str.upper,
        choices=("POST", "PUT"),
        default="POST",
        help="webhook HTTP method",
    )
    parser.add_argument(
        "--auth-scheme", default="Token", help="Authorization scheme accepted besides Bearer"
    )
    parser.add_argument(
        "--auto-report", action="store_true", help="mark reports ready on completion"
    )
    parser.add_argument(
        "--no-score", action="store_true", help="omit the optional score from webhooks"
    )
    parser.add_argument(
        "--reminder-delay-seconds",
        type=float,
        default=86400.0,
        help="delay before a reminder is allowed",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGINT or SIGTERM; print one 'listening' line."""
    parser = build_arg_parser()
    args = parser.parse_args(argv)
    token = args.token or os.environ.get("CROSSCHQ_SANDBOX_TOKEN")
    if not token:
        parser.error("--token is required (or set CROSSCHQ_SANDBOX_TOKEN)")
    try:
        webhook_auth = parse_webhook_auth(args.webhook_auth)
    except ValueError as exc:
        parser.error(str(exc))
    sandbox = CrosschqSandbox(
        token=token,
        webhook_url=args.webhook_url,
        webhook_auth=webhook_auth,
        webhook_method=args.webhook_method,
        auth_scheme=args.auth_scheme,
        host=args.host,
        port=args.port,
        score_enabled=not args.no_score,
        auto_report=args.auto_report,
        reminder_delay_seconds=args.reminder_delay_seconds,
    )
    stopping = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    previous: dict[signal.Signals, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for wanted in (signal.SIGINT, signal.SIGTERM):
            previous[wanted] = signal.signal(wanted, _on_signal)
    try:
        try:
            url = sandbox.start()
        except OSError as exc:
            print(
                f"crosschq sandbox cannot listen on {args.host}:{args.port}: {exc.strerror}",
                file=sys.stderr,
            )
            return 1
        print(f"crosschq sandbox listening on {url}", flush=True)
        while not stopping.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
