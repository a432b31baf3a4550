"""A rate limit per external API in Redis, shared by every worker process.

Celery's own ``rate_limit`` is per worker instance (celery-pitfalls #12), so it cannot honour a
vendor's account-wide limit. Each call first takes a token here; when none is left the caller
waits a little (at most ``max_wait`` seconds) or gets :class:`RateLimited` with the wait, and the
task retries later. A 429 from the vendor blocks every caller for the Retry-After period.

Two shapes, per service:

- a token bucket (the default): capacity ``limit``, refilled continuously at ``limit / window``
  per second. It allows a burst of ``limit`` and then the rate, so up to ``2 * limit - 1`` calls can
  fall in one window: right for a vendor that limits a rate, wrong for one that counts calls in
  fixed windows.
- a sliding window (``windowed``): at most ``limit`` calls in any ``window + margin`` seconds, from
  a log of the last calls. Greenhouse counts calls per 10-second window that starts with the
  first call (harvest/_introduction.md); whatever the vendor's window boundaries, no window of
  its length then holds more than ``limit`` calls, provided a call reaches the vendor less than
  ``margin`` after its token was taken. The margin (:func:`window_margin`) costs that share of
  the limit: 2 % for Greenhouse's 10 s. Bursts of ``limit`` calls are still allowed, after which
  callers wait for the oldest call to leave the window.

  A caller waits up to one such window (not just ``max_wait``) before giving up: a slot that is
  used late is lost for good (the log keeps the late call for a full window), and tasks sent back
  to the queue to retry come back late. Measured with four workers against a sandbox at 20 calls
  per 2 s (bench/ratelimit.py): 0.81 of the limit when giving up after ``max_wait``, the full
  limit when waiting, and no 429 either way. The cost: a pool process sleeps for up to one window
  while the vendor's budget is spent, instead of taking other work.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Collection, Mapping

import redis

from connectors.errors import RateLimited
from worker.store import k

# Refill continuously at limit/window tokens per second, capacity ``limit``.
_TAKE = """
local key = KEYS[1]
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local blocked = tonumber(redis.call('HGET', key, 'blocked_until') or '0')
if blocked > now then return tostring(blocked - now) end
local tokens = tonumber(redis.call('HGET', key, 'tokens') or tostring(limit))
local stamp = tonumber(redis.call('HGET', key, 'stamp') or tostring(now))
local rate = limit / window
tokens = math.min(limit, tokens + (now - stamp) * rate)
if tokens >= 0.999999 then
  local left = string.format('%.17g', math.max(0, tokens - 1))
  redis.call('HSET', key, 'tokens', left, 'stamp', string.format('%.17g', now))
  redis.call('EXPIRE', key, math.ceil(window * 4) + 60)
  return '0'
end
redis.call('HSET', key, 'tokens', string.format('%.17g', tokens), 'stamp', string.format('%.17g', now))
return string.format('%.17g', (1 - tokens) / rate)
"""


# At most ARGV[1] calls in any ARGV[2] seconds. KEYS[1]: the hash holding ``blocked_until``;
# KEYS[2]: the log of calls (sorted set scored by time, ARGV[4] a unique member).
_TAKE_WINDOWED = """
local now = tonumber(ARGV[3])
local blocked = tonumber(redis.call('HGET', KEYS[1], 'blocked_until') or '0')
if blocked > now then return tostring(blocked - now) end
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', string.format('%.17g', now - window))
if redis.call('ZCARD', KEYS[2]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[2], string.format('%.17g', now), ARGV[4])
  redis.call('PEXPIRE', KEYS[2], math.ceil(window * 1000) + 1000)
  return '0'
end
local oldest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
return string.format('%.17g', tonumber(oldest[2]) + window - now)
"""


def window_margin(window: float) -> float:
    """Slack added to a sliding window for the time between taking a token and the call
    reaching the vendor: 2 % of the window, at least 50 ms."""
    return max(0.05, 0.02 * window)


class RedisRateLimiter:
    def __init__(
        self,
        client: redis.Redis,
        rates: Mapping[str, tuple[int, float]],
        *,
        max_wait: float = 1.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        windowed: Collection[str] = (),
    ) -> None:
        self.r = client
        self.rates = dict(rates)
        self.windowed = frozenset(windowed)
        self.max_wait = max_wait
        self.clock = clock
        self.sleep = sleep
        self._take = client.register_script(_TAKE)
        self._take_windowed = client.register_script(_TAKE_WINDOWED)

    def _span(self, service: str) -> float:
        """The sliding window of a windowed service: its window plus the margin."""
        window = self.rates[service][1]
        return window + window_margin(window)

    def _try(self, service: str) -> float:
        limit, window = self.rates[service]
        key, now = k("ratelimit", service), self.clock()
        if service not in self.windowed:
            return float(self._take(keys=[key], args=[limit, window, now]))
        args: list[float | str] = [limit, self._span(service), now, f"{now!r}:{uuid.uuid4().hex[:12]}"]
        return float(self._take_windowed(keys=[key, k("ratelimit", service, "log")], args=args))

    def acquire(self, service: str) -> None:
        if service not in self.rates:
            return
        patience = max(self.max_wait, self._span(service)) if service in self.windowed else self.max_wait
        waited = 0.0
        while True:
            wait = self._try(service)
            if wait <= 0:
                return
            if waited + wait > patience:
                raise RateLimited("local rate limit: no token", retry_after=round(wait, 3), service=service)
            wait = max(wait, 0.001)
            self.sleep(wait)
            waited += wait

    def penalize(self, service: str, seconds: float) -> None:
        key = k("ratelimit", service)
        until = self.clock() + max(0.0, seconds)
        pipe = self.r.pipeline()
        pipe.hset(key, mapping={"blocked_until": until, "tokens": 0, "stamp": self.clock()})
        pipe.expire(key, int(seconds) + 120)
        pipe.execute()
