"""The status -> exception table, Retry-After parsing, timeouts and the limiter hook."""

from __future__ import annotations

import time
from email.utils import formatdate

import pytest
import requests
import responses

from connectors import errors
from connectors.fake import RecordingLimiter
from connectors.http import HttpClient, Timeouts, parse_retry_after

BASE = "http://127.0.0.1:1/"


def client(limiter: RecordingLimiter | None = None) -> HttpClient:
    return HttpClient("crosschq", BASE, timeouts=Timeouts(1, 2), limiter=limiter)


TABLE = [
    (400, {"errors": {"candidate": {"email": ["This field is required."]}}}, errors.BadRequest, False),
    (400, {"detail": "Reminder cannot be sent yet."}, errors.BadRequest, False),
    (401, {"detail": "Invalid token."}, errors.AuthenticationError, False),
    (403, {"message": "forbidden"}, errors.AuthenticationError, False),
    (404, {"detail": "Not found."}, errors.NotFound, False),
    (409, {}, errors.Conflict, False),
    (
        422,
        {"message": "Validation error", "errors": [{"message": "bad", "field": "to_stage_id"}]},
        errors.Conflict,
        False,
    ),
    (429, {}, errors.RateLimited, True),
    (500, {}, errors.ServerError, True),
    (502, None, errors.ServerError, True),
    (503, {}, errors.ServerError, True),
]


@pytest.mark.parametrize(("status", "body", "exc_type", "retryable"), TABLE)
@responses.activate
def test_status_table(status: int, body: object, exc_type: type, retryable: bool) -> None:
    responses.add(
        responses.POST,
        BASE + "api/v2/reference-request/",
        status=status,
        json=body,
        headers={"X-Request-Id": "req-123"},
    )
    with pytest.raises(errors.IntegrationError) as info:
        client().request("POST", "api/v2/reference-request/", json_body={"candidate": {}})
    exc = info.value
    assert type(exc) is exc_type
    assert exc.retryable is retryable
    assert isinstance(exc, errors.RetryableError if retryable else errors.PermanentError)
    assert (exc.method, exc.path, exc.status, exc.request_id) == (
        "POST",
        "api/v2/reference-request/",
        status,
        "req-123",
    )


@responses.activate
def test_field_errors_are_named_and_body_personal_data_is_not_kept() -> None:
    responses.add(
        responses.POST,
        BASE + "x/",
        status=400,
        json={
            "errors": {"candidate": {"email": ["Enter a valid email address."]}},
            "echo": "person@example.com",
        },
    )
    with pytest.raises(errors.BadRequest) as info:
        client().request("POST", "x/")
    assert info.value.field_errors == {"candidate.email": ["Enter a valid email address."]}
    assert "person@example.com" not in str(info.value)
    assert "candidate.email" in str(info.value)


@responses.activate
def test_429_carries_retry_after_and_penalizes_the_limiter() -> None:
    limiter = RecordingLimiter()
    responses.add(responses.GET, BASE + "x/", status=429, headers={"Retry-After": "7"})
    with pytest.raises(errors.RateLimited) as info:
        client(limiter).request("GET", "x/")
    assert info.value.retry_after == 7
    assert limiter.acquired == ["crosschq"]
    assert limiter.penalties == [("crosschq", 7.0)]


def test_retry_after_forms() -> None:
    now = time.time()
    assert parse_retry_after({"Retry-After": "3"}) == 3
    http_date = formatdate(now + 30, usegmt=True)
    assert 28 <= (parse_retry_after({"Retry-After": http_date}, now=now) or 0) <= 31
    assert parse_retry_after({"X-RateLimit-Reset": str(int(now) + 12)}, now=now) == pytest.approx(12, abs=1)
    assert parse_retry_after({}) is None
    assert parse_retry_after({"Retry-After": "soon"}) is None


@responses.activate
def test_transport_errors_are_retryable() -> None:
    responses.add(responses.GET, BASE + "t/", body=requests.ConnectTimeout("slow"))
    responses.add(responses.GET, BASE + "c/", body=requests.ConnectionError("refused"))
    with pytest.raises(errors.RequestTimeout):
        client().request("GET", "t/")
    with pytest.raises(errors.TransportError):
        client().request("GET", "c/")


def test_timeouts_are_always_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, object] = {}

    def fake_request(self: requests.Session, method: str, url: str, **kw: object) -> requests.Response:
        seen.update(kw)
        response = requests.Response()
        response.status_code = 204
        return response

    monkeypatch.setattr(requests.Session, "request", fake_request)
    client().request("GET", "x/")
    assert seen["timeout"] == (1, 2)


def test_real_connection_refused_on_loopback() -> None:
    with pytest.raises(errors.TransportError):
        HttpClient("crosschq", "http://127.0.0.1:9/", timeouts=Timeouts(0.5, 0.5)).request("GET", "x/")


def test_errors_survive_celery_style_reconstruction() -> None:
    exc = errors.RateLimited("slow down", retry_after=3, service="greenhouse", status=429)
    rebuilt = type(exc)(*exc.args)
    assert str(rebuilt) == "slow down"
    import pickle

    again = pickle.loads(pickle.dumps(exc))  # noqa: S301 - our own object
    assert again.retry_after == 3 and again.status == 429
