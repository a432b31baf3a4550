"""Runtime pieces of the Greenhouse sandbox: configuration, rate limiting, tokens, call log.

Rate limiting is faithful to harvest/_introduction.md: a fixed window (10 seconds by
default) per API key, every answer carries ``X-RateLimit-Limit`` and
``X-RateLimit-Remaining``, and a request beyond the limit gets 429 with ``Retry-After``
(seconds) and ``X-RateLimit-Reset`` (a unix timestamp). For Harvest v3 the window is
counted per OAuth client (assumption: v3's limits are not documented).

OAuth tokens follow harvestdocs.greenhouse.io ``/docs/authentication`` (client
credentials, ``sub`` = acting user id); they are opaque random strings here, not JWTs.
"""

from __future__ import annotations

import math
import secrets
import threading
import time
from dataclasses import dataclass, field, fields, replace
from typing import Any

from connectors.greenhouse.sandbox_demo import demo_seed
from connectors.greenhouse.sandbox_seed import apply_seed
from connectors.greenhouse.sandbox_state import JsonDict, SandboxState, validation_error
from connectors.greenhouse.sandbox_webhooks import WebhookOutbox

SECRET_FIELDS = ("api_key", "client_secret", "webhook_secret")


@dataclass
class SandboxConfig:
    api_key: str
    client_id: str
    client_secret: str
    webhook_url: str | None = None
    webhook_secret: str | None = None
    rate_limit: int = 50
    rate_window: float = 10.0
    token_expires_in: float = 3600.0
    latency_ms: int = 0
    fail_next: list[int] = field(default_factory=list)
    unreachable: bool = False
    api_move_webhooks: bool = True
    web_hook_id: int = 1
    webhook_timeout: float = 5.0

    def public(self) -> JsonDict:
        """Settings without secrets (only whether each is set)."""
        shown: JsonDict = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name in SECRET_FIELDS:
                shown[f"{item.name}_set"] = bool(value)
            else:
                shown[item.name] = list(value) if isinstance(value, list) else value
        return shown


def _number(value: Any, key: str, minimum: float, integer: bool = False) -> Any:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and value >= minimum
    if not ok or (integer and not isinstance(value, int)):
        kind = "an integer" if integer else "a number"
        raise validation_error(f"{key} must be {kind} >= {minimum}", key)
    return value


def _optional_text(value: Any, key: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise validation_error(f"{key} must be a string or null", key)
    return value or None


def _statuses(value: Any, key: str) -> list[int]:
    if not isinstance(value, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) and 100 <= v <= 599 for v in value
    ):
        raise validation_error(f"{key} must be an array of HTTP status codes", key)
    return list(value)


def _flag(value: Any, key: str) -> bool:
    if not isinstance(value, bool):
        raise validation_error(f"{key} must be true or false", key)
    return value


CHECKS = {
    "rate_limit": lambda v, k: _number(v, k, 1, integer=True),
    "rate_window": lambda v, k: _number(v, k, 0.001),
    "token_expires_in": lambda v, k: _number(v, k, 0),
    "latency_ms": lambda v, k: _number(v, k, 0, integer=True),
    "web_hook_id": lambda v, k: _number(v, k, 1, integer=True),
    "webhook_timeout": lambda v, k: _number(v, k, 0.001),
    "webhook_url": _optional_text,
    "webhook_secret": _optional_text,
    "fail_next": _statuses,
    "unreachable": _flag,
    "api_move_webhooks": _flag,
}


def validated_changes(changes: Any) -> JsonDict:
    """Checked configuration changes; ``expire_tokens`` is an action, kept as a flag."""
    if not isinstance(changes, dict):
        raise validation_error("The configuration must be a JSON object", "config")
    checked: JsonDict = {}
    for key, value in changes.items():
        if key == "expire_tokens":
            checked[key] = _flag(value, key)
        elif key in CHECKS:
            checked[key] = CHECKS[key](value, key)
        else:
            raise validation_error(f"Unknown setting {key!r}", key)
    return checked


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    limit: int
    remaining: int
    reset_at: float

    def headers(self) -> dict[str, str]:
        headers = {"X-RateLimit-Limit": str(self.limit),
                   "X-RateLimit-Remaining": str(self.remaining)}
        if not self.allowed:
            headers["Retry-After"] = str(max(1, math.ceil(self.reset_at - time.time())))
            headers["X-RateLimit-Reset"] = str(math.ceil(self.reset_at))
        return headers


class RateLimiter:
    """Fixed windows of ``window`` seconds, ``limit`` requests each, per key."""

    def __init__(self, limit: int, window: float) -> None:
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[float, int]] = {}
        self.configure(limit, window)

    def configure(self, limit: int, window: float) -> None:
        with self._lock:
            self.limit, self.window = limit, window
            self._windows.clear()

    def hit(self, key: str) -> RateDecision:
        with self._lock:
            now = time.time()
            start, count = self._windows.get(key, (now, 0))
            if now >= start + self.window:
                start, count = now, 0
            if count >= self.limit:
                return RateDecision(False, self.limit, 0, start + self.window)
            self._windows[key] = (start, count + 1)
            return RateDecision(True, self.limit, self.limit - count - 1, start + self.window)


@dataclass(frozen=True)
class Token:
    client_id: str
    sub: int
    expires_at: float


class TokenStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, Token] = {}

    def issue(self, client_id: str, sub: int, expires_in: float) -> str:
        value = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[value] = Token(client_id, sub, time.monotonic() + expires_in)
        return value

    def find(self, value: str) -> Token | None:
        """The token if it exists and has not expired."""
        with self._lock:
            token = self._tokens.get(value)
        if token is None or time.monotonic() >= token.expires_at:
            return None
        return token

    def client_of(self, value: str) -> str | None:
        with self._lock:
            token = self._tokens.get(value)
        return None if token is None else token.client_id

    def expire_all(self) -> None:
        with self._lock:
            self._tokens = {k: Token(t.client_id, t.sub, 0.0) for k, t in self._tokens.items()}

    def clear(self) -> None:
        with self._lock:
            self._tokens.clear()


class Runtime:
    """Everything a request handler needs, shared by all handler threads."""

    def __init__(self, config: SandboxConfig, *, seed_demo: bool = True) -> None:
        self.lock = threading.Lock()
        self.config = config
        self._initial = replace(config, fail_next=list(config.fail_next))
        self.seed_demo = seed_demo
        self.state = SandboxState()
        self.limiter = RateLimiter(config.rate_limit, config.rate_window)
        self.tokens = TokenStore()
        self.calls: list[JsonDict] = []
        self.outbox = WebhookOutbox(self.webhook_target)
        self.state.emit = self.outbox.enqueue
        if seed_demo:
            apply_seed(self.state, demo_seed())

    def reset(self, *, config: bool = False) -> None:
        """Back to the seed: records, logs, tokens, rate windows and injected faults.

        Settings such as the webhook URL and rate limit survive unless ``config`` is true.
        """
        self.outbox.clear()
        self.tokens.clear()
        with self.lock:
            self.calls.clear()
            if config:
                self.config = replace(self._initial, fail_next=list(self._initial.fail_next))
            else:
                self.config.fail_next.clear()
                self.config.unreachable = False
                self.config.latency_ms = 0
            self.limiter.configure(self.config.rate_limit, self.config.rate_window)
        self.state.clear()
        if self.seed_demo:
            apply_seed(self.state, demo_seed())

    def webhook_target(self) -> tuple[str | None, str | None, float]:
        with self.lock:
            return self.config.webhook_url, self.config.webhook_secret, self.config.webhook_timeout

    def configure(self, changes: Any) -> JsonDict:
        checked = validated_changes(changes)
        with self.lock:
            if checked.pop("expire_tokens", False):
                self.tokens.expire_all()
            for key, value in checked.items():
                setattr(self.config, key, value)
            if {"rate_limit", "rate_window"} & checked.keys():
                self.limiter.configure(self.config.rate_limit, self.config.rate_window)
            return self.config.public()

    def take_failure(self) -> int | None:
        """The next injected failure status, if any (each is used once)."""
        with self.lock:
            return self.config.fail_next.pop(0) if self.config.fail_next else None

    def record_call(self, entry: JsonDict) -> None:
        with self.lock:
            self.calls.append(entry)

    def writes(self, since: int = 0) -> list[JsonDict]:
        with self.state.lock:
            return [dict(w) for w in self.state.writes[since:]]

    def call_log(self) -> list[JsonDict]:
        with self.lock:
            return [dict(c) for c in self.calls]
