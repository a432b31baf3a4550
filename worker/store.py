"""The worker's state in Redis. Every key the project writes is listed here.

Prefix ``cqw:`` (all keys below start with it).

Inbox (raw webhooks; flows A and B read them by id)
    inbox:{event_id}                 hash  source, connector, body, headers, event (normalized ids
                                           as JSON), received_at, state, dedup; TTL WORKER_INBOX_TTL
    inbox:dedup:{source}:{key}       str   event id for the sender's event id or body hash; TTL same
    inbox:pending                    zset  event ids stored but not processed (score = stored at,
                                           then last re-dispatch; the hash counts ``redispatched``)
    cand:{connector}:{candidate_id}  set   inbox event ids that carry this candidate's data
Requests
    app:{connector}:{application_id} hash  trigger -> request id
    candreq:{connector}:{cand_id}    set   request ids created for this candidate
    lock:req:{request_id}            str   owner while one task applies a webhook to a request
                                           (re-entrant for the owner; worker.guards)
    req:{request_id}                 hash  connector, application_id, candidate_id, trigger,
                                           status, status_key, progress, score, hm, created_at;
                                           for flow C (worker.flows.cadence): completed, references,
                                           opened_at, progress_mark, progress_at, reminders,
                                           reminded_at, conclude_requested_at, {kind}_after
    claim:create:{conn}:{app}:{trig} str   "pending:<task id>:<started>" while a create is in
                                           flight (expires), then "done:<request id>" (kept)
    fp:{fingerprint}                 str   "<request id>|<seen at>" from a Crosschq webhook, by a hash of
                                           candidate e-mail and job position (adopting a create
                                           whose answer was lost)
    orphans:{request_id}             set   inbox event ids of webhooks that arrived before the
                                           create recorded this id
Write-back ledger
    ledger:{request_id}              hash  write key -> "done" | "pending:<task id>" |
                                           "uncertain:<task id>" (worker.guards)
Operations
    dead                             zset  dead-letter records (JSON), score = time
    timeline:{connector}:{app_id}    list  what happened to one application (no personal data)
    jobroles                         str   cached Crosschq job-role catalogue (JSON); TTL
    canary                           str   last time a worker consumed the health canary
    due:{kind}                       zset  request ids by due time, kind in remind, conclude,
                                           reconcile, cancel (worker.flows.due; beat scans)
    duelock:{kind}:{req_id}:{due}    str   task id acting on this due item (once per due time);
                                           TTL SCHEDULE_LEASE_SECONDS
    reminder:{request_id}:{n}        str   task id sending reminder number n; TTL same
    ratelimit:{service}              hash  token bucket (worker.ratelimit)
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import redis

PREFIX = "cqw:"
DONE = "done"

# KEYS: dedup, inbox hash, pending zset, candidate set (or ""), queue list (or ""). ARGV: event id,
# ttl, received at, queued message (or ""), then the hash's field/value pairs. Returns
# {1, event id} when stored, {0, existing event id} for a duplicate.
STORE_EVENT = """
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then
  return {0, redis.call('GET', KEYS[1])}
end
redis.call('HSET', KEYS[2], unpack(ARGV, 5))
redis.call('EXPIRE', KEYS[2], ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
if KEYS[4] ~= '' then
  redis.call('SADD', KEYS[4], ARGV[1])
  redis.call('EXPIRE', KEYS[4], ARGV[2])
end
if KEYS[5] ~= '' then redis.call('LPUSH', KEYS[5], ARGV[4]) end
return {1, ARGV[1]}
"""
_MARK_ENQUEUED = """
if redis.call('HGET', KEYS[1], 'state') == 'stored' then redis.call('HSET', KEYS[1], 'state', 'enqueued') end
return 0
"""


def event_script_args(
    inbox_ttl: int,
    *,
    source: str,
    connector: str | None,
    dedup_key: str,
    body: bytes,
    headers: Mapping[str, str],
    event: Mapping[str, Any],
    candidate_id: str | None,
    enqueue: Callable[[str], tuple[str, bytes] | None] | None,
) -> tuple[list[str], list[Any]]:
    """The keys and arguments of :data:`STORE_EVENT` that store this event under a new id."""
    dedup = k("inbox", "dedup", source if connector is None else f"{source}:{connector}", dedup_key)
    event_id = uuid.uuid4().hex
    queued = enqueue(event_id) if enqueue else None
    cand = k("cand", connector, candidate_id) if candidate_id and connector else ""
    keys = [dedup, k("inbox", event_id), k("inbox", "pending"), cand, queued[0] if queued else ""]
    fields = {
        "source": source,
        "connector": connector or "",
        "body": body,
        "headers": json.dumps(dict(headers)),
        "event": json.dumps(dict(event), default=str),
        "received_at": repr(time.time()),
        "state": "enqueued" if queued else "stored",
        "dedup": dedup,
    }
    args: list[Any] = [event_id, inbox_ttl, fields["received_at"], queued[1] if queued else b""]
    args += [item for pair in fields.items() for item in pair]
    return keys, args


def k(*parts: object) -> str:
    return PREFIX + ":".join(str(p) for p in parts)


def body_hash(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def fingerprint(email: str | None, job_position: str | None) -> str | None:
    """A hash that lets a Crosschq webhook be matched to a create whose answer was lost."""
    if not email:
        return None
    text = f"{email.strip().lower()}|{(job_position or '').strip().lower()}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class InboxEvent:
    event_id: str
    source: str  # "ats" | "crosschq"
    connector: str | None
    body: bytes
    headers: dict[str, str]
    event: dict[str, Any]
    received_at: float
    state: str


def _flat(fields: Mapping[str, object]) -> list[str]:
    """``{"a": 1, "b": 2}`` as Lua ARGV pairs: ``["a", "1", "b", "2"]``."""
    return [item for name, value in fields.items() for item in (name, str(value))]


class Store:
    def __init__(self, client: redis.Redis, *, inbox_ttl: int = 14 * 86400, hold_seconds: int = 600) -> None:
        # redis-py types every reply as a union of bytes, str and more; this client always
        # returns bytes (decode_responses off), which the methods below rely on.
        self.r: Any = client
        self.inbox_ttl = inbox_ttl
        from worker.guards import Guards  # guards build on this module's key helpers

        self.guards = Guards(client, hold_seconds=hold_seconds)
        self._store_event = client.register_script(STORE_EVENT)
        self._mark_enqueued = client.register_script(_MARK_ENQUEUED)

    # -- inbox -------------------------------------------------------------------------------
    def store_event(
        self,
        *,
        source: str,
        connector: str | None,
        dedup_key: str,
        body: bytes,
        headers: Mapping[str, str],
        event: Mapping[str, Any],
        candidate_id: str | None = None,
        enqueue: Callable[[str], tuple[str, bytes] | None] | None = None,
    ) -> tuple[str, bool]:
        """Store a raw event durably; returns ``(event_id, is_new)``. Raises on Redis errors.

        One script, so one round trip and all or nothing: the deduplication key never exists
        without its event (a crash between the two would make the sender's retry a "duplicate"
        of an event that was never stored). ``enqueue(event_id)`` may give a Redis list and a
        message to push in the same step (worker.publish); the event is then ``enqueued``.
        """
        keys, args = event_script_args(
            self.inbox_ttl, source=source, connector=connector, dedup_key=dedup_key, body=body,
            headers=headers, event=event, candidate_id=candidate_id, enqueue=enqueue,
        )  # fmt: skip
        is_new, stored_id = self._store_event(keys=keys, args=args)
        return stored_id.decode(), bool(is_new)

    def mark_enqueued(self, event_id: str) -> None:
        """``stored`` -> ``enqueued``; a worker that already processed the event keeps its state."""
        self._mark_enqueued(keys=[k("inbox", event_id)])

    def load_event(self, event_id: str) -> InboxEvent | None:
        data = self.r.hgetall(k("inbox", event_id))
        if not data:
            return None
        get = {key.decode(): value for key, value in data.items()}
        return InboxEvent(
            event_id=event_id,
            source=get["source"].decode(),
            connector=get["connector"].decode() or None,
            body=get.get("body", b""),
            headers=json.loads(get.get("headers", b"{}")),
            event=json.loads(get.get("event", b"{}")),
            received_at=float(get.get("received_at", b"0")),
            state=get.get("state", b"stored").decode(),
        )

    def mark_event(self, event_id: str, state: str) -> None:
        pipe = self.r.pipeline()
        pipe.hset(k("inbox", event_id), "state", state)
        if state in ("processed", "failed", "ignored"):
            pipe.zrem(k("inbox", "pending"), event_id)
        pipe.execute()

    def forget_event(self, event_id: str) -> None:
        """Remove an event that could not be enqueued so the sender's retry is not deduplicated."""
        data = self.r.hget(k("inbox", event_id), "dedup")
        pipe = self.r.pipeline()
        if data:
            pipe.delete(data.decode())
        pipe.delete(k("inbox", event_id))
        pipe.zrem(k("inbox", "pending"), event_id)
        pipe.execute()

    def requeue_event(self, event_id: str) -> bool:
        """Put a stored event back on the pending list, its re-dispatch count reset (a replay):
        if the replayed task dies without a word, the inbox re-dispatch still sees it."""
        state = self.r.hget(k("inbox", event_id), "state")
        if state is None or state == b"erased":
            return False
        pipe = self.r.pipeline()
        pipe.hset(k("inbox", event_id), mapping={"state": "enqueued", "redispatched": 0})
        pipe.zadd(k("inbox", "pending"), {event_id: time.time()})
        pipe.execute()
        return True

    def pending_events(self, older_than: float, limit: int = 100) -> list[str]:
        ids = self.r.zrangebyscore(k("inbox", "pending"), "-inf", older_than, start=0, num=limit)
        return [i.decode() for i in ids]

    def erase_candidate(self, connector: str, candidate_id: str) -> int:
        """Erase the raw bodies this worker keeps for a candidate (anonymization)."""
        key = k("cand", connector, candidate_id)
        ids = [i.decode() for i in self.r.smembers(key)]
        pipe = self.r.pipeline()
        for event_id in ids:
            pipe.hset(k("inbox", event_id), mapping={"body": b"", "headers": "{}", "state": "erased"})
            pipe.zrem(k("inbox", "pending"), event_id)
        pipe.delete(key)
        pipe.execute()
        return len(ids)

    # -- requests ----------------------------------------------------------------------------
    def request_for(self, connector: str, application_id: str, trigger: str) -> str | None:
        value = self.r.hget(k("app", connector, application_id), trigger)
        return value.decode() if value else None

    def requests_for_application(self, connector: str, application_id: str) -> dict[str, str]:
        data = self.r.hgetall(k("app", connector, application_id))
        return {t.decode(): v.decode() for t, v in data.items()}

    def record_request(
        self,
        request_id: str,
        *,
        connector: str,
        application_id: str,
        candidate_id: str | None,
        trigger: str,
        hm: str | None = None,
    ) -> None:
        pipe = self.r.pipeline(transaction=True)
        pipe.hset(k("app", connector, application_id), trigger, request_id)
        if candidate_id:
            pipe.sadd(k("candreq", connector, candidate_id), request_id)
        pipe.hset(
            k("req", request_id),
            mapping={
                "connector": connector,
                "application_id": application_id,
                "candidate_id": candidate_id or "",
                "trigger": trigger,
                "created_at": time.time(),
                "hm": hm or "",
            },
        )
        pipe.execute()

    def requests_for_candidate(self, connector: str, candidate_id: str) -> list[str]:
        return sorted(m.decode() for m in self.r.smembers(k("candreq", connector, candidate_id)))

    def request_state(self, request_id: str) -> dict[str, str] | None:
        data = self.r.hgetall(k("req", request_id))
        if not data:
            return None
        return {key.decode(): value.decode() for key, value in data.items()}

    def update_request(self, request_id: str, *, pipe: Any = None, **fields: object) -> None:
        """Update a recorded request; a request that is not recorded is left alone. With
        ``pipe`` (a pipeline) the update is queued there instead of sent at once."""
        script = """
        if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
        for i = 1, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
        return 1
        """
        (self.r if pipe is None else pipe).eval(script, 1, k("req", request_id), *_flat(fields))

    def apply_status_if_newer(self, request_id: str, status: str, status_key: str, **fields: object) -> bool:
        """Record ``status`` when ``status_key`` sorts after the applied one (atomic); ``fields``
        are written in any case, in the same step (a request that is not recorded is left alone)."""
        script = """
        if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
        for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
        local cur = redis.call('HGET', KEYS[1], 'status_key')
        if cur and cur >= ARGV[2] then return 0 end
        redis.call('HSET', KEYS[1], 'status', ARGV[1], 'status_key', ARGV[2])
        return 1
        """
        return bool(self.r.eval(script, 1, k("req", request_id), status, status_key, *_flat(fields)))

    # -- create claims -------------------------------------------------------------------------
    def claim_key(self, connector: str, application_id: str, trigger: str) -> str:
        return k("claim", "create", connector, application_id, trigger)

    def take_claim(self, key: str, owner: str, ttl: int) -> tuple[bool, str | None]:
        """``(True, None)`` when taken; else ``(False, current value)``."""
        value = f"pending:{owner}:{time.time():.3f}"
        if self.r.set(key, value, nx=True, ex=ttl):
            return True, None
        current = self.r.get(key)
        return False, current.decode() if current else None

    def complete_claim(self, key: str, request_id: str) -> None:
        self.r.set(key, f"{DONE}:{request_id}")

    def release_claim(self, key: str, owner: str) -> None:
        script = """
        local cur = redis.call('GET', KEYS[1])
        if cur and string.find(cur, ARGV[1], 1, true) == 1 then return redis.call('DEL', KEYS[1]) end
        return 0
        """
        self.r.eval(script, 1, key, f"pending:{owner}:")

    def remember_fingerprint(self, fp: str, request_id: str, seen_at: float | None = None) -> None:
        when = time.time() if seen_at is None else seen_at
        self.r.set(k("fp", fp), f"{request_id}|{when:.3f}", ex=30 * 86400)

    def request_by_fingerprint(self, fp: str, *, seen_since: float) -> str | None:
        """The request Crosschq reported for this fingerprint, if it was seen after ``seen_since``
        (so a later application of the same candidate to a same-titled job is not matched)."""
        value = self.r.get(k("fp", fp))
        if not value:
            return None
        request_id, _, when = value.decode().partition("|")
        return request_id if float(when or 0) >= seen_since else None

    def add_orphan(self, request_id: str, event_id: str) -> None:
        self.r.sadd(k("orphans", request_id), event_id)
        self.r.expire(k("orphans", request_id), self.inbox_ttl)

    def pop_orphans(self, request_id: str) -> list[str]:
        pipe = self.r.pipeline(transaction=True)
        pipe.smembers(k("orphans", request_id))
        pipe.delete(k("orphans", request_id))
        members, _ = pipe.execute()
        return sorted(m.decode() for m in members)

    # -- ledger ------------------------------------------------------------------------------
    def ledger(self, request_id: str) -> dict[str, str]:
        data = self.r.hgetall(k("ledger", request_id))
        return {key.decode(): v.decode() for key, v in data.items() if not key.endswith(b":at")}

    # -- operations --------------------------------------------------------------------------
    def dead_letter(
        self,
        task: str,
        args: Iterable[Any],
        kwargs: Mapping[str, Any],
        reason: str,
        task_id: str | None = None,
    ) -> None:
        record = {
            "id": task_id or uuid.uuid4().hex,
            "task": task,
            "args": list(args),
            "kwargs": dict(kwargs),
            "reason": reason[:500],
            "at": time.time(),
        }
        self.r.zadd(k("dead"), {json.dumps(record, sort_keys=True): record["at"]})

    def dead_letters(self, limit: int = 100) -> list[dict[str, Any]]:
        return [json.loads(raw) for raw in self.r.zrevrange(k("dead"), 0, limit - 1)]

    def remove_dead_letter(self, record: Mapping[str, Any]) -> None:
        self.r.zrem(k("dead"), json.dumps(dict(record), sort_keys=True))

    def timeline_add(
        self, connector: str, application_id: str, what: str, *, pipe: Any = None, **fields: object
    ) -> None:
        """Append to an application's timeline; with ``pipe``, queued there for the caller to send."""
        entry = json.dumps({"at": time.time(), "what": what, **fields}, default=str)
        key = k("timeline", connector, application_id)
        queue = self.r.pipeline() if pipe is None else pipe
        queue.rpush(key, entry)
        queue.ltrim(key, -500, -1)
        queue.expire(key, 180 * 86400)
        if pipe is None:
            queue.execute()

    def timeline(self, connector: str, application_id: str) -> list[dict[str, Any]]:
        return [json.loads(e) for e in self.r.lrange(k("timeline", connector, application_id), 0, -1)]

    def cached_jobroles(self) -> list[dict[str, Any]] | None:
        raw = self.r.get(k("jobroles"))
        return json.loads(raw) if raw else None

    def cache_jobroles(self, roles: list[dict[str, Any]], ttl: int = 3600) -> None:
        self.r.set(k("jobroles"), json.dumps(roles), ex=ttl)

    def touch_canary(self) -> None:
        self.r.set(k("canary"), time.time(), ex=86400)

    def canary_age(self) -> float | None:
        raw = self.r.get(k("canary"))
        return time.time() - float(raw) if raw else None
