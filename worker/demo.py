"""``crosschq-worker demo``: the whole pipeline on local sandboxes, in well under a minute.

Everything runs as the real, separate processes of a deployment, wired over loopback HTTP and
one Redis: the receiver, a Celery worker, beat and both sandboxes (Crosschq and Greenhouse).
Credentials are generated for each run and never printed. Redis is the one named by
``REDIS_URL`` when it answers (the demo then uses a database of its own, 14 by default, and
empties only that one, and only when it holds nothing but the demo's keys), else a real
``redis-server`` started for the run. Every process the demo starts is stopped on the way out,
also on failure and on Ctrl-C; the logs are kept when the demo fails.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from urllib.parse import urlparse, urlunparse

import redis
import requests

from config.logs import configure_logging
from config.settings import get_settings
from worker import demo_view as view
from worker.demo_scenario import APPLICATION_ID, DemoFailure, Sandboxes, Scenario
from worker.embedded_redis import EmbeddedRedis, reachable
from worker.stack import Stack, free_port, sandbox_env
from worker.store import Store

DEMO_MARK = "cqw:demo:owner"
STARTUP_TIMEOUT = 30.0


def say(text: str = "") -> None:
    print(text, flush=True)


@dataclass
class DemoRedis:
    url: str
    client: redis.Redis
    embedded: EmbeddedRedis | None = None

    def release(self) -> None:
        try:
            if self.embedded is None:
                self.client.flushdb()  # the demo's own database, checked in claim_database
        except redis.RedisError:
            pass
        finally:
            self.client.close()
            if self.embedded is not None:
                self.embedded.stop()


def with_db(url: str, db: int) -> str:
    parts = urlparse(url)
    if parts.scheme not in ("redis", "rediss"):
        raise DemoFailure(f"REDIS_URL scheme {parts.scheme!r} is not supported by the demo")
    return urlunparse(parts._replace(path=f"/{db}"))


def claim_database(url: str, db: int) -> redis.Redis:
    """Empty database ``db`` for the demo, refusing one that holds anybody else's keys."""
    client = redis.Redis.from_url(url)
    if client.dbsize() and not client.exists(DEMO_MARK):
        client.close()
        raise DemoFailure(
            f"Redis database {db} holds keys the demo did not write; choose a free one with --redis-db N"
        )
    client.flushdb()
    client.set(DEMO_MARK, "crosschq-worker demo")
    return client


def prepare_redis(url: str, mode: str, db: int) -> DemoRedis:
    where = urlparse(url)
    if mode != "always" and reachable(url):
        demo_url = with_db(url, db)
        say(f"redis: database {db} of the Redis at {where.hostname}:{where.port} (emptied before and after)")
        return DemoRedis(demo_url, claim_database(demo_url, db))
    if mode == "never":
        raise DemoFailure("REDIS_URL does not answer and REDIS_EMBEDDED=never: start Redis first")
    server = EmbeddedRedis()
    embedded_url = server.start()
    say(f"redis: none answers at {where.hostname}:{where.port}; started a redis-server on port {server.port}")
    return DemoRedis(embedded_url, redis.Redis.from_url(embedded_url), server)


def _secret() -> str:
    # Hex: a value starting with "-" would be read as an option by the sandboxes' argparse.
    return secrets.token_hex(20)


@dataclass(frozen=True, repr=False)
class Credentials:
    """Generated for one run; the repr hides them."""

    crosschq_token: str = field(default_factory=_secret)
    crosschq_webhook_secret: str = field(default_factory=_secret)
    greenhouse_key: str = field(default_factory=_secret)
    greenhouse_webhook_secret: str = field(default_factory=_secret)

    def __repr__(self) -> str:
        return "Credentials(<hidden>)"


@dataclass(frozen=True)
class Ports:
    web: int = field(default_factory=free_port)
    crosschq: int = field(default_factory=free_port)
    greenhouse: int = field(default_factory=free_port)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{getattr(self, name)}"


def stack_env(redis_url: str, ports: Ports, creds: Credentials) -> dict[str, str]:
    """Every setting the processes need, so nothing comes from a developer's ``.env``."""
    return sandbox_env(
        redis_url,
        ports.url("crosschq"),
        ports.url("greenhouse"),
        crosschq_token=creds.crosschq_token,
        crosschq_webhook_secret=creds.crosschq_webhook_secret,
        greenhouse_key=creds.greenhouse_key,
        greenhouse_webhook_secret=creds.greenhouse_webhook_secret,
        WORKER_CONNECTORS="greenhouse",
        # Transient failures retry within seconds, so a hiccup does not outlast the demo.
        WORKER_RETRY_BACKOFF_BASE="0.5",
        WORKER_RETRY_BACKOFF_CAP="5",
    )


def start_processes(stack: Stack, ports: Ports, creds: Credentials, run_dir: Path) -> None:
    web = ports.url("web")
    stack.start("web", "web", "--port", str(ports.web))
    stack.start("worker", "worker", "--concurrency", "2", "--hostname", f"demo-{os.getpid()}@%h")
    stack.start("beat", "beat", "--state-dir", str(run_dir))
    stack.start(
        "crosschq-sandbox", "sandbox", "crosschq", "--port", str(ports.crosschq),
        f"--token={creds.crosschq_token}", "--webhook-url", f"{web}/webhooks/crosschq",
        f"--webhook-auth=token:{creds.crosschq_webhook_secret}",
    )  # fmt: skip
    stack.start(
        "greenhouse-sandbox", "sandbox", "greenhouse", "--port", str(ports.greenhouse),
        f"--api-key={creds.greenhouse_key}", "--webhook-url", f"{web}/webhooks/ats/greenhouse",
        f"--webhook-secret={creds.greenhouse_webhook_secret}",
    )  # fmt: skip


def wait_ready(stack: Stack, ports: Ports) -> None:
    """Up means answering; the worker is up once /healthz saw it consume a canary task."""
    probes = (
        ("crosschq-sandbox", ports.url("crosschq") + "/_sandbox/config"),
        ("greenhouse-sandbox", ports.url("greenhouse") + "/_sandbox/config"),
        ("web", ports.url("web") + "/healthz"),
    )
    deadline = time.monotonic() + STARTUP_TIMEOUT
    for name, url in probes:
        _wait_http(stack, name, url, deadline, ok=(200, 503) if name == "web" else (200,))
    _wait_http(stack, "worker", ports.url("web") + "/healthz", deadline, ok=(200,))


def _wait_http(stack: Stack, name: str, url: str, deadline: float, ok: tuple[int, ...]) -> None:
    while time.monotonic() < deadline:
        dead = [p.name for p in stack.processes.values() if not p.alive()]
        if dead:
            raise DemoFailure(f"{', '.join(dead)} exited during start-up (see its log)")
        try:
            if requests.get(url, timeout=1).status_code in ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise DemoFailure(f"{name} did not come up within {STARTUP_TIMEOUT:.0f}s (see its log)")


def stop_all(stack: Stack) -> None:
    """Signal every process group at once, then wait for each (SIGKILL after a grace period)."""
    for process in stack.processes.values():
        if process.alive():
            with suppress(ProcessLookupError):
                os.killpg(process.popen.pid, signal.SIGTERM)
    stack.stop()


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """A SIGTERM stops the demo the way Ctrl-C does, so every process is cleaned up."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def working_directory(path: Path) -> Iterator[None]:
    """The processes run from an empty directory, so a developer's ``.env`` is not read."""
    before = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def play(stack: Stack, ports: Ports, redis_url: str) -> bool:
    """Play the scenario, print what happened, and say whether the end state is right."""
    client = redis.Redis.from_url(redis_url)
    sandboxes = Sandboxes(ports.url("crosschq"), ports.url("greenhouse"), client)
    scenario = Scenario(sandboxes)
    failure = None
    try:
        scenario.play(say)
        scenario.settle()
    except DemoFailure as exc:
        failure = str(exc)
    store = Store(client)
    rows = view.collect(sandboxes, store, scenario.actions)
    start = scenario.actions[0][0] if scenario.actions else time.time()
    state = sandboxes.call("greenhouse", "GET", f"applications/{APPLICATION_ID}/state")
    checks = view.end_state_checks(state, sandboxes.observe().request_ids, store.dead_letters(100))
    say()
    for line in [*view.render_timeline(rows, start), *view.render_ats(state), *view.render_checks(checks)]:
        say(line)
    if failure:
        say(f"  FAIL  {failure}")
    client.close()
    return failure is None and all(check.ok for check in checks)


def run_demo(redis_db: int = 14) -> int:
    """Run the demo; 0 when the end state is right, 1 when not, 130 when interrupted."""
    began = time.monotonic()
    settings = get_settings()
    configure_logging("console", "ERROR")
    run_dir = Path(tempfile.mkdtemp(prefix="crosschq-demo-"))
    say("crosschq-worker demo: a Greenhouse application goes through a Crosschq reference check")
    code, demo_redis, stack = 1, None, None
    try:
        with sigterm_as_interrupt():
            demo_redis = prepare_redis(settings.redis.url, settings.redis.embedded, redis_db)
            ports, creds = Ports(), Credentials()
            stack = Stack(env=stack_env(demo_redis.url, ports, creds), log_dir=run_dir / "logs")
            say("starting web, worker, beat and both sandboxes (credentials made for this run, not shown)")
            with working_directory(run_dir):
                start_processes(stack, ports, creds, run_dir)
            wait_ready(stack, ports)
            say(f"all five processes up in {time.monotonic() - began:.1f}s")
            code = 0 if play(stack, ports, demo_redis.url) else 1
    except DemoFailure as exc:
        say(f"demo failed: {exc}")
    except KeyboardInterrupt:
        say("\ninterrupted: stopping every process the demo started")
        code = 130
    finally:
        _clean_up(stack, demo_redis, run_dir, keep_logs=code != 0)
    verdict = {0: "demo passed", 130: "demo interrupted"}.get(code, "demo FAILED")
    say(f"{verdict} in {time.monotonic() - began:.1f}s; every process it started has stopped.")
    return code


def _clean_up(stack: Stack | None, demo_redis: DemoRedis | None, run_dir: Path, *, keep_logs: bool) -> None:
    steps: list[Callable[[], None]] = []
    if stack is not None:
        steps.append(lambda: stop_all(stack))
    if demo_redis is not None:
        steps.append(demo_redis.release)
    for step in steps:
        try:
            step()
        except KeyboardInterrupt:  # a second Ctrl-C must not leave processes behind
            step()
    if keep_logs and (run_dir / "logs").exists():
        say(f"logs of this run: {run_dir / 'logs'}")
    else:
        shutil.rmtree(run_dir, ignore_errors=True)
