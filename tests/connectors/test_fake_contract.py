"""The in-memory fake passes the same contract as every real connector."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from connectors.ats import EventKind
from connectors.contract import AtsConnectorContract
from connectors.fake import InMemoryConnector

KNOWN = "6001"
NO_EMAIL = "6002"


@pytest.fixture
def ats() -> InMemoryConnector:
    ats = InMemoryConnector()
    ats.seed_application(
        KNOWN,
        first_name="Testy",
        last_name="McTestface",
        emails=[("testy.work@example.com", "work"), ("testy@example.com", "personal")],
        phones=[("+1 555 0101", "home"), ("+1 555 0102", "mobile")],
        recruiter={"id": "11", "first_name": "Rita", "last_name": "Recruiter", "email": "rita@example.com"},
        hiring_managers=[{"id": "12", "first_name": "Hal", "email": "hal@example.com"}],
    )
    ats.seed_application(NO_EMAIL, first_name="Nomail", last_name="Person", emails=[])
    return ats


class TestInMemoryContract(AtsConnectorContract):
    @pytest.fixture
    def connector(self, ats: InMemoryConnector) -> InMemoryConnector:
        return ats

    @pytest.fixture
    def known_application_id(self) -> str:
        return KNOWN

    @pytest.fixture
    def application_without_email_id(self) -> str:
        return NO_EMAIL

    @pytest.fixture
    def target_stage_name(self) -> str:
        return "Reference Check"

    @pytest.fixture
    def signed_webhook(
        self, ats: InMemoryConnector
    ) -> Callable[[EventKind, str], tuple[dict[str, str], bytes]]:
        def make(kind: EventKind, application_id: str) -> tuple[dict[str, str], bytes]:
            return ats.make_webhook(kind, application_id)

        return make

    @pytest.fixture
    def sign_body(self, ats: InMemoryConnector) -> Callable[[bytes], dict[str, str]]:
        return ats.sign

    @pytest.fixture
    def written_state(self, ats: InMemoryConnector) -> Callable[[str], dict[str, Any]]:
        return ats.state


def test_fail_next_raises_once_then_recovers(ats: InMemoryConnector) -> None:
    from connectors.errors import ServerError

    ats.fail_next("add_note", ServerError("down"))
    ref = ats.get_application(KNOWN).ref
    with pytest.raises(ServerError):
        ats.add_note(ref, "first")
    assert ats.add_note(ref, "second")
    assert ats.state(KNOWN)["notes"] == ["second"]


def test_writes_are_recorded_and_unknown_actions_ignored(ats: InMemoryConnector) -> None:
    ref = ats.get_application(KNOWN).ref
    ats.move_to_stage(ref, "Offer")
    assert ats.writes == [{"kind": "move_to_stage", "application_id": KNOWN, "stage": "Offer"}]
    headers, body = ats.make_webhook("something_else", KNOWN)
    assert ats.verify_and_parse(headers, body).kind is EventKind.IGNORED
