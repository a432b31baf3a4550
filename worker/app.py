"""The Celery application: ``celery -A worker.app worker``.

Configured lazily from settings on first use (nothing is read at import). The choices, and the
failure modes they answer (see the README's operations section):

- ``acks_late`` + ``reject_on_worker_lost`` + prefetch 1: a task killed mid-run is redelivered,
  and every task is idempotent, so running it again is safe.
- JSON only: no pickle, so a reachable Redis cannot be turned into code execution.
- The Redis ``visibility_timeout`` is set for the broker, the result backend and Celery, and is
  longer than any retry countdown (settings refuse a cap above it). Long waits go through beat.
- Queues by dependency: ``ingest`` (ATS events), ``ats`` (Crosschq webhooks -> ATS write-backs),
  ``crosschq`` (calls on Crosschq requests), ``periodic`` (beat scans), so one outage does not
  stall the others.
- Celery does not take over the root logger; structlog is configured once per process and the
  task's ids are bound to the log context before each task and cleared after.
"""

from __future__ import annotations

from typing import Any

from celery import Celery, signals
from kombu import Exchange, Queue

from config import redaction
from config.logs import configure_logging
from config.settings import get_settings

QUEUES = ("ingest", "ats", "crosschq", "periodic")

TASK_ROUTES = {
    "ats.process_event": {"queue": "ingest"},
    "crosschq.process_webhook": {"queue": "ats"},
    "references.request": {"queue": "ingest"},
    "references.*": {"queue": "crosschq"},
    "schedule.*": {"queue": "periodic"},
    "health.*": {"queue": "periodic"},
}

app = Celery("crosschq_worker", include=["worker.tasks"])


@app.on_configure.connect
def _configure(sender: Celery, **_: Any) -> None:
    settings = get_settings()
    w = settings.worker
    transport = {"visibility_timeout": w.visibility_timeout}
    sender.conf.update(
        broker_url=settings.redis.url,
        result_backend=settings.redis.url,
        broker_transport_options=transport,
        result_backend_transport_options=transport,
        visibility_timeout=w.visibility_timeout,
        broker_connection_retry_on_startup=True,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_soft_time_limit=w.soft_time_limit,
        task_time_limit=w.hard_time_limit,
        result_expires=w.result_expires,
        result_extended=True,
        # Not task_track_started: Flower shows STARTED from events; in the result backend it
        # would cost a read and a write more per task, and nothing polls for it.
        # Flower switches task events on in every worker while it runs (its enable_events
        # option); without Flower they would cost three Redis publishes per task for no reader.
        task_send_sent_event=w.task_events,
        worker_send_task_events=w.task_events,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        # Each queue its own direct exchange and key: a Queue without them is bound to the
        # default exchange and key, and every message would reach every queue.
        task_queues=[Queue(name, Exchange(name, type="direct"), routing_key=name) for name in QUEUES],
        task_default_queue="ingest",
        task_routes=TASK_ROUTES,
        timezone="UTC",
        enable_utc=True,
        beat_schedule=beat_schedule(settings),
    )


def beat_schedule(settings: Any) -> dict[str, dict[str, Any]]:
    """The periodic tasks. A scan message older than its interval expires unrun: the next one
    covers the same ground, so a backlog (workers down) does not replay every missed tick."""
    s = settings.schedule
    scans = {
        "due-reminders": ("schedule.send_due_reminders", s.reminders_seconds),
        "conclude-due": ("schedule.conclude_due", s.conclude_seconds),
        "reconcile-stale": ("schedule.reconcile_stale", s.reconcile_seconds),
        "refresh-jobroles": ("schedule.refresh_jobroles", s.jobroles_seconds),
        "redispatch-inbox": ("schedule.redispatch_inbox", s.inbox_seconds),
    }
    entries = {
        name: {"task": task, "schedule": float(every), "options": {"expires": float(every)}}
        for name, (task, every) in scans.items()
    }
    return {"health-canary": {"task": "health.canary", "schedule": 30.0}, **entries}


@signals.setup_logging.connect
def _setup_logging(**_: Any) -> None:
    # Connecting this signal stops Celery from configuring logging itself.
    settings = get_settings()
    configure_logging(settings.log.format, settings.log.level)


@signals.task_prerun.connect
def _bind_context(
    task_id: str | None = None, task: Any = None, kwargs: dict[str, Any] | None = None, **_: Any
) -> None:
    import structlog

    structlog.contextvars.clear_contextvars()
    redaction.forget_all()
    ids = {
        k: v
        for k, v in (kwargs or {}).items()
        if k in ("event_id", "request_id", "connector", "application_id")
    }
    structlog.contextvars.bind_contextvars(task_id=task_id, task=getattr(task, "name", None), **ids)


@signals.task_postrun.connect
def _clear_context(**_: Any) -> None:
    import structlog

    structlog.contextvars.clear_contextvars()
    redaction.forget_all()
