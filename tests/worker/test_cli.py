"""``crosschq-worker``: check, rules test, failures, replay, timeline, flower, run and demo."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
import structlog

from connectors.crosschq.sandbox import CrosschqSandbox
from connectors.greenhouse.sandbox import GreenhouseSandbox
from worker import cli
from worker.checks import FAIL, OK, check_redis
from worker.deps import reset_deps
from worker.embedded_redis import EmbeddedRedis
from worker.stack import free_port
from worker.store import Store

CQ_TOKEN = "cli-crosschq-token"
GH_KEY = "cli-harvest-key"


@pytest.fixture(autouse=True)
def _quiet(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # The commands configure logging for a whole process; here their log lines are dropped so
    # that stdout holds exactly what the command prints.
    monkeypatch.setattr("config.logs.configure_logging", lambda *a, **k: None)
    before = structlog.get_config()
    structlog.configure(
        processors=[], logger_factory=structlog.ReturnLoggerFactory(), cache_logger_on_first_use=False
    )
    reset_deps()
    yield
    reset_deps()
    structlog.configure(**before)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, redis_url: str) -> pytest.MonkeyPatch:
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("REDIS_EMBEDDED", "never")
    return monkeypatch


@pytest.fixture
def sandboxes(env: pytest.MonkeyPatch) -> Iterator[tuple[CrosschqSandbox, GreenhouseSandbox]]:
    crosschq = CrosschqSandbox(token=CQ_TOKEN)
    greenhouse = GreenhouseSandbox(api_key=GH_KEY, rate_limit=1000, rate_window=1.0)
    crosschq.start()
    greenhouse.start()
    for name, value in {
        "CROSSCHQ_BASE_URL": crosschq.url,
        "CROSSCHQ_API_TOKEN": CQ_TOKEN,
        "CROSSCHQ_WEBHOOK_SECRET": "cli-webhook-secret",
        "GREENHOUSE_BASE_URL": greenhouse.url,
        "GREENHOUSE_API_KEY": GH_KEY,
        "GREENHOUSE_ON_BEHALF_OF": "1001",
        "GREENHOUSE_WEBHOOK_SECRET": "cli-gh-secret",
    }.items():
        env.setenv(name, value)
    yield crosschq, greenhouse
    crosschq.stop()
    greenhouse.stop()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# -- check ---------------------------------------------------------------------------------------
def test_check_is_all_ok_against_both_sandboxes(sandboxes: Any, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check")
    lines = out.splitlines()
    assert code == 0, out
    assert [line.split()[0] for line in lines] == ["ok"] * len(lines)
    names = {line.split()[1].rstrip(":") for line in lines}
    assert {"settings", "redis", "crosschq", "rules"} <= names
    assert any(line.startswith("ok    ats greenhouse") for line in lines)


def test_check_fails_on_a_wrong_token_without_printing_it(
    sandboxes: Any, env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env.setenv("CROSSCHQ_API_TOKEN", "wrong-token-zz9")
    code, out, err = run(capsys, "check")
    assert code == 1
    assert any(line.startswith("FAIL  crosschq") and "401" in line for line in out.splitlines())
    assert "wrong-token-zz9" not in out + err


def test_check_fails_on_invalid_settings(env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    env.setenv("WORKER_MAX_RETRIES", "-3")
    code, out, _ = run(capsys, "check")
    assert code == 1
    assert out.startswith("FAIL  settings") and "WORKER_MAX_RETRIES" in out


def test_check_rules_against_the_catalogue(
    sandboxes: Any, env: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(
        '[[trigger]]\nname = "a"\nstage = "Reference Check"\njobrole = "no-such-role"\n'
        '[[trigger.relationships]]\nrel = "any"\nrequired = 2\n'
        '[[trigger]]\nname = "b"\nstage = "Offer"\njobrole = "consulting-services-manager"\n'
        '[[trigger.relationships]]\nrel = "managers"\nrequired = 11\n'
    )
    env.setenv("RULES_FILE", str(rules))
    code, out, _ = run(capsys, "check")
    assert code == 1
    line = next(line for line in out.splitlines() if line.startswith("FAIL  rules"))
    assert "'no-such-role' is not in the catalogue" in line
    assert "managers requires 11, allowed 0..10" in line


def test_check_redis_wants_noeviction() -> None:
    server = EmbeddedRedis()
    url = server.start()
    try:
        assert check_redis(url).level == OK
        redis.Redis.from_url(url).config_set("maxmemory-policy", "allkeys-lru")
        result = check_redis(url)
        assert result.level == FAIL and "allkeys-lru" in result.detail
    finally:
        server.stop()
    assert check_redis(url).level == FAIL


# -- rules test ----------------------------------------------------------------------------------
def test_rules_test_shows_the_request_masked_and_sends_nothing(
    sandboxes: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    crosschq, _ = sandboxes
    code, out, err = run(capsys, "rules", "test", "--application-id", "6001", "--stage", "Reference Check")
    assert code == 0, out + err
    report = json.loads(out)
    request = report["request"]
    assert report["trigger"] == "reference-check"
    assert request["jobrole"] == "consulting-services-manager"
    assert request["candidate"] == {
        "first_name": "A***",
        "last_name": "E***",
        "email": "***@example.com",
        "mobile_phone": "***00",
    }
    assert "alex" not in (out + err).lower() and "555" not in out
    assert requests.get(crosschq.url + "_sandbox/requests", timeout=5).json() == []


def test_rules_test_says_when_no_trigger_matches(sandboxes: Any, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "rules", "test", "--connector", "greenhouse", "--application-id", "6001")
    assert code == 1
    assert json.loads(out)["outcome"].startswith("nothing: no trigger matches")


def test_rules_test_reports_a_candidate_that_cannot_be_mapped(
    sandboxes: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "rules", "test", "--application-id", "6002", "--stage", "Reference Check")
    assert code == 1
    assert "no e-mail address" in json.loads(out)["outcome"]


# -- failures, replay, timeline ------------------------------------------------------------------
@pytest.fixture
def store(env: pytest.MonkeyPatch, redis_client: redis.Redis) -> Store:
    return Store(redis_client)


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    """Tasks the command enqueued (recorded instead of published)."""
    from worker.app import app

    calls: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(
        app, "send_task", lambda name, args=None, kwargs=None, **_: calls.append((name, kwargs))
    )
    return calls


def seed_dead_letters(store: Store) -> None:
    store.dead_letter(
        "references.request",
        [],
        {"connector": "greenhouse", "application_id": "6002"},
        "MappingError: cannot start a reference check: the candidate has no e-mail address",
        task_id="t-1",
    )
    store.dead_letter("references.sync", [], {"request_id": "abc123"}, "NotFound: gone", task_id="t-2")


def test_failures_lists_dead_letters(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "failures")[1] == "no failures\n"
    seed_dead_letters(store)
    code, out, _ = run(capsys, "failures")
    assert code == 0
    assert 'references.request  kwargs={"application_id": "6002", "connector": "greenhouse"}' in out
    assert "candidate has no e-mail address" in out
    code, out, _ = run(capsys, "failures", "--json")
    assert {r["task"] for r in json.loads(out)} == {"references.request", "references.sync"}


def test_replay_all_failed_re_enqueues_each_dead_letter_once(
    store: Store, sent: list[Any], capsys: pytest.CaptureFixture[str]
) -> None:
    seed_dead_letters(store)
    code, out, _ = run(capsys, "replay", "--all-failed")
    assert code == 0 and "2 task(s) re-enqueued" in out
    assert sorted(sent) == [
        ("references.request", {"connector": "greenhouse", "application_id": "6002"}),
        ("references.sync", {"request_id": "abc123"}),
    ]
    assert store.dead_letters() == []
    assert run(capsys, "replay", "--all-failed")[1].strip() == "0 task(s) re-enqueued"


def test_replay_one_stored_event(store: Store, sent: list[Any], capsys: pytest.CaptureFixture[str]) -> None:
    ats_id, _ = store.store_event(
        source="ats", connector="greenhouse", dedup_key="k1", body=b"{}", headers={}, event={}
    )
    cq_id, _ = store.store_event(
        source="crosschq", connector=None, dedup_key="k2", body=b"{}", headers={}, event={}
    )
    assert run(capsys, "replay", ats_id)[0] == 0
    assert run(capsys, "replay", cq_id)[0] == 0
    assert sent == [
        ("ats.process_event", {"event_id": ats_id}),
        ("crosschq.process_webhook", {"event_id": cq_id}),
    ]
    assert run(capsys, "replay", "no-such-event")[0] == 1
    assert run(capsys, "replay")[0] == 2


def test_a_replayed_event_is_watched_by_the_inbox_again(
    store: Store, sent: list[Any], capsys: pytest.CaptureFixture[str]
) -> None:
    event_id, _ = store.store_event(
        source="crosschq", connector=None, dedup_key="k3", body=b"{}", headers={}, event={}
    )
    store.mark_event(event_id, "failed")  # off the pending list, as a dead letter leaves it
    store.dead_letter("crosschq.process_webhook", [], {"event_id": event_id}, "boom", task_id="t-3")
    assert store.pending_events(older_than=time.time() + 1) == []
    assert run(capsys, "replay", "--all-failed")[0] == 0
    # If the replayed task dies without a word, the inbox re-dispatch still finds the event.
    assert store.pending_events(older_than=time.time() + 1) == [event_id]
    assert store.load_event(event_id).state == "enqueued"  # type: ignore[union-attr]


def test_replay_as_a_command_loads_its_configuration_quietly(store: Store, redis_url: str) -> None:
    """Run as operators do (a fresh process): no RecursionError from Celery's configuration."""
    seed_dead_letters(store)
    env = {**os.environ, "REDIS_URL": redis_url, "REDIS_EMBEDDED": "never"}
    done = subprocess.run(
        [sys.executable, "-m", "worker.cli", "replay", "--all-failed"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "2 task(s) re-enqueued" in done.stdout
    assert "Recursion" not in done.stderr and "raised" not in done.stderr, done.stderr[-2000:]


def test_failures_limit_must_be_positive(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["failures", "--limit", "0"])
    assert info.value.code == 2
    assert "positive" in capsys.readouterr().err


def test_timeline_of_one_application(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "timeline", "6001")
    assert code == 1 and "nothing recorded" in out
    store.timeline_add("greenhouse", "6001", "crosschq.request_created", request_id="r1", trigger="t")
    store.timeline_add("greenhouse", "6001", "ats.status_written", request_id="r1", status="Sent")
    code, out, _ = run(capsys, "timeline", "6001", "--connector", "greenhouse")
    lines = out.splitlines()
    assert code == 0 and len(lines) == 2
    assert "crosschq.request_created" in lines[0] and "request_id=r1 trigger=t" in lines[0]
    assert "ats.status_written" in lines[1] and "status=Sent" in lines[1]


# -- flower --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "variables",
    [
        {},
        {"FLOWER_USER": "ops"},
        {"FLOWER_PASSWORD": "hunter2-secret"},
        {"FLOWER_USER": "a:b", "FLOWER_PASSWORD": "hunter2-secret"},
    ],
)
def test_flower_refuses_without_credentials(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], variables: dict[str, str]
) -> None:
    for name in ("FLOWER_USER", "FLOWER_PASSWORD", "FLOWER_BASIC_AUTH"):
        env.delenv(name, raising=False)
    for name, value in variables.items():
        env.setenv(name, value)
    code, out, err = run(capsys, "flower", "--port", "1")
    assert code == 2
    assert "flower:" in err
    assert "hunter2-secret" not in out + err
    assert "FLOWER_BASIC_AUTH" not in os.environ


# -- run and demo, as a user runs them -----------------------------------------------------------
def marked_processes(marker: str) -> list[int]:
    """Processes whose environment carries ``marker`` (everything a command started)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "environ").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def user_env(**extra: str) -> tuple[dict[str, str], str]:
    """A user's environment: no project settings but ``extra``, and no Redis at ``REDIS_URL``."""
    marker = uuid.uuid4().hex
    prefixes = ("REDIS_", "CROSSCHQ_", "GREENHOUSE_", "FLOWER_", "WORKER_", "RULES_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env.update(extra)
    env["REDIS_URL"] = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens: the embedded one starts
    env["CQW_TEST_MARKER"] = marker
    return env, marker


def wait_http(url: str, status: int, timeout: float, **kw: Any) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=1, **kw).status_code == status:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not answer {status} within {timeout}s")


@pytest.mark.e2e
def test_run_starts_the_procfile_stack_and_ctrl_c_stops_all_of_it(tmp_path: Path) -> None:
    web, flower = free_port(), free_port()
    env, marker = user_env(
        SANDBOX="1", PORT=str(web), FLOWER_PORT=str(flower), FLOWER_USER="ops",
        FLOWER_PASSWORD="run-test-password", CROSSCHQ_SANDBOX_PORT=str(free_port()),
        GREENHOUSE_SANDBOX_PORT=str(free_port()), BEAT_STATE_DIR=str(tmp_path),
    )  # fmt: skip
    log = (tmp_path / "run.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "worker.cli", "run"],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_http(f"http://127.0.0.1:{web}/healthz", 200, timeout=15)  # a worker consumed the canary
        wait_http(f"http://127.0.0.1:{flower}/api/workers", 401, timeout=5)
        wait_http(f"http://127.0.0.1:{flower}/api/workers", 200, timeout=5, auth=("ops", "run-test-password"))
        assert len(marked_processes(marker)) >= 7  # honcho, six processes, redis
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) in (0, 130)
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
    deadline = time.monotonic() + 3
    while marked_processes(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert marked_processes(marker) == []
    assert "run-test-password" not in (tmp_path / "run.log").read_text()


@pytest.mark.e2e
@pytest.mark.timeout(90)
def test_demo_plays_the_pipeline_and_cleans_up(tmp_path: Path) -> None:
    env, marker = user_env()
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "worker.cli", "demo"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=75,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert time.monotonic() - started < 60
    out = done.stdout
    assert "demo passed" in out
    assert "FAIL" not in out
    for expected in (
        "ats.process_event",
        "POST /api/v2/reference-request/ -> 201",
        "crosschq_status = Completed",
    ):
        assert expected in out
    assert ".pdf" in out and "@example.com" not in out and "Token " not in out
    assert marked_processes(marker) == []
