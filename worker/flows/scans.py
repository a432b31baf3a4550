"""Beat scans (flow C): take what is due, in bounded batches, and enqueue one task per item.

A scan never calls Crosschq or the ATS itself; the per-request tasks do, one request each, so a
slow or failing request does not hold up the others. Every scan is safe to run twice at once:
items are claimed atomically (see :mod:`worker.flows.due`).

``now`` is a parameter everywhere so tests and benchmarks choose the time.
"""

from __future__ import annotations

from collections.abc import Callable

from config.logs import get_logger
from worker.deps import Deps
from worker.flows import catalogue, due
from worker.store import k

log = get_logger("worker.flows.scans")

TASK_FOR_KIND = {
    "remind": "references.remind",
    "conclude": "references.conclude",
    "reconcile": "references.sync",
    "cancel": "references.cancel",
}
TASK_FOR_SOURCE = {"ats": "ats.process_event", "crosschq": "crosschq.process_webhook"}


Claimed = list[tuple[str, float]]


def _batches(deps: Deps, take: Callable[[int], Claimed], act: Callable[[str, float], None]) -> int:
    """Claim batches with ``take(limit)`` until none is full or ``max_per_scan`` is reached."""
    cfg = deps.settings.schedule
    done = 0
    while done < cfg.max_per_scan:
        limit = min(cfg.batch_size, cfg.max_per_scan - done)
        items = take(limit)
        for member, score in items:
            act(member, score)
            done += 1
        if len(items) < limit:
            break
    return done


def scan_due(deps: Deps, kind: str, *, now: float) -> int:
    """Enqueue the task of ``kind`` for every request due at ``now``; returns how many."""
    store, lease = deps.store, deps.settings.schedule.lease_seconds
    task = TASK_FOR_KIND[kind]
    pending: list[tuple[str, float]] = []

    def take(limit: int) -> list[tuple[str, float]]:
        pending[:] = due.claim(store, kind, now=now, limit=limit, lease=lease)
        return list(pending)

    def act(request_id: str, at: float) -> None:
        try:
            deps.enqueue(task, request_id=request_id, due=at)
        except BaseException:
            due.unclaim(store, kind, pending)  # the broker is down: due again at once
            raise
        pending.remove((request_id, at))

    count = _batches(deps, take, act)
    if count:
        log.info("schedule.enqueued", kind=kind, task=task, count=count)
    return count


def send_due_reminders(deps: Deps, *, owner: str = "", now: float | None = None) -> str:
    return f"enqueued:{scan_due(deps, 'remind', now=_now(deps, now))}"


def conclude_due(deps: Deps, *, owner: str = "", now: float | None = None) -> str:
    """Auto-conclude and, when the policy asks for it, auto-cancel: the ways a request is closed."""
    when = _now(deps, now)
    return f"enqueued:{scan_due(deps, 'conclude', now=when) + scan_due(deps, 'cancel', now=when)}"


def reconcile_stale(deps: Deps, *, owner: str = "", now: float | None = None) -> str:
    return f"enqueued:{scan_due(deps, 'reconcile', now=_now(deps, now))}"


def refresh_jobroles(deps: Deps, *, owner: str = "", now: float | None = None) -> str:
    roles = catalogue.refresh(deps)
    return f"jobroles:{roles}"


def redispatch_inbox(deps: Deps, *, owner: str = "", now: float | None = None) -> str:
    """Enqueue again the inbox events stored but not processed within the threshold.

    A crash between storing and enqueueing (or a lost message) leaves an event pending. Its score
    becomes the time of this re-dispatch, so an event that is legitimately retrying is sent again
    at most once per threshold, and after ``SCHEDULE_INBOX_MAX_REDISPATCH`` times it becomes a
    dead letter. Processing is idempotent, so a second delivery changes nothing.
    """
    when, cfg = _now(deps, now), deps.settings.schedule

    def take(limit: int) -> list[tuple[str, float]]:
        oldest = when - cfg.inbox_after_seconds
        return due.claim_members(
            deps.store, k("inbox", "pending"), upto=oldest, limit=limit, new_score=when
        )

    sent: list[str] = []

    def act(event_id: str, _: float) -> None:
        if redispatch_event(deps, event_id):
            sent.append(event_id)

    _batches(deps, take, act)
    return f"redispatched:{len(sent)}"


def redispatch_event(deps: Deps, event_id: str) -> bool:
    """Enqueue one pending event again; False when it was dropped or dead-lettered instead."""
    store, cfg = deps.store, deps.settings.schedule
    stored = store.load_event(event_id)
    if stored is None or stored.state in ("orphaned", "erased"):
        # Expired, or waiting in orphans:{request_id} for its create (replayed from there).
        store.r.zrem(k("inbox", "pending"), event_id)
        return False
    task = TASK_FOR_SOURCE.get(stored.source, f"inbox.{stored.source}")
    attempt = int(store.r.hincrby(k("inbox", event_id), "redispatched", 1))
    if stored.source not in TASK_FOR_SOURCE or attempt > cfg.inbox_max_redispatch:
        reason = f"inbox event not processed after {attempt - 1} re-dispatches"
        store.dead_letter(task, [], {"event_id": event_id}, reason)
        store.mark_event(event_id, "failed")
        log.error("inbox.gave_up", event_id=event_id, source=stored.source, attempts=attempt - 1)
        return False
    deps.enqueue(task, event_id=event_id)
    log.warning("inbox.redispatched", event_id=event_id, source=stored.source, attempt=attempt)
    return True


def _now(deps: Deps, now: float | None) -> float:
    return deps.clock() if now is None else now
