"""structlog, configured once per process.

JSON lines when stdout is not a terminal, a readable console when it is (``LOG_FORMAT``
overrides). Every event passes the PII redaction step (:mod:`config.redaction`) last before
rendering, so nothing a caller logs can leak an e-mail address or phone number. Standard-library
loggers (Celery, kombu, uvicorn) are routed through the same processors.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog
from structlog.typing import EventDict, WrappedLogger

from config.redaction import redact_event

_configured = False


def redact_processor(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    return redact_event(event_dict)


def _format(fmt: str) -> str:
    if fmt == "auto":
        return "console" if sys.stderr.isatty() else "json"
    return fmt


def shared_processors() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redact_processor,
    ]


def configure_logging(fmt: str = "auto", level: str = "INFO", *, force: bool = False) -> None:
    """Configure structlog and the standard library's root logger (idempotent)."""
    global _configured
    if _configured and not force:
        return
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=False)
        if _format(fmt) == "console"
        else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared_processors(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared_processors(),
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("urllib3", "kombu", "amqp", "tornado.access"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
    _configured = True


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)
