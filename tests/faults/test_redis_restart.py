"""Redis killed (SIGKILL) in the middle of a burst of webhooks, back on its port a second later.

The sender behaves like Crosschq: a webhook answered with anything but 2xx is sent again after
a short wait. Promises checked: the receiver never answers 2xx for a webhook it did not store
(every refusal is a 503, and every webhook is eventually accepted), and every accepted webhook
is processed: its status reaches the ATS. Redis keeps an fsync-always append-only file, as a
production Redis for this worker should; beat runs, because re-dispatching events stored but not
processed (a task that failed while Redis was away) is part of the promise.

The short run (``make test``) starts the worker once Redis is back: it checks the receiver's
promise and that what it acknowledged survived the crash. The long run (``make faults``) keeps the
worker consuming through the outage, so tasks are also cut off half-way: a request lock left by
such a task is held until the hard time limit plus 30 s have passed (worker.guards), about 36 s
with the limits of this stack, and beat re-dispatches events stored but not processed after 5 s
(15 min by default).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from worker.embedded_redis import EmbeddedRedis
from worker.store import Store

TRIALS = int(os.environ.get("FAULT_TRIALS", "2"))
WEBHOOKS = 50 * TRIALS  # 100 in make test, 1,000 in make faults
WORKER_THROUGH_OUTAGE = TRIALS > 2
RETRY_WAITS = (0.2, 0.5, 1.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0)
pytestmark = pytest.mark.e2e


class Sender:
    """Posts webhooks from threads, retrying refusals; records every answer."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.answers: dict[int, list[int | str]] = {}
        self.sent = 0
        self.lock = threading.Lock()
        self.local = threading.local()

    def post(self, index: int, body: bytes) -> None:
        session = getattr(self.local, "session", None) or requests.Session()
        self.local.session = session
        seen: list[int | str] = []
        for wait in (*RETRY_WAITS, None):
            try:
                status: int | str = session.post(self.url, data=body, headers=HEADERS, timeout=10).status_code
            except requests.RequestException as exc:
                status = type(exc).__name__
            seen.append(status)
            if (isinstance(status, int) and 200 <= status < 300) or wait is None:
                break
            time.sleep(wait)
        with self.lock:
            self.answers[index] = seen
            self.sent += 1


HEADERS = {"Authorization": "Token faults-crosschq-webhook-secret", "Content-Type": "application/json"}


def webhook(request_id: str) -> bytes:
    return json.dumps({"id": request_id, "event_name": "reference_request_status_updated",
                       "status": "accepted", "status_message": "Accepted",
                       "status_updated_on": "2026-01-05T10:00:00.000Z", "progress": 0,
                       "references": []}).encode()  # fmt: skip


def restart_when(sender: Sender, server: EmbeddedRedis, after: int) -> None:
    deadline = time.monotonic() + 60
    while sender.sent < after and time.monotonic() < deadline:
        time.sleep(0.005)
    server.kill()
    time.sleep(1.0)
    server.start()


def test_redis_killed_mid_burst_loses_nothing(
    durable_stack: Any, durable_redis: EmbeddedRedis, tmp_path: Path, fault_report: Any
) -> None:
    s = durable_stack
    if WORKER_THROUGH_OUTAGE:
        s.start_worker()
        s.start_beat("beat", tmp_path / "beat")
    apps = s.seed_applications(WEBHOOKS)
    store = Store(s.redis)
    request_ids = [f"fault-{a}" for a in apps]
    for app_id, rid in zip(apps, request_ids, strict=True):
        store.record_request(rid, connector="greenhouse", application_id=str(app_id), candidate_id=None,
                             trigger="reference-check")  # fmt: skip
    sender = Sender(f"{s.web_url}/webhooks/crosschq")
    killer = threading.Thread(target=restart_when, args=(sender, durable_redis, WEBHOOKS * 3 // 10))
    killer.start()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(sender.post, range(WEBHOOKS), [webhook(rid) for rid in request_ids]))
    killer.join()
    answers = Counter(a for seen in sender.answers.values() for a in seen)
    final = Counter(seen[-1] for seen in sender.answers.values())
    fault_report("Redis killed mid-burst", webhooks=WEBHOOKS, answers_503=answers[503],
                 answers_2xx=sum(v for a, v in answers.items() if isinstance(a, int) and 200 <= a < 300),
                 other_answers=sum(v for a, v in answers.items() if a not in (202, 503)),
                 accepted_in_the_end=final[202], worker_through_outage=WORKER_THROUGH_OUTAGE)  # fmt: skip
    assert final == {202: WEBHOOKS}, f"final answers {final}, all answers {answers}"
    assert set(answers) <= {202, 503}, f"answers other than 202 and 503: {answers}"
    assert answers[503] > 0, "the restart did not hit the burst"
    if not WORKER_THROUGH_OUTAGE:
        s.start_worker()
        s.start_beat("beat", tmp_path / "beat")

    def written() -> bool:
        return all("Accepted" in s.statuses(a) for a in apps)

    try:
        s.wait_for("every accepted webhook to reach the ATS", written, timeout=120, every=1)
    except AssertionError:
        missing = [a for a in apps if "Accepted" not in s.statuses(a)]
        fault_report("Redis killed mid-burst", written_back=len(apps) - len(missing), lost=len(missing))
        raise AssertionError(f"not written back: {missing}; dead letters: {s.dead_letters()}") from None
    fault_report("Redis killed mid-burst", written_back=len(apps), lost=0, dead_letters=len(s.dead_letters()))
