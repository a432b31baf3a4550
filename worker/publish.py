"""How the receiver puts tasks on the Celery queues.

:func:`publisher` is the worker's Celery configuration without a result backend: the Redis
result backend subscribes to the result channel of every task sent through it
(``RedisBackend.on_task_call``) and unsubscribes when the result handle is dropped, two Redis
commands and a lock per webhook for results the receiver never reads.

:class:`InlineEnqueue` is the receiver's default enqueue. Called, it is ``send_task``. Its
:meth:`~InlineEnqueue.message` builds the same message ``send_task`` would publish, so that the
inbox script pushes it onto the queue in the same Redis transaction that stores the event
(``Store.store_event(enqueue=...)``): one round trip per webhook instead of four, and never an
event stored without its task. Measured by ``bench/ingest.py``, where ``send_task`` was most of
the receiver's cost.

The message: Celery builds headers and body (``AMQP.create_task_message``, message protocol 2,
docs.celeryq.dev "Message Protocol"); the envelope is kombu's Redis transport format (JSON of
body, content type and encoding, headers, and properties with ``delivery_info``, ``priority``,
``body_encoding`` base64 and a ``delivery_tag``), pushed with LPUSH onto the list named after the
queue, as ``kombu.transport.redis.Channel._put`` does for priority 0. It is used only when the
broker is the store's Redis with kombu's default key layout; otherwise :meth:`message` returns
None and the receiver calls ``send_task``. Unlike ``send_task`` it publishes no ``task-sent``
event: Flower shows these tasks from the worker's ``task-received``.
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from typing import Any
from urllib.parse import urlparse

from kombu.serialization import dumps

_publisher: Any = None
_lock = threading.Lock()
RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}


def publisher() -> Any:
    global _publisher
    with _lock:
        if _publisher is None:
            from celery import Celery

            from worker.app import app as worker_app

            app = Celery("crosschq_worker_receiver", set_as_current=False)
            app.conf.update(dict(worker_app.conf.changes), result_backend=None)
            _publisher = app
        return _publisher


def celery_enqueue(task: str, event_id: str) -> None:
    kwargs = {"event_id": event_id} if event_id else {}
    publisher().send_task(task, kwargs=kwargs, retry=True, retry_policy=RETRY_POLICY)


def inline_possible(app: Any, store_url: str) -> bool:
    """The broker is the store's Redis, with kombu's default key layout and no priorities."""
    conf = app.conf
    options = conf.broker_transport_options or {}
    scheme = urlparse(str(conf.broker_url)).scheme
    return (
        scheme in ("redis", "rediss")
        and str(conf.broker_url) == store_url
        and not options.get("global_keyprefix")
        and not conf.task_queue_max_priority
        and conf.task_default_priority in (None, 0)
        and not conf.task_compression
    )


class InlineEnqueue:
    """``send_task`` when called; a message to push with the event when :meth:`message` allows."""

    def __init__(self, store_url: str) -> None:
        self.store_url = store_url
        self._inline: bool | None = None
        self._queues: dict[str, str] = {}  # task name -> queue; routes are by name only

    def __call__(self, task: str, event_id: str) -> None:
        celery_enqueue(task, event_id)

    def message(self, task: str, event_id: str) -> tuple[str, bytes] | None:
        """``(Redis list, message)`` for this task, or None to use ``send_task`` instead."""
        app = publisher()
        if self._inline is None:
            self._inline = inline_possible(app, self.store_url)
        if not self._inline:
            return None
        kwargs = {"event_id": event_id}
        queue = self._queues.get(task)
        if queue is None:
            queue = self._queues[task] = app.amqp.router.route({}, task, (), kwargs)["queue"].name
        task_id = str(uuid.uuid4())
        headers, properties, body, _ = app.amqp.create_task_message(
            task_id, task, (), kwargs, reply_to=app.thread_oid, ignore_result=None
        )
        content_type, encoding, data = dumps(body, serializer=app.conf.task_serializer)
        raw = data.encode(encoding) if isinstance(data, str) else data
        properties.update(
            delivery_mode=2,
            delivery_info={"exchange": "", "routing_key": queue},
            priority=0,
            body_encoding="base64",
            delivery_tag=str(uuid.uuid4()),
        )
        envelope = {
            "body": base64.b64encode(raw).decode(),
            "content-encoding": encoding,
            "content-type": content_type,
            "headers": headers,
            "properties": properties,
        }
        return queue, json.dumps(envelope).encode()
