"""Backoff arithmetic and the Celery settings that keep tasks safe."""

from __future__ import annotations

from typing import Any

import pytest

from config.settings import reset_settings_cache
from worker.retry import countdown


@pytest.mark.parametrize(
    ("attempt", "retry_after", "expected"),
    [(0, None, 2.0), (1, None, 4.0), (3, None, 16.0), (20, None, 600.0), (0, 45.0, 45.0), (1, 9999.0, 600.0)],
)
def test_countdown_without_jitter(attempt: int, retry_after: float | None, expected: float) -> None:
    assert countdown(attempt, base=2, cap=600, retry_after=retry_after, jitter=lambda: 0.0) == expected


def test_jitter_adds_at_most_a_quarter_and_never_passes_the_cap() -> None:
    assert countdown(2, base=2, cap=600, jitter=lambda: 1.0) == 10.0
    assert countdown(30, base=2, cap=600, jitter=lambda: 1.0) == 600.0


def test_celery_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/3")
    reset_settings_cache()
    from celery import Celery

    from worker.app import _configure

    app = Celery("probe")
    _configure(app)
    conf = app.conf
    assert conf.broker_url == conf.result_backend == "redis://127.0.0.1:6379/3"
    assert conf.task_acks_late and conf.task_reject_on_worker_lost
    assert conf.worker_prefetch_multiplier == 1
    assert conf.accept_content == ["json"] and conf.task_serializer == "json"
    assert conf.task_soft_time_limit < conf.task_time_limit
    vt = conf.broker_transport_options["visibility_timeout"]
    assert vt == conf.result_backend_transport_options["visibility_timeout"] == conf.visibility_timeout
    from config.settings import get_settings

    assert get_settings().worker.retry_backoff_cap * 1.25 < vt
    assert conf.result_expires > 0
    assert conf.worker_hijack_root_logger is False
    assert {q.name for q in conf.task_queues} == {"ingest", "ats", "crosschq", "periodic"}
    assert all(q.routing_key == q.name and q.exchange.name == q.name for q in conf.task_queues)


def test_task_names_are_the_public_contract() -> None:
    import worker.tasks  # noqa: F401 - registers the tasks
    from worker.app import app

    names = {n for n in app.tasks if not n.startswith("celery.")}
    assert {
        "ats.process_event", "crosschq.process_webhook", "references.request", "references.sync",
        "references.cancel", "references.conclude", "references.remind",
    } <= names


def test_an_unexpected_error_is_a_dead_letter_with_a_masked_reason(
    redis_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import worker.tasks as tasks
    from config.rules import load_rules
    from config.settings import Settings
    from worker.deps import Deps
    from worker.store import Store

    store = Store(redis_client)
    crosschq: Any = None  # never called: the flow fails first
    deps = Deps(settings=Settings.load(), store=store, crosschq=crosschq, rules=load_rules(None))
    event_id, _ = store.store_event(
        source="crosschq", connector=None, dedup_key="k", body=b"{}", headers={}, event={}
    )

    def broken(deps: Any, event_id: str, *, owner: str) -> str:
        raise TypeError("a bug near alex.example@example.com")

    monkeypatch.setattr(tasks, "get_deps", lambda: deps)
    monkeypatch.setattr(tasks.result_flows, "process_crosschq_webhook", broken)
    result = tasks.process_crosschq_webhook.apply(kwargs={"event_id": event_id})
    assert result.failed() and isinstance(result.result, TypeError)
    [dead] = store.dead_letters()
    assert dead["task"] == "crosschq.process_webhook" and dead["kwargs"] == {"event_id": event_id}
    assert dead["reason"].startswith("TypeError: unexpected error: a bug near")
    assert "alex.example" not in dead["reason"]
    assert store.load_event(event_id).state == "failed"  # type: ignore[union-attr]
