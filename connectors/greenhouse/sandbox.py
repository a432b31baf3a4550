"""A local simulator of Greenhouse for the reference-check integration: Harvest and webhooks.

Start it in-process (``with GreenhouseSandbox(api_key=...) as gh: ...``) or from the
command line (``crosschq-worker sandbox greenhouse --port P --api-key K --webhook-url U
--webhook-secret S``). Standard library only; the worker never imports it.

What is faithful to Greenhouse's documentation (grnhse/greenhouse-api-docs and
harvestdocs.greenhouse.io), module by module:

- ``sandbox_harvest``: Basic auth with the API key, ``On-Behalf-Of`` on writes, the 401
  body, v3 OAuth client-credentials tokens and bearer auth;
- ``sandbox_runtime``: the 10-second rate-limit window and its four headers;
- ``sandbox_paging``: v1 ``Link`` pagination (``per_page``/``page``/``skip_count``) and
  v3 cursor pagination;
- ``sandbox_views``: application, candidate, job, stage, user, custom field, note and
  activity-feed shapes;
- ``sandbox_fields``, ``sandbox_writes`` and ``sandbox_attachments``: custom-field, note,
  attachment and stage-move rules;
- ``sandbox_webhooks`` and ``sandbox_payloads``: the envelope, the ``Signature`` header
  over the raw, unicode-escaped body, ``Greenhouse-Event-ID``, the retry schedule
  (compressed) and the documented payload of each action.

Assumptions, where Greenhouse documents nothing, are stated in each module: notably the
v3 write routes (``sandbox_harvest_routes``), 403 for a missing ``On-Behalf-Of``, the
``ping`` payload, retries reusing the event id, and stage moves made through the API
sending ``candidate_stage_change``. ``sandbox_control`` lists the control API under
``/_sandbox/`` that tests use to act as a Greenhouse user and to read back writes.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from types import FrameType, TracebackType
from typing import Any

from connectors.greenhouse import sandbox_control, sandbox_harvest
from connectors.greenhouse import sandbox_lifecycle as lifecycle
from connectors.greenhouse.sandbox_control import application_state
from connectors.greenhouse.sandbox_http import Request, Response, SandboxHTTPServer
from connectors.greenhouse.sandbox_runtime import Runtime, SandboxConfig
from connectors.greenhouse.sandbox_seed import apply_seed
from connectors.greenhouse.sandbox_state import JsonDict

__all__ = ["GreenhouseSandbox", "build_arg_parser", "main"]


def dispatch(rt: Runtime, request: Request) -> Response:
    if request.path.startswith("/_sandbox/"):
        return sandbox_control.handle(rt, request)
    return sandbox_harvest.handle(rt, request)


class GreenhouseSandbox:
    """The simulator: an HTTP server on a daemon thread plus a webhook sender thread."""

    def __init__(
        self, *, api_key: str, webhook_url: str | None = None,
        webhook_secret: str | None = None, client_id: str = "sandbox-client",
        client_secret: str | None = None, host: str = "127.0.0.1", port: int = 0,
        rate_limit: int = 50, rate_window: float = 10.0, seed_demo: bool = True,
    ) -> None:
        config = SandboxConfig(
            api_key=api_key, client_id=client_id, client_secret=client_secret or api_key,
            webhook_url=webhook_url, webhook_secret=webhook_secret,
            rate_limit=rate_limit, rate_window=rate_window,
        )
        self.runtime = Runtime(config, seed_demo=seed_demo)
        self.url = ""
        self._address = (host, port)
        self._server: SandboxHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> str:
        """Serve in the background; returns the base URL (with a trailing slash)."""
        if self._server is not None:
            return self.url
        server = SandboxHTTPServer(self._address, self.runtime, dispatch)
        host, port = server.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else host
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{port}/"
        self.runtime.state.base_url = self.url
        self._server = server
        self.runtime.outbox.start()
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1},
            name="greenhouse-sandbox-http", daemon=True,
        )
        self._thread.start()
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self.runtime.outbox.stop()

    def __enter__(self) -> GreenhouseSandbox:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until every queued webhook has been delivered or given up."""
        return self.runtime.outbox.wait_idle(timeout)

    # -- in-process mirrors of the control API ---------------------------------------

    def seed(self, data: dict[str, Any]) -> dict[str, Any]:
        return apply_seed(self.runtime.state, data)

    def writes(self, since: int = 0) -> list[dict[str, Any]]:
        """Every write so far, in order; ``since`` skips the first ones (for cheap polling)."""
        return self.runtime.writes(since)

    def calls(self) -> list[dict[str, Any]]:
        return self.runtime.call_log()

    def webhook_attempts(self) -> list[dict[str, Any]]:
        return self.runtime.outbox.attempts()

    def configure(self, **changes: Any) -> dict[str, Any]:
        return self.runtime.configure(changes)

    def reset(self, *, config: bool = False) -> None:
        self.runtime.reset(config=config)

    def application_state(self, application_id: int) -> dict[str, Any]:
        return application_state(self.runtime.state, application_id)

    def move(self, application_id: int, stage_name_or_id: str | int) -> None:
        """Move the application as a Greenhouse user would; sends candidate_stage_change."""
        lifecycle.move(self.runtime.state, application_id, stage_name_or_id)

    def reject(self, application_id: int) -> JsonDict:
        return lifecycle.reject(self.runtime.state, application_id, {})

    def unreject(self, application_id: int) -> JsonDict:
        return lifecycle.unreject(self.runtime.state, application_id)

    def hire(self, application_id: int) -> JsonDict:
        return lifecycle.hire(self.runtime.state, application_id, {})

    def unhire(self, application_id: int) -> JsonDict:
        return lifecycle.unhire(self.runtime.state, application_id)

    def delete_application(self, application_id: int) -> JsonDict:
        return lifecycle.delete_application(self.runtime.state, application_id)

    def delete_candidate(self, candidate_id: int) -> JsonDict:
        return lifecycle.delete_candidate(self.runtime.state, candidate_id)

    def update_candidate(self, candidate_id: int, fields: dict[str, Any]) -> JsonDict:
        return lifecycle.update_candidate(self.runtime.state, candidate_id, fields)

    def merge_candidates(self, candidate_id: int, into: int) -> JsonDict:
        return lifecycle.merge(self.runtime.state, candidate_id, into)

    def anonymize_candidate(self, candidate_id: int, fields: list[str] | None = None) -> JsonDict:
        return lifecycle.anonymize(self.runtime.state, candidate_id, fields)

    def ping(self) -> JsonDict:
        return lifecycle.ping(self.runtime.state, self.runtime.config.web_hook_id)


def build_arg_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="crosschq-worker sandbox greenhouse",
        description="Run a local Greenhouse Harvest API and webhook simulator.",
    )
    env = os.environ.get
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--api-key", default=env("GREENHOUSE_SANDBOX_API_KEY"),
                        help="Harvest API key (default: $GREENHOUSE_SANDBOX_API_KEY)")
    parser.add_argument("--webhook-url", default=env("GREENHOUSE_SANDBOX_WEBHOOK_URL"))
    parser.add_argument("--webhook-secret", default=env("GREENHOUSE_SANDBOX_WEBHOOK_SECRET"),
                        help="default: $GREENHOUSE_SANDBOX_WEBHOOK_SECRET")
    parser.add_argument("--rate-limit", type=int, default=50, help="requests per window")
    parser.add_argument("--rate-window", type=float, default=10.0, help="seconds")
    parser.add_argument("--client-id", default="sandbox-client", help="Harvest v3 OAuth client")
    parser.add_argument("--client-secret", default=env("GREENHOUSE_SANDBOX_CLIENT_SECRET"),
                        help="default: the API key")
    parser.add_argument("--no-seed", action="store_true", help="start with an empty organisation")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGINT or SIGTERM. Prints the URL, never a secret."""
    parser = build_arg_parser()
    args = parser.parse_args(argv)
    if not args.api_key:
        parser.error("--api-key (or GREENHOUSE_SANDBOX_API_KEY) is required")
    sandbox = GreenhouseSandbox(
        api_key=args.api_key, webhook_url=args.webhook_url, webhook_secret=args.webhook_secret,
        client_id=args.client_id, client_secret=args.client_secret, host=args.host,
        port=args.port, rate_limit=args.rate_limit, rate_window=args.rate_window,
        seed_demo=not args.no_seed,
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    # Signal handlers can only be installed from the main thread.
    in_main = threading.current_thread() is threading.main_thread()
    signals = (signal.SIGINT, signal.SIGTERM) if in_main else ()
    previous = {sig: signal.signal(sig, on_signal) for sig in signals}
    try:
        url = sandbox.start()
        print(f"greenhouse sandbox listening on {url}", flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        sandbox.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


if __name__ == "__main__":
    sys.exit(main())
