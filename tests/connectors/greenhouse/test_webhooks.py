"""Greenhouse webhooks: signature verification on raw bytes and every documented event shape.

Fixtures under ``tests/fixtures/greenhouse`` follow the examples of Greenhouse's webhook docs
(``webhooks/_candidate_events.md``, ``_application_events.md``), with fake people, and keep the
``\\u003c`` escapes Greenhouse signs.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import pytest

from connectors.ats import EventKind
from connectors.errors import WebhookAuthError, WebhookPayloadError
from connectors.greenhouse import webhooks
from connectors.greenhouse.connector import GreenhouseConnector
from connectors.greenhouse.webhooks import parse_event, sign, verify_and_parse, verify_signature

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "greenhouse"
SECRET = "whsec-test-0123"


def raw(name: str) -> bytes:
    return (FIXTURES / f"{name}.json").read_bytes()


def signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    return {"Signature": sign(secret, body), "Greenhouse-Event-ID": "evt-123"}


# -- verification ------------------------------------------------------------------------------
def _hex(body: bytes, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


BODY = raw("candidate_stage_change")


@pytest.mark.parametrize(
    ("headers", "body", "accepted"),
    [
        pytest.param({"Signature": f"sha256 {_hex(BODY)}"}, BODY, True, id="good"),
        pytest.param({"signature": f"sha256 {_hex(BODY)}"}, BODY, True, id="lower-case header name"),
        pytest.param({"Signature": f"SHA256 {_hex(BODY).upper()}"}, BODY, True, id="upper-case digest"),
        pytest.param({"Signature": f"sha256 {_hex(BODY, 'other')}"}, BODY, False, id="wrong secret"),
        pytest.param(
            {"Signature": f"sha256 {_hex(BODY)}"},
            BODY.replace(b"6001", b"6002", 1),
            False,
            id="one byte changed",
        ),
        pytest.param({}, BODY, False, id="header missing"),
        pytest.param({"Signature": ""}, BODY, False, id="header empty"),
        pytest.param({"Signature": f"sha1 {hashlib.sha1(BODY).hexdigest()}"}, BODY, False, id="sha1"),  # noqa: S324
        pytest.param({"Signature": "sha256"}, BODY, False, id="sha256 without hex"),
        pytest.param({"Signature": f"sha256={_hex(BODY)}"}, BODY, False, id="sha256= form"),
        pytest.param({"Signature": _hex(BODY)}, BODY, False, id="digest only"),
        pytest.param({"Signature": f"sha256 {_hex(BODY)[:-2]}"}, BODY, False, id="digest truncated"),
        pytest.param({"Signature": f"md5 {_hex(BODY)}"}, BODY, False, id="other algorithm, 64 hex"),
    ],
)
def test_verification_table(headers: dict[str, str], body: bytes, accepted: bool) -> None:
    if accepted:
        verify_signature(headers, body, SECRET)
    else:
        with pytest.raises(WebhookAuthError):
            verify_signature(headers, body, SECRET)


def test_escaped_unicode_verifies_on_the_raw_bytes() -> None:
    assert b"\\u003cp\\u003e" in BODY
    verify_signature(signed(BODY), BODY, SECRET)
    # Re-serialising turns \u003c back into "<" and would no longer match the signature.
    reserialised = json.dumps(json.loads(BODY), indent=2).encode()
    assert reserialised != BODY
    with pytest.raises(WebhookAuthError):
        verify_signature(signed(BODY), reserialised, SECRET)


@pytest.mark.parametrize("secret", ["", None])
def test_no_configured_secret_refuses_everything(secret: str | None) -> None:
    with pytest.raises(WebhookAuthError, match="GREENHOUSE_WEBHOOK_SECRET"):
        verify_signature(signed(BODY), BODY, secret)


def test_the_connector_refuses_without_a_secret() -> None:
    connector = GreenhouseConnector(client=None, on_behalf_of="1001", webhook_secret="")  # type: ignore[arg-type]
    with pytest.raises(WebhookAuthError):
        connector.verify_and_parse(signed(BODY), BODY)


# -- payloads ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "kind", "expected"),
    [
        (
            "candidate_stage_change",
            EventKind.STAGE_CHANGED,
            {
                "application_id": "6001",
                "candidate_id": "5001",
                "job_id": "4001",
                "stage_id": "7003",
                "stage_name": "Reference Check",
            },
        ),
        (
            "new_candidate_application",
            EventKind.APPLICATION_CREATED,
            {
                "application_id": "6010",
                "candidate_id": "5001",
                "job_id": "4001",
                "stage_id": "7001",
                "stage_name": "Application Review",
            },
        ),
        (
            "reject_candidate",
            EventKind.REJECTED,
            {"application_id": "6001", "candidate_id": "5001", "job_id": "4001", "stage_id": "7003"},
        ),
        ("unreject_candidate", EventKind.UNREJECTED, {"application_id": "6001", "candidate_id": "5001"}),
        (
            "hire_candidate",
            EventKind.HIRED,
            {"application_id": "6001", "candidate_id": "5001", "job_id": "4001", "stage_name": "Offer"},
        ),
        ("unhire_candidate", EventKind.UNHIRED, {"application_id": "6001", "candidate_id": "5001"}),
        (
            "delete_application",
            EventKind.APPLICATION_DELETED,
            {"application_id": "6001", "candidate_id": "5001", "job_id": "4001", "stage_id": None},
        ),
        (
            "delete_candidate",
            EventKind.CANDIDATE_DELETED,
            {"application_id": None, "candidate_id": "5001", "deleted_application_ids": ("6001", "6003")},
        ),
        (
            "merge_candidate",
            EventKind.CANDIDATE_MERGED,
            {"candidate_id": "5009", "merged_candidate_ids": ("5001",)},
        ),
        ("update_candidate", EventKind.CANDIDATE_UPDATED, {"candidate_id": "5001", "application_id": None}),
        ("candidate_anonymized", EventKind.CANDIDATE_ANONYMIZED, {"candidate_id": "5001"}),
        ("ping", EventKind.IGNORED, {"application_id": None, "candidate_id": None}),
    ],
)
def test_every_documented_event_parses(name: str, kind: EventKind, expected: dict[str, object]) -> None:
    body = raw(name)
    event = verify_and_parse(signed(body), body, SECRET)
    assert event.connector == "greenhouse"
    assert event.kind is kind
    assert event.action == name
    assert event.event_id == "evt-123"
    for key, value in expected.items():
        assert getattr(event, key) == value, key


def test_event_holds_ids_only() -> None:
    event = parse_event({}, raw("candidate_stage_change"))
    dumped = json.dumps(event.model_dump(mode="json"))
    for personal in ("Testy", "McTestface", "example.com", "555"):
        assert personal not in dumped
    assert event.event_id is None
    assert event.occurred_at is not None and event.occurred_at.year == 2024


def test_unknown_action_is_ignored() -> None:
    body = b'{"action": "job_created", "payload": {"job": {"id": 1}}}'
    assert parse_event({}, body).kind is EventKind.IGNORED


@pytest.mark.parametrize(
    ("body", "path"),
    [
        (b'{"action": "candidate_stage_change", "payload": {}}', "payload.application"),
        (b'{"action": "candidate_stage_change"}', "payload"),
        (
            b'{"action": "candidate_stage_change", "payload": {"application": {"candidate": {"id": 1},'
            b' "current_stage": {"id": 2, "name": "X"}}}}',
            "payload.application.id",
        ),
        (
            b'{"action": "candidate_stage_change", "payload": {"application": {"id": 3,'
            b' "current_stage": {"id": 2, "name": "X"}}}}',
            "payload.application.candidate.id",
        ),
        (
            b'{"action": "candidate_stage_change", "payload": {"application": {"id": 3,'
            b' "candidate": {"id": 1}}}}',
            "payload.application.current_stage.id",
        ),
        (
            b'{"action": "candidate_stage_change", "payload": {"application": {"id": 3,'
            b' "candidate": {"id": 1}, "current_stage": {"id": 2}}}}',
            "payload.application.current_stage.name",
        ),
        (
            b'{"action": "reject_candidate", "payload": {"application": {"id": null}}}',
            "payload.application.id",
        ),
        (b'{"action": "delete_candidate", "payload": {"person": {}}}', "payload.person.id"),
        (
            b'{"action": "merge_candidate", "payload": {"person": {"id": 5}}}',
            "payload.person.new_candidate_id",
        ),
        (b'{"action": "update_candidate", "payload": {}}', "payload.candidate_id"),
        (
            b'{"action": "candidate_anonymized", "payload": {"candidate": {"id": true}}}',
            "payload.candidate.id",
        ),
        (
            b'{"action": "reject_candidate", "payload": {"application": {"id": "' + b"7" * 100_000 + b'"}}}',
            "payload.application.id",
        ),
        (
            b'{"action": "reject_candidate", "payload": {"application": {"id": "../../users"}}}',
            "payload.application.id",
        ),
    ],
)
def test_acted_on_events_without_their_ids_name_the_missing_path(body: bytes, path: str) -> None:
    with pytest.raises(WebhookPayloadError) as raised:
        verify_and_parse(signed(body), body, SECRET)
    assert str(raised.value).endswith(f"missing {path}")


@pytest.mark.parametrize("body", [b"", b"not json", b"\xff\xfe\x00", b"[]", b'"text"', b"null"])
def test_garbage_with_a_good_signature_is_a_payload_error(body: bytes) -> None:
    with pytest.raises(WebhookPayloadError):
        verify_and_parse(signed(body), body, SECRET)


def test_header_lookup_ignores_case() -> None:
    assert webhooks.header({"greenhouse-event-id": "x"}, "Greenhouse-Event-ID") == "x"
    assert webhooks.header({}, "Signature") is None
