"""The demo's scenario: what a recruiter and a candidate do, played against the two sandboxes.

Each step drives a sandbox's control API (``/_sandbox/...``) the way a person would act in
Greenhouse or in Crosschq's candidate flow, then waits until the worker has written the
expected effect back to the ATS and has no work left in flight. The steps follow the
documented payloads: a Greenhouse ``candidate_stage_change`` to "Reference Check", then
Crosschq's sent, accepted, assigning, collecting, reference completed, completed and
report-ready webhooks. The example rules ask for two references (managers 1 + any 1).
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis
import requests

APPLICATION_ID = 6001
CANDIDATE_ID = 5001
STATUS_FIELD = "crosschq_status"
QUEUES = ("ingest", "ats", "crosschq", "periodic")
# kombu's Redis transport keeps priorities 3, 6 and 9 of a queue in sibling lists.
PRIORITY_SUFFIXES = ("", "\x06\x163", "\x06\x166", "\x06\x169")

# Milestone notes, recognised by their wording (worker.flows: one note per milestone).
MILESTONES: dict[str, re.Pattern[str]] = {
    "check requested": re.compile(r"reference check requested", re.I),
    "reference added": re.compile(r"added by the candidate", re.I),
    "reference completed": re.compile(r"reference\(s\) completed", re.I),
    "check completed": re.compile(r"reference check completed", re.I),
}


class DemoFailure(Exception):
    """The scenario could not go on; the message says what was missing."""


@dataclass
class Observed:
    """What the ATS and Crosschq look like at one moment."""

    request_ids: list[str]
    statuses: list[str]
    notes: list[str]
    attachments: list[dict[str, Any]]

    @property
    def status(self) -> str | None:
        return self.statuses[-1] if self.statuses else None

    def milestone_count(self, name: str) -> int:
        return sum(1 for body in self.notes if MILESTONES[name].search(body))


@dataclass(frozen=True)
class Step:
    label: str
    system: str  # "greenhouse" or "crosschq"
    action: str  # control API path; "{rid}" is the Crosschq request id
    expect: str
    done: Callable[[Observed], bool]
    body: dict[str, Any] = field(default_factory=dict)


STEPS: tuple[Step, ...] = (
    Step(
        f"Greenhouse: a recruiter moves application {APPLICATION_ID} to 'Reference Check'",
        "greenhouse",
        f"applications/{APPLICATION_ID}/move",
        "one Crosschq request and status 'Sent' in the ATS",
        lambda o: len(o.request_ids) == 1 and o.status == "Sent",
        {"stage": "Reference Check"},
    ),
    Step(
        "Crosschq: the candidate accepts",
        "crosschq",
        "requests/{rid}/accept",
        "status 'Accepted'",
        lambda o: o.status == "Accepted",
    ),
    Step(
        "Crosschq: the candidate submits the self-assessment",
        "crosschq",
        "requests/{rid}/self-assessment",
        "status 'Assigning'",
        lambda o: o.status == "Assigning",
    ),
    Step(
        "Crosschq: the candidate adds a reference (managers)",
        "crosschq",
        "requests/{rid}/add-reference",
        "status 'Collecting'",
        lambda o: o.status == "Collecting",
        {"relationship": "managers"},
    ),
    Step(
        "Crosschq: the candidate adds a second reference (any relationship)",
        "crosschq",
        "requests/{rid}/add-reference",
        "a 'reference added' note",
        lambda o: o.milestone_count("reference added") >= 1,
    ),
    Step(
        "Crosschq: the first reference answers",
        "crosschq",
        "requests/{rid}/complete-reference",
        "a 'reference completed' note",
        lambda o: o.milestone_count("reference completed") >= 1,
        {"index": 0},
    ),
    Step(
        "Crosschq: the second reference answers; the check is complete",
        "crosschq",
        "requests/{rid}/complete-reference",
        "status 'Completed'",
        lambda o: o.status == "Completed",
        {"index": 1},
    ),
    Step(
        "Crosschq: the report is ready",
        "crosschq",
        "requests/{rid}/report-ready",
        "the PDF report attached",
        lambda o: len(o.attachments) >= 1,
    ),
)


class Spinner:
    """A one-line progress display on stderr, only when stderr is a terminal."""

    FRAMES = "|/-\\"

    def __init__(self) -> None:
        self.enabled = sys.stderr.isatty()
        self.frame = 0

    def tick(self, text: str) -> None:
        if self.enabled:
            self.frame += 1
            sys.stderr.write(f"\r  {self.FRAMES[self.frame % 4]} {text[:70]:70s}")
            sys.stderr.flush()

    def clear(self) -> None:
        if self.enabled:
            sys.stderr.write("\r" + " " * 76 + "\r")
            sys.stderr.flush()


@dataclass
class Sandboxes:
    """HTTP access to both sandboxes' control APIs and to the demo's Redis."""

    crosschq_url: str
    greenhouse_url: str
    redis: redis.Redis
    session: requests.Session = field(default_factory=requests.Session)

    def call(self, system: str, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        base = self.crosschq_url if system == "crosschq" else self.greenhouse_url
        url = f"{base.rstrip('/')}/_sandbox/{path}"
        response = self.session.request(method, url, json=body, timeout=15)
        if response.status_code >= 300:
            raise DemoFailure(f"{system} sandbox refused {method} /_sandbox/{path}: {response.status_code}")
        return response.json() if response.content else None

    def observe(self) -> Observed:
        writes = self.call("greenhouse", "GET", "writes")
        state = self.call("greenhouse", "GET", f"applications/{APPLICATION_ID}/state")
        statuses = [
            str(w.get("value"))
            for w in writes
            if w.get("kind") == "custom_fields"
            and w.get("name_key") == STATUS_FIELD
            and int(w.get("application_id") or 0) == APPLICATION_ID
        ]
        return Observed(
            request_ids=[str(r["id"]) for r in self.call("crosschq", "GET", "requests")],
            statuses=statuses,
            notes=[str(n.get("body", "")) for n in state.get("notes", [])],
            attachments=list(state.get("attachments", [])),
        )

    def worker_idle(self) -> bool:
        """No message waiting in a queue and none delivered but unacknowledged."""
        pipe = self.redis.pipeline()
        for queue in QUEUES:
            for suffix in PRIORITY_SUFFIXES:
                pipe.llen(queue + suffix)
        pipe.hlen("unacked")
        return not any(pipe.execute())


@dataclass
class Scenario:
    sandboxes: Sandboxes
    step_timeout: float = 20.0
    actions: list[tuple[float, str]] = field(default_factory=list)
    request_id: str = ""
    spinner: Spinner = field(default_factory=Spinner)

    def play(self, say: Callable[[str], None]) -> None:
        for number, step in enumerate(STEPS, start=1):
            say(f"[{number}/{len(STEPS)}] {step.label}")
            self.actions.append((time.time(), step.label))
            path = step.action.format(rid=self.request_id)
            self.sandboxes.call(step.system, "POST", path, step.body)
            observed = self.wait(step.expect, step.done)
            if not self.request_id and observed.request_ids:
                self.request_id = observed.request_ids[0]

    def wait(self, what: str, done: Callable[[Observed], bool], timeout: float | None = None) -> Observed:
        """Poll until ``done`` holds and the worker has nothing left in flight."""
        limit = timeout or self.step_timeout
        started = time.monotonic()
        try:
            while True:
                observed = self.sandboxes.observe()
                if done(observed) and self.sandboxes.worker_idle():
                    return observed
                elapsed = time.monotonic() - started
                if elapsed > limit:
                    raise DemoFailure(f"timed out after {limit:.0f}s waiting for {what}")
                self.spinner.tick(f"waiting for {what} ({elapsed:.1f}s)")
                time.sleep(0.15)
        finally:
            self.spinner.clear()

    def settle(self) -> None:
        """Let the sandboxes deliver what is queued and the worker finish it."""
        self.sandboxes.call("crosschq", "POST", "wait-idle")
        # Short: Greenhouse retries every answer but 200 for minutes; those retries are duplicates.
        self.sandboxes.call("greenhouse", "POST", "wait-idle", {"timeout": 2})
        self.wait("the worker to finish", lambda _o: True, timeout=15.0)
