"""The Greenhouse sandbox over real HTTP on loopback.

Each test starts its own sandbox and a small HTTP server that captures the webhooks the
sandbox sends, so tests share no state.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from connectors.greenhouse.sandbox import GreenhouseSandbox, build_arg_parser

API_KEY = "test-harvest-key"
SECRET = "test-webhook-secret"
OBO = {"On-Behalf-Of": "1001"}
REPO_ROOT = Path(__file__).resolve().parents[3]


class Receiver:
    """Captures webhook deliveries; answers 200 unless told otherwise."""

    def __init__(self) -> None:
        self.deliveries: list[tuple[dict[str, str], bytes]] = []
        self.statuses: list[int] = []
        self.cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.cond:
                    receiver.deliveries.append((dict(self.headers.items()), body))
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                    receiver.cond.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[tuple[dict[str, str], bytes]]:
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.deliveries) < count:
                remaining = deadline - time.monotonic()
                assert remaining > 0, f"expected {count} webhooks, got {len(self.deliveries)}"
                self.cond.wait(remaining)
            return list(self.deliveries)

    def events(self, count: int) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.wait_for(count)]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    yield rec
    rec.server.shutdown()
    rec.server.server_close()


@pytest.fixture
def sandbox(receiver: Receiver) -> Iterator[GreenhouseSandbox]:
    with GreenhouseSandbox(api_key=API_KEY, webhook_url=receiver.url, webhook_secret=SECRET,
                           rate_limit=1000) as gh:
        yield gh


@pytest.fixture
def api(sandbox: GreenhouseSandbox) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # never route loopback calls through a proxy
    session.auth = (API_KEY, "")
    return session


def control(sandbox: GreenhouseSandbox, method: str, path: str, body: Any = None) -> Any:
    response = requests.request(method, f"{sandbox.url}_sandbox/{path}", json=body, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def token(sandbox: GreenhouseSandbox, sub: str = "1001") -> str:
    response = requests.post(f"{sandbox.url}token", auth=("sandbox-client", API_KEY),
                             data={"grant_type": "client_credentials", "sub": sub}, timeout=10)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# -- v1 auth ---------------------------------------------------------------------------


def test_basic_auth_is_required(sandbox: GreenhouseSandbox, api: requests.Session) -> None:
    url = f"{sandbox.url}v1/applications/6001"
    assert api.get(url).status_code == 200
    missing = requests.get(url, timeout=10)
    assert missing.status_code == 401
    assert missing.json() == {"message": "Invalid Basic Auth credentials"}
    assert requests.get(url, auth=("wrong", ""), timeout=10).status_code == 401
    no_colon = {"Authorization": "Basic " + b64(API_KEY.encode())}
    assert requests.get(url, headers=no_colon, timeout=10).status_code == 401
    assert requests.get(url, headers={"Authorization": "Bearer x"}, timeout=10).status_code == 401


def test_writes_need_an_existing_on_behalf_of_user(
    sandbox: GreenhouseSandbox, api: requests.Session
) -> None:
    url = f"{sandbox.url}v1/applications/6001"
    body = {"custom_fields": [{"name_key": "crosschq_progress", "value": 1}]}
    for headers in ({}, {"On-Behalf-Of": "999999"}, {"On-Behalf-Of": "someone"}):
        refused = api.patch(url, json=body, headers=headers)
        assert refused.status_code == 403
        assert "message" in refused.json()
    assert api.patch(url, json=body, headers=OBO).status_code == 200
    assert [w["acting_user_id"] for w in sandbox.writes()] == [1001]


# -- v1 reads --------------------------------------------------------------------------


def test_reads_application_candidate_job_stages_team_and_users(
    sandbox: GreenhouseSandbox, api: requests.Session
) -> None:
    base = f"{sandbox.url}v1/"
    app = api.get(base + "applications/6001").json()
    assert app["candidate_id"] == 5001 and app["status"] == "active"
    assert app["current_stage"] == {"id": 40012, "name": "Phone Screen"}
    assert app["jobs"] == [{"id": 4001, "name": "Business Consultant"}]
    assert app["source"]["public_name"] and app["credited_to"]["id"] == 1002
    assert {"recruiter", "coordinator", "keyed_custom_fields", "attachments",
            "rejected_at", "last_activity_at"} <= app.keys()

    cand = api.get(base + "candidates/5001").json()
    assert {e["type"] for e in cand["email_addresses"]} == {"personal", "work"}
    assert {p["type"] for p in cand["phone_numbers"]} == {"mobile", "home"}
    assert cand["recruiter"]["id"] == 1002 and cand["coordinator"]["id"] == 1003
    assert cand["tags"] and cand["application_ids"] == [6001]
    assert api.get(base + "candidates/5002").json()["email_addresses"] == []
    third = api.get(base + "applications/6003").json()
    assert third["recruiter"] is None and third["credited_to"]["id"] == 1004
    assert api.get(base + "candidates/5003").json()["recruiter"] is None

    job = api.get(base + "jobs/4001").json()
    assert job["departments"][0]["name"] == "Consulting"
    assert job["offices"][0]["name"] == "Remote"
    stages = api.get(base + "jobs/4001/stages").json()
    assert [s["name"] for s in stages] == [
        "Application Review", "Phone Screen", "Reference Check", "Offer"]
    assert [s["priority"] for s in stages] == [0, 1, 2, 3]
    assert all(s["job_id"] == 4001 and s["active"] for s in stages)
    assert api.get(base + "jobs/4002/stages").json()[2]["id"] == 40023
    team = api.get(base + "jobs/4001/hiring_team").json()
    assert [m["user_id"] for m in team["hiring_managers"]] == [1004, 1005]
    assert team["recruiters"] == [{"user_id": 1002, "active": True, "responsible": True}]

    user = api.get(base + "users/1004").json()
    assert user["name"] == "Harper Manager" and user["primary_email_address"].endswith(
        "@example.com")
    assert len(api.get(base + "users").json()) == 6
    missing = api.get(base + "applications/123")
    assert missing.status_code == 404 and missing.json() == {"message": "Resource not found"}


def test_link_pagination_over_three_pages(sandbox: GreenhouseSandbox,
                                          api: requests.Session) -> None:
    sandbox.seed({"users": [{"first_name": "Extra", "last_name": str(n)} for n in range(3)]})
    url = f"{sandbox.url}v1/users?per_page=3"
    first = api.get(url)
    assert first.links["next"]["url"].endswith("page=2&per_page=3")
    assert first.links["last"]["url"].endswith("page=3&per_page=3")
    assert "prev" not in first.links
    assert first.links["next"]["url"].startswith(sandbox.url)  # built from our Host header
    seen = list(first.json())
    response = first
    while "next" in response.links:
        response = api.get(response.links["next"]["url"])
        seen.extend(response.json())
    assert len(seen) == 9 and len({u["id"] for u in seen}) == 9
    assert response.links["prev"]["url"].endswith("page=2&per_page=3")
    skip = api.get(url + "&skip_count=true&page=2")
    assert set(skip.links) == {"next", "prev"}
    assert "skip_count=true" in skip.links["next"]["url"]
    assert "Link" not in api.get(f"{sandbox.url}v1/users?per_page=100").headers
    assert api.get(f"{sandbox.url}v1/users?per_page=501").status_code == 422
    fields = api.get(f"{sandbox.url}v1/custom_fields/application?per_page=2")
    assert set(fields.links) == {"next"}  # the newer scheme gives only rel="next"
    assert fields.json()[0]["name_key"] == "crosschq_status"


# -- v1 writes -------------------------------------------------------------------------


def test_custom_field_updates_and_validation(sandbox: GreenhouseSandbox,
                                             api: requests.Session) -> None:
    url = f"{sandbox.url}v1/applications/6001"

    def patch(*items: dict[str, Any]) -> requests.Response:
        return api.patch(url, json={"custom_fields": list(items)}, headers=OBO)

    ok = patch({"name_key": "crosschq_status", "value": "Collecting"},
               {"id": 8002, "value": 40}, {"name_key": "crosschq_report_url",
                                           "value": "https://example.com/r/1"})
    assert ok.status_code == 200
    assert ok.json()["custom_fields"]["crosschq_status"] == "Collecting"
    assert ok.json()["keyed_custom_fields"]["crosschq_progress"]["value"] == 40
    by_option_id = patch({"name_key": "crosschq_status", "value": 80015})
    assert by_option_id.json()["custom_fields"]["crosschq_status"] == "Completed"

    for bad in ({"name_key": "no_such_field", "value": 1},
                {"name_key": "crosschq_status", "value": "Done-ish"},
                {"name_key": "crosschq_status", "value": ""},
                {"name_key": "crosschq_score", "value": None},
                {"name_key": "crosschq_report_url", "value": "not a url"}):
        refused = patch(bad)
        assert refused.status_code == 422, bad
        assert refused.json()["message"] == "Validation error"
        assert refused.json()["errors"][0]["field"] == "custom_fields"

    cleared = patch({"name_key": "crosschq_progress", "delete_value": "true"})
    assert cleared.json()["custom_fields"]["crosschq_progress"] is None
    cand = api.patch(f"{sandbox.url}v1/candidates/5001", headers=OBO, json={"custom_fields": [
        {"name_key": "crosschq_candidate_report", "value": "https://example.com/c/1"}]})
    assert cand.status_code == 200
    assert cand.json()["custom_fields"]["crosschq_candidate_report"].endswith("/c/1")
    assert sandbox.application_state(6001)["custom_fields"] == {
        "crosschq_status": "Completed", "crosschq_report_url": "https://example.com/r/1"}


def test_note_keeps_the_legacy_visiblity_key(sandbox: GreenhouseSandbox,
                                             api: requests.Session) -> None:
    url = f"{sandbox.url}v1/candidates/5001/activity_feed/notes"
    created = api.post(url, headers=OBO,
                       json={"user_id": 1001, "body": "References sent", "visibility": "private"})
    assert created.status_code == 201
    note = created.json()
    assert note["visiblity"] == note["visibility"] == "private"
    assert note["private"] is True and note["user"]["id"] == 1001
    assert {"id", "created_at", "body"} <= note.keys()
    feed = api.get(f"{sandbox.url}v1/candidates/5001/activity_feed").json()
    assert [n["body"] for n in feed["notes"]] == ["References sent"]
    assert feed.keys() == {"notes", "emails", "activities"}
    for bad in ({"user_id": 1001, "body": "x"}, {"user_id": 1001, "body": "", "visibility": "public"},
                {"user_id": 424242, "body": "x", "visibility": "public"}):
        assert api.post(url, headers=OBO, json=bad).status_code == 422


def test_attachment_is_stored_with_its_size(sandbox: GreenhouseSandbox,
                                            api: requests.Session) -> None:
    url = f"{sandbox.url}v1/applications/6001/attachments"
    pdf = b"%PDF-1.4\n" + b"x" * 1000
    created = api.post(url, headers=OBO, json={
        "filename": "reference_report.pdf", "type": "other", "content": b64(pdf),
        "content_type": "application/pdf", "visibility": "private"})
    assert created.status_code == 201
    body = created.json()
    assert body.keys() == {"filename", "url", "type", "content_type"}
    assert api.get(body["url"]).content == pdf
    write = sandbox.writes()[-1]
    assert write["kind"] == "attachment" and write["size_bytes"] == len(pdf)
    assert write["visibility"] == "private" and write["content_type"] == "application/pdf"
    default = api.post(url, headers=OBO, json={
        "filename": "a.txt", "type": "other", "content": b64(b"hi"), "content_type": "text/plain"})
    assert default.status_code == 201 and sandbox.writes()[-1]["visibility"] == "admin_only"
    by_url = api.post(url, headers=OBO, json={"filename": "copy.pdf", "type": "other",
                                              "url": body["url"]})
    assert by_url.status_code == 201 and sandbox.writes()[-1]["size_bytes"] == len(pdf)
    for bad in ({"filename": "a.pdf", "type": "other", "content": "%%%",
                 "content_type": "application/pdf"},
                {"filename": "a.pdf", "type": "other", "content": b64(pdf)},
                {"filename": "a.exe", "type": "other", "content": b64(pdf),
                 "content_type": "application/x-msdownload"},
                {"type": "other", "content": b64(pdf), "content_type": "application/pdf"},
                {"filename": "a.pdf", "type": "report", "content": b64(pdf),
                 "content_type": "application/pdf"}):
        assert api.post(url, headers=OBO, json=bad).status_code == 422, bad
    state = sandbox.application_state(6001)
    assert [a["size_bytes"] for a in state["attachments"]] == [len(pdf), 2, len(pdf)]


def test_move_checks_the_from_stage(sandbox: GreenhouseSandbox, api: requests.Session,
                                   receiver: Receiver) -> None:
    url = f"{sandbox.url}v1/applications/6001/move"
    stale = api.post(url, headers=OBO, json={"from_stage_id": 40011, "to_stage_id": 40013})
    assert stale.status_code == 422 and stale.json()["errors"][0]["field"] == "from_stage_id"
    other_job = api.post(url, headers=OBO, json={"from_stage_id": 40012, "to_stage_id": 40023})
    assert other_job.status_code == 422
    moved = api.post(url, headers=OBO, json={"from_stage_id": 40012, "to_stage_id": 40013})
    assert moved.status_code == 200
    assert moved.json()["current_stage"] == {"id": 40013, "name": "Reference Check"}
    write = sandbox.writes()[-1]
    assert (write["kind"], write["from_stage_name"], write["to_stage_id"]) == (
        "stage_move", "Phone Screen", 40013)
    event = receiver.events(1)[0]
    assert event["action"] == "candidate_stage_change"
    assert event["payload"]["application"]["current_stage"]["name"] == "Reference Check"
    advanced = api.post(f"{sandbox.url}v1/applications/6001/advance", headers=OBO,
                        json={"from_stage_id": 40013})
    assert advanced.json()["current_stage"]["name"] == "Offer"
    sandbox.reject(6002)
    not_active = api.post(f"{sandbox.url}v1/applications/6002/move", headers=OBO,
                          json={"from_stage_id": 40012, "to_stage_id": 40013})
    assert not_active.status_code == 422


# -- rate limit and faults -------------------------------------------------------------


def test_rate_limit_headers_and_429(sandbox: GreenhouseSandbox, api: requests.Session) -> None:
    control(sandbox, "POST", "config", {"rate_limit": 3, "rate_window": 1.0})
    url = f"{sandbox.url}v1/users/1001"
    remaining = []
    for _ in range(3):
        response = api.get(url)
        assert response.headers["X-RateLimit-Limit"] == "3"
        remaining.append(response.headers["X-RateLimit-Remaining"])
    assert remaining == ["2", "1", "0"]
    limited = api.get(url)
    assert limited.status_code == 429 and "message" in limited.json()
    assert int(limited.headers["Retry-After"]) >= 1
    assert int(limited.headers["X-RateLimit-Reset"]) >= int(time.time())
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    time.sleep(1.05)
    assert api.get(url).status_code == 200


def test_fault_injection_and_call_log(sandbox: GreenhouseSandbox, api: requests.Session) -> None:
    url = f"{sandbox.url}v1/applications/6001"
    sandbox.configure(fail_next=[503, 500])
    assert [api.get(url).status_code for _ in range(3)] == [503, 500, 200]
    sandbox.configure(unreachable=True)
    down = api.get(url)
    assert down.status_code == 503 and down.content == b""
    sandbox.configure(unreachable=False)
    calls = control(sandbox, "GET", "calls")
    assert [c["status"] for c in calls] == [503, 500, 200, 503]
    assert {c["path"] for c in calls} == {"/v1/applications/6001"}


# -- v3 --------------------------------------------------------------------------------


def test_v3_token_flow(sandbox: GreenhouseSandbox) -> None:
    token_url = f"{sandbox.url}token"
    form = {"grant_type": "client_credentials", "sub": "1001"}
    bad_client = requests.post(token_url, auth=("sandbox-client", "nope"), data=form, timeout=10)
    assert bad_client.status_code == 401 and bad_client.json() == {"error": "invalid_client"}
    bad_sub = requests.post(token_url, auth=("sandbox-client", API_KEY),
                            data={**form, "sub": "999"}, timeout=10)
    assert bad_sub.status_code == 400 and bad_sub.json() == {"error": "invalid_request"}
    issued = requests.post(token_url, auth=("sandbox-client", API_KEY), data=form, timeout=10)
    assert issued.json()["token_type"] == "bearer" and issued.json()["expires_in"] == 3600

    url = f"{sandbox.url}v3/applications/6001"
    bearer = {"Authorization": f"Bearer {issued.json()['access_token']}"}
    ok = requests.get(url, headers=bearer, timeout=10)
    assert ok.status_code == 200 and ok.json()["id"] == 6001
    assert "X-RateLimit-Remaining" in ok.headers
    assert requests.get(url, timeout=10).status_code == 401
    assert requests.get(url, auth=(API_KEY, ""), timeout=10).status_code == 401
    sandbox.configure(expire_tokens=True)
    assert requests.get(url, headers=bearer, timeout=10).status_code == 401
    sandbox.configure(token_expires_in=0)
    short = requests.post(token_url, auth=("sandbox-client", API_KEY), data=form, timeout=10)
    assert short.json()["expires_in"] == 0
    expired = {"Authorization": f"Bearer {short.json()['access_token']}"}
    assert requests.get(url, headers=expired, timeout=10).status_code == 401


def test_v3_cursor_pagination(sandbox: GreenhouseSandbox) -> None:
    headers = {"Authorization": f"Bearer {token(sandbox)}"}
    first = requests.get(f"{sandbox.url}v3/users?per_page=4", headers=headers, timeout=10)
    assert set(first.links) == {"next"}
    next_url = first.links["next"]["url"]
    assert next_url.split("?")[1].startswith("cursor=") and "&" not in next_url.split("?")[1]
    second = requests.get(next_url, headers=headers, timeout=10)
    assert len(first.json()) == 4 and len(second.json()) == 2 and "Link" not in second.headers
    with_other = requests.get(next_url + "&per_page=2", headers=headers, timeout=10)
    assert with_other.status_code == 400
    assert requests.get(f"{sandbox.url}v3/users?page=2", headers=headers,
                        timeout=10).status_code == 400
    stages = requests.get(f"{sandbox.url}v3/job_stages?job_id=4001", headers=headers,
                          timeout=10).json()
    assert [s["id"] for s in stages] == [40011, 40012, 40013, 40014]
    team = requests.get(f"{sandbox.url}v3/jobs/4001/hiring_team", headers=headers, timeout=10)
    assert [m["user_id"] for m in team.json()["hiring_managers"]] == [1004, 1005]


def test_v3_writes_act_as_the_token_user(sandbox: GreenhouseSandbox) -> None:
    session = requests.Session()
    session.trust_env = False
    session.headers["Authorization"] = f"Bearer {token(sandbox, sub='1002')}"
    base = f"{sandbox.url}v3/"
    patched = session.patch(base + "applications/6001", json={
        "custom_fields": [{"name_key": "crosschq_status", "value": "Sent"}]})
    assert patched.status_code == 200
    note = session.post(base + "notes", json={"candidate_id": 5001, "user_id": 1002,
                                              "body": "Sent", "visibility": "admin_only"})
    assert note.status_code == 201 and note.json()["visiblity"] == "admin_only"
    attached = session.post(base + "applications/6001/attachments", json={
        "filename": "r.pdf", "type": "other", "content": b64(b"%PDF"),
        "content_type": "application/pdf"})
    assert attached.status_code == 201
    moved = session.post(base + "applications/6001/move",
                         json={"from_stage_id": 40012, "to_stage_id": 40013})
    assert moved.json()["current_stage"]["id"] == 40013
    notes = session.get(base + "notes?candidate_id=5001").json()
    assert [n["body"] for n in notes] == ["Sent"]
    writes = sandbox.writes()
    assert [w["kind"] for w in writes] == ["custom_fields", "note", "attachment", "stage_move"]
    assert {w["acting_user_id"] for w in writes} == {1002}
    assert {w["api"] for w in writes} == {"v3"}


# -- webhooks --------------------------------------------------------------------------


def test_webhook_is_signed_over_the_escaped_raw_body(sandbox: GreenhouseSandbox,
                                                    receiver: Receiver) -> None:
    sandbox.seed({
        "candidates": [{"id": 7001, "first_name": "Robin", "last_name": "Tester",
                        "title": "R&D <Lead>", "email_addresses": ["robin@example.com"]}],
        "applications": [{"id": 7101, "candidate_id": 7001, "job_id": 4001,
                          "stage": "Phone Screen"}],
    })
    moved = control(sandbox, "POST", "applications/7101/move", {"stage": "Reference Check"})
    headers, body = receiver.wait_for(1)[0]
    expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert headers["Signature"] == f"sha256 {expected}"
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"] == "Greenhouse-Webhook-Sandbox"
    assert headers["Greenhouse-Event-ID"] == moved["event_id"]
    assert b"R\\u0026D \\u003cLead\\u003e" in body and b"<" not in body
    event = json.loads(body)
    assert event["action"] == "candidate_stage_change"
    app = event["payload"]["application"]
    assert app["id"] == 7101 and app["candidate"]["title"] == "R&D <Lead>"
    assert app["current_stage"] == {"id": 40013, "name": "Reference Check", "interviews": []}
    assert app["jobs"][0]["id"] == 4001 and app["jobs"][0]["departments"][0]["name"]
    assert app["candidate"]["recruiter"] is None
    assert app["custom_fields"]["crosschq_status"] == {
        "name": "Crosschq Status", "type": "single_select", "value": None}
    assert sandbox.wait_idle(5)


def test_failed_delivery_is_retried_with_the_same_event_id(sandbox: GreenhouseSandbox,
                                                          receiver: Receiver) -> None:
    receiver.statuses = [500, 202]
    sandbox.move(6001, "Reference Check")
    deliveries = receiver.wait_for(3)
    assert len({h["Greenhouse-Event-ID"] for h, _ in deliveries}) == 1
    assert len({body for _, body in deliveries}) == 1
    assert sandbox.wait_idle(5)
    attempts = control(sandbox, "GET", "webhooks")
    assert [(a["attempt"], a["http_status"], a["delivered"]) for a in attempts] == [
        (1, 500, False), (2, 202, False), (3, 200, True)]


def test_lifecycle_webhook_payloads(sandbox: GreenhouseSandbox, api: requests.Session,
                                    receiver: Receiver) -> None:
    control(sandbox, "POST", "applications/6001/reject")
    control(sandbox, "POST", "applications/6001/unreject")
    control(sandbox, "POST", "applications/6001/hire", {"start_date": "2030-01-02"})
    control(sandbox, "POST", "applications/6001/unhire")
    control(sandbox, "POST", "candidates/5001/update", {"title": "Principal"})
    control(sandbox, "POST", "candidates/5002/anonymize", {"fields": ["full_name", "tags"]})
    control(sandbox, "POST", "candidates/5003/merge", {"into": 5001})
    control(sandbox, "POST", "applications/6002/delete")
    control(sandbox, "POST", "candidates/5002/delete")
    control(sandbox, "POST", "ping")
    events = receiver.events(10)
    assert [e["action"] for e in events] == [
        "reject_candidate", "unreject_candidate", "hire_candidate", "unhire_candidate",
        "update_candidate", "candidate_anonymized", "merge_candidate", "delete_application",
        "delete_candidate", "ping"]
    rejected, unrejected, hired, unhired = (e["payload"]["application"] for e in events[:4])
    assert rejected["status"] == "rejected" and rejected["rejection_reason"]["name"]
    assert "public_name" in rejected["source"]
    assert unrejected["status"] == "active" and unrejected["rejected_at"] is None
    assert hired["status"] == "hired" and hired["current_stage"] is None
    assert hired["offer"]["starts_at"] == "2030-01-02"
    assert unhired["current_stage"]["name"] == "Phone Screen"
    assert events[4]["payload"]["candidate"]["title"] == "Principal"
    assert events[5]["payload"] == {"candidate_id": 5002,
                                    "anonymized_fields": ["full_name", "tags"]}
    merged = events[6]["payload"]["person"]
    assert merged["id"] == 5003 and merged["new_candidate_id"] == 5001
    assert events[7]["payload"]["application"]["id"] == 6002
    assert events[8]["payload"]["person"]["id"] == 5002
    assert events[8]["payload"]["person"]["deleted_application_ids"] == []
    assert events[9]["payload"] == {"web_hook_id": 1}
    assert api.get(f"{sandbox.url}v1/applications/6003").json()["candidate_id"] == 5001
    assert api.get(f"{sandbox.url}v1/candidates/5003").status_code == 404
    assert api.get(f"{sandbox.url}v1/candidates/5001").json()["title"] == "Principal"


def test_new_application_webhook_carries_the_hiring_team(sandbox: GreenhouseSandbox,
                                                        receiver: Receiver) -> None:
    control(sandbox, "POST", "applications/6003/set-hiring-manager", {"user_id": 1004})
    seeded = control(sandbox, "POST", "seed", {"notify": True, "applications": [
        {"candidate_id": 5003, "job_id": 4002}]})
    app_id = seeded["applications"][0]
    event = receiver.events(1)[0]
    assert event["action"] == "new_candidate_application"
    app = event["payload"]["application"]
    assert app["id"] == app_id and app["current_stage"]["name"] == "Application Review"
    assert app["jobs"][0]["hiring_team"]["hiring_managers"] == [
        {"user_id": 1004, "employee_id": "EMP-1004"}]
    assert app["prospect_detail"]["prospect_pool"] is None


# -- control API -----------------------------------------------------------------------


def test_writes_log_state_and_reset(sandbox: GreenhouseSandbox, api: requests.Session) -> None:
    api.patch(f"{sandbox.url}v1/applications/6001", headers=OBO, json={
        "custom_fields": [{"name_key": "crosschq_status", "value": "Sent"}]})
    api.post(f"{sandbox.url}v1/candidates/5001/activity_feed/notes", headers=OBO,
             json={"user_id": 1001, "body": "Requested", "visibility": "admin_only"})
    writes = control(sandbox, "GET", "writes")
    assert [w["kind"] for w in writes] == ["custom_fields", "note"]
    assert writes[0]["name_key"] == "crosschq_status" and writes[0]["value"] == "Sent"
    assert writes[0]["application_id"] == 6001 and writes[1]["candidate_id"] == 5001
    assert writes[1]["body"] == "Requested" and writes[1]["user_id"] == 1001
    state = control(sandbox, "GET", "applications/6001/state")
    assert state["notes"][0]["visibility"] == "admin_only"
    assert state["current_stage"]["name"] == "Phone Screen"
    control(sandbox, "POST", "reset")
    assert control(sandbox, "GET", "writes") == []
    assert sandbox.application_state(6001)["custom_fields"] == {}
    assert control(sandbox, "POST", "wait-idle", {"timeout": 1}) == {"idle": True}


def test_config_never_shows_secrets(sandbox: GreenhouseSandbox) -> None:
    shown = control(sandbox, "GET", "config")
    assert shown["webhook_secret_set"] is True and shown["api_key_set"] is True
    assert SECRET not in json.dumps(shown) and API_KEY not in json.dumps(shown)
    refused = requests.post(f"{sandbox.url}_sandbox/config", json={"rate_limit": 0}, timeout=10)
    assert refused.status_code == 422


def test_command_line_prints_only_the_url() -> None:
    parser = build_arg_parser()
    args = parser.parse_args(["--api-key", "k", "--port", "0"])
    assert (args.rate_limit, args.rate_window, args.no_seed) == (50, 10.0, False)
    process = subprocess.Popen(
        [sys.executable, "-m", "connectors.greenhouse.sandbox", "--api-key", "cli-secret-key",
         "--webhook-secret", "cli-webhook-secret", "--port", "0"],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("greenhouse sandbox listening on http://127.0.0.1:")
        url = line.rsplit(" ", 1)[1]
        assert requests.get(f"{url}v1/users/1001", auth=("cli-secret-key", ""),
                            timeout=10).status_code == 200
    finally:
        process.terminate()
        out, err = process.communicate(timeout=10)
    assert process.returncode == 0
    assert "secret" not in line + out + err
