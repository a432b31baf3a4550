"""Flower as operators use it: find a failed task, fix its cause, re-apply it, see one effect.

Flower has no retry button (flower#17); its API re-applies a task by name with the kwargs it
shows. Task kwargs are short ids, so what Flower shows pastes back exactly.
"""

from __future__ import annotations

import ast
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from celery import Celery

from worker.stack import free_port, wait_for_http

pytestmark = pytest.mark.e2e

USER = "ops"
PASSWORD = "e2e-flower-password"
FAILING = {"connector": "greenhouse", "application_id": "6002", "jobrole": "consulting-services-manager"}


@pytest.fixture
def flower(e2e: Any) -> Iterator[str]:
    """Flower with basic auth, started like the worker (the e2e stack stops it)."""
    port = free_port()
    e2e.stack.start(
        "flower", "flower", "--port", str(port), env={"FLOWER_USER": USER, "FLOWER_PASSWORD": PASSWORD}
    )
    url = f"http://127.0.0.1:{port}"
    wait_for_http(url + "/healthcheck", timeout=20, ok=(200,))
    yield url


def api(flower: str, method: str, path: str, **kw: Any) -> requests.Response:
    kw.setdefault("auth", (USER, PASSWORD))
    return requests.request(method, flower + path, timeout=10, **kw)


def tasks(flower: str, name: str) -> dict[str, dict[str, Any]]:
    response = api(flower, "GET", "/api/tasks", params={"taskname": name})
    assert response.status_code == 200, response.text
    return dict(response.json())


def send(e2e: Any, name: str, queue: str, **kwargs: Any) -> None:
    """Enqueue by name, as another service would."""
    client = Celery(broker=e2e.stack.env["REDIS_URL"])
    try:
        client.send_task(name, kwargs=kwargs, queue=queue)
    finally:
        client.close()


def wait_until_flower_sees_events(e2e: Any, flower: str) -> None:
    """Flower learns about tasks from events, and its receiver connects after its HTTP port
    opens: send canaries until Flower shows one, then no later task can be missed."""

    def canary_seen() -> bool:
        if tasks(flower, "health.canary"):
            return True
        send(e2e, "health.canary", "periodic")
        time.sleep(0.4)
        return False

    e2e.wait_for("Flower to see task events", canary_seen, timeout=20)


def test_the_api_needs_authentication(flower: str) -> None:
    assert api(flower, "GET", "/api/tasks", auth=None).status_code == 401
    assert api(flower, "GET", "/api/tasks", auth=(USER, "wrong")).status_code == 401
    unauth = api(
        flower, "POST", "/api/task/async-apply/references.request", auth=None, json={"kwargs": FAILING}
    )
    assert unauth.status_code == 401
    assert api(flower, "GET", "/api/workers").status_code == 200


def test_failed_task_is_found_fixed_and_reapplied_with_one_effect(e2e: Any, flower: str) -> None:
    wait_until_flower_sees_events(e2e, flower)
    send(e2e, "references.request", "ingest", **FAILING)
    failed = e2e.wait_for(
        "the failure in Flower",
        lambda: [t for t in tasks(flower, "references.request").values() if t["state"] == "FAILURE"],
    )[0]
    assert "no e-mail address" in failed["exception"]
    # What Flower shows is short and is exactly the ids the task was given.
    assert len(failed["kwargs"]) < 120 and "@" not in failed["kwargs"]
    kwargs = ast.literal_eval(failed["kwargs"])
    assert kwargs == FAILING
    assert ast.literal_eval(failed["args"]) in ([], ())
    assert e2e.cq_requests() == []

    # The recruiter adds the missing address in Greenhouse; the operator re-applies the task.
    e2e.gh(
        "POST",
        "_sandbox/candidates/5002/update",
        json={"email_addresses": [{"value": "jordan.fixed@example.com", "type": "personal"}]},
    )
    applied = api(flower, "POST", "/api/task/async-apply/references.request", json={"kwargs": kwargs})
    assert applied.status_code == 200, applied.text
    new_id = applied.json()["task-id"]

    e2e.wait_for("one Crosschq request", e2e.cq_requests)
    done = e2e.wait_for(
        "the re-applied task to succeed",
        lambda: tasks(flower, "references.request").get(new_id, {}).get("state") == "SUCCESS",
    )
    assert done
    time.sleep(1.5)  # anything duplicated would have landed by now
    assert len(e2e.cq_requests()) == 1
    request_id = e2e.cq_requests()[0]["id"]
    assert tasks(flower, "references.request")[new_id]["result"] == repr(f"request:{request_id}")
    notes = [n["body"] for n in e2e.ats_state(6002)["notes"]]
    assert sum("reference check requested" in body for body in notes) == 1
