"""The collaborators a flow needs, built once per process from settings.

Flows take a :class:`Deps` so tests can pass fakes; tasks get the process-wide one from
:func:`get_deps`, which is rebuilt after a fork (Celery prefork children must not share sockets).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis
from pydantic import TypeAdapter

from config.rules import Rules, load_rules
from config.settings import Settings, get_settings
from connectors import registry
from connectors.ats import AtsConnector
from connectors.crosschq.client import CrosschqClient
from connectors.crosschq.models import JobRole
from worker.ratelimit import RedisRateLimiter
from worker.store import Store

_ROLES = TypeAdapter(list[JobRole])


@dataclass
class Deps:
    settings: Settings
    store: Store
    crosschq: CrosschqClient
    rules: Rules
    connectors: dict[str, AtsConnector] = field(default_factory=dict)
    connector_factory: Callable[[str], AtsConnector] | None = None
    clock: Callable[[], float] = time.time
    # Set by the Celery task wrapper: enqueue another task by name with id-only kwargs.
    send_task: Callable[..., Any] | None = None

    def connector(self, name: str) -> AtsConnector:
        if name not in self.connectors:
            if self.connector_factory is None:
                raise KeyError(name)
            self.connectors[name] = self.connector_factory(name)
        return self.connectors[name]

    def catalogue(self, *, refresh: bool = False) -> list[JobRole]:
        """The Crosschq job-role catalogue, cached in Redis."""
        if not refresh:
            cached = self.store.cached_jobroles()
            if cached is not None:
                return _ROLES.validate_python(cached)
        roles = self.crosschq.list_jobroles()
        self.store.cache_jobroles([r.model_dump() for r in roles])
        return roles

    def enqueue(self, name: str, **kwargs: Any) -> None:
        if self.send_task is not None:
            self.send_task(name, kwargs=kwargs)


def redis_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=5,
        socket_timeout=10,
        health_check_interval=30,
        retry_on_timeout=True,
    )


def build_deps(settings: Settings) -> Deps:
    client = redis_client(settings.redis.url)
    limiter = RedisRateLimiter(
        client,
        {
            "crosschq": (settings.crosschq.rate_limit, settings.crosschq.rate_window),
            "greenhouse": (settings.greenhouse.rate_limit, settings.greenhouse.rate_window),
        },
        # Harvest counts calls in fixed windows: a token bucket would overrun them (worker.ratelimit).
        windowed=("greenhouse",),
    )
    # A live holder never outlasts the hard time limit; after it, a lock or write is up for grabs.
    store = Store(
        client, inbox_ttl=settings.worker.inbox_ttl, hold_seconds=settings.worker.hard_time_limit + 30
    )
    rules = load_rules(settings.rules.rules_file)

    def factory(name: str) -> AtsConnector:
        return registry.load(name, settings, limiter=limiter)

    return Deps(
        settings=settings,
        store=store,
        crosschq=CrosschqClient.from_settings(settings, limiter=limiter),
        rules=rules,
        connector_factory=factory,
    )


_deps: Deps | None = None
_pid: int | None = None


def get_deps() -> Deps:
    global _deps, _pid
    if _deps is None or _pid != os.getpid():
        _deps = build_deps(get_settings())
        _pid = os.getpid()
    return _deps


def reset_deps() -> None:
    global _deps
    _deps = None
