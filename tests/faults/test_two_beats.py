"""Two beat processes at once (a rolling deploy, two replicas): every periodic scan runs twice,
every reminder is still sent once.

Reminders are due 2 s after the request and then every 3 s, at most 2 (hours by default); both
beats send ``schedule.send_due_reminders`` every second. Scans claim due items atomically and each
reminder number is claimed once, so Crosschq sees exactly two reminders per request.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

TRIALS = int(os.environ.get("FAULT_TRIALS", "2"))
REQUESTS = TRIALS + 1
MAX_REMINDERS = 2
pytestmark = pytest.mark.e2e


def reminders(s: Any) -> Counter[str]:
    calls = s.cq("GET", "_sandbox/calls")
    sent = [c["path"] for c in calls if c["path"].endswith("/send-reminder/") and c["status"] == 200]
    return Counter(path.split("/")[-3] for path in sent)


def test_two_beats_send_each_reminder_once(
    stack_with: Any, rules_file: Any, tmp_path: Path, fault_report: Any
) -> None:
    rules = rules_file(reminders=True, first_reminder_s=2, every_s=3, max_count=MAX_REMINDERS)
    s = stack_with({"RULES_FILE": rules, "SCHEDULE_REMINDERS_SECONDS": "1"})
    s.start_worker()
    s.warm_catalogue()
    beats = [s.start_beat(f"beat-{n}", tmp_path / f"beat-{n}") for n in (1, 2)]
    apps = s.seed_applications(REQUESTS)
    for app_id in apps:
        s.gh("POST", f"_sandbox/applications/{app_id}/move", json={"stage": "Reference Check"})
    s.wait_for("every request", lambda: len(s.cq("GET", "_sandbox/requests")) == REQUESTS, timeout=60)
    request_ids = [r["id"] for r in s.cq("GET", "_sandbox/requests")]
    s.wait_for("every reminder", lambda: min(reminders(s)[r] for r in request_ids) >= MAX_REMINDERS, 60)
    time.sleep(5)  # beyond another reminder's due time: a duplicate would show now
    sent = reminders(s)
    fault_report("two beats at once", requests=REQUESTS, reminders_expected=REQUESTS * MAX_REMINDERS,
                 reminders_sent=sum(sent[r] for r in request_ids),
                 dead_letters=len(s.dead_letters()))  # fmt: skip
    assert all(b.alive() for b in beats)
    for beat in beats:
        assert "schedule.send_due_reminders" in beat.log_path.read_text()
    assert reminders(s) == {rid: MAX_REMINDERS for rid in request_ids}
    assert s.dead_letters() == []
