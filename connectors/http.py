"""Shared HTTP plumbing: one client base for every integration.

- :func:`build_session` makes the ``requests`` session; :class:`HttpClient` always sends a
  (connect, read) timeout.
- :func:`classify` maps a response to the exception tree of :mod:`connectors.errors`;
  :func:`classify_transport` does the same for network failures. Nothing else decides
  retryable vs permanent.
- :func:`parse_retry_after` reads ``Retry-After`` (seconds or HTTP date) and, as a fallback,
  ``X-RateLimit-Reset`` (epoch seconds).
- One log line per response: ``http.response`` with service, method, path template, status,
  duration and any rate-limit headers.
- A :class:`RateLimiter` hook, injected by the worker, is consulted before every call and told
  about every 429. Clients never sleep: a limiter that has no token raises :class:`RateLimited`.
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import requests

from config.logs import get_logger
from connectors import errors

log = get_logger("connectors.http")

USER_AGENT = "crosschq-ats-worker/0.1"
_REQUEST_ID_HEADERS = ("X-Request-Id", "X-Request-ID", "Request-Id", "X-Amzn-RequestId", "X-Amz-Cf-Id")
_RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "Retry-After")


@dataclass(frozen=True)
class Timeouts:
    connect: float = 5.0
    read: float = 30.0

    def as_tuple(self) -> tuple[float, float]:
        return (self.connect, self.read)


class RateLimiter(Protocol):
    """Consulted before each call; told when the remote side said 429."""

    def acquire(self, service: str) -> None:
        """Return when a call may go out now, or raise :class:`errors.RateLimited`."""

    def penalize(self, service: str, seconds: float) -> None:
        """The remote side asked us to wait ``seconds``: no calls before then."""


class NoRateLimit:
    def acquire(self, service: str) -> None:
        return None

    def penalize(self, service: str, seconds: float) -> None:
        return None


class _Session(requests.Session):
    """Reads proxy and CA-bundle settings from the environment once per host, not per call.

    ``requests`` scans the whole environment on every call (``merge_environment_settings``),
    a tenth of a status write-back's CPU; a worker's environment does not change while it runs.
    """

    def __init__(self) -> None:
        super().__init__()
        self._environment: dict[str, Any] = {}

    def merge_environment_settings(
        self, url: str | bytes | None, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> Any:
        if proxies or stream is not None or verify is not None or cert is not None or not self.trust_env:
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        text = url.decode() if isinstance(url, bytes) else (url or "")
        scheme, _, rest = text.partition("://")
        host = f"{scheme}://{rest.split('/', 1)[0]}"
        cached = self._environment.get(host)
        if cached is None:
            cached = super().merge_environment_settings(url, proxies, stream, verify, cert)
            self._environment[host] = cached
        return {**cached, "proxies": dict(cached["proxies"])}


def build_session() -> requests.Session:
    """A session with our user agent and no automatic retries (the tasks retry)."""
    session = _Session()
    session.headers["User-Agent"] = USER_AGENT
    adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=8, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait, from ``Retry-After`` (seconds or HTTP date) or ``X-RateLimit-Reset``."""
    now = time.time() if now is None else now
    value = headers.get("Retry-After")
    if value:
        value = value.strip()
        try:
            return max(0.0, float(value))
        except ValueError:
            parsed = email.utils.parsedate_to_datetime(value) if "," in value else None
            if parsed is not None:
                return max(0.0, parsed.timestamp() - now)
    reset = headers.get("X-RateLimit-Reset")
    if reset:
        try:
            return max(0.0, float(reset) - now)
        except ValueError:
            return None
    return None


def vendor_request_id(headers: Mapping[str, str]) -> str | None:
    for name in _REQUEST_ID_HEADERS:
        if headers.get(name):
            return headers[name][:128]
    return None


def _flatten_errors(value: Any, prefix: str = "") -> dict[str, list[str]]:
    """``{"candidate": {"email": ["required"]}}`` -> ``{"candidate.email": ["required"]}``."""
    out: dict[str, list[str]] = {}
    if isinstance(value, Mapping):
        for key, sub in value.items():
            out.update(_flatten_errors(sub, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(value, list):
        if all(isinstance(v, str) for v in value):
            out[prefix or "non_field_errors"] = [str(v)[:200] for v in value]
        else:
            for index, item in enumerate(value):
                if isinstance(item, Mapping) and "message" in item:
                    # Greenhouse: [{"message": str, "field": str}]
                    field = str(item.get("field") or prefix or "non_field_errors")
                    out.setdefault(field, []).append(str(item["message"])[:200])
                else:
                    out.update(_flatten_errors(item, f"{prefix}[{index}]"))
    elif value is not None:
        out[prefix or "non_field_errors"] = [str(value)[:200]]
    return out


def field_errors_from_body(body: bytes) -> tuple[dict[str, list[str]], str | None]:
    """Field errors and a short ``detail``/``message`` from an error body, if it is JSON."""
    try:
        data = json.loads(body or b"null")
    except ValueError:
        return {}, None
    if not isinstance(data, Mapping):
        return {}, None
    fields = _flatten_errors(data["errors"]) if "errors" in data else {}
    detail = data.get("detail") or data.get("message") or data.get("error")
    return fields, (str(detail)[:200] if detail else None)


def classify(response: requests.Response, *, service: str, path: str) -> errors.IntegrationError:
    """The exception for a non-2xx response (never raised here; the caller raises)."""
    status = response.status_code
    method = response.request.method if response.request is not None else None
    context: dict[str, Any] = {
        "service": service,
        "method": method,
        "path": path,
        "status": status,
        "request_id": vendor_request_id(response.headers),
    }
    fields, detail = field_errors_from_body(response.content)
    reason = detail or response.reason or "error"
    if status == 429:
        return errors.RateLimited(
            f"rate limited: {reason}", retry_after=parse_retry_after(response.headers), **context
        )
    if status >= 500:
        return errors.ServerError(
            f"server error: {reason}", retry_after=parse_retry_after(response.headers), **context
        )
    if status in (401, 403):
        return errors.AuthenticationError(f"not authorized: {reason}", **context)
    if status == 404:
        return errors.NotFound(f"not found: {reason}", **context)
    if status in (409, 422):
        exc = errors.Conflict(f"refused: {reason}", **context)
        exc.field_errors = fields  # type: ignore[attr-defined]  # read by Greenhouse 422 handling
        return exc
    if status == 408:
        return errors.RequestTimeout(f"request timeout: {reason}", **context)
    return errors.BadRequest(f"bad request: {reason}", field_errors=fields, **context)


def classify_transport(
    exc: requests.RequestException, *, service: str, method: str, path: str
) -> errors.IntegrationError:
    context: dict[str, Any] = {"service": service, "method": method, "path": path}
    if isinstance(exc, requests.Timeout):
        return errors.RequestTimeout(f"timed out ({type(exc).__name__})", **context)
    if isinstance(exc, requests.ConnectionError):
        return errors.TransportError(f"connection failed ({type(exc).__name__})", **context)
    return errors.TransportError(f"request failed ({type(exc).__name__})", **context)


class HttpClient:
    """The base every integration's client builds on.

    ``auth`` returns the headers to add to each call (so a bearer token can be refreshed);
    ``path_template`` is what gets logged, so ids in paths never reach the logs.
    """

    def __init__(
        self,
        service: str,
        base_url: str,
        *,
        timeouts: Timeouts,
        auth: Callable[[], Mapping[str, str]] | None = None,
        limiter: RateLimiter | None = None,
        session: requests.Session | None = None,
        on_response: Callable[[requests.Response], None] | None = None,
    ) -> None:
        self.service = service
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.timeouts = timeouts
        self.auth = auth
        self.limiter: RateLimiter = limiter or NoRateLimit()
        self.session = session or build_session()
        self.on_response = on_response

    def url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        return self.base_url + path.lstrip("/")

    def request(
        self,
        method: str,
        path: str,
        *,
        path_template: str | None = None,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        limited: bool = True,
    ) -> requests.Response:
        """Send one request; return a 2xx response or raise from the exception tree."""
        template = path_template or path
        if limited:
            self.limiter.acquire(self.service)
        all_headers: dict[str, str] = {"Accept": "application/json"}
        if self.auth is not None:
            all_headers.update(self.auth())
        if headers:
            all_headers.update(headers)
        started = time.monotonic()
        try:
            response = self.session.request(
                method,
                self.url(path),
                params=params,
                json=json_body,
                data=data,
                headers=all_headers,
                timeout=self.timeouts.as_tuple(),
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            duration_ms = round((time.monotonic() - started) * 1000, 1)
            log.warning(
                "http.failed",
                service=self.service,
                method=method,
                path=template,
                error=type(exc).__name__,
                duration_ms=duration_ms,
            )
            raise classify_transport(exc, service=self.service, method=method, path=template) from None
        duration_ms = round((time.monotonic() - started) * 1000, 1)
        rate = {
            h.lower().replace("-", "_"): response.headers[h] for h in _RATE_HEADERS if h in response.headers
        }
        log.info(
            "http.response",
            service=self.service,
            method=method,
            path=template,
            status=response.status_code,
            duration_ms=duration_ms,
            **rate,
        )
        if self.on_response is not None:
            self.on_response(response)
        if response.status_code == 429:
            wait = parse_retry_after(response.headers)
            self.limiter.penalize(self.service, wait if wait is not None else 1.0)
        if not 200 <= response.status_code < 300:
            raise classify(response, service=self.service, path=template)
        return response
