"""The bare endpoint the receiver is measured against: raw ASGI, no framework.

It does the least a correct webhook receiver must do: read the body, check the token, parse
the JSON, and write the same keys as ``Store.store_event`` (SET NX for the deduplication key,
then HSET + EXPIRE + ZADD in one MULTI) plus an LPUSH standing in for the Celery message, then
answer 202. Served by uvicorn: ``python -m uvicorn bench.bare_ingest:app``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import redis.asyncio as aioredis

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

TTL = 14 * 86400
STATE: dict[str, Any] = {}


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            STATE["redis"] = aioredis.Redis.from_url(os.environ["REDIS_URL"])
            STATE["token"] = os.environ["CROSSCHQ_WEBHOOK_SECRET"].encode()
            STATE["enqueue"] = os.environ.get("BARE_ENQUEUE", "1") == "1"
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await STATE["redis"].aclose()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _answer(send: Send, status: int, payload: dict[str, Any]) -> None:
    body = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _store(body: bytes) -> str:
    r: aioredis.Redis = STATE["redis"]
    digest = hashlib.sha256(body).hexdigest()
    event_id = uuid.uuid4().hex
    dedup = f"bare:inbox:dedup:{digest}"
    if not await r.set(dedup, event_id, nx=True, ex=TTL):
        return str(await r.get(dedup))
    now = time.time()
    pipe = r.pipeline(transaction=True)
    pipe.hset(f"bare:inbox:{event_id}", mapping={"source": "crosschq", "body": body, "state": "stored"})
    pipe.expire(f"bare:inbox:{event_id}", TTL)
    pipe.zadd("bare:inbox:pending", {event_id: now})
    if STATE["enqueue"]:
        pipe.lpush("bare:queue", json.dumps({"task": "crosschq.process_webhook", "event_id": event_id}))
    await pipe.execute()
    return event_id


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    body = await _body(receive)
    auth = dict(scope["headers"]).get(b"authorization", b"")
    if not hmac.compare_digest(auth.partition(b" ")[2], STATE["token"]):
        await _answer(send, 401, {"error": "authorization missing or invalid"})
        return
    try:
        data = json.loads(body)
    except ValueError:
        await _answer(send, 400, {"error": "body is not JSON"})
        return
    if not isinstance(data, dict) or not isinstance(data.get("id"), str):
        await _answer(send, 400, {"error": 'missing request id ("id")'})
        return
    await _answer(send, 202, {"event_id": await _store(body)})
