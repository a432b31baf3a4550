"""The receiver: documented answers, nothing stored or enqueued for bad input."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from pydantic import SecretStr
from starlette.testclient import TestClient

from config.settings import Settings
from connectors.fake import InMemoryConnector
from worker.store import Store
from worker.web import Receiver, create_app

FIXTURES = Path(__file__).parents[1] / "fixtures" / "crosschq"
SECRET = "cq-webhook-secret"


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []
        self.fail = False

    def __call__(self, task: str, event_id: str) -> None:
        if self.fail:
            raise ConnectionError("broker down")
        self.sent.append((task, event_id))


@pytest.fixture
def ats() -> InMemoryConnector:
    connector = InMemoryConnector()
    connector.seed_application(application_id="6001", emails=[("casey@example.com", "personal")])
    return connector


@pytest.fixture
def receiver(redis_client: redis.Redis, ats: InMemoryConnector) -> Receiver:
    settings = Settings.load()
    settings.crosschq.webhook_auth = "token"
    settings.crosschq.webhook_secret = SecretStr(SECRET)
    return Receiver(
        settings=settings, store=Store(redis_client), connectors={"memory": ats}, enqueue=Recorder()
    )


@pytest.fixture
def client(receiver: Receiver) -> Iterator[TestClient]:
    with TestClient(create_app(receiver), raise_server_exceptions=False) as c:
        yield c


def stored_keys(r: redis.Redis) -> list[bytes]:
    return [k for k in r.keys("cqw:inbox:*")]


def cq_headers(secret: str = SECRET, scheme: str = "Token") -> dict[str, str]:
    return {"Authorization": f"{scheme} {secret}", "Content-Type": "application/json"}


def test_crosschq_webhook_is_stored_and_enqueued(
    client: TestClient, receiver: Receiver, redis_client: redis.Redis
) -> None:
    body = (FIXTURES / "webhook_sent.json").read_bytes()
    response = client.post("/webhooks/crosschq", content=body, headers=cq_headers())
    assert response.status_code == 202
    event_id = response.json()["event_id"]
    assert receiver.enqueue.sent == [("crosschq.process_webhook", event_id)]  # type: ignore[attr-defined]
    stored = receiver.store.load_event(event_id)
    assert stored is not None and stored.body == body and stored.state == "enqueued"


@pytest.mark.parametrize("method", ["post", "put"])
@pytest.mark.parametrize("scheme", ["Token", "Bearer", "token"])
def test_crosschq_token_schemes_and_methods(client: TestClient, method: str, scheme: str) -> None:
    body = (FIXTURES / "webhook_accepted.json").read_bytes()
    response = getattr(client, method)("/webhooks/crosschq", content=body, headers=cq_headers(scheme=scheme))
    assert response.status_code == 202


def test_crosschq_basic_auth(client: TestClient, receiver: Receiver) -> None:
    receiver.settings.crosschq.webhook_auth = "basic"
    good = base64.b64encode(f"crosschq:{SECRET}".encode()).decode()
    bad = base64.b64encode(b"crosschq:wrong").decode()
    body = (FIXTURES / "webhook_assigning.json").read_bytes()
    headers = {"Content-Type": "application/json"}
    assert (
        client.post(
            "/webhooks/crosschq", content=body, headers={**headers, "Authorization": f"Basic {good}"}
        ).status_code
        == 202
    )
    assert (
        client.post(
            "/webhooks/crosschq", content=body, headers={**headers, "Authorization": f"Basic {bad}"}
        ).status_code
        == 401
    )
    assert (
        client.post(
            "/webhooks/crosschq", content=body, headers={**headers, "Authorization": "Basic !!!"}
        ).status_code
        == 401
    )


def test_sloppy_spec_example_is_accepted(client: TestClient) -> None:
    body = (FIXTURES / "webhook_report_ready.json").read_bytes()
    assert client.post("/webhooks/crosschq", content=body, headers=cq_headers()).status_code == 202


def test_duplicate_is_acknowledged_once(client: TestClient, receiver: Receiver) -> None:
    body = (FIXTURES / "webhook_sent.json").read_bytes()
    first = client.post("/webhooks/crosschq", content=body, headers=cq_headers()).json()
    second = client.post("/webhooks/crosschq", content=body, headers=cq_headers()).json()
    assert second == {"event_id": first["event_id"], "duplicate": True}
    assert len(receiver.enqueue.sent) == 1  # type: ignore[attr-defined]


def test_ats_webhook_is_verified_stored_and_enqueued(
    client: TestClient, receiver: Receiver, ats: InMemoryConnector
) -> None:
    headers, body = ats.make_webhook("candidate_stage_change", "6001", "Reference Check")
    response = client.post(
        "/webhooks/ats/memory", content=body, headers={**headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 202, response.text
    event_id = response.json()["event_id"]
    stored = receiver.store.load_event(event_id)
    assert stored is not None and stored.event["application_id"] == "6001"
    assert receiver.enqueue.sent == [("ats.process_event", event_id)]  # type: ignore[attr-defined]


def test_ping_is_ignored_with_200(
    client: TestClient, receiver: Receiver, ats: InMemoryConnector, redis_client: redis.Redis
) -> None:
    body = json.dumps({"action": "ping", "payload": {}}).encode()
    response = client.post(
        "/webhooks/ats/memory", content=body, headers={**ats.sign(body), "Content-Type": "application/json"}
    )
    assert response.status_code == 200
    assert stored_keys(redis_client) == []


BAD_CROSSCHQ = [
    ("no auth", {"Content-Type": "application/json"}, b'{"id": "a", "status": "sent"}', 401),
    ("wrong token", cq_headers("nope"), b'{"id": "a", "status": "sent"}', 401),
    ("wrong scheme", cq_headers(scheme="Basic"), b'{"id": "a", "status": "sent"}', 401),
    ("empty token", {"Authorization": "Token ", "Content-Type": "application/json"}, b"{}", 401),
    ("not json", cq_headers(), b"{not json", 400),
    ("json array", cq_headers(), b"[1, 2]", 400),
    ("json string", cq_headers(), b'"hello"', 400),
    ("no id", cq_headers(), b'{"status": "sent"}', 400),
    ("id not a string", cq_headers(), b'{"id": 5, "status": "sent"}', 400),
    ("no status", cq_headers(), b'{"id": "abc"}', 400),
    ("empty body", cq_headers(), b"", 400),
    ("binary", cq_headers(), b"\xff\xfe\x00garbage", 400),
    ("nested 100k deep", cq_headers(), b"[" * 100_000, 400),
    ("object nested deep", cq_headers(), b'{"a":' * 50_000, 400),
    ("text/plain", {**cq_headers(), "Content-Type": "text/plain"}, b'{"id": "a", "status": "sent"}', 415),
    ("form", {**cq_headers(), "Content-Type": "application/x-www-form-urlencoded"}, b"id=a", 415),
    ("too large", cq_headers(), b'{"id": "a", "status": "sent", "x": "' + b"a" * (1024 * 1024) + b'"}', 413),
    ("progress not a number", cq_headers(), b'{"id": "a", "status": "sent", "progress": "abc"}', 400),
    ("progress infinite", cq_headers(), b'{"id": "a", "status": "sent", "progress": Infinity}', 400),
    ("progress overflows", cq_headers(), b'{"id": "a", "status": "sent", "progress": 1e999}', 400),
    ("score infinite", cq_headers(), b'{"id": "a", "status": "sent", "score": -Infinity}', 400),
    ("references not a list", cq_headers(), b'{"id": "a", "status": "sent", "references": 7}', 400),
    ("bad timestamp", cq_headers(), b'{"id": "a", "status": "sent", "status_updated_on": "soon"}', 400),
]


@pytest.mark.parametrize(
    ("case", "headers", "body", "status"), BAD_CROSSCHQ, ids=[c[0] for c in BAD_CROSSCHQ]
)
def test_bad_crosschq_input(
    client: TestClient,
    receiver: Receiver,
    redis_client: redis.Redis,
    case: str,
    headers: dict[str, str],
    body: bytes,
    status: int,
) -> None:
    response = client.post("/webhooks/crosschq", content=body, headers=headers)
    assert response.status_code == status, response.text
    assert stored_keys(redis_client) == []
    assert receiver.enqueue.sent == []  # type: ignore[attr-defined]


def test_bad_ats_input(
    client: TestClient, receiver: Receiver, ats: InMemoryConnector, redis_client: redis.Redis
) -> None:
    headers, body = ats.make_webhook("candidate_stage_change", "6001", "Reference Check")
    json_ct = {"Content-Type": "application/json"}
    cases = [
        ({**json_ct}, body, 401),  # no signature
        ({**headers, **json_ct}, body + b" ", 401),  # one byte more
        ({**headers, "Content-Type": "text/plain"}, body, 415),
        ({**ats.sign(b"{oops"), **json_ct}, b"{oops", 400),
        (
            {**ats.sign(b'{"action": "candidate_stage_change"}'), **json_ct},
            b'{"action": "candidate_stage_change"}',
            400,
        ),
    ]
    for hdrs, raw, status in cases:
        response = client.post("/webhooks/ats/memory", content=raw, headers=hdrs)
        assert response.status_code == status, (hdrs, raw[:40], response.text)
    assert client.post("/webhooks/ats/nope", content=body, headers={**headers, **json_ct}).status_code == 404
    assert client.get("/webhooks/ats/memory").status_code == 405
    assert stored_keys(redis_client) == []
    assert receiver.enqueue.sent == []  # type: ignore[attr-defined]


def test_redis_down_answers_503(receiver: Receiver) -> None:
    receiver.store = Store(redis.Redis.from_url("redis://127.0.0.1:9/0", socket_connect_timeout=0.2))
    with TestClient(create_app(receiver), raise_server_exceptions=False) as c:
        body = (FIXTURES / "webhook_sent.json").read_bytes()
        assert c.post("/webhooks/crosschq", content=body, headers=cq_headers()).status_code == 503
        assert c.get("/healthz").status_code == 503
    assert receiver.enqueue.sent == []  # type: ignore[attr-defined]


def test_enqueue_failure_still_acknowledges_a_stored_event(client: TestClient, receiver: Receiver) -> None:
    receiver.enqueue.fail = True  # type: ignore[attr-defined]
    body = (FIXTURES / "webhook_sent.json").read_bytes()
    response = client.post("/webhooks/crosschq", content=body, headers=cq_headers())
    assert response.status_code == 202
    stored = receiver.store.load_event(response.json()["event_id"])
    assert stored is not None and stored.state == "stored"  # beat re-dispatches it
    assert receiver.store.pending_events(older_than=10**12) == [response.json()["event_id"]]


def test_healthz_reports_a_stale_worker(client: TestClient, receiver: Receiver) -> None:
    response = client.get("/healthz")
    assert response.status_code == 503 and response.json()["worker"] == "stale"
    receiver.store.touch_canary()
    assert client.get("/healthz").json()["worker"] == "ok"


def test_refuses_to_start_without_a_crosschq_secret() -> None:
    from config.errors import ConfigError
    from worker.web import build_receiver

    settings = Settings.load()
    with pytest.raises(ConfigError, match="CROSSCHQ_WEBHOOK_SECRET"):
        build_receiver(settings)


def test_signed_but_pathological_ats_bodies(client: TestClient, ats: InMemoryConnector,
                                            redis_client: redis.Redis) -> None:
    json_ct = {"Content-Type": "application/json"}
    deep = b"[" * 100_000
    headers = {**ats.sign(deep), **json_ct}
    assert client.post("/webhooks/ats/memory", content=deep, headers=headers).status_code == 400
    lone_surrogate = b'{"action": "\\ud800"}'
    response = client.post("/webhooks/ats/memory", content=lone_surrogate,
                           headers={**ats.sign(lone_surrogate), **json_ct})
    assert response.status_code in (200, 400)
    assert stored_keys(redis_client) == []
