"""The demo's and ``run``'s pieces that decide something: Redis use, checks, masking, the plan."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import redis

from worker import run as run_module
from worker.demo import DEMO_MARK, Credentials, Ports, claim_database, stack_env, with_db
from worker.demo_scenario import DemoFailure
from worker.demo_view import end_state_checks, short
from worker.rules_preview import mask


def test_with_db_keeps_credentials_and_changes_only_the_database() -> None:
    assert with_db("redis://:pw@host:6380/0", 14) == "redis://:pw@host:6380/14"
    assert with_db("rediss://host", 3) == "rediss://host/3"
    with pytest.raises(DemoFailure):
        with_db("unix:///tmp/redis.sock", 14)


def test_the_demo_refuses_a_database_with_someone_elses_keys(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    client.flushdb()  # without the test suite's own mark, so the demo sees only what is set here
    client.set("somebody:else", "1")
    with pytest.raises(DemoFailure, match="keys the demo did not write"):
        claim_database(redis_url, 11)
    assert client.get("somebody:else") == b"1"
    client.delete("somebody:else")
    claim_database(redis_url, 11).set("cqw:leftover", "1")  # an earlier, interrupted demo
    claim_database(redis_url, 11).close()
    assert client.keys() == [DEMO_MARK.encode()]
    client.close()


def test_credentials_are_fresh_hidden_and_safe_as_arguments() -> None:
    one, two = Credentials(), Credentials()
    assert one.crosschq_token != two.crosschq_token
    assert "hidden" in repr(one) and one.crosschq_token not in repr(one)
    env = stack_env("redis://x/14", Ports(), one)
    assert env["CROSSCHQ_API_TOKEN"] == one.crosschq_token and env["REDIS_EMBEDDED"] == "never"
    assert not any(value.startswith("-") for value in vars(one).values())


def finished_state(**changes: Any) -> dict[str, Any]:
    state: dict[str, Any] = {
        "custom_fields": {"crosschq_status": "Completed", "crosschq_progress": 100, "crosschq_score": 4.2},
        "notes": [
            {"body": "Crosschq reference check requested (job role x, 2 reference(s))."},
            {"body": "Crosschq: reference 1 (managers) added by the candidate."},
            {"body": "Crosschq: 1 of 2 reference(s) completed."},
            {"body": "Crosschq reference check completed. Score: 4.2."},
        ],
        "attachments": [{"filename": "crosschq-summary-report-1.pdf", "size_bytes": 10}],
    }
    state.update(changes)
    return state


def test_end_state_checks_pass_only_for_a_finished_check() -> None:
    assert all(c.ok for c in end_state_checks(finished_state(), ["r1"], []))
    failing = end_state_checks(
        finished_state(custom_fields={"crosschq_status": "Collecting"}, attachments=[], notes=[]),
        ["r1", "r2"],
        [{"reason": "MappingError: no e-mail"}],
    )
    assert [c.ok for c in failing] == [False] * 7
    assert "is 'Collecting'" in failing[0].text and "MappingError" in failing[-1].text


def test_ids_are_shortened() -> None:
    assert short("request 0123456789abcdef0123456789abcdef done") == "request 01234567 done"


def test_rules_preview_masks_personal_data() -> None:
    masked = mask(
        {
            "candidate": {
                "first_name": "Alex",
                "email": "alex@example.com",
                "mobile_phone": "+1 415 555 0100",
            },
            "requestor": "riley@corp.example",
            "jobrole": "consulting-services-manager",
        }
    )
    assert masked == {
        "candidate": {"first_name": "A***", "email": "***@example.com", "mobile_phone": "***00"},
        "requestor": "***@corp.example",
        "jobrole": "consulting-services-manager",
    }


def test_run_plan_leaves_flower_out_without_credentials(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # no Procfile here: the source tree's is used
    processes, env = run_module.plan({"PATH": "/usr/bin"}, sandbox=False)
    assert set(processes) == {"web", "worker", "beat"}
    assert "FLOWER_USER" in capsys.readouterr().err
    assert env["PATH"].endswith("/usr/bin") and env["PATH"] != "/usr/bin"


def test_run_plan_with_sandboxes_points_the_worker_at_them(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("CROSSCHQ_API_TOKEN=real-token\nFLOWER_USER=ops\nPORT=9000\n")
    monkeypatch.setattr("config.settings.ENV_FILE", str(tmp_path / ".env"))
    processes, env = run_module.plan({"FLOWER_PASSWORD": "pw", "CROSSCHQ_SANDBOX_PORT": "9081"}, sandbox=True)
    assert set(processes) == {"web", "worker", "beat", "flower", "crosschq-sandbox", "greenhouse-sandbox"}
    assert env["CROSSCHQ_BASE_URL"] == "http://127.0.0.1:9081/"
    assert env["WEBHOOK_BASE_URL"] == "http://127.0.0.1:9000"
    assert env["CROSSCHQ_API_TOKEN"] not in ("", "real-token")
