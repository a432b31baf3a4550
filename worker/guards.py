"""Redis guards that make effects happen once: request locks, create claims, the write ledger.

All compare-and-set steps are Lua scripts, so two workers (or a task and its redelivery) never
both win. Owners are task ids: a redelivered or retried task keeps its id, so it may resume what
it held before it died, while any other owner waits until the holder's time is up (a live
holder cannot outlast the hard time limit, which bounds every hold).

Ledger states, per write key: absent (free) · ``pending:<owner>`` (being written) · ``uncertain:
<owner>`` (the call failed in a way that may have landed: timeout, reset) · ``done``.
"""

from __future__ import annotations

import time
from typing import Any

from worker.store import DONE, k

_LOCK = """
local cur = redis.call('GET', KEYS[1])
if cur == ARGV[1] then redis.call('EXPIRE', KEYS[1], ARGV[2]) return 0 end
if not cur then redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) return 0 end
local left = redis.call('TTL', KEYS[1])
if left < 1 then left = 1 end
return left
"""
_UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
_TAKE_OVER = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3]) return 1 end
return 0
"""
# Returns 'done', 'go', 'uncertain' (taken over from a write that may have landed: one that
# failed in doubt, or one whose task died mid-write) or the seconds another live owner still
# holds it.
_LEDGER_BEGIN = """
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur == 'done' then return 'done' end
local mine = 'pending:' .. ARGV[2]
local state = 'go'
if cur and string.sub(cur, 1, 10) == 'uncertain:' then
  state = 'uncertain'
elseif cur then
  -- pending: our own entry means this is the redelivery of a task that died mid-write; someone
  -- else's is waited for until its time is up. Either way the write may have landed.
  if cur ~= mine then
    local started = tonumber(redis.call('HGET', KEYS[1], ARGV[1] .. ':at') or '0')
    local left = tonumber(ARGV[4]) - (tonumber(ARGV[3]) - started)
    if left > 0 then return tostring(left) end
  end
  state = 'uncertain'
end
redis.call('HSET', KEYS[1], ARGV[1], mine, ARGV[1] .. ':at', ARGV[3])
return state
"""
_LEDGER_SET_IF_MINE = """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  if ARGV[3] == '' then return redis.call('HDEL', KEYS[1], ARGV[1], ARGV[1] .. ':at') end
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
  return 1
end
return 0
"""


class Guards:
    def __init__(self, client: Any, *, hold_seconds: int) -> None:
        self.r = client
        self.hold_seconds = hold_seconds
        self._lock = client.register_script(_LOCK)
        self._unlock = client.register_script(_UNLOCK)
        self._take_over = client.register_script(_TAKE_OVER)
        self._begin = client.register_script(_LEDGER_BEGIN)
        self._set_if_mine = client.register_script(_LEDGER_SET_IF_MINE)

    # -- per-request locks (re-entrant for the same owner) -----------------------------------
    def lock(self, name: str, owner: str) -> float:
        """0 when ``owner`` holds the lock now; else the seconds until the holder's time is up."""
        return float(self._lock(keys=[k("lock", name)], args=[owner, self.hold_seconds]))

    def unlock(self, name: str, owner: str) -> None:
        self._unlock(keys=[k("lock", name)], args=[owner])

    # -- create claims -------------------------------------------------------------------------
    def take_over_claim(self, key: str, expected: str, owner: str, ttl: int) -> bool:
        """Replace a dead holder's claim, only if it is still the one we judged dead."""
        value = f"pending:{owner}:{time.time():.3f}"
        return bool(self._take_over(keys=[key], args=[expected, value, ttl]))

    # -- the write ledger ----------------------------------------------------------------------
    def begin(self, ledger_id: str, key: str, owner: str) -> str:
        reply = self._begin(keys=[k("ledger", ledger_id)], args=[key, owner, time.time(), self.hold_seconds])
        return reply.decode() if isinstance(reply, bytes) else str(reply)

    def done(self, ledger_id: str, key: str) -> None:
        pipe = self.r.pipeline()
        pipe.hset(k("ledger", ledger_id), key, DONE)
        pipe.hdel(k("ledger", ledger_id), key + ":at")
        pipe.execute()

    def uncertain(self, ledger_id: str, key: str, owner: str) -> None:
        self._set_if_mine(keys=[k("ledger", ledger_id)], args=[key, f"pending:{owner}", f"uncertain:{owner}"])

    def abort(self, ledger_id: str, key: str, owner: str) -> None:
        self._set_if_mine(keys=[k("ledger", ledger_id)], args=[key, f"pending:{owner}", ""])
