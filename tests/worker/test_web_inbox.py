"""The receiver's production write path: the event and its Celery message in one Redis script."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis
from celery import Celery
from pydantic import SecretStr
from starlette.testclient import TestClient

from config.settings import Settings
from connectors.fake import InMemoryConnector
from worker import publish
from worker.inbox import AsyncInbox, async_client
from worker.store import Store
from worker.web import Receiver, create_app

FIXTURES = Path(__file__).parents[1] / "fixtures" / "crosschq"
SECRET = "cq-webhook-secret"
HEADERS = {"Authorization": f"Token {SECRET}", "Content-Type": "application/json"}
TASK = "crosschq.process_webhook"


@pytest.fixture
def publisher(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Celery:
    """The receiver's publisher, pointed at the test database."""
    from worker.app import app as worker_app

    app = Celery("test-publisher", set_as_current=False)
    app.conf.update(dict(worker_app.conf.changes), broker_url=redis_url, result_backend=None)
    monkeypatch.setattr(publish, "_publisher", app)
    return app


def receiver_for(url: str, store_url: str) -> Receiver:
    settings = Settings.load()
    settings.crosschq.webhook_auth = "token"
    settings.crosschq.webhook_secret = SecretStr(SECRET)
    return Receiver(
        settings=settings,
        store=Store(redis.Redis.from_url(url)),
        connectors={"memory": InMemoryConnector()},
        enqueue=publish.InlineEnqueue(store_url),
        inbox=AsyncInbox(async_client(url), inbox_ttl=3600),
    )


@pytest.fixture
def client(redis_url: str, publisher: Celery) -> Iterator[TestClient]:
    with TestClient(create_app(receiver_for(redis_url, redis_url)), raise_server_exceptions=False) as c:
        yield c


def queued(r: redis.Redis, queue: str = "ats") -> list[dict[str, Any]]:
    return [json.loads(raw) for raw in r.lrange(queue, 0, -1)]


def task_kwargs(message: dict[str, Any]) -> dict[str, Any]:
    args, kwargs, _ = json.loads(base64.b64decode(message["body"]))
    assert args == []
    return dict(kwargs)


def test_event_and_message_are_written_together(client: TestClient, redis_client: redis.Redis) -> None:
    body = (FIXTURES / "webhook_sent.json").read_bytes()
    response = client.post("/webhooks/crosschq", content=body, headers=HEADERS)
    assert response.status_code == 202
    event_id = response.json()["event_id"]
    stored = Store(redis_client).load_event(event_id)
    assert stored is not None and stored.body == body and stored.state == "enqueued"
    [message] = queued(redis_client)
    assert message["headers"]["task"] == TASK
    assert task_kwargs(message) == {"event_id": event_id}
    again = client.post("/webhooks/crosschq", content=body, headers=HEADERS)
    assert again.json() == {"event_id": event_id, "duplicate": True}
    assert len(queued(redis_client)) == 1


def test_inline_message_is_the_one_send_task_publishes(publisher: Celery, redis_client: redis.Redis) -> None:
    publisher.send_task(TASK, kwargs={"event_id": "e1"})
    [sent] = queued(redis_client)
    queue, raw = publish.InlineEnqueue(publisher.conf.broker_url).message(TASK, "e1") or ("", b"")
    built = json.loads(raw)
    assert queue == "ats"
    assert built.keys() == sent.keys()
    assert built["headers"].keys() == sent["headers"].keys()
    assert built["properties"].keys() == sent["properties"].keys()
    assert built["properties"]["delivery_info"] == sent["properties"]["delivery_info"]
    same = ("lang", "task", "retries", "timelimit", "argsrepr", "kwargsrepr", "ignore_result", "stamps")
    assert {k: built["headers"][k] for k in same} == {k: sent["headers"][k] for k in same}
    assert task_kwargs(built) == task_kwargs(sent) == {"event_id": "e1"}


def test_another_broker_falls_back_to_send_task(
    redis_url: str, publisher: Celery, redis_client: redis.Redis
) -> None:
    elsewhere = "redis://127.0.0.1:6379/15"  # not the store's: the message cannot share its script
    with TestClient(create_app(receiver_for(redis_url, elsewhere)), raise_server_exceptions=False) as c:
        body = (FIXTURES / "webhook_sent.json").read_bytes()
        response = c.post("/webhooks/crosschq", content=body, headers=HEADERS)
    assert response.status_code == 202
    event_id = response.json()["event_id"]
    [message] = queued(redis_client)  # published by send_task to the publisher's broker
    assert task_kwargs(message) == {"event_id": event_id}
    stored = Store(redis_client).load_event(event_id)
    assert stored is not None and stored.state == "enqueued"


def test_redis_down_answers_503_and_queues_nothing(publisher: Celery, redis_client: redis.Redis) -> None:
    nowhere = "redis://127.0.0.1:9/0"
    receiver = receiver_for(nowhere, nowhere)
    receiver.inbox = AsyncInbox(aioredis.Redis.from_url(nowhere, socket_connect_timeout=0.2), inbox_ttl=60)
    with TestClient(create_app(receiver), raise_server_exceptions=False) as c:
        body = (FIXTURES / "webhook_sent.json").read_bytes()
        assert c.post("/webhooks/crosschq", content=body, headers=HEADERS).status_code == 503
    assert queued(redis_client) == []
