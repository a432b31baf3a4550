"""Flows A and B as plain functions: the in-memory ATS, the Crosschq sandbox over loopback HTTP,
real Redis. (The same flows run under real Celery workers in tests/e2e.)"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import requests

from config.rules import load_rules
from config.settings import Settings
from connectors.ats import EventKind
from connectors.crosschq.client import CrosschqClient
from connectors.crosschq.sandbox import CrosschqSandbox
from connectors.errors import MappingError, RequestValidationError
from connectors.fake import InMemoryConnector
from worker.deps import Deps
from worker.flows import requests as flow_a
from worker.flows import results as flow_b
from worker.store import Store

TOKEN = "cq-token"


@pytest.fixture
def crosschq(webhook_sink: Any) -> Iterator[CrosschqSandbox]:
    sandbox = CrosschqSandbox(token=TOKEN, webhook_url=webhook_sink.url, reminder_delay_seconds=0)
    sandbox.start()
    yield sandbox
    sandbox.stop()


@pytest.fixture
def ats() -> InMemoryConnector:
    connector = InMemoryConnector()
    connector.seed_application(
        application_id="6001",
        candidate_id="5001",
        first_name="Casey",
        last_name="Candidate",
        emails=[("casey.work@example.com", "work"), ("casey@example.com", "personal")],
        phones=[("+1 415 555 0134", "mobile")],
        stage_name="Reference Check",
        job_name="Business Consultant",
        recruiter={"id": "1", "first_name": "Riley", "last_name": "Recruiter", "email": "riley@example.com"},
        hiring_managers=[
            {"id": "2", "first_name": "Morgan", "last_name": "Manager", "email": "morgan@example.com"}
        ],
    )
    connector.seed_application(
        application_id="6002",
        candidate_id="5002",
        first_name="No",
        last_name="Email",
        emails=[],
        stage_name="Reference Check",
        recruiter={"email": "riley@example.com"},
    )
    return connector


@pytest.fixture
def deps(
    redis_client: redis.Redis,
    crosschq: CrosschqSandbox,
    ats: InMemoryConnector,
    monkeypatch: pytest.MonkeyPatch,
) -> Deps:
    monkeypatch.setenv("CROSSCHQ_BASE_URL", crosschq.url)
    monkeypatch.setenv("CROSSCHQ_API_TOKEN", TOKEN)
    settings = Settings.load()
    sent: list[tuple[str, dict[str, Any]]] = []
    d = Deps(
        settings=settings,
        store=Store(redis_client),
        crosschq=CrosschqClient.from_settings(settings),
        rules=load_rules(None),
        connectors={"memory": ats},
    )
    d.send_task = lambda name, kwargs: sent.append((name, kwargs))
    d.sent = sent  # type: ignore[attr-defined]
    return d


def stage_event(deps: Deps, ats: InMemoryConnector, app_id: str = "6001") -> str:
    headers, body = ats.make_webhook("candidate_stage_change", app_id, "Reference Check")
    event = ats.verify_and_parse(headers, body)
    event_id, _ = deps.store.store_event(
        source="ats",
        connector="memory",
        dedup_key=event.event_id or app_id,
        body=body,
        headers=headers,
        event=event.model_dump(mode="json"),
    )
    return event_id


def feed_webhooks(deps: Deps, crosschq: CrosschqSandbox, sink: Any, *, owner: str = "t") -> list[str]:
    crosschq.wait_idle()
    outcomes = []
    for body in sink.bodies():
        event_id, new = deps.store.store_event(
            source="crosschq", connector=None, dedup_key=str(hash(body)), body=body, headers={}, event={}
        )
        if new:
            outcomes.append(flow_b.process_crosschq_webhook(deps, event_id, owner=owner))
    sink.clear()
    return outcomes


def control(crosschq: CrosschqSandbox, request_id: str, step: str, **body: Any) -> None:
    response = requests.post(f"{crosschq.url}_sandbox/requests/{request_id}/{step}", json=body, timeout=5)
    assert response.status_code == 200, response.text


def test_stage_change_creates_one_request_with_the_mapped_people(
    deps: Deps, ats: InMemoryConnector, crosschq: CrosschqSandbox
) -> None:
    outcome = flow_a.process_ats_event(deps, stage_event(deps, ats), owner="task-1")
    assert outcome.startswith("request:")
    request_id = outcome.split(":", 1)[1]
    again = flow_a.process_ats_event(deps, stage_event(deps, ats), owner="task-2")
    assert again == outcome
    listing = requests.get(f"{crosschq.url}_sandbox/requests", timeout=5).json()
    assert len(listing) == 1
    detail = requests.get(
        f"{crosschq.url}api/v2/reference-request/{request_id}/",
        headers={"Authorization": f"Token {TOKEN}"},
        timeout=5,
    ).json()
    assert detail["candidate"]["email"] == "casey@example.com"  # personal before work
    assert detail["candidate"]["mobile_phone"] == "+14155550134"
    assert detail["requestor"]["email"] == "riley@example.com"
    assert detail["hiring_manager"]["email"] == "morgan@example.com"
    assert [r["rel"] for r in detail["flex_params"]["relationships"]] == ["managers", "any"]
    state = ats.state("6001")
    assert state["fields"]["status"] == "Sent"
    assert len(state["notes"]) == 1 and request_id in state["notes"][0]


def test_candidate_without_email_gets_a_note_and_a_permanent_failure(
    deps: Deps, ats: InMemoryConnector, crosschq: CrosschqSandbox
) -> None:
    with pytest.raises(MappingError, match="no e-mail"):
        flow_a.process_ats_event(deps, stage_event(deps, ats, "6002"), owner="t")
    with pytest.raises(MappingError):
        flow_a.process_ats_event(deps, stage_event(deps, ats, "6002"), owner="t2")
    notes = ats.state("6002")["notes"]
    assert len(notes) == 1 and "no e-mail" in notes[0]
    assert requests.get(f"{crosschq.url}_sandbox/requests", timeout=5).json() == []


def test_unknown_job_role_is_reported_in_the_ats(deps: Deps, ats: InMemoryConnector) -> None:
    deps.rules = deps.rules.model_copy(
        update={"triggers": (deps.rules.triggers[0].model_copy(update={"jobrole": "astronaut"}),)}
    )
    with pytest.raises(RequestValidationError) as info:
        flow_a.process_ats_event(deps, stage_event(deps, ats), owner="t")
    assert "jobrole" in info.value.field_errors
    assert "astronaut" in ats.state("6001")["notes"][0]


def test_lifecycle_writes_back_in_order_once(
    deps: Deps, ats: InMemoryConnector, crosschq: CrosschqSandbox, webhook_sink: Any
) -> None:
    request_id = flow_a.process_ats_event(deps, stage_event(deps, ats), owner="t").split(":")[1]
    for step in (
        "accept",
        "self-assessment",
        "add-reference",
        "add-reference",
        "complete-reference",
        "complete-reference",
        "report-ready",
    ):
        control(crosschq, request_id, step)
        feed_webhooks(deps, crosschq, webhook_sink)
    state = ats.state("6001")
    statuses = [w["fields"].get("crosschq_status") for w in ats.writes if w["kind"] == "set_reference_fields"]
    # In order; a status may be written twice in a row (the Sent webhook adds the report URL).
    shown = [s for i, s in enumerate(statuses) if s and (i == 0 or s != statuses[i - 1])]
    assert shown == ["Sent", "Accepted", "Assigning", "Collecting", "Completed"]
    assert state["fields"]["progress"] == 100
    assert state["fields"]["score"] is not None
    assert len(state["attachments"]) == 1 and state["attachments"][0]["size"] > 500
    notes = state["notes"]
    assert sum("added by the candidate" in n for n in notes) == 2
    assert sum("completed." in n and "of" in n for n in notes) == 2
    assert sum("reference check completed" in n for n in notes) == 1
    # Every webhook again: nothing new lands.
    before = len(ats.writes)
    control(crosschq, request_id, "resend-webhook")
    feed_webhooks(deps, crosschq, webhook_sink)
    after = ats.state("6001")
    assert len(after["notes"]) == len(notes) and len(after["attachments"]) == 1
    assert len(ats.writes) - before <= 1  # at most an idempotent field write
    # The terminal status was confirmed with Crosschq once: "report ready" after "completed",
    # and the resent webhooks, are of the same family and need no second retrieve.
    calls = requests.get(f"{crosschq.url}_sandbox/calls", timeout=5).json()
    retrieves = [c for c in calls if c["method"] == "GET" and c["path"].rstrip("/").endswith(request_id)]
    assert len(retrieves) == 1, retrieves


def test_webhook_before_the_create_is_recorded_is_kept_and_replayed(
    deps: Deps, ats: InMemoryConnector, crosschq: CrosschqSandbox, webhook_sink: Any
) -> None:
    request_id = flow_a.process_ats_event(deps, stage_event(deps, ats), owner="t").split(":")[1]
    # Forget the request as if the create had not been recorded yet.
    deps.store.r.delete(f"cqw:req:{request_id}")
    outcomes = feed_webhooks(deps, crosschq, webhook_sink)
    assert outcomes == ["orphaned"]
    flow_a.finish_create(
        deps, ats, ats.get_application("6001"), deps.rules.triggers[0], request_id, None, owner="t"
    )
    assert [name for name, _ in deps.sent] == ["crosschq.process_webhook"]  # type: ignore[attr-defined]
    # Replayed after the create is recorded, the orphan still applies: "Sent" written at create
    # time (on the worker's clock) never hides a webhook stamped earlier by Crosschq.
    orphan = deps.sent[0][1]["event_id"]  # type: ignore[attr-defined]
    assert flow_b.process_crosschq_webhook(deps, orphan, owner="t") == "applied:sent"


def test_terminal_webhook_is_confirmed_by_retrieve(
    deps: Deps, ats: InMemoryConnector, crosschq: CrosschqSandbox, webhook_sink: Any
) -> None:
    request_id = flow_a.process_ats_event(deps, stage_event(deps, ats), owner="t").split(":")[1]
    feed_webhooks(deps, crosschq, webhook_sink)
    forged = json.dumps(
        {
            "id": request_id,
            "status": "canceled",
            "status_message": "Canceled",
            "status_updated_on": "2099-01-01T00:00:00Z",
        }
    ).encode()
    event_id, _ = deps.store.store_event(
        source="crosschq", connector=None, dedup_key="forged", body=forged, headers={}, event={}
    )
    flow_b.process_crosschq_webhook(deps, event_id, owner="t")
    state = ats.state("6001")
    assert state["fields"]["status"] == "Sent"
    assert not any("canceled" in n for n in state["notes"])


def test_a_far_future_timestamp_does_not_freeze_the_status(
    deps: Deps, ats: InMemoryConnector, crosschq: CrosschqSandbox, webhook_sink: Any
) -> None:
    request_id = flow_a.process_ats_event(deps, stage_event(deps, ats), owner="t").split(":")[1]
    feed_webhooks(deps, crosschq, webhook_sink)
    future = json.dumps(
        {"id": request_id, "status": "sent", "status_updated_on": "9999-12-31T23:59:59Z"}
    ).encode()
    event_id, _ = deps.store.store_event(
        source="crosschq", connector=None, dedup_key="future", body=future, headers={}, event={}
    )
    flow_b.process_crosschq_webhook(deps, event_id, owner="t")
    assert deps.store.request_state(request_id)["status_key"] < "9999"  # type: ignore[index]
    # Crosschq moves on (its webhook stamped with the real time, a little later): it lands.
    control(crosschq, request_id, "accept")
    feed_webhooks(deps, crosschq, webhook_sink)
    assert ats.state("6001")["fields"]["status"] == "Accepted"


def test_rejection_cancels_the_open_request(
    deps: Deps, ats: InMemoryConnector, crosschq: CrosschqSandbox, webhook_sink: Any
) -> None:
    request_id = flow_a.process_ats_event(deps, stage_event(deps, ats), owner="t").split(":")[1]
    headers, body = ats.make_webhook("reject", "6001")
    event = ats.verify_and_parse(headers, body)
    assert event.kind is EventKind.REJECTED
    event_id, _ = deps.store.store_event(
        source="ats",
        connector="memory",
        dedup_key="rej",
        body=body,
        headers=headers,
        event=event.model_dump(mode="json"),
    )
    assert flow_a.process_ats_event(deps, event_id, owner="t") == "canceled:1"
    detail = requests.get(f"{crosschq.url}_sandbox/requests/{request_id}", timeout=5).json()
    assert detail["status"] == "canceled"
    feed_webhooks(deps, crosschq, webhook_sink)
    assert ats.state("6001")["fields"]["status"] == "Canceled"


def test_a_new_hiring_manager_is_sent_with_edit(deps: Deps, ats: InMemoryConnector,
                                                crosschq: CrosschqSandbox) -> None:
    request_id = flow_a.process_ats_event(deps, stage_event(deps, ats), owner="t").split(":")[1]
    ats.seed_application(
        application_id="6001", candidate_id="5001", first_name="Casey", last_name="Candidate",
        emails=[("casey@example.com", "personal")], stage_name="Reference Check",
        recruiter={"email": "riley@example.com"},
        hiring_managers=[{"first_name": "Jamie", "last_name": "Newlead", "email": "jamie@example.com"}],
    )
    headers, body = ats.make_webhook("update_candidate", "6001")
    event = ats.verify_and_parse(headers, body)
    event_id, _ = deps.store.store_event(source="ats", connector="memory", dedup_key="upd", body=body,
                                         headers=headers, event=event.model_dump(mode="json"))
    flow_a.process_ats_event(deps, event_id, owner="t")
    detail = requests.get(f"{crosschq.url}api/v2/reference-request/{request_id}/",
                          headers={"Authorization": f"Token {TOKEN}"}, timeout=5).json()
    assert detail["hiring_manager"]["email"] == "jamie@example.com"
    edits = [c for c in requests.get(f"{crosschq.url}_sandbox/calls", timeout=5).json()
             if c["method"] == "PATCH"]
    assert len(edits) == 1
    # The same state again: no second edit.
    flow_a.consider_application(deps, ats, "6001", owner="t")
    edits = [c for c in requests.get(f"{crosschq.url}_sandbox/calls", timeout=5).json()
             if c["method"] == "PATCH"]
    assert len(edits) == 1


def test_anonymized_candidate_is_erased_from_the_inbox(deps: Deps, ats: InMemoryConnector) -> None:
    headers, body = ats.make_webhook("candidate_stage_change", "6001", "Reference Check")
    event = ats.verify_and_parse(headers, body)
    kept, _ = deps.store.store_event(source="ats", connector="memory", dedup_key="a", body=body,
                                     headers=headers, event=event.model_dump(mode="json"),
                                     candidate_id="5001")
    headers, body = ats.make_webhook("anonymize_candidate", "6001")
    event = ats.verify_and_parse(headers, body)
    assert event.kind is EventKind.CANDIDATE_ANONYMIZED
    anon, _ = deps.store.store_event(source="ats", connector="memory", dedup_key="b", body=body,
                                     headers=headers, event=event.model_dump(mode="json"),
                                     candidate_id="5001")
    assert flow_a.process_ats_event(deps, anon, owner="t").startswith("erased:")
    stored = deps.store.load_event(kept)
    assert stored is not None and stored.body == b"" and stored.state == "erased"
