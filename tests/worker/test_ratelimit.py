"""The shared token bucket, on real Redis with a controlled clock."""

from __future__ import annotations

import threading

import pytest
import redis

from connectors.errors import RateLimited
from worker.ratelimit import RedisRateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def limiter(client: redis.Redis, clock: Clock, limit: int = 5, window: float = 10.0,
            max_wait: float = 0.0) -> RedisRateLimiter:
    return RedisRateLimiter(client, {"greenhouse": (limit, window)}, max_wait=max_wait, clock=clock,
                            sleep=clock.sleep)


def test_allows_the_limit_then_refuses_with_the_wait(redis_client: redis.Redis) -> None:
    clock = Clock()
    bucket = limiter(redis_client, clock)
    for _ in range(5):
        bucket.acquire("greenhouse")
    with pytest.raises(RateLimited) as info:
        bucket.acquire("greenhouse")
    assert info.value.retry_after == pytest.approx(2.0, abs=0.01)  # one token per 2 s


def test_refills_over_time(redis_client: redis.Redis) -> None:
    clock = Clock()
    bucket = limiter(redis_client, clock)
    for _ in range(5):
        bucket.acquire("greenhouse")
    clock.now += 4.0
    bucket.acquire("greenhouse")
    bucket.acquire("greenhouse")
    with pytest.raises(RateLimited):
        bucket.acquire("greenhouse")


def test_short_waits_are_slept_not_raised(redis_client: redis.Redis) -> None:
    clock = Clock()
    bucket = limiter(redis_client, clock, limit=10, window=1.0, max_wait=1.0)
    for _ in range(12):
        bucket.acquire("greenhouse")
    assert 0.09 <= sum(clock.slept) <= 0.21  # two tokens short at 10 per second


def test_a_429_blocks_every_process_for_retry_after(redis_client: redis.Redis) -> None:
    clock = Clock()
    bucket = limiter(redis_client, clock)
    other_process = limiter(redis_client, clock)
    bucket.penalize("greenhouse", 30)
    with pytest.raises(RateLimited) as info:
        other_process.acquire("greenhouse")
    assert info.value.retry_after == pytest.approx(30, abs=0.01)
    clock.now += 31
    other_process.acquire("greenhouse")


def test_unknown_services_are_not_limited(redis_client: redis.Redis) -> None:
    bucket = limiter(redis_client, Clock(), limit=1)
    for _ in range(10):
        bucket.acquire("lever")


def test_shared_by_concurrent_callers(redis_client: redis.Redis) -> None:
    clock = Clock()
    granted: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        bucket = limiter(redis.Redis(connection_pool=redis_client.connection_pool), clock, limit=20)
        for _ in range(10):
            try:
                bucket.acquire("greenhouse")
            except RateLimited:
                continue
            with lock:
                granted.append(1)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(granted) == 20
