"""The contract every ATS connector passes: one pytest suite, reused by subclassing.

This module ships in the package (it imports pytest, so import it from tests only) so that a
connector living in another distribution can prove it behaves as the worker expects.

How to use it, e.g. in ``tests/test_contract.py`` of a third-party package::

    import pytest
    from connectors.contract import AtsConnectorContract

    class TestLeverContract(AtsConnectorContract):
        @pytest.fixture
        def connector(self):                       # a fresh connector on fresh data
            return LeverConnector(...)

        @pytest.fixture
        def known_application_id(self):            # has candidate names, a typed e-mail,
            return "app-1"                         # a phone, a job, a stage and a recruiter

        @pytest.fixture
        def target_stage_name(self):               # a stage of its job it is NOT in yet
            return "Reference Check"

        @pytest.fixture
        def signed_webhook(self, connector):       # (kind, application_id) -> (headers, body)
            def make(kind, application_id): ...    # a stage-change event, validly signed
            return make

        @pytest.fixture
        def sign_body(self):                       # raw bytes -> headers signing them
            ...

        @pytest.fixture
        def written_state(self, connector):        # application_id -> what landed, as
            def read(application_id): ...          # {"fields": {"status", "progress", "score",
            return read                            #  "report_url"}, "notes": [body, ...],
                                                   #  "attachments": [{"filename", "size"}],
                                                   #  "stage": "<stage name>"}

Optional: ``application_without_email_id`` (a candidate with no e-mail; default ``None`` skips
that test), ``unknown_application_id``, and :meth:`AtsConnectorContract.tamper` /
:meth:`AtsConnectorContract.without_signature` when the connector's signature is not carried in
a header whose name contains "signature". Each test should see fresh data: make the fixtures
function-scoped or reset the backing store in them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError

from connectors.ats import (
    Application,
    ApplicationRef,
    AtsConnector,
    AtsEvent,
    EventKind,
    ReferenceFields,
)
from connectors.errors import NotFound, WebhookAuthError, WebhookPayloadError
from connectors.mapping import best_email, best_phone, requestor

Headers = dict[str, str]
SignedWebhook = Callable[[EventKind, str], tuple[Headers, bytes]]
WrittenState = Callable[[str], dict[str, Any]]
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 20 + b"\n%%EOF\n"


class AtsConnectorContract:
    """Subclass as ``Test<Name>Contract`` and provide the fixtures described in the module."""

    # -- fixtures a subclass provides ------------------------------------------------------
    @pytest.fixture
    def connector(self) -> AtsConnector:
        raise NotImplementedError("provide a `connector` fixture")

    @pytest.fixture
    def known_application_id(self) -> str:
        raise NotImplementedError("provide a `known_application_id` fixture")

    @pytest.fixture
    def target_stage_name(self) -> str:
        raise NotImplementedError("provide a `target_stage_name` fixture")

    @pytest.fixture
    def signed_webhook(self) -> SignedWebhook:
        raise NotImplementedError("provide a `signed_webhook` fixture")

    @pytest.fixture
    def sign_body(self) -> Callable[[bytes], Headers]:
        raise NotImplementedError("provide a `sign_body` fixture")

    @pytest.fixture
    def written_state(self) -> WrittenState:
        raise NotImplementedError("provide a `written_state` fixture")

    @pytest.fixture
    def application_without_email_id(self) -> str | None:
        return None

    @pytest.fixture
    def unknown_application_id(self) -> str:
        return "987654321"

    # -- helpers a subclass may override ---------------------------------------------------
    def tamper(self, headers: Headers, raw_body: bytes) -> tuple[Headers, bytes]:
        """The same delivery with one byte of the body changed (signature kept)."""
        index = raw_body.rfind(b"}") - 1 if b"}" in raw_body else len(raw_body) // 2
        index = max(index, 0)
        changed = bytes([raw_body[index] ^ 0x01])
        return dict(headers), raw_body[:index] + changed + raw_body[index + 1 :]

    def without_signature(self, headers: Headers) -> Headers:
        return {k: v for k, v in headers.items() if "signature" not in k.lower()}

    # -- inbound ---------------------------------------------------------------------------
    def test_verify_and_parse_accepts_a_good_signature(
        self, connector: AtsConnector, signed_webhook: SignedWebhook, known_application_id: str
    ) -> None:
        expected = connector.get_application(known_application_id)
        headers, body = signed_webhook(EventKind.STAGE_CHANGED, known_application_id)
        event = connector.verify_and_parse(headers, body)
        assert isinstance(event, AtsEvent)
        assert event.kind is EventKind.STAGE_CHANGED
        assert event.acted_on
        assert event.connector == connector.name
        assert event.application_id == known_application_id
        assert event.candidate_id == expected.candidate.id
        assert event.stage_id and event.stage_name
        # Pure: the same delivery parses to the same event.
        assert connector.verify_and_parse(headers, body) == event

    def test_a_tampered_body_is_refused(
        self, connector: AtsConnector, signed_webhook: SignedWebhook, known_application_id: str
    ) -> None:
        headers, body = self.tamper(*signed_webhook(EventKind.STAGE_CHANGED, known_application_id))
        with pytest.raises(WebhookAuthError):
            connector.verify_and_parse(headers, body)

    def test_a_missing_signature_is_refused(
        self, connector: AtsConnector, signed_webhook: SignedWebhook, known_application_id: str
    ) -> None:
        headers, body = signed_webhook(EventKind.STAGE_CHANGED, known_application_id)
        with pytest.raises(WebhookAuthError):
            connector.verify_and_parse(self.without_signature(headers), body)

    def test_garbage_with_a_good_signature_is_a_payload_error(
        self, connector: AtsConnector, sign_body: Callable[[bytes], Headers]
    ) -> None:
        for garbage in (b"{not json", b"\xff\xfe", b"[1, 2, 3]"):
            with pytest.raises(WebhookPayloadError):
                connector.verify_and_parse(sign_body(garbage), garbage)

    # -- reads -----------------------------------------------------------------------------
    def test_get_application_returns_the_whole_picture(
        self, connector: AtsConnector, known_application_id: str
    ) -> None:
        app = connector.get_application(known_application_id)
        assert isinstance(app, Application)
        assert app.id == known_application_id
        assert app.candidate.id and (app.candidate.first_name or app.candidate.last_name)
        assert app.candidate.emails and all(e.value and e.type for e in app.candidate.emails)
        assert best_email(app.candidate)
        assert app.candidate.phones and best_phone(app.candidate)
        assert app.job is not None and app.job.id and app.job.name
        assert app.stage is not None and app.stage.id and app.stage.name
        assert app.status
        assert any(p is not None for p in (app.recruiter, app.coordinator, app.credited_to))
        person = requestor(app)
        assert person is not None and person.email
        assert app.ref == ApplicationRef(application_id=app.id, candidate_id=app.candidate.id)

    def test_an_application_without_email_reads_without_one(
        self, connector: AtsConnector, application_without_email_id: str | None
    ) -> None:
        if application_without_email_id is None:
            pytest.skip("this connector's test data has no candidate without e-mail")
        app = connector.get_application(application_without_email_id)
        assert best_email(app.candidate) is None

    def test_an_unknown_application_is_not_found(
        self, connector: AtsConnector, unknown_application_id: str
    ) -> None:
        with pytest.raises(NotFound):
            connector.get_application(unknown_application_id)

    def test_models_are_frozen(
        self,
        connector: AtsConnector,
        known_application_id: str,
        signed_webhook: SignedWebhook,
    ) -> None:
        app = connector.get_application(known_application_id)
        event = connector.verify_and_parse(*signed_webhook(EventKind.STAGE_CHANGED, known_application_id))
        targets: list[tuple[Any, str, Any]] = [
            (app, "status", "hired"),
            (app.candidate, "first_name", "x"),
            (event, "kind", EventKind.HIRED),
        ]
        if app.job is not None:
            targets.append((app.job, "name", "x"))
        if app.stage is not None:
            targets.append((app.stage, "name", "x"))
        for model, attribute, value in targets:
            with pytest.raises((ValidationError, TypeError, AttributeError)):
                setattr(model, attribute, value)

    # -- writes ----------------------------------------------------------------------------
    def test_set_reference_fields_lands(
        self, connector: AtsConnector, known_application_id: str, written_state: WrittenState
    ) -> None:
        ref = connector.get_application(known_application_id).ref
        fields = ReferenceFields(
            status="Collecting", progress=40, score=87.5, report_url="https://example.com/r/1"
        )
        connector.set_reference_fields(ref, fields)
        landed = written_state(known_application_id)["fields"]
        assert landed["status"] == "Collecting"
        assert float(landed["progress"]) == 40
        assert float(landed["score"]) == 87.5
        assert landed["report_url"] == "https://example.com/r/1"

    def test_set_reference_fields_is_idempotent_and_skips_none(
        self, connector: AtsConnector, known_application_id: str, written_state: WrittenState
    ) -> None:
        ref = connector.get_application(known_application_id).ref
        fields = ReferenceFields(status="Completed", progress=100, score=91.0)
        connector.set_reference_fields(ref, fields)
        first = written_state(known_application_id)
        connector.set_reference_fields(ref, fields)
        assert written_state(known_application_id) == first
        # None leaves a field as it was; nothing at all to set is a no-op.
        connector.set_reference_fields(ref, ReferenceFields(status="Concluded"))
        connector.set_reference_fields(ref, ReferenceFields())
        landed = written_state(known_application_id)["fields"]
        assert landed["status"] == "Concluded"
        assert float(landed["progress"]) == 100

    def test_add_note_returns_an_id_and_lands(
        self, connector: AtsConnector, known_application_id: str, written_state: WrittenState
    ) -> None:
        ref = connector.get_application(known_application_id).ref
        body = "Crosschq reference check: 2 of 3 references completed."
        note_id = connector.add_note(ref, body)
        assert isinstance(note_id, str) and note_id
        assert body in written_state(known_application_id)["notes"]

    def test_add_note_finds_the_candidate_itself(
        self, connector: AtsConnector, known_application_id: str, written_state: WrittenState
    ) -> None:
        body = "Crosschq reference check started."
        connector.add_note(ApplicationRef(application_id=known_application_id), body)
        assert body in written_state(known_application_id)["notes"]

    def test_attach_report_lands_with_the_right_size(
        self, connector: AtsConnector, known_application_id: str, written_state: WrittenState
    ) -> None:
        ref = connector.get_application(known_application_id).ref
        connector.attach_report(ref, "crosschq-report.pdf", PDF)
        attachments = written_state(known_application_id)["attachments"]
        assert {"filename": "crosschq-report.pdf", "size": len(PDF)} in [
            {"filename": a["filename"], "size": a["size"]} for a in attachments
        ]

    def test_move_to_stage_moves_and_is_idempotent(
        self,
        connector: AtsConnector,
        known_application_id: str,
        target_stage_name: str,
        written_state: WrittenState,
    ) -> None:
        before = connector.get_application(known_application_id)
        assert before.stage is None or before.stage.name != target_stage_name, (
            "target_stage_name must differ from the application's current stage"
        )
        connector.move_to_stage(before.ref, target_stage_name)
        after = connector.get_application(known_application_id)
        assert after.stage is not None and after.stage.name == target_stage_name
        assert written_state(known_application_id)["stage"] == target_stage_name
        # Already there: no error, no change. Names match case-insensitively.
        connector.move_to_stage(after.ref, target_stage_name.upper())
        again = connector.get_application(known_application_id)
        assert again.stage == after.stage

    def test_move_to_an_unknown_stage_is_not_found(
        self, connector: AtsConnector, known_application_id: str
    ) -> None:
        ref = connector.get_application(known_application_id).ref
        with pytest.raises(NotFound):
            connector.move_to_stage(ref, "No Such Stage 7f3a")

    def test_check_connection_passes(self, connector: AtsConnector) -> None:
        connector.check_connection()
