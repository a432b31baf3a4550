"""A token bucket per external API in Redis, shared by every worker process.

Celery's own ``rate_limit`` is per worker instance (celery-pitfalls #12), so it cannot honour a
vendor's account-wide limit. Each call first takes a token here; when none is left the caller
waits a little (at most ``max_wait`` seconds) or gets :class:`RateLimited` with the wait, and the
task retries later. A 429 from the vendor drains the bucket for the Retry-After period.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

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


class RedisRateLimiter:
    def __init__(
        self,
        client: redis.Redis,
        rates: Mapping[str, tuple[int, float]],
        *,
        max_wait: float = 1.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.r = client
        self.rates = dict(rates)
        self.max_wait = max_wait
        self.clock = clock
        self.sleep = sleep
        self._take = client.register_script(_TAKE)

    def _try(self, service: str) -> float:
        limit, window = self.rates[service]
        return float(self._take(keys=[k("ratelimit", service)], args=[limit, window, self.clock()]))

    def acquire(self, service: str) -> None:
        if service not in self.rates:
            return
        waited = 0.0
        while True:
            wait = self._try(service)
            if wait <= 0:
                return
            if waited + wait > self.max_wait:
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
