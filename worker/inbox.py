"""The receiver's write path on ``redis.asyncio``: no worker thread per webhook.

The same script and arguments as :meth:`worker.store.Store.store_event` (the event, its
deduplication key and, when given, its Celery message, in one round trip).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import redis.asyncio as aioredis

from worker.store import STORE_EVENT, event_script_args


def async_client(url: str) -> aioredis.Redis:
    """Timeouts as :func:`worker.deps.redis_client`, so a Redis outage is an error, not a hang."""
    return aioredis.Redis.from_url(
        url, socket_connect_timeout=5, socket_timeout=10, health_check_interval=30, retry_on_timeout=True
    )


class AsyncInbox:
    def __init__(self, client: aioredis.Redis, *, inbox_ttl: int) -> None:
        self.client = client
        self.inbox_ttl = inbox_ttl
        self._store_event = client.register_script(STORE_EVENT)

    async def store_event(
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
        """``(event_id, is_new)``; raises on Redis errors (the receiver then answers 503)."""
        keys, args = event_script_args(
            self.inbox_ttl, source=source, connector=connector, dedup_key=dedup_key, body=body,
            headers=headers, event=event, candidate_id=candidate_id, enqueue=enqueue,
        )  # fmt: skip
        is_new, stored_id = await self._store_event(keys=keys, args=args)
        return stored_id.decode(), bool(is_new)
