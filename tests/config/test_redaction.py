"""A canary e-mail and phone never reach a log line, whatever key carries them."""

from __future__ import annotations

import io
import json
import logging

import pytest
import structlog
from structlog.testing import capture_logs

from config import redaction
from config.logs import configure_logging, get_logger, redact_processor

CANARY_EMAIL = "canary.person@example.org"
CANARY_PHONE = "+1 415 555 0134"
CANARY_NAME = "Zebedee Quackenbush"


@pytest.fixture(autouse=True)
def _forget() -> None:
    redaction.forget_all()


@pytest.mark.parametrize(
    "fields",
    [
        {"email": CANARY_EMAIL},
        {"whatever": CANARY_EMAIL},
        {"note": f"sent to {CANARY_EMAIL} and {CANARY_PHONE}"},
        {"nested": {"deeper": [f"call {CANARY_PHONE}"], "mobile_phone": "4155550134"}},
        {"phone": "+14155550134"},
        {"error": ValueError(f"bad address {CANARY_EMAIL}")},
    ],
)
def test_canaries_never_survive(fields: dict[str, object]) -> None:
    with capture_logs(processors=[redact_processor]) as logs:
        get_logger("t").info("candidate.mapped", **fields)
    rendered = json.dumps(logs, default=str)
    assert CANARY_EMAIL not in rendered
    assert "4155550134" not in rendered.replace(" ", "")
    assert "555 0134" not in rendered


def test_names_are_masked_by_key_and_when_remembered() -> None:
    redaction.remember("Zebedee", "Quackenbush")
    with capture_logs(processors=[redact_processor]) as logs:
        get_logger("t").warning("mapping.failed", first_name="Zebedee", reason=f"{CANARY_NAME} has no e-mail")
    rendered = json.dumps(logs)
    assert "Zebedee" not in rendered and "Quackenbush" not in rendered
    assert "has no e-mail" in rendered


def test_ids_timestamps_and_numbers_survive() -> None:
    event = redaction.redact_event(
        {
            "event": "request.created",
            "request_id": "cd9447e1450c446a9d97c7b67ad1587f",
            "application_id": "6001",
            "at": "2023-05-31T15:56:45.695Z",
            "duration_ms": 12.5,
            "status": 201,
        }
    )
    assert event["request_id"] == "cd9447e1450c446a9d97c7b67ad1587f"
    assert event["at"] == "2023-05-31T15:56:45.695Z"
    assert event["application_id"] == "6001" and event["status"] == 201


def test_rendered_json_output_is_redacted() -> None:
    stream = io.StringIO()
    configure_logging("json", "INFO", force=True)
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    try:
        get_logger("t").info("note.added", body=f"contact {CANARY_EMAIL}")
        logging.getLogger("celery.worker").info("stdlib line with %s", CANARY_PHONE)
    finally:
        structlog.reset_defaults()
    out = stream.getvalue()
    assert out.count("\n") == 2
    assert CANARY_EMAIL not in out and CANARY_PHONE not in out
    assert json.loads(out.splitlines()[0])["event"] == "note.added"


def test_long_text_is_cut_at_a_word_and_stays_cheap() -> None:
    import time

    started = time.perf_counter()
    for text in ("1" * 100_000, "1." * 50_000, "a" * 100_000 + "@x", "x@y" * 30_000):
        assert len(redaction.redact_text(text)) < 100
    assert time.perf_counter() - started < 0.5  # the e-mail pattern used to be quadratic here
    # An address straddling the cut is dropped with the rest, never left half-visible.
    text = "x" * (redaction.MAX_TEXT - 10) + " " + CANARY_EMAIL + " tail"
    out = redaction.redact_text(text)
    assert "canary" not in out and out.endswith("more characters]")
