"""The due index: per kind of lifecycle action, a sorted set of request ids scored by due time.

``reschedule`` is called whenever a request changes (created, status applied, action taken) and
writes each kind's due time from :mod:`worker.flows.cadence`, or removes the request from that
kind. A beat scan then reads only what is due (``ZRANGEBYSCORE -inf now LIMIT 0 n``), so it
costs O(log n + due), whatever the number of open requests.

Claiming is atomic (one Lua script): the due members of a batch are moved to ``now + lease`` in
the same step that reads them, so a second scan running at the same moment cannot take them
too; each task is enqueued with the due time it was claimed for. If the task is lost, the lease
runs out and the item is due again. The action takes ``duelock:{kind}:{request_id}:{due}``
(``SET NX``) before acting, so a duplicate delivery of the same due item does nothing, and it
re-checks the policy against the fresh state before acting.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from config.logs import get_logger
from config.rules import Policy
from worker.deps import Deps
from worker.flows import cadence
from worker.flows.cadence import KINDS
from worker.store import Store, k

log = get_logger("worker.flows.due")

# Members with score <= ARGV[1] (at most ARGV[2]) are returned with their scores and re-scored
# ARGV[3], in one atomic step.
_CLAIM = """
local items = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, ARGV[2])
for i = 1, #items, 2 do
  redis.call('ZADD', KEYS[1], 'XX', ARGV[3], items[i])
end
return items
"""


def due_key(kind: str) -> str:
    return k("due", kind)


def claim_members(
    store: Store, key: str, *, upto: float, limit: int, new_score: float
) -> list[tuple[str, float]]:
    """Atomically take up to ``limit`` members scored ``<= upto``; they are re-scored ``new_score``."""
    raw = store.r.eval(_CLAIM, 1, key, repr(upto), limit, repr(new_score))
    return [(raw[i].decode(), float(raw[i + 1])) for i in range(0, len(raw), 2)]


def claim(store: Store, kind: str, *, now: float, limit: int, lease: int) -> list[tuple[str, float]]:
    """The due requests of ``kind`` (id, due time), hidden from other scans for ``lease`` seconds."""
    return claim_members(store, due_key(kind), upto=now, limit=limit, new_score=now + lease)


def unclaim(store: Store, kind: str, items: Iterable[tuple[str, float]]) -> None:
    """Give claimed items back their due time (their task could not be enqueued)."""
    pipe = store.r.pipeline()
    for request_id, at in items:
        pipe.zadd(due_key(kind), {request_id: at}, xx=True)
    pipe.execute()


def take_slot(store: Store, kind: str, request_id: str, due: float, owner: str, ttl: int) -> bool:
    """True for the first task acting on this due item (or a retry of that same task)."""
    key = k("duelock", kind, request_id, repr(due))
    return bool(store.r.set(key, owner, nx=True, ex=ttl)) or store.r.get(key) == owner.encode()


def scheduled(store: Store, kind: str, request_id: str) -> float | None:
    score = store.r.zscore(due_key(kind), request_id)
    return float(score) if score is not None else None


def clear(store: Store, request_id: str) -> None:
    """Forget a request in every kind (terminal, or no longer known)."""
    pipe = store.r.pipeline()
    for kind in KINDS:
        pipe.zrem(due_key(kind), request_id)
    pipe.execute()


# Reference counts only grow (a completed reference stays completed), so a late webhook carrying
# fewer cannot lower them. Crosschq sends "reference completed" without a new status timestamp.
# Answers {changed, the request's hash} in one round trip.
_RAISE_COUNTS = """
if redis.call('EXISTS', KEYS[1]) == 0 then return {0, {}} end
local changed = 0
for i = 1, #ARGV, 2 do
  local current = tonumber(redis.call('HGET', KEYS[1], ARGV[i]) or '-1') or -1
  if tonumber(ARGV[i + 1]) > current then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
    changed = 1
  end
end
return {changed, redis.call('HGETALL', KEYS[1])}
"""


def count_references(
    deps: Deps, request_id: str, completed: int, added: int
) -> tuple[bool, dict[str, str] | None]:
    """Record the completed and added reference counts. Answers whether either grew (the
    caller then reschedules, once for everything the event changed) and the request's state
    as it is now (``None`` when the request is not recorded)."""
    script_args = ("completed", completed, "references", added)
    changed, flat = deps.store.r.eval(_RAISE_COUNTS, 1, k("req", request_id), *script_args)
    if not flat:
        return False, None
    pairs = [item.decode() if isinstance(item, bytes) else str(item) for item in flat]
    return bool(changed), dict(zip(pairs[0::2], pairs[1::2], strict=True))


def required_references(deps: Deps, state: dict[str, str]) -> int | None:
    trigger = deps.rules.trigger(state.get("trigger", ""))
    return sum(r.required for r in trigger.relationships) if trigger else None


def reschedule(
    deps: Deps,
    request_id: str,
    *,
    status: str | None = None,
    policy: Policy | None = None,
    now: float | None = None,
    kinds: Iterable[str] = KINDS,
    state: dict[str, str] | None = None,
    pipe: Any = None,
) -> dict[str, float | None]:
    """Write each kind's due time for this request (status and policy default to its own).

    ``state``: the request's hash when the caller has just read or written it (saves a read);
    ``pipe``: a pipeline to queue the writes on, sent by the caller (saves a round trip)."""
    store = deps.store
    state = store.request_state(request_id) if state is None else state
    if state is None:
        clear(store, request_id)
        return {}
    now = deps.clock() if now is None else now
    status = status or state.get("status") or "sent"
    policy = policy or deps.rules.policy_for(state.get("trigger"))
    updates = _progress_updates(state, status, now)
    state = {**state, **{key: str(value) for key, value in updates.items()}}
    times = cadence.due_times(state, status, policy, required=required_references(deps, state), now=now)
    chosen = {kind: times[kind] for kind in kinds}
    queue = store.r.pipeline() if pipe is None else pipe
    if updates:
        store.update_request(request_id, pipe=queue, **updates)
    for kind, at in chosen.items():
        if at is None:
            queue.zrem(due_key(kind), request_id)
        else:
            queue.zadd(due_key(kind), {request_id: at})
    if pipe is None:
        queue.execute()
    return chosen


def defer(deps: Deps, request_id: str, kind: str, *, now: float) -> float | None:
    """Crosschq said "not yet": look again after ``SCHEDULE_DEFER_SECONDS``."""
    after = now + deps.settings.schedule.defer_seconds
    deps.store.update_request(request_id, **{f"{kind}_after": after})
    at = reschedule(deps, request_id, now=now, kinds=(kind,)).get(kind)
    log.info("due.deferred", request_id=request_id, kind=kind, until=at)
    return at


def _progress_updates(state: dict[str, str], status: str, now: float) -> dict[str, Any]:
    """When the request was opened and when it last moved (status or reference counts)."""
    mark = f"{status}|{state.get('completed', '0')}|{state.get('references', '0')}"
    updates: dict[str, Any] = {}
    if not state.get("opened_at"):
        updates["opened_at"] = now
    if state.get("progress_mark") != mark:
        updates.update(progress_mark=mark, progress_at=now)
    return updates
