"""Generated bodies and headers against every receiver endpoint.

No answer is ever a 5xx; without valid auth nothing is stored or enqueued; memory stays flat.
``make test`` runs a short version; ``make faults`` sets FUZZ_EXAMPLES=10000 per endpoint.
"""

from __future__ import annotations

import base64
import json
import os
import tracemalloc
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr
from starlette.testclient import TestClient

from config.settings import Settings
from connectors.fake import InMemoryConnector
from worker.store import Store
from worker.web import Receiver, create_app

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "200"))
SECRET = "fuzz-secret"
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=20,
)
webhookish = st.fixed_dictionaries(
    {},
    optional={
        "id": st.one_of(st.text(max_size=40), st.integers(), st.none()),
        "status": st.one_of(st.sampled_from(["sent", "completed", "canceled", "weird"]), st.integers()),
        "status_message": st.text(max_size=20),
        "event_name": st.text(max_size=40),
        "action": st.sampled_from(["candidate_stage_change", "ping", "reject_candidate", "x"]),
        "payload": json_values,
        "references": st.lists(json_values, max_size=3),
    },
)
bodies = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda v: json.dumps(v).encode()),
    webhookish.map(lambda v: json.dumps(v).encode()),
)
content_types = st.sampled_from(
    [
        "application/json",
        "text/plain",
        "",
        "application/json; charset=utf-8",
        "multipart/form-data",
        "application/vnd.api+json",
    ]
)
auth_headers = st.one_of(
    st.none(),
    st.text(max_size=60),
    st.sampled_from(
        [
            "Token nope",
            "Bearer ",
            "Basic !!!",
            "Basic " + base64.b64encode(b"a:b").decode(),
            "Token",
            "token " + SECRET[:-1],
        ]
    ),
)
signatures = st.one_of(st.none(), st.text(max_size=80), st.from_regex(r"sha256=[0-9a-f]{64}", fullmatch=True))


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def __call__(self, task: str, event_id: str) -> None:
        self.sent.append((task, event_id))


@pytest.fixture
def setup(redis_client: redis.Redis) -> Iterator[tuple[TestClient, Receiver, redis.Redis]]:
    settings_ = Settings.load()
    settings_.crosschq.webhook_auth = "token"
    settings_.crosschq.webhook_secret = SecretStr(SECRET)
    ats = InMemoryConnector()
    ats.seed_application(application_id="6001")
    receiver = Receiver(
        settings=settings_, store=Store(redis_client), connectors={"memory": ats}, enqueue=Recorder()
    )
    with TestClient(create_app(receiver), raise_server_exceptions=False) as client:
        yield client, receiver, redis_client


def _headers(content_type: str, extra: dict[str, str | None]) -> dict[str, str]:
    headers = {"Content-Type": content_type} if content_type else {}
    headers.update({k: v for k, v in extra.items() if v is not None})
    # The test client sends ASCII header values only.
    return {k: v for k, v in headers.items() if all(32 <= ord(c) < 127 for c in v)}


def _figures(seen: Counter[int]) -> dict[str, Any]:
    answers = "/".join(f"{code}:{n}" for code, n in sorted(seen.items()))
    return {"examples": sum(seen.values()), "answers_5xx": sum(n for c, n in seen.items() if c >= 500),
            "answers": answers}  # fmt: skip


def _nothing_stored(receiver: Receiver, r: redis.Redis) -> None:
    assert r.keys("cqw:inbox:*") == []
    assert receiver.enqueue.sent == []  # type: ignore[attr-defined]


def test_crosschq_endpoint_without_valid_auth(
    setup: tuple[TestClient, Receiver, redis.Redis], fault_report: Any
) -> None:
    client, receiver, r = setup
    seen: Counter[int] = Counter()

    @FUZZ
    @given(body=bodies, ctype=content_types, auth=auth_headers, method=st.sampled_from(["post", "put"]))
    def run(body: bytes, ctype: str, auth: str | None, method: str) -> None:
        response = getattr(client, method)(
            "/webhooks/crosschq", content=body, headers=_headers(ctype, {"Authorization": auth})
        )
        seen[response.status_code] += 1
        assert response.status_code < 500
        assert response.status_code in (401, 405)
        _nothing_stored(receiver, r)

    try:
        run()
    finally:
        fault_report("fuzz: Crosschq endpoint, bad auth", **_figures(seen))


def test_crosschq_endpoint_with_valid_auth(
    setup: tuple[TestClient, Receiver, redis.Redis], fault_report: Any
) -> None:
    client, receiver, _r = setup
    seen: Counter[int] = Counter()

    @FUZZ
    @given(body=bodies, ctype=content_types)
    def run(body: bytes, ctype: str) -> None:
        before = len(receiver.enqueue.sent)  # type: ignore[attr-defined]
        response = client.post(
            "/webhooks/crosschq", content=body, headers=_headers(ctype, {"Authorization": f"Token {SECRET}"})
        )
        seen[response.status_code] += 1
        assert response.status_code < 500
        if response.status_code != 202:
            assert len(receiver.enqueue.sent) == before  # type: ignore[attr-defined]

    try:
        run()
    finally:
        fault_report("fuzz: Crosschq endpoint, valid auth", **_figures(seen))


def test_ats_endpoint(setup: tuple[TestClient, Receiver, redis.Redis], fault_report: Any) -> None:
    client, receiver, r = setup
    seen: Counter[int] = Counter()

    @FUZZ
    @given(
        body=bodies,
        ctype=content_types,
        signature=signatures,
        connector=st.sampled_from(["memory", "greenhousee", "", "../x"]),
    )
    def run(body: bytes, ctype: str, signature: str | None, connector: str) -> None:
        response = client.post(
            f"/webhooks/ats/{connector}",
            content=body,
            headers=_headers(ctype, {"X-Fake-Signature": signature}),
        )
        seen[response.status_code] += 1
        assert response.status_code < 500
        assert response.status_code != 202
        _nothing_stored(receiver, r)

    try:
        run()
    finally:
        fault_report("fuzz: ATS endpoint, bad signature", **_figures(seen))


def test_memory_is_stable_under_bad_input(
    setup: tuple[TestClient, Receiver, redis.Redis], fault_report: Any
) -> None:
    client, _, _ = setup
    body = json.dumps({"id": "x" * 64, "status": "sent", "pad": "y" * 5000}).encode()

    def burst(n: int) -> None:
        for _ in range(n):
            client.post(
                "/webhooks/crosschq",
                content=body,
                headers={"Authorization": "Token bad", "Content-Type": "application/json"},
            )
            client.post("/webhooks/ats/memory", content=body, headers={"Content-Type": "application/json"})

    rounds = max(50, EXAMPLES // 2)
    burst(20)
    tracemalloc.start()
    burst(rounds)
    first, _ = tracemalloc.get_traced_memory()
    burst(rounds * 2)
    second, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    fault_report("fuzz: memory under bad input", requests=2 * (20 + 3 * rounds),
                 growth_kib=round((second - first) / 1024, 1), limit_kib=2048)  # fmt: skip
    assert second - first < 2 * 1024 * 1024
