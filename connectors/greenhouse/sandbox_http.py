"""HTTP plumbing of the Greenhouse sandbox: server, request parsing, answers, dispatch.

One ``ThreadingHTTPServer`` serves three areas: the Harvest API (``/v1/...``,
``/v3/...`` and the OAuth ``/token``; see ``sandbox_harvest``), the control API
(``/_sandbox/...``; see ``sandbox_control``) and attachment downloads. The server never
logs requests: bodies and URLs can carry candidate data.
"""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from connectors.greenhouse.sandbox_runtime import Runtime
from connectors.greenhouse.sandbox_state import SandboxError

MAX_BODY = 64 * 1024 * 1024


@dataclass
class Request:
    method: str
    path: str
    query: list[tuple[str, str]]
    headers: Message
    body: bytes
    host: str  # "127.0.0.1:54321" as the client addressed us, for Link headers

    def param(self, name: str) -> str | None:
        return next((v for k, v in self.query if k == name), None)

    def json(self) -> Any:
        """The body as JSON (``{}`` when empty); 400 when it is not JSON."""
        if not self.body.strip():
            return {}
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError):
            raise SandboxError(400, {"message": "The request body is not valid JSON"}) from None


@dataclass
class Response:
    status: int
    body: Any = None  # JSON-serialisable; None sends no body
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
    content_type: str = "application/json; charset=utf-8"

    def payload(self) -> bytes:
        if self.raw is not None:
            return self.raw
        if self.body is None:
            return b""
        return json.dumps(self.body).encode("utf-8")


def error_response(error: SandboxError) -> Response:
    return Response(error.status, error.body, dict(error.headers))


Dispatcher = Callable[[Runtime, Request], Response]


class SandboxHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], runtime: Runtime, dispatch: Dispatcher) -> None:
        self.runtime = runtime
        self.dispatch = dispatch
        super().__init__(address, SandboxRequestHandler)


class SandboxRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "GreenhouseSandbox/1.0"
    timeout = 30
    # Headers and body leave in separate writes; without this, Nagle's algorithm and the
    # client's delayed ACK add about 40 ms to every keep-alive response.
    disable_nagle_algorithm = True
    server: SandboxHTTPServer

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced: request lines can carry personal data."""

    def _read(self) -> Request | Response:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.close_connection = True
            return Response(400, {"message": "Invalid Content-Length"})
        if length > MAX_BODY:
            self.close_connection = True
            return Response(413, {"message": "Request body too large"})
        body = self.rfile.read(length) if length > 0 else b""
        parts = urlsplit(self.path)
        host = self.headers.get("Host") or "{}:{}".format(*self.server.server_address[:2])
        query = parse_qsl(parts.query, keep_blank_values=True)
        return Request(self.command, parts.path, query, self.headers, body, host)

    def _handle(self) -> None:
        request = self._read()
        if isinstance(request, Response):
            self._write(request)
            return
        try:
            response = self.server.dispatch(self.server.runtime, request)
        except SandboxError as error:
            response = error_response(error)
        except Exception as exc:  # the sandbox must answer, whatever went wrong
            tb = "".join(traceback.format_tb(exc.__traceback__))
            sys.stderr.write(f"greenhouse sandbox: internal error {type(exc).__name__}\n{tb}")
            response = Response(500, {"message": "Internal server error"})
        self._write(response)

    def _write(self, response: Response) -> None:
        payload = response.payload()
        self.send_response(response.status)
        if payload:
            self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if payload and self.command != "HEAD":
            self.wfile.write(payload)


def serve_file(runtime: Runtime, request: Request) -> Response:
    """``GET /_sandbox/files/<token>/<filename>``: an attachment's bytes."""
    parts = request.path.split("/")
    token = parts[3] if len(parts) > 3 else ""
    with runtime.state.lock:
        stored = runtime.state.files.get(token)
    if request.method != "GET" or stored is None:
        return Response(404, {"message": "Resource not found"})
    data, content_type = stored
    return Response(200, raw=data, content_type=content_type)


def route_not_found() -> Response:
    return Response(404, {"message": "Resource not found"})
