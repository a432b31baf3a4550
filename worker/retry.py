"""How long a task waits before its next try.

``min(cap, max(retry_after, base * 2**attempt))`` plus up to 25 % jitter, never above the cap,
which settings keep below the Redis visibility timeout (celery-pitfalls #1). The jitter source
is a parameter so tests can pin it.
"""

from __future__ import annotations

import random
from collections.abc import Callable


def countdown(
    attempt: int,
    *,
    base: float,
    cap: float,
    retry_after: float | None = None,
    jitter: Callable[[], float] = random.random,
) -> float:
    wait = max(retry_after or 0.0, base * (2 ** max(0, attempt)))
    wait = min(cap, wait)
    return round(min(cap, wait * (1 + 0.25 * jitter())), 3)
