"""Exactly-once guards under crashes, timeouts and competing owners (real Redis)."""

from __future__ import annotations

import time
from typing import Any

import pytest
import redis

from connectors.ats import ApplicationRef
from connectors.errors import RequestTimeout
from connectors.fake import InMemoryConnector
from worker.flows.ledger import WriteInFlight, attach_once, note_once
from worker.store import Store

REF = ApplicationRef(application_id="6001", candidate_id="5001")


@pytest.fixture
def store(redis_client: redis.Redis) -> Store:
    return Store(redis_client, hold_seconds=2)


@pytest.fixture
def ats() -> InMemoryConnector:
    connector = InMemoryConnector()
    connector.seed_application(application_id="6001", candidate_id="5001")
    return connector


def lands_then_times_out(ats: InMemoryConnector, method: str) -> None:
    """The next call reaches the ATS, but its answer is lost (a read timeout)."""
    original = getattr(ats, method)
    calls = {"n": 0}

    def flaky(*args: Any) -> Any:
        result = original(*args)
        calls["n"] += 1
        if calls["n"] == 1:
            raise RequestTimeout("read timed out", service="memory")
        return result

    setattr(ats, method, flaky)


def test_a_note_whose_answer_was_lost_is_not_written_twice(store: Store, ats: InMemoryConnector) -> None:
    lands_then_times_out(ats, "add_note")
    with pytest.raises(RequestTimeout):
        note_once(store, "r1", "note:x", "task-1", ats, REF, "hello")
    assert note_once(store, "r1", "note:x", "task-1", ats, REF, "hello") is False
    assert ats.state("6001")["notes"] == ["hello"]
    assert store.ledger("r1")["note:x"] == "done"


def test_an_attachment_whose_answer_was_lost_is_not_attached_twice(
    store: Store, ats: InMemoryConnector,
) -> None:
    lands_then_times_out(ats, "attach_report")
    with pytest.raises(RequestTimeout):
        attach_once(store, "r1", "attach:summary", "task-1", ats, REF, "r.pdf", lambda: b"%PDF-1")
    # A different task (a replay) finds it there and does not attach it again.
    assert attach_once(store, "r1", "attach:summary", "task-2", ats, REF, "r.pdf", lambda: b"%PDF-1") is False
    assert len(ats.state("6001")["attachments"]) == 1


def test_a_write_that_surely_failed_is_retried(store: Store, ats: InMemoryConnector) -> None:
    ats.fail_next("add_note", ValueError("boom"))
    with pytest.raises(ValueError):
        note_once(store, "r1", "note:x", "task-1", ats, REF, "hello")
    assert note_once(store, "r1", "note:x", "task-2", ats, REF, "hello") is True
    assert ats.state("6001")["notes"] == ["hello"]


def test_another_live_owner_makes_us_wait_not_skip(store: Store, ats: InMemoryConnector) -> None:
    assert store.guards.begin("r1", "note:x", "task-1") == "go"  # task-1 dies here
    with pytest.raises(WriteInFlight) as info:
        note_once(store, "r1", "note:x", "task-2", ats, REF, "hello")
    assert 0 < (info.value.retry_after or 0) <= 3
    # The same task, redelivered, resumes at once.
    assert note_once(store, "r1", "note:x", "task-1", ats, REF, "hello") is True


def test_a_dead_owner_is_replaced_after_the_hold(store: Store, ats: InMemoryConnector) -> None:
    assert store.guards.begin("r1", "note:x", "task-1") == "go"
    time.sleep(2.1)
    assert note_once(store, "r1", "note:x", "task-2", ats, REF, "hello") is True


def test_a_task_killed_after_its_note_landed_does_not_write_it_again(
    store: Store, ats: InMemoryConnector
) -> None:
    # task-1 begins the write, the note reaches the ATS, and the worker is SIGKILLed before
    # the ledger says done: Celery redelivers task-1 with the same id.
    assert store.guards.begin("r1", "note:x", "task-1") == "go"
    ats.add_note(REF, "hello")
    assert note_once(store, "r1", "note:x", "task-1", ats, REF, "hello") is False
    assert ats.state("6001")["notes"] == ["hello"]
    assert store.ledger("r1")["note:x"] == "done"
    # The same when another task takes over after the dead holder's time is up.
    assert store.guards.begin("r1", "attach:summary", "task-1") == "go"
    ats.attach_report(REF, "r.pdf", b"%PDF-1")
    time.sleep(2.1)
    assert attach_once(store, "r1", "attach:summary", "task-2", ats, REF, "r.pdf", lambda: b"%PDF-1") is False
    assert len(ats.state("6001")["attachments"]) == 1


def test_request_lock_is_reentrant_for_its_owner(store: Store) -> None:
    assert store.guards.lock("req:a", "task-1") == 0
    assert store.guards.lock("req:a", "task-1") == 0  # a redelivery of the same task
    assert 0 < store.guards.lock("req:a", "task-2") <= 2
    store.guards.unlock("req:a", "task-2")  # not the owner: nothing happens
    assert store.guards.lock("req:a", "task-2") > 0
    store.guards.unlock("req:a", "task-1")
    assert store.guards.lock("req:a", "task-2") == 0


def test_claim_take_over_is_compare_and_set(store: Store, redis_client: redis.Redis) -> None:
    redis_client.set("claim", "pending:dead:1.0")
    assert store.guards.take_over_claim("claim", "pending:dead:1.0", "task-2", 60)
    assert not store.guards.take_over_claim("claim", "pending:dead:1.0", "task-3", 60)
    assert redis_client.get("claim").decode().startswith("pending:task-2:")


def test_fingerprint_only_adopts_what_was_seen_after_the_claim(store: Store) -> None:
    store.remember_fingerprint("fp1", "old-request", seen_at=1000.0)
    assert store.request_by_fingerprint("fp1", seen_since=2000.0) is None
    assert store.request_by_fingerprint("fp1", seen_since=900.0) == "old-request"
