"""Flow C, the operational promises: scans safe to run twice at once, inbox re-dispatch, the
job-role catalogue refresh (the ``beat`` fixture, tests/worker/conftest.py)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from connectors.errors import RequestValidationError
from worker.flows import catalogue, due, scans
from worker.flows import requests as flow_a
from worker.store import k


def at_once(count: int, work: Callable[[], object]) -> None:
    barrier = threading.Barrier(count)

    def run() -> None:
        barrier.wait()
        work()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_scans_running_at_once_claim_every_item_once(beat: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(beat.deps.settings.schedule, "batch_size", 7)
    ids = [f"r{n:04d}" for n in range(600)]
    beat.deps.store.r.zadd(due.due_key("remind"), {rid: 1000.0 + n for n, rid in enumerate(ids)})
    beat.deps.store.r.zadd(due.due_key("remind"), {"later": 9999.0})
    at_once(4, lambda: scans.scan_due(beat.deps, "remind", now=5000.0))
    assert sorted(kwargs["request_id"] for _, kwargs in beat.sent) == ids
    assert {kwargs["due"] for _, kwargs in beat.sent} == {1000.0 + n for n in range(600)}


def test_concurrent_scans_and_duplicate_deliveries_send_each_reminder_once(beat: Any) -> None:
    rids = [beat.create(app_id) for app_id in ("6001", "6002", "6003")]
    now = beat.clock.at(48)
    at_once(2, lambda: scans.scan_due(beat.deps, "remind", now=now))
    assert len(beat.sent) == 3
    beat.sent.extend(list(beat.sent))  # every message delivered twice (a broker blip, a re-apply)
    assert sorted(beat.drain()) == ["duplicate"] * 3 + ["reminded:1"] * 3
    assert [beat.reminders_sent(rid) for rid in rids] == [1, 1, 1]


def test_an_event_stored_but_never_enqueued_is_processed_after_the_threshold(beat: Any) -> None:
    rid = beat.create()
    beat.step(rid, "accept")
    beat.crosschq.wait_idle()
    body = beat.sink.bodies()[-1]  # the "accepted" webhook: stored, then the receiver died
    beat.deps.store.store_event(
        source="crosschq", connector=None, dedup_key="lost", body=body, headers={}, event={}
    )
    stored_at, threshold = time.time(), beat.deps.settings.schedule.inbox_after_seconds
    assert scans.redispatch_inbox(beat.deps, now=stored_at + threshold - 5) == "redispatched:0"
    assert scans.redispatch_inbox(beat.deps, now=stored_at + threshold + 1) == "redispatched:1"
    assert scans.redispatch_inbox(beat.deps, now=stored_at + threshold + 2) == "redispatched:0"
    assert beat.drain() == ["applied:accepted"]
    assert beat.ats.state("6001")["fields"]["status"] == "Accepted"
    assert scans.redispatch_inbox(beat.deps, now=stored_at + 10 * threshold) == "redispatched:0"


def test_an_event_that_never_gets_processed_becomes_a_dead_letter(beat: Any) -> None:
    event_id, _ = beat.deps.store.store_event(
        source="ats", connector="memory", dedup_key="stuck", body=b"{}", headers={}, event={}
    )
    schedule = beat.deps.settings.schedule
    now = time.time()
    for _ in range(schedule.inbox_max_redispatch + 1):
        now += schedule.inbox_after_seconds + 1
        scans.redispatch_inbox(beat.deps, now=now)
    assert beat.sent == [("ats.process_event", {"event_id": event_id})] * schedule.inbox_max_redispatch
    (dead,) = beat.deps.store.dead_letters()
    assert dead["task"] == "ats.process_event" and dead["kwargs"] == {"event_id": event_id}
    assert beat.deps.store.r.zcard(k("inbox", "pending")) == 0


def test_a_disabled_job_role_is_reported_after_a_refresh(beat: Any) -> None:
    jobrole = beat.deps.rules.triggers[0].jobrole
    assert scans.refresh_jobroles(beat.deps).startswith("jobroles:")
    assert catalogue.check_rules(beat.deps) == []
    assert beat.deps.store.r.ttl(k("jobroles")) > beat.deps.settings.schedule.jobroles_ttl - 5
    beat.cq("POST", f"jobroles/{jobrole}/disable")
    scans.refresh_jobroles(beat.deps)
    (problem,) = catalogue.check_rules(beat.deps)
    assert jobrole in problem and "not in the Crosschq catalogue" in problem
    with pytest.raises(RequestValidationError):
        flow_a.consider_application(beat.deps, beat.ats, "6001", owner="t")
    (note,) = beat.ats.state("6001")["notes"]
    assert "not started" in note and jobrole in note
    assert beat.cq("GET", "requests") == []
