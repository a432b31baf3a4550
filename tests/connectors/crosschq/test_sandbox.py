"""Tests of the Crosschq Partner API v2 sandbox over real HTTP on loopback."""

from __future__ import annotations

import base64
import json
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from copy import deepcopy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from connectors.crosschq.sandbox import (
    CrosschqSandbox,
    build_arg_parser,
    main,
    parse_webhook_auth,
)

TOKEN = "sandbox-test-token-8c1f"
REPO_ROOT = Path(__file__).resolve().parents[3]
STATUS_EVENT = "reference_request_status_updated"
ADDED_EVENT = "reference_request_reference_added"
COMPLETED_EVENT = "reference_request_reference_completed"
DECLINED_EVENT = "reference_request_reference_declined"
FULL_EVENT = "reference_request_full_completed"
WEBHOOK_KEYS = {
    "id",
    "candidate",
    "job_position",
    "status",
    "status_message",
    "status_updated_on",
    "progress",
    "references",
    "report_url",
    "report_summary_pdf",
    "report_full_pdf",
    "created_at",
    "updated_on",
    "event_name",
}
RETRIEVE_KEYS = {
    "asmt_score",
    "can_send_reminder",
    "candidate",
    "comments_count",
    "completed_on",
    "created_on",
    "elapsed_level",
    "elapsed_time",
    "flex_params",
    "hire_status",
    "hiring_manager",
    "id",
    "is_past_due",
    "job_position",
    "jobrole",
    "ref_score",
    "references",
    "request_detail_url",
    "requestor",
    "status_description",
    "status_message",
}
MS_STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
US_STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
REQUIRED = ["This field is required."]

BODY: dict[str, Any] = {
    "candidate": {
        "first_name": "Jane",
        "last_name": "Candidate",
        "email": "janecandidate@example.com",
        "mobile_phone": "+15550199",
    },
    "jobrole": "consulting-services-manager",
    "requestor": "recruiter@yourcompany.com",
    "use_sms": True,
    "flex_params": {
        "relationships": [
            {"rel": "any", "required": 1, "notes": "Your best reference."},
            {"rel": "managers", "required": 1, "notes": "A former manager."},
        ]
    },
    "send_past_due_notification": False,
    "send_completed_notification": False,
    "job_position": "Business Consultant",
    "hiring_manager": {
        "first_name": "Mary",
        "last_name": "Hiring",
        "email": "mary@yourcompany.com",
    },
}


# --------------------------------------------------------------------- helpers
class Receiver:
    """Tiny webhook endpoint that records every delivery."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.answers: list[int] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _record(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    receiver.received.append(
                        {
                            "method": self.command,
                            "headers": dict(self.headers.items()),
                            "json": json.loads(body),
                        }
                    )
                    status = receiver.answers.pop(0) if receiver.answers else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_POST = _record
            do_PUT = _record

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/crosschq"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def bodies(self) -> list[dict[str, Any]]:
        with self.lock:
            return [item["json"] for item in self.received]

    def events(self) -> list[tuple[str, str]]:
        return [(body["event_name"], body["status"]) for body in self.bodies()]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Client:
    """requests wrapper for one sandbox."""

    def __init__(self, sandbox: CrosschqSandbox, token: str = TOKEN) -> None:
        self.sandbox = sandbox
        self.base = sandbox.url
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.headers["Authorization"] = f"Token {token}"

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.session.request(method, self.base + path.lstrip("/"), timeout=10, **kwargs)

    def create(self, **changes: Any) -> str:
        body = deepcopy(BODY)
        body.update(changes)
        answer = self.call("POST", "api/v2/reference-request/", json=body)
        assert answer.status_code == 201, answer.text
        return str(answer.json()["request_id"])

    def retrieve(self, rid: str) -> dict[str, Any]:
        answer = self.call("GET", f"api/v2/reference-request/{rid}/")
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def control(self, rid: str, action: str, expect: int = 200, **body: Any) -> dict[str, Any]:
        answer = self.call("POST", f"_sandbox/requests/{rid}/{action}", json=body)
        assert answer.status_code == expect, answer.text
        return dict(answer.json())

    def to_collecting(self, rid: str, references: int = 2) -> None:
        self.control(rid, "accept")
        self.control(rid, "self-assessment")
        for _ in range(references):
            self.control(rid, "add-reference")

    def webhooks(self) -> list[dict[str, Any]]:
        assert self.sandbox.wait_idle(10)
        return list(self.call("GET", "_sandbox/webhooks").json())


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    hook = Receiver()
    yield hook
    hook.close()


@pytest.fixture
def sandbox(receiver: Receiver) -> Iterator[CrosschqSandbox]:
    with CrosschqSandbox(
        token=TOKEN, webhook_url=receiver.url, webhook_retry_delays=(0.05, 0.05, 0.05)
    ) as box:
        yield box


@pytest.fixture
def api(sandbox: CrosschqSandbox) -> Client:
    return Client(sandbox)


# ------------------------------------------------------------ authentication
def test_authentication(api: Client) -> None:
    path = api.base + "api/v2/settings/jobrole/"
    anonymous = requests.get(path, timeout=5)
    assert anonymous.status_code == 401
    assert anonymous.json() == {"detail": "Authentication credentials were not provided."}
    wrong = requests.get(path, headers={"Authorization": "Token nope"}, timeout=5)
    assert wrong.status_code == 401
    assert wrong.json() == {"detail": "Invalid token."}
    for header in (f"Token {TOKEN}", f"token {TOKEN}", f"Bearer {TOKEN}"):
        assert requests.get(path, headers={"authorization": header}, timeout=5).status_code == 200
    other_scheme = requests.get(path, headers={"Authorization": f"Basic {TOKEN}"}, timeout=5)
    assert other_scheme.status_code == 401


def test_custom_auth_scheme() -> None:
    with CrosschqSandbox(token=TOKEN, auth_scheme="Api-Key") as box:
        path = box.url + "api/v2/settings/jobrole/"
        assert requests.get(path, headers={"Authorization": f"Api-Key {TOKEN}"}, timeout=5).ok
        assert requests.get(path, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5).ok
        assert (
            requests.get(path, headers={"Authorization": f"Token {TOKEN}"}, timeout=5).status_code
            == 401
        )


def test_unknown_paths_and_methods(api: Client) -> None:
    assert api.call("GET", "api/v2/reference-request/0123abcd/").json() == {"detail": "Not found."}
    assert api.call("GET", "api/v2/reference-request/0123abcd/").status_code == 404
    assert api.call("GET", "api/v2/settings/jobrole").status_code == 404
    assert api.call("POST", "api/v2/reference-request", json=BODY).status_code == 404
    assert api.call("GET", "api/v2/nothing/").status_code == 404
    wrong_method = api.call("POST", "api/v2/settings/jobrole/")
    assert wrong_method.status_code == 405
    assert wrong_method.json() == {"detail": 'Method "POST" not allowed.'}


# ----------------------------------------------------------------- job roles
def test_jobrole_catalogue_and_toggle(api: Client) -> None:
    roles = {role["codename"]: role for role in api.call("GET", "api/v2/settings/jobrole/").json()}
    assert {
        "brand-marketer-manager",
        "brand-marketer-team-member",
        "consulting-services-manager",
    } <= set(roles)
    spec_entry = {
        "default": 2,
        "max": 10,
        "min": 0,
        "skip_reference_optin": False,
        "whv_mode": "default",
    }
    consulting = roles["consulting-services-manager"]
    assert consulting["name"] == "Consulting Services - Manager"
    assert consulting["relationships"] == {
        "business": {**spec_entry, "label": "Customers/Suppliers"},
        "employees": {**spec_entry, "label": "Direct Reports"},
        "managers": {**spec_entry, "label": "Managers"},
        "peers": {**spec_entry, "label": "Coworkers/Peers"},
        "social": {**spec_entry, "label": "Mentors"},
    }
    tight = roles["software-engineer-ic"]["relationships"]["managers"]
    assert (tight["min"], tight["max"]) == (1, 3)

    assert api.call("POST", "_sandbox/jobroles/brand-marketer-manager/disable").ok
    listed = [role["codename"] for role in api.call("GET", "api/v2/settings/jobrole/").json()]
    assert "brand-marketer-manager" not in listed
    body = {**BODY, "jobrole": "brand-marketer-manager"}
    refused = api.call("POST", "api/v2/reference-request/", json=body)
    assert refused.status_code == 400
    assert refused.json() == {"errors": {"jobrole": ["Invalid job role."]}}
    assert api.call("POST", "_sandbox/jobroles/brand-marketer-manager/enable").ok
    assert api.create(jobrole="brand-marketer-manager")
    assert api.call("POST", "_sandbox/jobroles/unknown-role/disable").status_code == 404


# -------------------------------------------------------------------- create
def _body_without(*path: str) -> dict[str, Any]:
    body = deepcopy(BODY)
    target = body
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return body


def _body_with(value: Any, *path: str | int) -> dict[str, Any]:
    body = deepcopy(BODY)
    target: Any = body
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return body


def _rel_error(first: dict[str, Any], second: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"errors": {"flex_params": {"relationships": [first, second or {}]}}}


CREATE_ERRORS = [
    (_body_without("candidate", "email"), {"errors": {"candidate": {"email": REQUIRED}}}),
    (_body_without("candidate", "first_name"), {"errors": {"candidate": {"first_name": REQUIRED}}}),
    (_body_without("candidate", "last_name"), {"errors": {"candidate": {"last_name": REQUIRED}}}),
    (
        _body_with("jane-at-example", "candidate", "email"),
        {"errors": {"candidate": {"email": ["Enter a valid email address."]}}},
    ),
    (_body_without("candidate"), {"errors": {"candidate": REQUIRED}}),
    (_body_without("requestor"), {"errors": {"requestor": REQUIRED}}),
    (
        _body_with("recruiter", "requestor"),
        {"errors": {"requestor": ["Enter a valid email address."]}},
    ),
    (_body_without("jobrole"), {"errors": {"jobrole": REQUIRED}}),
    (_body_with("astronaut", "jobrole"), {"errors": {"jobrole": ["Invalid job role."]}}),
    (
        _body_with("friends", "flex_params", "relationships", 0, "rel"),
        _rel_error({"rel": ['"friends" is not a valid choice.']}),
    ),
    (
        _body_with(0, "flex_params", "relationships", 0, "required"),
        _rel_error({"required": ["Ensure this value is greater than or equal to 1."]}),
    ),
    (
        _body_with(11, "flex_params", "relationships", 1, "required"),
        _rel_error({}, {"required": ["Ensure this value is less than or equal to 10."]}),
    ),
    (
        _body_with("two", "flex_params", "relationships", 0, "required"),
        _rel_error({"required": ["A valid integer is required."]}),
    ),
    (
        _body_with([], "flex_params", "relationships"),
        {"errors": {"flex_params": {"relationships": ["This list may not be empty."]}}},
    ),
    (
        _body_with("mary", "hiring_manager", "email"),
        {"errors": {"hiring_manager": {"email": ["Enter a valid email address."]}}},
    ),
    (
        {
            **_body_with("software-engineer-ic", "jobrole"),
            "flex_params": {"relationships": [{"rel": "managers", "required": 4}]},
        },
        {
            "errors": {
                "flex_params": {
                    "relationships": [
                        {"required": ["Ensure this value is less than or equal to 3."]}
                    ]
                }
            }
        },
    ),
    (
        {
            **_body_with("software-engineer-ic", "jobrole"),
            "flex_params": {"relationships": [{"rel": "employees", "required": 1}]},
        },
        {
            "errors": {
                "flex_params": {"relationships": [{"rel": ['"employees" is not a valid choice.']}]}
            }
        },
    ),
    (
        ["not", "an", "object"],
        {"errors": {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]}},
    ),
]


@pytest.mark.parametrize(("body", "expected"), CREATE_ERRORS)
def test_create_validation_errors(api: Client, body: Any, expected: dict[str, Any]) -> None:
    answer = api.call("POST", "api/v2/reference-request/", json=body)
    assert answer.status_code == 400
    assert answer.json() == expected


def test_create_rejects_non_json(api: Client) -> None:
    answer = api.call(
        "POST",
        "api/v2/reference-request/",
        data="{candidate: nope",
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == 400
    assert answer.json()["detail"].startswith("JSON parse error")
    assert api.call("GET", "_sandbox/requests").json() == []


def test_create_sends_sent_webhook(api: Client, receiver: Receiver) -> None:
    rid = api.create()
    assert re.fullmatch(r"[0-9a-f]{32}", rid)
    api.webhooks()
    [body] = receiver.bodies()
    assert set(body) == WEBHOOK_KEYS
    assert body["id"] == rid
    assert (body["event_name"], body["status"], body["status_message"]) == (
        STATUS_EVENT,
        "sent",
        "Sent",
    )
    assert body["progress"] == 0
    assert body["references"] == []
    assert body["candidate"] == BODY["candidate"]
    assert body["job_position"] == "Business Consultant"
    assert body["report_url"].endswith(f"/request/references/{rid}/")
    assert (body["report_summary_pdf"], body["report_full_pdf"]) == ("", "")
    assert MS_STAMP.match(body["status_updated_on"])
    assert US_STAMP.match(body["created_at"]) and US_STAMP.match(body["updated_on"])
    assert receiver.received[0]["headers"]["Content-Type"] == "application/json"
    assert "Authorization" not in receiver.received[0]["headers"]


# ------------------------------------------------------------------ retrieve
def test_retrieve_shape(api: Client) -> None:
    rid = api.create()
    body = api.retrieve(rid)
    assert set(body) == RETRIEVE_KEYS
    assert "status" not in body
    assert body["id"] == rid
    assert body["status_message"] == "Sent"
    assert body["status_description"] == (
        "The request was sent to the candidate, but it has not yet been accepted."
    )
    assert set(body["candidate"]) == {
        "avatar",
        "created_on",
        "email",
        "first_name",
        "id",
        "last_name",
        "mobile_phone",
    }
    assert body["candidate"]["email"] == "janecandidate@example.com"
    assert body["jobrole"] == {
        "id": "consulting-services-manager",
        "name": "Consulting Services - Manager",
    }
    relationships = body["flex_params"]["relationships"]
    assert [(item["rel"], item["required"]) for item in relationships] == [
        ("any", 1),
        ("managers", 1),
    ]
    assert all(set(item) == {"id", "notes", "rel", "required"} for item in relationships)
    assert body["hiring_manager"] == {
        "email": "mary@yourcompany.com",
        "first_name": "Mary",
        "last_name": "Hiring",
        "title": "",
    }
    assert body["requestor"]["email"] == "recruiter@yourcompany.com"
    assert {"avatar", "id", "org"} <= set(body["requestor"])
    assert body["can_send_reminder"] is False
    assert body["completed_on"] is None and body["ref_score"] is None
    assert body["hire_status"] == "unknown"
    assert isinstance(body["elapsed_time"], int)

    assert api.call("POST", "_sandbox/config", json={"retrieve_includes_status": True}).ok
    assert api.retrieve(rid)["status"] == "sent"


# ---------------------------------------------------------------------- edit
def test_edit(api: Client) -> None:
    rid = api.create()
    patch = {
        "sms_message": "hello there",
        "flex_params": {"relationships": [{"rel": "any", "required": 2, "notes": "Two please."}]},
        "hiring_manager": {"first_name": "Joe", "last_name": "Doe", "email": "joe.doe@example.com"},
        "candidate_message": "hello there 2",
        "use_sms": True,
    }
    answer = api.call("PATCH", f"api/v2/reference-request/{rid}/edit/", json=patch)
    assert answer.status_code == 200, answer.text
    assert set(answer.json()) == RETRIEVE_KEYS
    assert answer.json()["hiring_manager"]["email"] == "joe.doe@example.com"
    assert [item["required"] for item in answer.json()["flex_params"]["relationships"]] == [2]

    bad_manager = api.call(
        "PATCH",
        f"api/v2/reference-request/{rid}/edit/",
        json={"hiring_manager": {"first_name": "Joe"}},
    )
    assert bad_manager.status_code == 400
    assert bad_manager.json() == {"errors": {"hiring_manager": {"email": REQUIRED}}}
    bad_rel = api.call(
        "PATCH",
        f"api/v2/reference-request/{rid}/edit/",
        json={"flex_params": {"relationships": [{"rel": "pets", "required": 1}]}},
    )
    assert bad_rel.status_code == 400
    assert api.call("POST", f"api/v2/reference-request/{rid}/edit/", json=patch).status_code == 405

    api.to_collecting(rid, references=1)
    locked = api.call(
        "PATCH", f"api/v2/reference-request/{rid}/edit/", json={"flex_params": patch["flex_params"]}
    )
    assert locked.status_code == 400
    assert api.call("POST", f"api/v2/reference-request/{rid}/cancel/").ok
    terminal = api.call("PATCH", f"api/v2/reference-request/{rid}/edit/", json={"sms_message": "x"})
    assert terminal.status_code == 400
    assert "detail" in terminal.json()
    assert api.call("PATCH", "api/v2/reference-request/ffff/edit/", json={}).status_code == 404


# -------------------------------------------------------- cancel / conclude
def test_cancel(api: Client, receiver: Receiver) -> None:
    rid = api.create()
    answer = api.call("POST", f"api/v2/reference-request/{rid}/cancel/")
    assert answer.status_code == 200
    assert answer.json()["status_message"] == "Canceled"
    again = api.call("POST", f"api/v2/reference-request/{rid}/cancel/")
    assert again.status_code == 400 and "detail" in again.json()
    assert api.call("POST", f"api/v2/reference-request/{rid}/conclude/").status_code == 400
    api.webhooks()
    assert receiver.events() == [(STATUS_EVENT, "sent"), (STATUS_EVENT, "canceled")]
    assert receiver.bodies()[-1]["status_message"] == "Canceled"


def test_conclude(api: Client, receiver: Receiver) -> None:
    rid = api.create()
    early = api.call("POST", f"api/v2/reference-request/{rid}/conclude/")
    assert early.status_code == 400 and "detail" in early.json()
    api.to_collecting(rid)
    assert api.call("POST", f"api/v2/reference-request/{rid}/conclude/").status_code == 400
    api.control(rid, "complete-reference")
    answer = api.call("POST", f"api/v2/reference-request/{rid}/conclude/")
    assert answer.status_code == 200
    assert answer.json()["status_message"] == "Concluded"
    assert [ref["status"] for ref in answer.json()["references"]] == ["completed", "canceled"]
    api.webhooks()
    assert receiver.events()[-2:] == [(STATUS_EVENT, "concluded"), (FULL_EVENT, "concluded")]
    final = receiver.bodies()[-1]
    assert isinstance(final["score"], float)
    assert final["report_full_pdf"].endswith("report=full")
    assert api.call("GET", f"api/v2/reference-request/{rid}/download-report/").status_code == 200
    assert api.call("POST", f"api/v2/reference-request/{rid}/conclude/").status_code == 400


# ----------------------------------------------------------------- reminders
def test_reminders(api: Client) -> None:
    rid = api.create()
    path = f"api/v2/reference-request/{rid}/send-reminder/"
    refused = api.call("POST", path)
    assert refused.status_code == 400
    assert refused.json() == {"detail": "Reminder cannot be sent yet."}
    api.control(rid, "allow-reminder")
    assert api.retrieve(rid)["can_send_reminder"] is True
    assert api.call("POST", path).status_code == 200
    assert api.retrieve(rid)["can_send_reminder"] is False
    assert api.call("POST", path).status_code == 400
    assert api.call("POST", "_sandbox/config", json={"reminder_delay_seconds": 0}).ok
    assert api.call("POST", path).status_code == 200
    assert api.call("GET", f"_sandbox/requests/{rid}").json()["reminders_sent"] == 2
    assert api.call("POST", f"api/v2/reference-request/{rid}/cancel/").ok
    assert api.call("POST", path).status_code == 400


# ------------------------------------------------------------------- reports
def test_download_report(api: Client) -> None:
    rid = api.create()
    path = f"api/v2/reference-request/{rid}/download-report/"
    assert api.call("GET", path).status_code == 400
    api.to_collecting(rid)
    api.control(rid, "complete-reference")
    api.control(rid, "complete-reference")
    not_ready = api.call("GET", path)
    assert not_ready.status_code == 400 and "detail" in not_ready.json()
    api.control(rid, "report-ready")
    assert api.call("GET", path, params={"report": "brief"}).status_code == 400
    summary = api.call("GET", path)
    full = api.call("GET", path, params={"report": "full"})
    explicit = api.call("GET", path, params={"report": "summary"})
    for answer in (summary, full, explicit):
        assert answer.status_code == 200
        assert answer.headers["Content-Type"] == "application/pdf"
        assert answer.content.startswith(b"%PDF")
        assert b"Jane Candidate" in answer.content
        assert b"Business Consultant" in answer.content
    assert summary.content != full.content
    assert len(full.content) > len(summary.content)
    assert b"Reference 1:" in full.content and b"Reference 1:" not in summary.content
    assert b"Reference1 Sandbox" in summary.content


# ----------------------------------------------------------------- lifecycle
def test_full_lifecycle_webhooks(api: Client, receiver: Receiver) -> None:
    rid = api.create()
    api.control(rid, "accept")
    api.control(rid, "self-assessment")
    first = api.control(rid, "add-reference", relationship="managers", first_name="Mike")
    second = api.control(rid, "add-reference")
    assert (first["index"], second["index"]) == (0, 1)
    api.control(rid, "add-reference", expect=400)
    api.control(rid, "complete-reference", index=1)
    done = api.control(rid, "complete-reference")
    assert (done["status"], done["progress"]) == ("completed", 100)
    api.control(rid, "report-ready")
    api.webhooks()

    assert receiver.events() == [
        (STATUS_EVENT, "sent"),
        (STATUS_EVENT, "accepted"),
        (STATUS_EVENT, "assigning"),
        (STATUS_EVENT, "collecting"),
        (ADDED_EVENT, "collecting"),
        (COMPLETED_EVENT, "collecting"),
        (COMPLETED_EVENT, "completed"),
        (FULL_EVENT, "completed"),
    ]
    bodies = receiver.bodies()
    assert [body["progress"] for body in bodies] == [0, 0, 50, 75, 75, 75, 100, 100]
    assert [body["status_message"] for body in bodies[:4]] == [
        "Sent",
        "Accepted",
        "Assigning",
        "Collecting",
    ]
    for body in bodies:
        assert set(body) - {"score"} == WEBHOOK_KEYS
        assert body["id"] == rid
        assert MS_STAMP.match(body["status_updated_on"]) and US_STAMP.match(body["updated_on"])
    assert ["score" in body for body in bodies] == [False] * 6 + [True, True]
    assert bodies[-1]["score"] == bodies[-2]["score"]
    assert len(bodies[3]["references"]) == 1 and len(bodies[4]["references"]) == 2
    assert bodies[3]["references"][0] == {
        "first_name": "Mike",
        "last_name": "Sandbox",
        "mobile_phone": bodies[3]["references"][0]["mobile_phone"],
        "email": bodies[3]["references"][0]["email"],
        "status": "pending",
        "relationship": "managers",
        "workplace_name": "Evergreen",
        "job_title": "Engineer",
    }
    assert [ref["status"] for ref in bodies[5]["references"]] == ["pending", "completed"]
    updated = [body["updated_on"] for body in bodies]
    assert updated == sorted(updated) and len(set(updated)) == len(updated)
    changes = [body["status_updated_on"] for body in bodies]
    assert changes == sorted(changes)
    per_status = {body["status"]: body["status_updated_on"] for body in bodies}
    assert len(set(per_status.values())) == len(per_status)
    assert bodies[-2]["report_summary_pdf"] == ""
    summary_url = bodies[-1]["report_summary_pdf"]
    assert summary_url.startswith(api.base) and summary_url.endswith("report=summary")
    pdf = api.session.get(summary_url, timeout=10)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")

    retrieved = api.retrieve(rid)
    assert retrieved["status_message"] == "Completed"
    assert retrieved["completed_on"] is not None and retrieved["ref_score"] == bodies[-1]["score"]
    summary = api.call("GET", f"_sandbox/requests/{rid}").json()
    assert summary["report_ready"] is True and summary["references_count"] == 2


def test_decline_and_replacement(api: Client, receiver: Receiver) -> None:
    rid = api.create(flex_params={"relationships": [{"rel": "peers", "required": 1}]})
    api.to_collecting(rid, references=1)
    declined = api.control(rid, "decline-reference")
    assert declined["index"] == 0
    api.control(rid, "add-reference", relationship="peers")
    api.control(rid, "complete-reference")
    api.webhooks()
    assert receiver.events()[3:] == [
        (STATUS_EVENT, "collecting"),
        (ADDED_EVENT, "collecting"),
        (DECLINED_EVENT, "collecting"),
        (ADDED_EVENT, "collecting"),
        (COMPLETED_EVENT, "completed"),
    ]
    assert [ref["status"] for ref in receiver.bodies()[-1]["references"]] == [
        "declined",
        "completed",
    ]


def test_candidate_and_automatic_endings(api: Client, receiver: Receiver) -> None:
    canceled, declined, expired, concluded = (api.create() for _ in range(4))
    api.control(canceled, "candidate-cancel")
    api.control(declined, "candidate-decline")
    api.control(expired, "auto-cancel")
    api.control(concluded, "auto-conclude", expect=400)
    api.to_collecting(concluded)
    api.control(concluded, "complete-reference")
    api.control(concluded, "auto-conclude")
    api.control(canceled, "accept", expect=400)
    api.webhooks()
    last = {body["id"]: body for body in receiver.bodies()}
    assert (last[canceled]["status"], last[canceled]["status_message"]) == (
        "canceled-by-candidate",
        "Canceled",
    )
    assert (last[declined]["status"], last[declined]["status_message"]) == ("declined", "Declined")
    assert (last[expired]["status"], last[expired]["status_message"]) == (
        "auto-canceled",
        "Auto-canceled",
    )
    assert (last[expired]["report_summary_pdf"], last[expired]["report_full_pdf"]) == ("", "")
    for rid in (canceled, declined, expired):
        assert last[rid]["event_name"] == STATUS_EVENT
    auto = last[concluded]
    assert (auto["event_name"], auto["status"], auto["status_message"]) == (
        FULL_EVENT,
        "auto-concluded",
        "Auto-concluded",
    )
    assert auto["progress"] == 100 and "score" in auto and auto["report_full_pdf"]
    assert api.call("GET", f"api/v2/reference-request/{concluded}/download-report/").ok
    assert (
        api.call("GET", f"api/v2/reference-request/{expired}/download-report/").status_code == 400
    )


def test_auto_report_and_score_flag(api: Client, receiver: Receiver) -> None:
    assert api.call(
        "POST", "_sandbox/config", json={"auto_report": True, "score_enabled": False}
    ).ok
    rid = api.create(flex_params={"relationships": [{"rel": "any", "required": 1}]})
    api.to_collecting(rid, references=1)
    api.control(rid, "complete-reference")
    api.webhooks()
    assert receiver.events()[-2:] == [(COMPLETED_EVENT, "completed"), (FULL_EVENT, "completed")]
    assert all("score" not in body for body in receiver.bodies())
    assert api.call("POST", "_sandbox/config", json={"bogus": 1}).status_code == 400


# ------------------------------------------------------------ webhook wiring
def test_webhook_basic_auth_and_put(receiver: Receiver) -> None:
    with CrosschqSandbox(
        token=TOKEN,
        webhook_url=receiver.url,
        webhook_auth=("basic", "hook", "p:ss"),
        webhook_method="PUT",
    ) as box:
        Client(box).create()
        assert box.wait_idle(5)
    [delivery] = receiver.received
    assert delivery["method"] == "PUT"
    expected = "Basic " + base64.b64encode(b"hook:p:ss").decode()
    assert delivery["headers"]["Authorization"] == expected


def test_webhook_token_auth_via_config(api: Client, receiver: Receiver) -> None:
    config = api.call("POST", "_sandbox/config", json={"webhook_auth": "token:s3cret"}).json()
    assert config["webhook_auth"] == "token:***"
    api.create()
    api.webhooks()
    assert receiver.received[0]["method"] == "POST"
    assert receiver.received[0]["headers"]["Authorization"] == "Token s3cret"


def test_webhook_retries_then_delivers(api: Client, receiver: Receiver) -> None:
    receiver.answers.extend([500, 503])
    rid = api.create()
    log = api.webhooks()
    assert [(item["attempt"], item["http_status"], item["delivered"]) for item in log] == [
        (1, 500, False),
        (2, 503, False),
        (3, 200, True),
    ]
    assert all(item["request_id"] == rid and item["event_name"] == STATUS_EVENT for item in log)
    assert len(receiver.received) == 3


def test_webhook_gives_up_after_retries(api: Client, receiver: Receiver) -> None:
    receiver.answers.extend([500] * 10)
    api.create()
    log = api.webhooks()
    assert [item["attempt"] for item in log] == [1, 2, 3, 4]
    assert not any(item["delivered"] for item in log)


def test_without_webhook_url_events_are_recorded() -> None:
    with CrosschqSandbox(token=TOKEN) as box:
        client = Client(box)
        client.create()
        [entry] = client.webhooks()
    assert entry["delivered"] is False and entry["attempt"] == 0 and entry["status"] == "sent"


# -------------------------------------------------------------------- faults
def test_fault_fail_next_then_success(api: Client) -> None:
    assert api.call("POST", "_sandbox/faults", json={"fail_next": [500, 500]}).ok
    statuses = [
        api.call("POST", "api/v2/reference-request/", json=BODY).status_code for _ in range(3)
    ]
    assert statuses == [500, 500, 201]
    calls = api.call("GET", "_sandbox/calls").json()
    assert [(call["method"], call["path"], call["status"]) for call in calls] == [
        ("POST", "/api/v2/reference-request/", 500),
        ("POST", "/api/v2/reference-request/", 500),
        ("POST", "/api/v2/reference-request/", 201),
    ]
    assert len(api.call("GET", "_sandbox/requests").json()) == 1


def test_fault_throttling_and_latency(api: Client) -> None:
    assert api.call("POST", "_sandbox/faults", json={"error_rate_429": 1.0, "retry_after": 2}).ok
    throttled = api.call("GET", "api/v2/settings/jobrole/")
    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"] == "2"
    assert "throttled" in throttled.json()["detail"]
    assert api.call("GET", "_sandbox/requests").status_code == 200
    assert api.call("DELETE", "_sandbox/faults").ok
    assert api.call("GET", "api/v2/settings/jobrole/").status_code == 200

    assert api.call("POST", "_sandbox/faults", json={"error_rate_500": 1.0}).ok
    assert api.call("GET", "api/v2/settings/jobrole/").status_code == 500
    assert api.call("DELETE", "_sandbox/faults").ok

    assert api.call("POST", "_sandbox/faults", json={"latency_ms": 250}).ok
    started = time.monotonic()
    assert api.call("GET", "api/v2/settings/jobrole/").ok
    assert time.monotonic() - started >= 0.25
    started = time.monotonic()
    assert api.call("GET", "_sandbox/calls").ok
    assert time.monotonic() - started < 0.25
    assert api.call("POST", "_sandbox/faults", json={"error_rate_429": 3}).status_code == 400


def test_fault_drop_and_duplicate_webhooks(api: Client, receiver: Receiver) -> None:
    assert api.call("POST", "_sandbox/faults", json={"drop_webhooks": 1.0}).ok
    dropped = api.create()
    log = api.webhooks()
    assert receiver.received == []
    assert [(item["request_id"], item["dropped"], item["delivered"]) for item in log] == [
        (dropped, True, False)
    ]

    assert api.call(
        "POST", "_sandbox/faults", json={"drop_webhooks": 0, "duplicate_webhooks": 1.0}
    ).ok
    doubled = api.create()
    log = api.webhooks()
    assert [body["id"] for body in receiver.bodies()] == [doubled, doubled]
    assert receiver.bodies()[0] == receiver.bodies()[1]
    assert [item["duplicate"] for item in log[1:]] == [False, True]


def test_fault_reorder_webhooks(api: Client, receiver: Receiver) -> None:
    faults = {"reorder_webhooks": True, "reorder_window_ms": 300, "seed": 7}
    assert api.call("POST", "_sandbox/faults", json=faults).ok
    created = [api.create() for _ in range(6)]
    api.webhooks()
    delivered = [body["id"] for body in receiver.bodies()]
    assert sorted(delivered) == sorted(created)
    assert delivered != created


def test_resend_webhook_and_reset(api: Client, receiver: Receiver) -> None:
    rid = api.create()
    api.control(rid, "resend-webhook")
    log = api.webhooks()
    assert receiver.bodies()[0] == receiver.bodies()[1]
    assert [item["duplicate"] for item in log] == [False, True]

    assert api.call("POST", "_sandbox/reset").json() == {"reset": True}
    assert api.call("GET", "_sandbox/requests").json() == []
    assert api.call("GET", "_sandbox/calls").json() == []
    assert api.call("GET", "_sandbox/webhooks").json() == []
    assert api.call("GET", f"api/v2/reference-request/{rid}/").status_code == 404
    assert api.call("POST", "_sandbox/wait-idle").json() == {"idle": True}
    assert api.call("GET", "_sandbox/nothing").status_code == 404


# ------------------------------------------------------------------------ CLI
def test_parse_webhook_auth() -> None:
    assert parse_webhook_auth(None) is None
    assert parse_webhook_auth("") is None
    assert parse_webhook_auth("basic:user:pa:ss") == ("basic", "user", "pa:ss")
    assert parse_webhook_auth("Token:abc") == ("token", "abc")
    for bad in ("basic:onlyuser", "token:", "hmac:secret-value"):
        with pytest.raises(ValueError) as error:
            parse_webhook_auth(bad)
        assert "secret-value" not in str(error.value)


def test_arg_parser() -> None:
    args = build_arg_parser().parse_args(
        [
            "--port",
            "9000",
            "--token",
            "T",
            "--webhook-url",
            "http://127.0.0.1:1/h",
            "--webhook-auth",
            "token:S",
            "--webhook-method",
            "put",
            "--auto-report",
        ]
    )
    assert (args.port, args.token, args.webhook_url, args.webhook_auth) == (
        9000,
        "T",
        "http://127.0.0.1:1/h",
        "token:S",
    )
    assert (args.webhook_method, args.auto_report, args.auth_scheme, args.host) == (
        "PUT",
        True,
        "Token",
        "127.0.0.1",
    )
    with pytest.raises(SystemExit):
        main(["--port", "0", "--token", "T", "--webhook-auth", "nonsense"])


def test_main_serves_until_sigterm() -> None:
    secret = "cli-secret-token-42"
    process = subprocess.Popen(
        [sys.executable, "-m", "connectors.crosschq.sandbox", "--port", "0", "--token", secret],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        match = re.fullmatch(r"crosschq sandbox listening on (http://127\.0\.0\.1:\d+/)", line)
        assert match, line
        answer = requests.get(
            match.group(1) + "api/v2/settings/jobrole/",
            headers={"Authorization": f"Token {secret}"},
            timeout=5,
        )
        assert answer.status_code == 200
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0
    assert secret not in line + out + err
