"""Every JSON example of the Partner API v2 document, kept verbatim (personal details replaced)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import TypeAdapter, ValidationError

from connectors.crosschq import lenient_json
from connectors.crosschq.models import (
    CreatedRequest,
    CreateReferenceRequest,
    EditReferenceRequest,
    JobRole,
    ReferenceRequest,
    WebhookEvent,
)
from connectors.crosschq.status import Status, is_terminal, label, parse_status
from connectors.http import field_errors_from_body

FIXTURES = Path(__file__).parents[2] / "fixtures" / "crosschq"


def load(name: str) -> object:
    return lenient_json.loads((FIXTURES / f"{name}.json").read_bytes())


WEBHOOKS = {
    "webhook_generic": (Status.COMPLETED, None),
    "webhook_sent": (Status.SENT, "reference_request_status_updated"),
    "webhook_accepted": (Status.ACCEPTED, "reference_request_status_updated"),
    "webhook_assigning": (Status.ASSIGNING, "reference_request_status_updated"),
    "webhook_collecting_first_reference": (Status.COLLECTING, "reference_request_status_updated"),
    "webhook_collecting_all_references": (Status.COLLECTING, "reference_request_reference_added"),
    "webhook_reference_completed": (Status.COLLECTING, "reference_request_reference_completed"),
    "webhook_completed": (Status.COMPLETED, "reference_request_reference_completed"),
    "webhook_report_ready": (Status.COMPLETED, "reference_request_full_completed"),
    "webhook_auto_concluded": (Status.AUTO_CONCLUDED, "reference_request_full_completed"),
    "webhook_canceled_by_candidate": (Status.CANCELED_BY_CANDIDATE, "reference_request_status_updated"),
    "webhook_auto_canceled": (Status.AUTO_CANCELED, "reference_request_status_updated"),
}


def test_every_example_of_the_spec_is_kept_as_a_fixture() -> None:
    assert len(list(FIXTURES.glob("*.json"))) == 18


@pytest.mark.parametrize("name", sorted(WEBHOOKS))
def test_webhook_examples_parse(name: str) -> None:
    status, event_name = WEBHOOKS[name]
    event = WebhookEvent.model_validate(load(name))
    assert event.status == status
    assert event.event_name == event_name
    assert len(event.id) == 32
    assert event.status_updated_on is not None


def test_sloppy_examples_need_the_lenient_parser() -> None:
    raw = (FIXTURES / "webhook_completed.json").read_bytes()
    with pytest.raises(ValueError):
        json.loads(raw)
    event = WebhookEvent.model_validate(lenient_json.loads(raw))
    assert event.score == 3.21
    assert event.completed_references == 1


def test_report_ready_events() -> None:
    assert WebhookEvent.model_validate(load("webhook_report_ready")).report_ready
    assert WebhookEvent.model_validate(load("webhook_auto_concluded")).report_ready
    assert not WebhookEvent.model_validate(load("webhook_completed")).report_ready


def test_references_with_and_without_relationship() -> None:
    generic = WebhookEvent.model_validate(load("webhook_generic"))
    assert len(generic.references) == 4
    assert generic.references[0].relationship is None
    collecting = WebhookEvent.model_validate(load("webhook_collecting_first_reference"))
    ref = collecting.references[0]
    assert (ref.relationship, ref.workplace_name, ref.job_title) == ("peers", "evergreen", "dev")


def test_auto_canceled_carries_empty_pdf_links() -> None:
    event = WebhookEvent.model_validate(load("webhook_auto_canceled"))
    assert event.report_summary_pdf == "" and event.report_full_pdf == ""
    assert is_terminal(event.status)


def test_retrieve_example_without_status_derives_it_from_status_message() -> None:
    request = ReferenceRequest.model_validate(load("retrieve"))
    assert request.status == Status.SENT
    assert request.status_message == "Sent"
    assert request.can_send_reminder is False
    assert request.references == []


def test_unknown_status_is_kept_as_text() -> None:
    data = dict(load("webhook_sent"))  # type: ignore[call-overload]
    data["status"] = "on-hold"
    data["brand_new_key"] = {"x": 1}
    event = WebhookEvent.model_validate(data)
    assert event.status == "on-hold"
    assert label(event.status) == "On hold"


def test_jobroles_example() -> None:
    roles = TypeAdapter(list[JobRole]).validate_python(load("jobroles"))
    assert [r.codename for r in roles] == [
        "brand-marketer-manager",
        "brand-marketer-team-member",
        "consulting-services-manager",
    ]
    assert roles[2].relationships["managers"].max == 10


def test_create_and_edit_examples_are_valid_requests() -> None:
    create = CreateReferenceRequest.model_validate(load("create_request"))
    assert create.flex_params.relationships[1].rel == "managers"
    assert create.hiring_manager is not None
    EditReferenceRequest.model_validate(load("edit_request"))
    assert CreatedRequest.model_validate(load("create_response")).request_id


def test_requests_are_strict() -> None:
    data = dict(load("create_request"))  # type: ignore[call-overload]
    data["jobrol"] = "typo"
    with pytest.raises(ValidationError):
        CreateReferenceRequest.model_validate(data)


def test_error_example_gives_named_fields() -> None:
    fields, _ = field_errors_from_body((FIXTURES / "create_error_400.json").read_bytes())
    assert fields == {"candidate.email": ["This field is required."]}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Sent", Status.SENT),
        ("Auto-concluded", Status.AUTO_CONCLUDED),
        ("auto_canceled", Status.AUTO_CANCELED),
        ("Canceled", Status.CANCELED),
        ("canceled-by-candidate", Status.CANCELED_BY_CANDIDATE),
        ("DECLINED", Status.DECLINED),
        ("", None),
        (None, None),
        ("Paused", "paused"),
    ],
)
def test_parse_status(text: str | None, expected: object) -> None:
    assert parse_status(text) == expected


def test_lenient_parser_still_refuses_garbage() -> None:
    with pytest.raises(ValueError):
        lenient_json.loads(b"{not json")
    assert lenient_json.loads('{"a": "// not a comment"}') == {"a": "// not a comment"}
