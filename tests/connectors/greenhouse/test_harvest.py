"""The Harvest client over mocked HTTP: pagination, rate limits, auth, error mapping."""

from __future__ import annotations

import base64
import json
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from structlog.testing import capture_logs

from connectors.errors import AuthenticationError, Conflict, RateLimited
from connectors.fake import RecordingLimiter
from connectors.greenhouse.auth import BasicKeyAuth, OAuthClientCredentials
from connectors.greenhouse.harvest import HarvestClient
from connectors.greenhouse.pagination import parse_link_header
from connectors.http import HttpClient, Timeouts

BASE = "https://harvest.example.test/"
TOKEN_URL = "https://auth.example.test/token"
TIMEOUTS = Timeouts(1.0, 2.0)


def url_of(call: Any) -> str:
    return str(call.request.url)


def body_of(call: Any) -> Any:
    body = call.request.body
    return json.loads(body if isinstance(body, bytes | str) else b"null")


def v1_client(limiter: RecordingLimiter | None = None) -> HarvestClient:
    http = HttpClient("greenhouse", BASE, timeouts=TIMEOUTS, limiter=limiter)
    return HarvestClient(http, BasicKeyAuth("harvest-key", "1001"), "v1")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def v3_client(clock: Clock, limiter: RecordingLimiter | None = None) -> HarvestClient:
    auth = OAuthClientCredentials(
        TOKEN_URL, "client-1", "client-secret", "1001", timeouts=TIMEOUTS, clock=clock
    )
    http = HttpClient("greenhouse", BASE, timeouts=TIMEOUTS, limiter=limiter)
    return HarvestClient(http, auth, "v3")


# -- Link headers ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, {}),
        ("", {}),
        (
            (
                '<https://h/v1/users?page=2&per_page=2>; rel="next", '
                '<https://h/v1/users?page=9&per_page=2>; rel="last"'
            ),
            {"next": "https://h/v1/users?page=2&per_page=2", "last": "https://h/v1/users?page=9&per_page=2"},
        ),
        ("<https://h/a?ids=1,2,3&page=2>; rel=next", {"next": "https://h/a?ids=1,2,3&page=2"}),
        ('<https://h/a?p=2>; title="a, b; c"; REL="Next"', {"next": "https://h/a?p=2"}),
        ('<https://h/a?p=3>;rel="next last"', {"next": "https://h/a?p=3", "last": "https://h/a?p=3"}),
        ('  < https://h/a?cursor=abc== >  ;  rel = "next"  ', {"next": "https://h/a?cursor=abc=="}),
        (
            '<https://h/a?p=1>; rel="prev", <https://h/a?p=3>; rel="next"',
            {"prev": "https://h/a?p=1", "next": "https://h/a?p=3"},
        ),
        ('<https://h/a?p=2>; rel="next", <https://h/a?p=5>; rel="next"', {"next": "https://h/a?p=2"}),
        ("garbage without brackets", {}),
    ],
)
def test_link_header_parsing(header: str | None, expected: dict[str, str]) -> None:
    assert parse_link_header(header) == expected


# -- pagination --------------------------------------------------------------------------------
@responses.activate
def test_v1_pagination_follows_next_over_three_pages() -> None:
    page2 = f"{BASE}v1/users?page=2&per_page=2"
    page3 = f"{BASE}v1/users?page=3&per_page=2"
    last = f'<{page3}>; rel="last"'
    responses.get(
        f"{BASE}v1/users",
        json=[{"id": 1}, {"id": 2}],
        headers={"Link": f'<{page2}>; rel="next", {last}'},
        match=[responses.matchers.query_param_matcher({"per_page": "2"})],
    )
    responses.get(
        page2,
        json=[{"id": 3}, {"id": 4}],
        headers={"Link": f'<{page3}>; rel="next", {last}'},
        match=[responses.matchers.query_param_matcher({"page": "2", "per_page": "2"})],
    )
    responses.get(
        page3,
        json=[{"id": 5}],
        headers={"Link": f'<{page2}>; rel="prev", {last}'},
        match=[responses.matchers.query_param_matcher({"page": "3", "per_page": "2"})],
    )
    limiter = RecordingLimiter()
    users = list(v1_client(limiter).list_users(per_page=2))
    assert [u["id"] for u in users] == [1, 2, 3, 4, 5]
    assert len(responses.calls) == 3
    assert limiter.acquired == ["greenhouse"] * 3


@responses.activate
def test_a_repeated_next_url_stops_the_loop() -> None:
    page2 = f"{BASE}v1/users?page=2"
    responses.get(f"{BASE}v1/users", json=[{"id": 1}], headers={"Link": f'<{page2}>; rel="next"'})
    # A broken server: page 2 says "next" is page 2 again.
    responses.get(page2, json=[{"id": 2}], headers={"Link": f'<{page2}>; rel="next"'})
    with capture_logs() as logs:
        users = list(v1_client().list_users())
    assert [u["id"] for u in users] == [1, 2]
    assert len(responses.calls) == 2
    stopped = [e for e in logs if e["event"] == "pagination.loop_stopped"]
    assert stopped and stopped[0]["path"] == "v1/users" and "page=" not in json.dumps(stopped)


@responses.activate
def test_a_loop_back_to_an_earlier_page_stops_too() -> None:
    page2, page3 = f"{BASE}v1/users?page=2", f"{BASE}v1/users?page=3"
    responses.get(f"{BASE}v1/users", json=[{"id": 1}], headers={"Link": f'<{page2}>; rel="next"'})
    responses.get(page2, json=[{"id": 2}], headers={"Link": f'<{page3}>; rel="next"'})
    responses.get(page3, json=[{"id": 3}], headers={"Link": f'<{page2}>; rel="next"'})
    assert [u["id"] for u in v1_client().list_users()] == [1, 2, 3]
    assert len(responses.calls) == 3


@responses.activate
def test_v3_cursor_pagination_sends_the_cursor_alone() -> None:
    clock = Clock()
    responses.post(TOKEN_URL, json={"access_token": "tok-1", "token_type": "Bearer", "expires_in": 3600})
    next1 = f"{BASE}v3/job_stages?cursor=eyJvIjoyfQ"
    next2 = f"{BASE}v3/job_stages?cursor=eyJvIjo0fQ"
    responses.get(
        f"{BASE}v3/job_stages",
        json=[{"id": 1}, {"id": 2}],
        headers={"Link": f'<{next1}>; rel="next"'},
        match=[responses.matchers.query_param_matcher({"job_id": "4001"})],
    )
    responses.get(
        next1,
        json=[{"id": 3}, {"id": 4}],
        headers={"Link": f'<{next2}>; rel="next"'},
        match=[responses.matchers.query_param_matcher({"cursor": "eyJvIjoyfQ"})],
    )
    responses.get(
        next2, json=[{"id": 5}], match=[responses.matchers.query_param_matcher({"cursor": "eyJvIjo0fQ"})]
    )
    stages = v3_client(clock).list_job_stages("4001")
    assert [s["id"] for s in stages] == [1, 2, 3, 4, 5]
    api_calls = [c for c in responses.calls if url_of(c).startswith(BASE)]
    for call in api_calls[1:]:
        assert list(parse_qs(urlsplit(url_of(call)).query)) == ["cursor"]
        assert call.request.headers["Authorization"] == "Bearer tok-1"


# -- rate limits -------------------------------------------------------------------------------
@responses.activate
def test_429_with_retry_after_is_rate_limited() -> None:
    responses.get(
        f"{BASE}v1/applications/6001",
        status=429,
        json={"message": "Too many requests"},
        headers={
            "Retry-After": "7",
            "X-RateLimit-Limit": "50",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(int(time.time()) + 60),
        },
    )
    limiter = RecordingLimiter()
    client = v1_client(limiter)
    with pytest.raises(RateLimited) as raised:
        client.get_application("6001")
    assert raised.value.retry_after == 7.0
    assert raised.value.status == 429 and raised.value.path == "v1/applications/{id}"
    assert limiter.penalties == [("greenhouse", 7.0)]
    assert client.rate_limit is not None and client.rate_limit.remaining == 0


@responses.activate
def test_429_without_retry_after_waits_until_the_reset_time() -> None:
    reset = int(time.time()) + 30
    responses.get(
        f"{BASE}v1/applications/6001",
        status=429,
        headers={"X-RateLimit-Limit": "50", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)},
    )
    with pytest.raises(RateLimited) as raised:
        v1_client().get_application("6001")
    assert raised.value.retry_after is not None and 27 <= raised.value.retry_after <= 30


@responses.activate
def test_the_limiter_is_asked_before_every_call_and_headers_are_kept() -> None:
    responses.get(
        f"{BASE}v1/applications/6001",
        json={"id": 6001},
        headers={"X-RateLimit-Limit": "50", "X-RateLimit-Remaining": "48"},
    )
    responses.get(f"{BASE}v1/candidates/5001", json={"id": 5001})
    responses.post(f"{BASE}v1/candidates/5001/activity_feed/notes", json={"id": 77}, status=201)
    order: list[str] = []

    class OrderedLimiter(RecordingLimiter):
        def acquire(self, service: str) -> None:
            order.append(f"acquire:{len(responses.calls)}")
            super().acquire(service)

    limiter = OrderedLimiter()
    client = v1_client(limiter)
    client.get_application("6001")
    assert client.rate_limit is not None and (client.rate_limit.limit, client.rate_limit.remaining) == (
        50,
        48,
    )
    client.get_candidate("5001")
    client.add_note("5001", "1001", "hello", "private")
    assert order == ["acquire:0", "acquire:1", "acquire:2"]


def test_a_limiter_that_refuses_stops_the_call_before_it_is_sent() -> None:
    class Refusing(RecordingLimiter):
        def acquire(self, service: str) -> None:
            raise RateLimited("local budget spent", retry_after=2.0, service=service)

    with responses.RequestsMock() as mocked, pytest.raises(RateLimited):
        v1_client(Refusing()).get_application("6001")
    assert len(mocked.calls) == 0


# -- v1 auth -----------------------------------------------------------------------------------
@responses.activate
def test_v1_basic_auth_everywhere_and_on_behalf_of_on_writes_only() -> None:
    responses.get(f"{BASE}v1/applications/6001", json={"id": 6001})
    responses.patch(f"{BASE}v1/applications/6001", json={"id": 6001})
    responses.post(f"{BASE}v1/applications/6001/move", json={"id": 6001})
    responses.post(f"{BASE}v1/applications/6001/attachments", json={"filename": "r.pdf"}, status=201)
    client = v1_client()
    client.get_application("6001")
    client.patch_application_custom_fields("6001", [{"name_key": "crosschq_status", "value": "Sent"}])
    client.move_application("6001", "7002", "7003")
    client.add_application_attachment("6001", filename="r.pdf", content=b"%PDF-1", visibility="private")
    expected = "Basic " + base64.b64encode(b"harvest-key:").decode()
    calls = list(responses.calls)
    read, patch, move, attach = (c.request for c in calls)
    for request in (read, patch, move, attach):
        assert request.headers["Authorization"] == expected
    assert "On-Behalf-Of" not in read.headers
    assert {r.headers["On-Behalf-Of"] for r in (patch, move, attach)} == {"1001"}
    assert body_of(calls[2]) == {"from_stage_id": 7002, "to_stage_id": 7003}
    assert body_of(calls[3]) == {
        "filename": "r.pdf",
        "type": "other",
        "content": base64.b64encode(b"%PDF-1").decode(),
        "content_type": "application/pdf",
        "visibility": "private",
    }


@responses.activate
def test_an_empty_custom_field_list_sends_nothing() -> None:
    v1_client().patch_application_custom_fields("6001", [])
    assert len(responses.calls) == 0


@responses.activate
def test_v1_401_is_not_retried() -> None:
    responses.get(
        f"{BASE}v1/applications/6001", status=401, json={"message": "Invalid Basic Auth credentials"}
    )
    with pytest.raises(AuthenticationError):
        v1_client().get_application("6001")
    assert len(responses.calls) == 1


# -- v3 auth -----------------------------------------------------------------------------------
@responses.activate
def test_v3_token_is_fetched_once_cached_and_refreshed_after_expiry() -> None:
    clock = Clock()
    responses.post(TOKEN_URL, json={"access_token": "tok-1", "token_type": "bearer", "expires_in": 600})
    responses.post(TOKEN_URL, json={"access_token": "tok-2", "token_type": "bearer", "expires_in": 600})
    responses.get(f"{BASE}v3/applications/6001", json={"id": 6001})
    client = v3_client(clock)
    client.get_application("6001")
    clock.now += 500  # still inside the lifetime minus the refresh margin (60 s)
    client.get_application("6001")
    clock.now += 60  # within the margin: refreshed before it can expire mid-call
    client.get_application("6001")
    token_calls = [c for c in responses.calls if url_of(c) == TOKEN_URL]
    api_calls = [c for c in responses.calls if url_of(c).startswith(BASE)]
    assert len(token_calls) == 2
    assert [c.request.headers["Authorization"] for c in api_calls] == [
        "Bearer tok-1",
        "Bearer tok-1",
        "Bearer tok-2",
    ]
    first = token_calls[0].request
    assert first.headers["Authorization"] == "Basic " + base64.b64encode(b"client-1:client-secret").decode()
    assert parse_qs(str(first.body)) == {"grant_type": ["client_credentials"], "sub": ["1001"]}
    assert "On-Behalf-Of" not in api_calls[0].request.headers


@responses.activate
def test_v3_refreshes_once_on_401_then_gives_up() -> None:
    clock = Clock()
    for number in (1, 2, 3):
        responses.post(TOKEN_URL, json={"access_token": f"tok-{number}", "expires_in": 3600})
    responses.get(f"{BASE}v3/applications/6001", status=401, json={"message": "token expired"})
    responses.get(f"{BASE}v3/applications/6001", json={"id": 6001})
    client = v3_client(clock)
    assert client.get_application("6001") == {"id": 6001}
    api = [c.request.headers["Authorization"] for c in responses.calls if url_of(c).startswith(BASE)]
    assert api == ["Bearer tok-1", "Bearer tok-2"]

    responses.replace(responses.GET, f"{BASE}v3/applications/6001", status=401, json={"message": "no"})
    with pytest.raises(AuthenticationError):
        client.get_application("6001")


@responses.activate
def test_v3_notes_go_to_the_notes_collection() -> None:
    responses.post(TOKEN_URL, json={"access_token": "tok-1", "expires_in": 3600})
    responses.post(f"{BASE}v3/notes", json={"id": 88}, status=201)
    assert v3_client(Clock()).add_note("5001", "1001", "hi", "private") == {"id": 88}
    sent = body_of(responses.calls[-1])
    assert sent == {"candidate_id": 5001, "user_id": 1001, "body": "hi", "visibility": "private"}


@responses.activate
def test_a_bad_token_endpoint_is_an_authentication_error() -> None:
    responses.post(TOKEN_URL, status=401, json={"error": "invalid_client"})
    with pytest.raises(AuthenticationError):
        v3_client(Clock()).get_application("6001")
    assert len(responses.calls) == 1


# -- 422 ---------------------------------------------------------------------------------------
@responses.activate
def test_422_is_a_conflict_with_field_errors() -> None:
    responses.patch(
        f"{BASE}v1/applications/6001",
        status=422,
        json={
            "message": "Validation error",
            "errors": [
                {"message": "'Nope' is not an option", "field": "custom_fields"},
                {"message": "must be a number", "field": "custom_fields"},
            ],
        },
    )
    with pytest.raises(Conflict) as raised:
        v1_client().patch_application_custom_fields(
            "6001", [{"name_key": "crosschq_status", "value": "Nope"}]
        )
    error: Any = raised.value
    assert error.status == 422
    assert error.field_errors == {"custom_fields": ["'Nope' is not an option", "must be a number"]}
    assert "custom_fields" in str(error) and "Validation error" in str(error)


@responses.activate
def test_422_without_field_is_still_a_conflict() -> None:
    responses.post(
        f"{BASE}v1/applications/6001/move", status=422, json={"errors": [{"message": "Stage has changed"}]}
    )
    with pytest.raises(Conflict) as raised:
        v1_client().move_application("6001", "1", "2")
    assert getattr(raised.value, "field_errors", None) == {"non_field_errors": ["Stage has changed"]}
