"""The Crosschq client against the in-process sandbox, over real HTTP on loopback.

Every endpoint of the Partner API v2 and every error the client can raise: the sandbox's own
answers (400, 401, 404), injected faults (5xx, 429, latency), a stopped server, and, from a tiny
stub server, 2xx answers the client cannot read.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
import structlog
from structlog.testing import capture_logs

from config.settings import Settings
from connectors import http as http_module
from connectors.crosschq import validation as validation_module
from connectors.crosschq.client import CrosschqClient
from connectors.crosschq.models import (
    CandidateIn,
    CreateReferenceRequest,
    EditReferenceRequest,
    FlexParams,
    HiringManager,
    RelationshipRequirement,
)
from connectors.crosschq.sandbox import CrosschqSandbox
from connectors.crosschq.status import Status
from connectors.crosschq.validation import validate_create
from connectors.errors import (
    AuthenticationError,
    BadRequest,
    IntegrationError,
    NotFound,
    RateLimited,
    RequestTimeout,
    RequestValidationError,
    ServerError,
    TransportError,
)
from connectors.fake import RecordingLimiter
from connectors.http import HttpClient, Timeouts

TOKEN = "client-test-token-5e2a"
EMAIL = "jane.candidate@example.com"
RAW_PHONE = "(415) 555-0134"
E164_PHONE = "+14155550134"
SPEC_ROLES = ("brand-marketer-manager", "brand-marketer-team-member", "consulting-services-manager")
SPEC_RELATIONSHIPS = {
    "business": "Customers/Suppliers",
    "employees": "Direct Reports",
    "managers": "Managers",
    "peers": "Coworkers/Peers",
    "social": "Mentors",
}
UNKNOWN_ID = "0123456789abcdef0123456789abcdef"
JOBROLE_PATH = "api/v2/settings/jobrole/"
CREATE_PATH = "api/v2/reference-request/"
_PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


# --------------------------------------------------------------------- helpers
class Control:
    """The sandbox's control API (no auth)."""

    def __init__(self, sandbox: CrosschqSandbox) -> None:
        self.base = sandbox.url + "_sandbox/"
        self.session = requests.Session()
        self.session.trust_env = False

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        answer = self.session.request(method, self.base + path, json=body, timeout=10)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def step(self, rid: str, action: str, **body: Any) -> dict[str, Any]:
        return dict(self.call("POST", f"requests/{rid}/{action}", body))

    def summary(self, rid: str) -> dict[str, Any]:
        return dict(self.call("GET", f"requests/{rid}"))

    def requests(self) -> list[dict[str, Any]]:
        return list(self.call("GET", "requests"))

    def calls(self) -> list[dict[str, Any]]:
        return list(self.call("GET", "calls"))

    def faults(self, **faults: Any) -> None:
        self.call("POST", "faults", faults)

    def to_collecting(self, rid: str, references: int = 2) -> None:
        self.step(rid, "accept")
        self.step(rid, "self-assessment")
        for _ in range(references):
            self.step(rid, "add-reference")


class EmptyLimiter(RecordingLimiter):
    def acquire(self, service: str) -> None:
        super().acquire(service)
        raise RateLimited("no token left", service=service, retry_after=0.5)


def make_client(
    url: str,
    *,
    token: str | None = TOKEN,
    read: float = 5.0,
    limiter: RecordingLimiter | None = None,
) -> CrosschqClient:
    def auth() -> dict[str, str]:
        return {"Authorization": f"Token {token}"} if token is not None else {}

    return CrosschqClient(
        HttpClient("crosschq", url, timeouts=Timeouts(2, read), auth=auth, limiter=limiter)
    )


def make_request(**changes: Any) -> CreateReferenceRequest:
    candidate = {
        "first_name": "Jane",
        "last_name": "Candidate",
        "email": EMAIL,
        "mobile_phone": RAW_PHONE,
        **changes.pop("candidate", {}),
    }
    relationships = changes.pop("relationships", [("managers", 1), ("peers", 1)])
    base: dict[str, Any] = {
        "candidate": CandidateIn(**candidate),
        "jobrole": "consulting-services-manager",
        "requestor": "recruiter@yourcompany.com",
        "use_sms": True,
        "flex_params": FlexParams(
            relationships=[RelationshipRequirement(rel=rel, required=n) for rel, n in relationships]
        ),
        "job_position": "Business Consultant",
        "hiring_manager": HiringManager(
            first_name="Mary", last_name="Hiring", email="mary@yourcompany.com"
        ),
    }
    base.update(changes)
    return CreateReferenceRequest(**base)


def create_valid(
    client: CrosschqClient, request: CreateReferenceRequest, default_region: str = "US"
) -> str:
    """What the worker does: check against the live catalogue, then send."""
    checked = validate_create(request, client.list_jobroles(), default_region=default_region)
    return client.create_request(checked)


def assert_no_personal_data(exc: IntegrationError, *values: str) -> None:
    texts = (str(exc), repr(exc), exc.message, repr(exc.context()), repr(exc.__dict__))
    for value in values:
        for text in texts:
            assert value not in text


@pytest.fixture(autouse=True)
def _no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    # Loopback calls must not be sent to a proxy configured on the machine.
    for name in _PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def sandbox() -> Iterator[CrosschqSandbox]:
    with CrosschqSandbox(token=TOKEN) as box:
        yield box


@pytest.fixture
def control(sandbox: CrosschqSandbox) -> Control:
    return Control(sandbox)


@pytest.fixture
def client(sandbox: CrosschqSandbox) -> CrosschqClient:
    return make_client(sandbox.url)


@pytest.fixture
def rid(client: CrosschqClient) -> str:
    return create_valid(client, make_request())


# --------------------------------------------------------------- job roles, auth
def test_list_jobroles_has_spec_roles_with_relationships(
    client: CrosschqClient, control: Control
) -> None:
    roles = {role.codename: role for role in client.list_jobroles()}
    assert set(SPEC_ROLES) <= set(roles)
    assert roles["consulting-services-manager"].name == "Consulting Services - Manager"
    for codename in SPEC_ROLES:
        relationships = roles[codename].relationships
        assert {key: spec.label for key, spec in relationships.items()} == SPEC_RELATIONSHIPS
        for spec in relationships.values():
            assert (spec.default, spec.min, spec.max, spec.skip_reference_optin) == (2, 0, 10, False)
            assert spec.whv_mode == "default"
    engineer = roles["software-engineer-ic"].relationships
    assert (engineer["managers"].min, engineer["managers"].max) == (1, 3)

    control.call("POST", "jobroles/brand-marketer-manager/disable")
    assert "brand-marketer-manager" not in {role.codename for role in client.list_jobroles()}


def test_wrong_token_raises_authentication_error(sandbox: CrosschqSandbox) -> None:
    wrong = "wrong-token-77aa"
    with pytest.raises(AuthenticationError) as info:
        make_client(sandbox.url, token=wrong).list_jobroles()
    exc = info.value
    assert (exc.service, exc.method, exc.path, exc.status) == ("crosschq", "GET", JOBROLE_PATH, 401)
    assert not exc.retryable
    assert "Invalid token." in str(exc)
    assert_no_personal_data(exc, wrong, TOKEN)


def test_missing_authorization_raises_authentication_error(sandbox: CrosschqSandbox) -> None:
    with pytest.raises(AuthenticationError) as info:
        make_client(sandbox.url, token=None).list_jobroles()
    assert info.value.status == 401
    assert "credentials were not provided" in str(info.value)


@pytest.mark.parametrize("scheme", ["Token", "Bearer"])
def test_from_settings_sends_the_configured_scheme(
    sandbox: CrosschqSandbox, monkeypatch: pytest.MonkeyPatch, scheme: str
) -> None:
    monkeypatch.setenv("CROSSCHQ_BASE_URL", sandbox.url.rstrip("/"))  # the slash is added back
    monkeypatch.setenv("CROSSCHQ_API_TOKEN", TOKEN)
    monkeypatch.setenv("CROSSCHQ_AUTH_SCHEME", scheme)
    monkeypatch.setenv("HTTP_TIMEOUT_READ", "4")
    limiter = RecordingLimiter()
    client = CrosschqClient.from_settings(Settings.load(), limiter=limiter)
    assert client.http.timeouts == Timeouts(5.0, 4.0)
    assert client.http.base_url == sandbox.url
    assert "consulting-services-manager" in {role.codename for role in client.list_jobroles()}
    request_id = create_valid(client, make_request())
    assert client.retrieve_request(request_id).status == Status.SENT
    assert limiter.acquired == ["crosschq"] * 4


def test_from_settings_default_scheme_is_token(
    sandbox: CrosschqSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CROSSCHQ_BASE_URL", sandbox.url)
    monkeypatch.setenv("CROSSCHQ_API_TOKEN", TOKEN)
    client = CrosschqClient.from_settings(Settings.load())
    assert client.http.auth is not None
    assert dict(client.http.auth()) == {"Authorization": f"Token {TOKEN}"}
    assert client.list_jobroles()


def test_from_settings_with_a_scheme_the_server_refuses(
    sandbox: CrosschqSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CROSSCHQ_BASE_URL", sandbox.url)
    monkeypatch.setenv("CROSSCHQ_API_TOKEN", TOKEN)
    monkeypatch.setenv("CROSSCHQ_AUTH_SCHEME", "Basic")
    with pytest.raises(AuthenticationError) as info:
        CrosschqClient.from_settings(Settings.load()).list_jobroles()
    assert info.value.status == 401
    assert_no_personal_data(info.value, TOKEN)


def test_from_settings_custom_scheme_of_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    with CrosschqSandbox(token=TOKEN, auth_scheme="Api-Key") as box:
        monkeypatch.setenv("CROSSCHQ_BASE_URL", box.url)
        monkeypatch.setenv("CROSSCHQ_API_TOKEN", TOKEN)
        monkeypatch.setenv("CROSSCHQ_AUTH_SCHEME", "Api-Key")
        assert CrosschqClient.from_settings(Settings.load()).list_jobroles()


# ------------------------------------------------------------------------ create
def test_create_request_returns_the_request_id(client: CrosschqClient, control: Control) -> None:
    request_id = create_valid(client, make_request())
    assert len(request_id) == 32
    summary = control.summary(request_id)
    assert (summary["status"], summary["jobrole"], summary["candidate_email"]) == (
        "sent",
        "consulting-services-manager",
        EMAIL,
    )
    assert summary["references_required"] == 2
    assert [(call["method"], call["path"], call["status"]) for call in control.calls()] == [
        ("GET", "/" + JOBROLE_PATH, 200),
        ("POST", "/" + CREATE_PATH, 201),
    ]


def test_create_refused_by_the_server_names_the_field(
    client: CrosschqClient, control: Control
) -> None:
    # Our check is deliberately loose; Crosschq (Django's EmailValidator) is the authority.
    email = "jane..candidate@example.com"
    request = validate_create(make_request(candidate={"email": email}), client.list_jobroles())
    with pytest.raises(BadRequest) as info:
        client.create_request(request)
    exc = info.value
    assert not isinstance(exc, RequestValidationError)
    assert (exc.method, exc.path, exc.status) == ("POST", CREATE_PATH, 400)
    assert exc.field_errors == {"candidate.email": ["Enter a valid email address."]}
    assert "candidate.email" in str(exc)
    assert not exc.retryable
    assert_no_personal_data(exc, email, "jane", E164_PHONE)
    assert control.requests() == []


def test_create_refused_by_the_server_for_several_fields(client: CrosschqClient) -> None:
    # Without a catalogue the job role is not checked before sending.
    request = validate_create(
        make_request(jobrole="astronaut", candidate={"mobile_phone": None}), None
    )
    unchecked = request.model_copy(
        update={"candidate": request.candidate.model_copy(update={"mobile_phone": "12"})}
    )
    with pytest.raises(BadRequest) as info:
        client.create_request(unchecked)
    assert info.value.field_errors == {
        "jobrole": ["Invalid job role."],
        "candidate.mobile_phone": ["Enter a valid phone number."],
    }
    assert_no_personal_data(info.value, EMAIL)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"candidate": {"first_name": ""}}, "candidate.first_name"),
        ({"candidate": {"last_name": "  "}}, "candidate.last_name"),
        ({"candidate": {"email": ""}}, "candidate.email"),
        ({"candidate": {"email": "jane.candidate(at)example.com"}}, "candidate.email"),
        ({"candidate": {"email": "jane candidate@example.com"}}, "candidate.email"),
        ({"jobrole": "astronaut"}, "jobrole"),
        (
            {"jobrole": "software-engineer-ic", "relationships": [("business", 1)]},
            "flex_params.relationships[0].rel",
        ),
        (
            {"jobrole": "software-engineer-ic", "relationships": [("managers", 4)]},
            "flex_params.relationships[0].required",
        ),
        ({"relationships": [("managers", 1), ("peers", 11)]}, "flex_params.relationships[1].required"),
        ({"relationships": [("any", 0)]}, "flex_params.relationships[0].required"),
    ],
    ids=[
        "no-first-name",
        "blank-last-name",
        "no-email",
        "email-syntax",
        "email-space",
        "unknown-jobrole",
        "relationship-not-in-jobrole",
        "required-above-max",
        "required-above-max-second",
        "required-below-min",
    ],
)
def test_validate_create_refuses_before_any_call(
    client: CrosschqClient, control: Control, changes: dict[str, Any], field: str
) -> None:
    request = make_request(**changes)
    with pytest.raises(RequestValidationError) as info:
        create_valid(client, request)
    exc = info.value
    assert field in exc.field_errors
    assert exc.status is None
    assert_no_personal_data(exc, EMAIL, request.candidate.email or EMAIL, E164_PHONE)
    assert [call["method"] for call in control.calls()] == ["GET"]  # the catalogue only
    assert control.requests() == []


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        (RAW_PHONE, "US", E164_PHONE),
        ("415.555.0134", "US", E164_PHONE),
        ("020 7946 0958", "GB", "+442079460958"),
        ("+44 20 7946 0958", "US", "+442079460958"),
    ],
)
def test_phone_is_sent_in_e164(
    client: CrosschqClient, sandbox: CrosschqSandbox, raw: str, region: str, expected: str
) -> None:
    request_id = create_valid(client, make_request(candidate={"mobile_phone": raw}), region)
    retrieved = client.retrieve_request(request_id)
    assert retrieved.candidate is not None
    assert retrieved.candidate.mobile_phone == expected
    assert sandbox.state.requests[request_id].use_sms is True


def test_unparseable_phone_is_dropped_and_sms_turned_off(
    client: CrosschqClient, sandbox: CrosschqSandbox
) -> None:
    raw = "call me maybe"
    with pytest.raises(BadRequest) as info:  # what Crosschq would say to the raw value
        client.create_request(make_request(candidate={"mobile_phone": raw}))
    assert set(info.value.field_errors) == {"candidate.mobile_phone"}

    request_id = create_valid(client, make_request(candidate={"mobile_phone": raw}))
    retrieved = client.retrieve_request(request_id)
    assert retrieved.candidate is not None
    assert not retrieved.candidate.mobile_phone
    assert sandbox.state.requests[request_id].use_sms is False


# ---------------------------------------------------------------------- retrieve
def test_retrieve_derives_status_from_status_message(
    client: CrosschqClient, sandbox: CrosschqSandbox, rid: str
) -> None:
    raw = requests.get(
        sandbox.url + f"api/v2/reference-request/{rid}/",
        headers={"Authorization": f"Token {TOKEN}"},
        timeout=5,
    ).json()
    assert "status" not in raw  # the spec's retrieve example has only status_message
    assert raw["status_message"] == "Sent"

    request = client.retrieve_request(rid)
    assert request.id == rid
    assert request.status == Status.SENT
    assert request.status_message == "Sent"
    assert request.status_description
    assert request.candidate is not None
    assert (request.candidate.first_name, request.candidate.email) == ("Jane", EMAIL)
    assert request.jobrole is not None
    assert (request.jobrole.id, request.jobrole.name) == (
        "consulting-services-manager",
        "Consulting Services - Manager",
    )
    assert request.hiring_manager is not None
    assert request.hiring_manager.email == "mary@yourcompany.com"
    assert request.job_position == "Business Consultant"
    assert request.created_on is not None and request.created_on.tzinfo is not None
    assert request.completed_on is None
    assert request.references == []
    assert request.can_send_reminder is False
    assert request.flex_params is not None
    assert [(r["rel"], r["required"]) for r in request.flex_params["relationships"]] == [
        ("managers", 1),
        ("peers", 1),
    ]


def test_retrieve_follows_the_lifecycle(client: CrosschqClient, control: Control, rid: str) -> None:
    def status() -> Status | str | None:
        return client.retrieve_request(rid).status

    control.step(rid, "accept")
    assert status() == Status.ACCEPTED
    control.step(rid, "self-assessment")
    assert status() == Status.ASSIGNING
    control.step(rid, "add-reference", relationship="managers")
    assert status() == Status.COLLECTING
    control.step(rid, "add-reference", relationship="peers")
    control.step(rid, "complete-reference")
    request = client.retrieve_request(rid)
    assert request.status == Status.COLLECTING
    assert (len(request.references), request.completed_references) == (2, 1)
    assert request.references[0].completed and request.references[0].relationship == "managers"
    assert request.references[1].status == "pending"
    control.step(rid, "complete-reference")
    request = client.retrieve_request(rid)
    assert request.status == Status.COMPLETED
    assert request.completed_references == 2
    assert request.completed_on is not None
    assert request.ref_score is not None


@pytest.mark.parametrize(
    ("action", "without_status", "with_status"),
    [
        ("candidate-cancel", Status.CANCELED, Status.CANCELED_BY_CANDIDATE),
        ("candidate-decline", Status.DECLINED, Status.DECLINED),
        ("auto-cancel", Status.AUTO_CANCELED, Status.AUTO_CANCELED),
    ],
)
def test_retrieve_endings_with_and_without_status_field(
    client: CrosschqClient,
    control: Control,
    rid: str,
    action: str,
    without_status: Status,
    with_status: Status,
) -> None:
    control.step(rid, action)
    assert client.retrieve_request(rid).status == without_status
    control.call("POST", "config", {"retrieve_includes_status": True})
    assert client.retrieve_request(rid).status == with_status


def test_retrieve_auto_concluded(client: CrosschqClient, control: Control, rid: str) -> None:
    control.to_collecting(rid)
    control.step(rid, "complete-reference")
    control.step(rid, "auto-conclude")
    request = client.retrieve_request(rid)
    assert request.status == Status.AUTO_CONCLUDED
    assert request.references[1].status == "canceled"
    assert client.download_report(rid).startswith(b"%PDF")


def test_retrieve_unknown_request_is_not_found(client: CrosschqClient) -> None:
    with pytest.raises(NotFound) as info:
        client.retrieve_request(UNKNOWN_ID)
    exc = info.value
    assert (exc.method, exc.path, exc.status) == ("GET", "api/v2/reference-request/{id}/", 404)
    assert UNKNOWN_ID not in str(exc)
    assert not exc.retryable


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.retrieve_request(UNKNOWN_ID),
        lambda c: c.edit_request(UNKNOWN_ID, EditReferenceRequest(use_sms=False)),
        lambda c: c.cancel_request(UNKNOWN_ID),
        lambda c: c.conclude_request(UNKNOWN_ID),
        lambda c: c.send_reminder(UNKNOWN_ID),
        lambda c: c.download_report(UNKNOWN_ID),
    ],
    ids=["retrieve", "edit", "cancel", "conclude", "send-reminder", "download-report"],
)
def test_every_request_endpoint_answers_not_found_for_an_unknown_id(
    client: CrosschqClient, call: Callable[[CrosschqClient], object]
) -> None:
    with pytest.raises(NotFound) as info:
        call(client)
    assert info.value.status == 404
    assert info.value.path is not None and "{id}" in info.value.path


# -------------------------------------------------------------------------- edit
def test_edit_changes_the_hiring_manager(client: CrosschqClient, rid: str) -> None:
    manager = HiringManager(first_name="Nora", last_name="Newman", email="nora@yourcompany.com")
    client.edit_request(rid, EditReferenceRequest(hiring_manager=manager, use_sms=False))
    request = client.retrieve_request(rid)
    assert request.hiring_manager is not None
    assert (
        request.hiring_manager.first_name,
        request.hiring_manager.last_name,
        request.hiring_manager.email,
    ) == ("Nora", "Newman", "nora@yourcompany.com")
    assert request.status == Status.SENT


def test_edit_relationships_before_references(client: CrosschqClient, rid: str) -> None:
    flex = FlexParams(relationships=[RelationshipRequirement(rel="any", required=3)])
    client.edit_request(rid, EditReferenceRequest(flex_params=flex))
    request = client.retrieve_request(rid)
    assert request.flex_params is not None
    assert [(r["rel"], r["required"]) for r in request.flex_params["relationships"]] == [("any", 3)]


def test_edit_errors(client: CrosschqClient, control: Control, rid: str) -> None:
    bad_manager = HiringManager(email="nora at yourcompany")
    with pytest.raises(BadRequest) as info:
        client.edit_request(rid, EditReferenceRequest(hiring_manager=bad_manager))
    assert info.value.field_errors == {"hiring_manager.email": ["Enter a valid email address."]}
    assert (info.value.method, info.value.path) == ("PATCH", "api/v2/reference-request/{id}/edit/")
    assert_no_personal_data(info.value, "nora at yourcompany")

    control.to_collecting(rid, references=1)
    flex = FlexParams(relationships=[RelationshipRequirement(rel="any", required=3)])
    with pytest.raises(BadRequest) as info:
        client.edit_request(rid, EditReferenceRequest(flex_params=flex))
    assert list(info.value.field_errors) == ["flex_params.relationships"]

    client.cancel_request(rid)
    with pytest.raises(BadRequest) as info:
        client.edit_request(rid, EditReferenceRequest(use_sms=False))
    assert info.value.status == 400
    assert "cannot be edited" in str(info.value)


# ------------------------------------------------------------------------ cancel
def test_cancel_then_cancel_again(client: CrosschqClient, rid: str) -> None:
    client.cancel_request(rid)
    request = client.retrieve_request(rid)
    assert request.status == Status.CANCELED
    assert request.status_message == "Canceled"
    with pytest.raises(BadRequest) as info:
        client.cancel_request(rid)
    exc = info.value
    assert (exc.method, exc.path, exc.status) == ("POST", "api/v2/reference-request/{id}/cancel/", 400)
    assert "cannot be canceled" in str(exc)


# ---------------------------------------------------------------------- conclude
def test_conclude_needs_a_completed_reference(
    client: CrosschqClient, control: Control, rid: str
) -> None:
    with pytest.raises(BadRequest) as info:
        client.conclude_request(rid)
    assert info.value.path == "api/v2/reference-request/{id}/conclude/"
    control.to_collecting(rid)
    with pytest.raises(BadRequest) as info:
        client.conclude_request(rid)
    assert "at least one reference" in str(info.value)

    control.step(rid, "complete-reference")
    client.conclude_request(rid)
    request = client.retrieve_request(rid)
    assert request.status == Status.CONCLUDED
    assert request.completed_references == 1
    assert [ref.status for ref in request.references] == ["completed", "canceled"]
    assert control.summary(rid)["report_ready"] is True
    with pytest.raises(BadRequest):
        client.conclude_request(rid)


# ----------------------------------------------------------------- send reminder
def test_send_reminder_only_when_allowed(
    client: CrosschqClient, control: Control, rid: str
) -> None:
    with pytest.raises(BadRequest) as info:
        client.send_reminder(rid)
    exc = info.value
    assert (exc.method, exc.path, exc.status) == (
        "POST",
        "api/v2/reference-request/{id}/send-reminder/",
        400,
    )
    assert "Reminder cannot be sent yet." in str(exc)

    control.step(rid, "allow-reminder")
    assert client.retrieve_request(rid).can_send_reminder is True
    client.send_reminder(rid)
    assert control.summary(rid)["reminders_sent"] == 1
    assert client.retrieve_request(rid).can_send_reminder is False
    with pytest.raises(BadRequest):
        client.send_reminder(rid)


def test_send_reminder_after_the_delay(client: CrosschqClient, control: Control, rid: str) -> None:
    control.call("POST", "config", {"reminder_delay_seconds": 0})
    client.send_reminder(rid)
    client.cancel_request(rid)
    control.step(rid, "allow-reminder")
    with pytest.raises(BadRequest):  # a canceled request gets no reminders
        client.send_reminder(rid)


# --------------------------------------------------------------- download report
def test_download_report(client: CrosschqClient, control: Control, rid: str) -> None:
    with pytest.raises(BadRequest) as info:
        client.download_report(rid)
    exc = info.value
    assert (exc.method, exc.path, exc.status) == (
        "GET",
        "api/v2/reference-request/{id}/download-report/",
        400,
    )
    assert "completed or concluded" in str(exc)

    control.to_collecting(rid)
    control.step(rid, "complete-reference")
    control.step(rid, "complete-reference")
    with pytest.raises(BadRequest) as info:
        client.download_report(rid, "full")
    assert "not ready" in str(info.value)

    control.step(rid, "report-ready")
    summary = client.download_report(rid)
    full = client.download_report(rid, "full")
    assert summary.startswith(b"%PDF") and full.startswith(b"%PDF")
    assert summary != full
    assert client.download_report(rid, "summary") == summary
    queries = [call["query"] for call in control.calls() if "download-report" in call["path"]]
    assert queries[-3:] == ["report=summary", "report=full", "report=summary"]


# ------------------------------------------------------------------------ faults
def test_two_server_errors_then_success(client: CrosschqClient, control: Control) -> None:
    request = validate_create(make_request(), client.list_jobroles())
    control.faults(fail_next=[500, 500])
    for _ in range(2):
        with pytest.raises(ServerError) as info:
            client.create_request(request)
        assert info.value.retryable
        assert (info.value.method, info.value.path, info.value.status) == ("POST", CREATE_PATH, 500)
        assert info.value.retry_after is None
    request_id = client.create_request(request)
    assert [item["id"] for item in control.requests()] == [request_id]
    creates = [call["status"] for call in control.calls() if call["method"] == "POST"]
    assert creates == [500, 500, 201]


def test_service_unavailable_carries_retry_after(client: CrosschqClient, control: Control) -> None:
    control.faults(fail_next=[503, 502], retry_after=3)
    with pytest.raises(ServerError) as info:
        client.list_jobroles()
    assert (info.value.status, info.value.retry_after) == (503, 3.0)
    with pytest.raises(ServerError) as info:
        client.list_jobroles()
    assert (info.value.status, info.value.retry_after) == (502, None)
    assert client.list_jobroles()


def test_throttled_raises_rate_limited_with_retry_after(
    sandbox: CrosschqSandbox, control: Control
) -> None:
    limiter = RecordingLimiter()
    client = make_client(sandbox.url, limiter=limiter)
    control.faults(fail_next=[429], retry_after=7)
    with pytest.raises(RateLimited) as info:
        client.list_jobroles()
    exc = info.value
    assert (exc.method, exc.path, exc.status, exc.retry_after) == ("GET", JOBROLE_PATH, 429, 7.0)
    assert exc.retryable
    assert "throttled" in str(exc)
    assert limiter.penalties == [("crosschq", 7.0)]
    assert client.list_jobroles()
    assert limiter.penalties == [("crosschq", 7.0)]


def test_latency_beyond_the_read_timeout(sandbox: CrosschqSandbox, control: Control) -> None:
    client = make_client(sandbox.url, read=0.2)
    control.faults(latency_ms=600)
    with pytest.raises(RequestTimeout) as info:
        client.list_jobroles()
    exc = info.value
    assert isinstance(exc, TransportError) and exc.retryable
    assert (exc.method, exc.path, exc.status) == ("GET", JOBROLE_PATH, None)
    control.faults(latency_ms=0)
    assert client.list_jobroles()


def test_stopped_sandbox_is_a_transport_error() -> None:
    box = CrosschqSandbox(token=TOKEN)
    url = box.start()
    assert make_client(url).list_jobroles()
    box.stop()
    with pytest.raises(TransportError) as info:
        make_client(url).retrieve_request(UNKNOWN_ID)
    exc = info.value
    assert not isinstance(exc, RequestTimeout)
    assert exc.retryable
    assert (exc.method, exc.path, exc.status) == ("GET", "api/v2/reference-request/{id}/", None)
    assert UNKNOWN_ID not in str(exc)


# ------------------------------------------------------- paths, limiter, logs
def _every_endpoint(client: CrosschqClient, control: Control) -> int:
    """Call each endpoint once or more (errors included); return how many calls were made."""
    calls = 0

    def run(call: Callable[[], object], refused: bool = False) -> None:
        nonlocal calls
        calls += 1
        if refused:
            with pytest.raises(BadRequest):
                call()
        else:
            call()

    run(client.list_jobroles)
    request_id = client.create_request(make_request(candidate={"mobile_phone": E164_PHONE}))
    calls += 1
    run(lambda: client.retrieve_request(request_id))
    run(lambda: client.edit_request(request_id, EditReferenceRequest(use_sms=False)))
    run(lambda: client.send_reminder(request_id), refused=True)  # too early
    run(lambda: client.conclude_request(request_id), refused=True)  # nothing completed yet
    run(lambda: client.download_report(request_id), refused=True)  # not completed
    control.to_collecting(request_id)
    control.step(request_id, "complete-reference")
    run(lambda: client.conclude_request(request_id))
    run(lambda: client.download_report(request_id, "summary"))
    run(lambda: client.download_report(request_id, "full"))
    other = client.create_request(make_request(candidate={"mobile_phone": E164_PHONE}))
    calls += 1
    run(lambda: client.cancel_request(other))
    return calls


def _endpoint(method: str, path: str) -> str:
    """Which spec endpoint a recorded call hit (the id replaced by ``{id}``)."""
    parts = path.strip("/").split("/")
    if parts[:3] == ["api", "v2", "reference-request"] and len(parts) > 3:
        parts[3] = "{id}"
    return f"{method} /" + "/".join(parts) + ("/" if path.endswith("/") else "")


def test_every_path_ends_with_a_slash(client: CrosschqClient, control: Control) -> None:
    made = _every_endpoint(client, control)
    calls = control.calls()
    assert len(calls) == made
    assert all(call["path"].endswith("/") for call in calls), calls
    assert {_endpoint(call["method"], call["path"]) for call in calls} == {
        "GET /api/v2/settings/jobrole/",
        "POST /api/v2/reference-request/",
        "GET /api/v2/reference-request/{id}/",
        "PATCH /api/v2/reference-request/{id}/edit/",
        "POST /api/v2/reference-request/{id}/cancel/",
        "POST /api/v2/reference-request/{id}/conclude/",
        "POST /api/v2/reference-request/{id}/send-reminder/",
        "GET /api/v2/reference-request/{id}/download-report/",
    }
    assert {call["status"] for call in calls} == {200, 201, 400}


def test_rate_limiter_is_consulted_once_per_request(
    sandbox: CrosschqSandbox, control: Control
) -> None:
    limiter = RecordingLimiter()
    client = make_client(sandbox.url, limiter=limiter)
    made = _every_endpoint(client, control)
    assert limiter.acquired == ["crosschq"] * made
    assert len(control.calls()) == made
    assert limiter.penalties == []


def test_an_empty_limiter_stops_the_call_before_it_is_sent(
    sandbox: CrosschqSandbox, control: Control
) -> None:
    limiter = EmptyLimiter()
    client = make_client(sandbox.url, limiter=limiter)
    with pytest.raises(RateLimited) as info:
        client.create_request(make_request())
    assert info.value.retry_after == 0.5
    assert limiter.acquired == ["crosschq"]
    assert control.calls() == []


def test_no_personal_data_in_logs(
    client: CrosschqClient, control: Control, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Fresh loggers, so capture works even when another test cached the configured ones.
    monkeypatch.setattr(http_module, "log", structlog.get_logger("connectors.http"))
    monkeypatch.setattr(validation_module, "log", structlog.get_logger("connectors.crosschq"))
    bogus_phone = "not-a-phone 0134"
    bad_email = "jane..candidate@example.com"
    with capture_logs() as logs:
        request_id = create_valid(client, make_request())
        client.retrieve_request(request_id)
        create_valid(client, make_request(candidate={"mobile_phone": bogus_phone}))
        with pytest.raises(BadRequest):
            create_valid(client, make_request(candidate={"email": bad_email}))
        with pytest.raises(NotFound):
            client.retrieve_request(UNKNOWN_ID)
    events = [entry["event"] for entry in logs]
    assert events.count("http.response") == 8
    assert "candidate.phone_dropped" in events
    text = repr(logs)
    for value in (EMAIL, bad_email, "candidate@", RAW_PHONE, E164_PHONE, "4155550134", bogus_phone):
        assert value not in text
    assert request_id not in text and UNKNOWN_ID not in text
    assert TOKEN not in text


# ------------------------------------------------------------ unreadable answers
class _StubHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    answers: dict[tuple[str, str], tuple[int, str, bytes]] = {}

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        path = self.path.split("?", 1)[0]
        status, content_type, body = self.answers.get(
            (self.command, path), (404, "text/plain", b"no")
        )
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = _answer
    do_POST = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def stub() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StubHandler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_unreadable_success_answers_are_server_errors(
    stub: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rid_path = f"/api/v2/reference-request/{UNKNOWN_ID}/"
    monkeypatch.setattr(
        _StubHandler,
        "answers",
        {
            ("GET", "/" + JOBROLE_PATH): (200, "text/html", b"<html>maintenance</html>"),
            ("POST", "/" + CREATE_PATH): (201, "application/json", b'{"id": 1}'),
            ("GET", rid_path): (200, "application/json", b'{"status_message": "Sent"}'),
            ("GET", rid_path + "download-report/"): (200, "text/html", b"<html>login</html>"),
        },
    )
    client = make_client(stub)
    with pytest.raises(ServerError) as info:
        client.list_jobroles()
    assert info.value.path == JOBROLE_PATH
    with pytest.raises(ServerError) as info:
        client.create_request(make_request())
    assert "unexpected response shape" in str(info.value)
    with pytest.raises(ServerError) as info:
        client.retrieve_request(UNKNOWN_ID)
    assert UNKNOWN_ID not in str(info.value)
    with pytest.raises(ServerError) as info:
        client.download_report(UNKNOWN_ID)
    assert "not a PDF" in str(info.value)
    assert info.value.path == "api/v2/reference-request/{id}/download-report/"

