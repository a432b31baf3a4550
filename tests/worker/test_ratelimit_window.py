"""The sliding-window limiter used for vendors that count calls per fixed window (Greenhouse)."""

from __future__ import annotations

import random

import pytest
import redis

from connectors.errors import RateLimited
from worker.ratelimit import RedisRateLimiter, window_margin


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def limiter(client: redis.Redis, clock: Clock, limit: int = 5, window: float = 10.0) -> RedisRateLimiter:
    return RedisRateLimiter(
        client, {"greenhouse": (limit, window)}, max_wait=0.0, clock=clock, sleep=clock.sleep,
        windowed=("greenhouse",),
    )  # fmt: skip


def test_margin_is_two_percent_and_at_least_50_ms() -> None:
    assert window_margin(10.0) == pytest.approx(0.2)
    assert window_margin(1.0) == pytest.approx(0.05)


def test_a_burst_of_the_limit_then_a_wait_for_the_oldest_call(redis_client: redis.Redis) -> None:
    clock = Clock()
    log = limiter(redis_client, clock)
    for _ in range(5):
        log.acquire("greenhouse")
    assert clock.slept == []
    log.acquire("greenhouse")  # waits (does not raise) for the first call to leave the window
    assert clock.slept == [pytest.approx(10.2)]


def test_never_more_than_the_limit_in_any_window(redis_client: redis.Redis) -> None:
    clock, rng = Clock(), random.Random(7)
    log = limiter(redis_client, clock, limit=4, window=2.0)
    granted = []
    for _ in range(200):
        clock.now += rng.choice([0.0, 0.0, 0.01, 0.3, 1.1])
        log.acquire("greenhouse")
        granted.append(clock.now)
    span = 2.0 + window_margin(2.0)
    for i, start in enumerate(granted):
        assert sum(1 for t in granted[i:] if t < start + span) <= 4


def test_waits_at_most_one_window_then_raises(redis_client: redis.Redis) -> None:
    clock = Clock()
    log = limiter(redis_client, clock)
    log.penalize("greenhouse", 30)  # a 429 said: nothing for 30 s, longer than a window
    with pytest.raises(RateLimited) as info:
        log.acquire("greenhouse")
    assert info.value.retry_after == pytest.approx(30, abs=0.01)
    assert clock.slept == []


def test_a_short_penalty_is_slept(redis_client: redis.Redis) -> None:
    clock = Clock()
    log = limiter(redis_client, clock)
    log.penalize("greenhouse", 3)
    log.acquire("greenhouse")
    assert sum(clock.slept) == pytest.approx(3, abs=0.01)


def test_other_services_keep_the_token_bucket(redis_client: redis.Redis) -> None:
    clock = Clock()
    both = RedisRateLimiter(
        redis_client, {"greenhouse": (5, 10.0), "crosschq": (5, 10.0)}, max_wait=0.0, clock=clock,
        sleep=clock.sleep, windowed=("greenhouse",),
    )  # fmt: skip
    for _ in range(5):
        both.acquire("crosschq")
    with pytest.raises(RateLimited) as info:
        both.acquire("crosschq")
    assert info.value.retry_after == pytest.approx(2.0, abs=0.01)
