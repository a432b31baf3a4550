"""The Greenhouse connector against the sandbox over real HTTP on loopback, v1 and v3.

One sandbox and one webhook receiver serve the module; every test starts from the demo seed
(``sandbox.reset()``) with a fresh connector. Webhooks for the contract come from the sandbox
itself: a stage move made "in Greenhouse" is delivered, signed, to the receiver.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from config.settings import GreenhouseSettings, HttpSettings
from connectors.ats import ApplicationRef, EventKind, ReferenceFields
from connectors.contract import AtsConnectorContract
from connectors.errors import Conflict, RateLimited
from connectors.greenhouse.connector import GreenhouseConnector
from connectors.greenhouse.sandbox import GreenhouseSandbox
from connectors.greenhouse.webhooks import sign
from connectors.mapping import best_email, best_phone, requestor

API_KEY = "contract-harvest-key"
SECRET = "contract-webhook-secret"
INTEGRATION_USER = "1001"
STAGES = ("Application Review", "Phone Screen", "Reference Check", "Offer")

Delivery = tuple[dict[str, str], bytes]


class Receiver:
    """Collects webhook deliveries; always answers 200."""

    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []
        self.cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.cond:
                    receiver.deliveries.append((dict(self.headers.items()), body))
                    receiver.cond.notify_all()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhooks/ats/greenhouse"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def next_after(self, count: int, timeout: float = 5.0) -> Delivery:
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.deliveries) <= count:
                remaining = deadline - time.monotonic()
                assert remaining > 0, "no webhook delivered"
                self.cond.wait(remaining)
            return self.deliveries[count]


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    yield rec
    rec.server.shutdown()
    rec.server.server_close()


@pytest.fixture(scope="module")
def sandbox_server(receiver: Receiver) -> Iterator[GreenhouseSandbox]:
    # A short window keeps rate-limit tests fast; 50 calls a second is plenty otherwise.
    with GreenhouseSandbox(
        api_key=API_KEY, webhook_url=receiver.url, webhook_secret=SECRET, rate_limit=50, rate_window=1.0
    ) as sandbox:
        yield sandbox


@pytest.fixture
def sandbox(sandbox_server: GreenhouseSandbox) -> GreenhouseSandbox:
    sandbox_server.wait_idle(5)
    sandbox_server.reset()
    return sandbox_server


def settings_for(sandbox: GreenhouseSandbox, version: str, **overrides: Any) -> Any:
    class Settings:
        greenhouse = GreenhouseSettings(
            api_version=version,
            base_url=sandbox.url,
            api_key=API_KEY,
            client_id="sandbox-client",
            client_secret=API_KEY,
            token_url=sandbox.url + "token",
            on_behalf_of=INTEGRATION_USER,
            webhook_secret=SECRET,
            **overrides,
        )
        http = HttpSettings(timeout_connect=2.0, timeout_read=5.0)

    return Settings()


def stage_change_webhook(sandbox: GreenhouseSandbox, receiver: Receiver, application_id: str) -> Delivery:
    """Move the application "in Greenhouse" (not to the contract's target) and catch the event."""
    current = sandbox.application_state(int(application_id))["current_stage"]["name"]
    other = next(s for s in ("Application Review", "Offer") if s != current)
    count = len(receiver.deliveries)
    sandbox.move(int(application_id), other)
    return receiver.next_after(count)


def landed(sandbox: GreenhouseSandbox, application_id: str) -> dict[str, Any]:
    state = sandbox.application_state(int(application_id))
    fields = state["custom_fields"]
    return {
        "fields": {
            "status": fields.get("crosschq_status"),
            "progress": fields.get("crosschq_progress"),
            "score": fields.get("crosschq_score"),
            "report_url": fields.get("crosschq_report_url"),
        },
        "notes": [note["body"] for note in state["notes"]],
        "attachments": [{"filename": a["filename"], "size": a["size_bytes"]} for a in state["attachments"]],
        "stage": (state["current_stage"] or {}).get("name"),
    }


class _GreenhouseContract(AtsConnectorContract):
    version = "v1"

    @pytest.fixture
    def connector(self, sandbox: GreenhouseSandbox) -> GreenhouseConnector:
        return GreenhouseConnector.from_settings(settings_for(sandbox, self.version))

    @pytest.fixture
    def known_application_id(self) -> str:
        return "6001"

    @pytest.fixture
    def application_without_email_id(self) -> str:
        return "6002"

    @pytest.fixture
    def target_stage_name(self) -> str:
        return "Reference Check"

    @pytest.fixture
    def signed_webhook(
        self, sandbox: GreenhouseSandbox, receiver: Receiver
    ) -> Callable[[EventKind, str], Delivery]:
        def make(kind: EventKind, application_id: str) -> Delivery:
            assert kind is EventKind.STAGE_CHANGED
            return stage_change_webhook(sandbox, receiver, application_id)

        return make

    @pytest.fixture
    def sign_body(self) -> Callable[[bytes], dict[str, str]]:
        return lambda body: {"Signature": sign(SECRET, body)}

    @pytest.fixture
    def written_state(self, sandbox: GreenhouseSandbox) -> Callable[[str], dict[str, Any]]:
        return lambda application_id: landed(sandbox, application_id)


class TestGreenhouseV1Contract(_GreenhouseContract):
    version = "v1"


class TestGreenhouseV3Contract(_GreenhouseContract):
    version = "v3"


# -- Greenhouse specifics over the wire ------------------------------------------------------
@pytest.fixture(params=["v1", "v3"])
def connector(request: pytest.FixtureRequest, sandbox: GreenhouseSandbox) -> GreenhouseConnector:
    return GreenhouseConnector.from_settings(settings_for(sandbox, request.param))


def test_the_whole_application_is_mapped(connector: GreenhouseConnector) -> None:
    app = connector.get_application("6001")
    assert (app.candidate.id, app.candidate.first_name, app.candidate.last_name) == (
        "5001",
        "Alex",
        "Example",
    )
    assert best_email(app.candidate) == "alex.example@example.com"
    assert best_phone(app.candidate) == "+1 415 555 0100"
    assert [e.type for e in app.candidate.emails] == ["personal", "work"]
    assert app.tags == ("Sandbox", "Referral")
    assert app.job is not None and (app.job.id, app.job.name) == ("4001", "Business Consultant")
    assert app.job.departments == ("Consulting",) and app.job.offices == ("Remote",)
    assert app.stage is not None and (app.stage.id, app.stage.name) == ("40012", "Phone Screen")
    assert app.recruiter is not None and app.recruiter.email == "riley.recruiter@example.com"
    assert app.coordinator is not None and app.coordinator.first_name == "Casey"
    assert [(m.id, m.email) for m in app.hiring_managers] == [
        ("1004", "harper.manager@example.com"),
        ("1005", "morgan.manager@example.com"),
    ]
    assert set(app.custom_fields) >= {"crosschq_status", "crosschq_progress"}


def test_users_are_read_once_per_ttl(
    connector: GreenhouseConnector, sandbox: GreenhouseSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    def user_reads() -> int:
        return sum(1 for c in sandbox.calls() if c["method"] == "GET" and "/users/" in c["path"])

    before = user_reads()
    first = connector.get_application("6001")
    read = user_reads() - before
    assert read >= 3  # recruiter, coordinator, hiring managers
    assert connector.get_application("6001") == first
    assert user_reads() - before == read  # the second read of the same people came from memory
    monkeypatch.setattr(GreenhouseConnector, "USER_TTL", 0.0)
    connector.get_application("6001")
    assert user_reads() - before == 2 * read


def test_requestor_falls_back_to_credited_to(connector: GreenhouseConnector) -> None:
    app = connector.get_application("6003")
    assert app.recruiter is None and app.coordinator is None
    person = requestor(app, "ops@example.com")
    assert person is not None and (person.id, person.email) == ("1004", "harper.manager@example.com")


def test_a_stale_move_is_a_conflict(connector: GreenhouseConnector, sandbox: GreenhouseSandbox) -> None:
    client = connector.client
    with pytest.raises(Conflict) as raised:
        client.move_application("6001", "40011", "40013")  # it is in 40012
    assert "from_stage_id" in getattr(raised.value, "field_errors", {})


def test_moving_a_rejected_application_is_a_conflict(
    connector: GreenhouseConnector, sandbox: GreenhouseSandbox
) -> None:
    sandbox.reject(6001)
    with pytest.raises(Conflict):
        connector.move_to_stage(ApplicationRef(application_id="6001"), "Reference Check")


def test_an_unknown_status_option_is_a_conflict_naming_the_field(connector: GreenhouseConnector) -> None:
    with pytest.raises(Conflict) as raised:
        connector.set_reference_fields(ApplicationRef(application_id="6001"), ReferenceFields(status="Maybe"))
    assert "custom_fields" in str(raised.value)


def test_nothing_to_set_makes_no_call(connector: GreenhouseConnector, sandbox: GreenhouseSandbox) -> None:
    before = len(sandbox.calls())
    connector.set_reference_fields(ApplicationRef(application_id="6001"), ReferenceFields())
    assert len(sandbox.calls()) == before


def test_writes_are_made_as_the_integration_user(
    connector: GreenhouseConnector, sandbox: GreenhouseSandbox
) -> None:
    connector.add_note(ApplicationRef(application_id="6001", candidate_id="5001"), "Sent.")
    note = sandbox.application_state(6001)["notes"][-1]
    assert (note["user_id"], note["visibility"]) == (1001, "private")
    connector.attach_report(ApplicationRef(application_id="6001"), "report.pdf", b"%PDF-1.4 x")
    attachment = sandbox.application_state(6001)["attachments"][-1]
    assert (attachment["type"], attachment["content_type"], attachment["visibility"]) == (
        "other",
        "application/pdf",
        "admin_only",
    )


def test_rate_limit_over_the_wire(sandbox: GreenhouseSandbox) -> None:
    sandbox.configure(rate_limit=2, rate_window=1.0)
    try:
        connector = GreenhouseConnector.from_settings(settings_for(sandbox, "v1"))
        connector.check_connection()
        connector.check_connection()
        with pytest.raises(RateLimited) as raised:
            connector.check_connection()
        assert raised.value.retry_after is not None and 0 < raised.value.retry_after <= 1.0
        assert connector.client.rate_limit is not None and connector.client.rate_limit.remaining == 0
    finally:
        sandbox.configure(rate_limit=50, rate_window=1.0)


def test_an_expired_v3_token_is_refreshed(sandbox: GreenhouseSandbox) -> None:
    connector = GreenhouseConnector.from_settings(settings_for(sandbox, "v3"))
    connector.check_connection()
    sandbox.configure(expire_tokens=True)
    connector.check_connection()
    token_calls = [c for c in sandbox.calls() if c["path"] == "/token"]
    statuses = [c["status"] for c in sandbox.calls() if c["path"].startswith("/v3/users")]
    assert len(token_calls) == 2 and statuses == [200, 401, 200]


def test_a_webhook_from_the_sandbox_parses(
    connector: GreenhouseConnector, sandbox: GreenhouseSandbox, receiver: Receiver
) -> None:
    count = len(receiver.deliveries)
    sandbox.reject(6001)
    headers, body = receiver.next_after(count)
    event = connector.verify_and_parse(headers, body)
    assert (event.kind, event.application_id, event.candidate_id) == (EventKind.REJECTED, "6001", "5001")
    assert event.event_id == headers["Greenhouse-Event-ID"]
    assert json.loads(body)["action"] == "reject_candidate"
