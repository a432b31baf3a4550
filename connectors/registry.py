"""Loading ATS connectors from the entry-point group ``crosschq_worker.ats_connectors``.

A third-party package registers a connector without touching this repository::

    [project.entry-points."crosschq_worker.ats_connectors"]
    lever = "crosschq_lever.connector:LeverConnector"

An unknown or broken connector raises :class:`ConfigError` naming it, so start-up stops with a
clear message instead of failing on the first webhook.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points
from typing import Any

from config.errors import ConfigError
from connectors.ats import AtsConnector
from connectors.http import RateLimiter

GROUP = "crosschq_worker.ats_connectors"


def _entry_points() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def available() -> list[str]:
    """Names of every registered connector."""
    return sorted(_entry_points())


def connector_class(name: str) -> type[AtsConnector]:
    eps = _entry_points()
    if name not in eps:
        known = ", ".join(sorted(eps)) or "none"
        raise ConfigError(f"unknown ATS connector {name!r} (registered: {known})")
    try:
        cls = eps[name].load()
    except Exception as exc:
        raise ConfigError(
            f"ATS connector {name!r} ({eps[name].value}) failed to load: {type(exc).__name__}: {exc}"
        ) from exc
    if not (isinstance(cls, type) and issubclass(cls, AtsConnector)):
        raise ConfigError(f"ATS connector {name!r} ({eps[name].value}) is not an AtsConnector")
    return cls


def load(name: str, settings: Any, *, limiter: RateLimiter | None = None) -> AtsConnector:
    """Build the connector called ``name``."""
    cls = connector_class(name)
    try:
        return cls.from_settings(settings, limiter=limiter)
    except ConfigError:
        raise
    except Exception as exc:
        raise ConfigError(f"ATS connector {name!r} could not be built: {type(exc).__name__}: {exc}") from exc
