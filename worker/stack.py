"""Start and stop the real processes of a local stack (demo, ``make run``, end-to-end tests).

Each process is a plain subprocess running ``python -m worker.cli ...`` with the stack's
environment, in its own process group so that stopping it also stops its children (Celery's pool).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import requests


def sandbox_env(
    redis_url: str,
    crosschq_url: str,
    greenhouse_url: str,
    *,
    crosschq_token: str,
    crosschq_webhook_secret: str,
    greenhouse_key: str,
    greenhouse_webhook_secret: str,
    **extra: str,
) -> dict[str, str]:
    """Every setting a stack's processes need to run against the local sandboxes, so that nothing
    comes from a developer's ``.env``; ``extra`` adds or overrides (``WORKER_MAX_RETRIES="6"``)."""
    return {
        "REDIS_URL": redis_url,
        "REDIS_EMBEDDED": "never",
        "CROSSCHQ_BASE_URL": crosschq_url.rstrip("/") + "/",
        "CROSSCHQ_API_TOKEN": crosschq_token,
        "CROSSCHQ_AUTH_SCHEME": "Token",
        "CROSSCHQ_WEBHOOK_AUTH": "token",
        "CROSSCHQ_WEBHOOK_SECRET": crosschq_webhook_secret,
        "GREENHOUSE_API_VERSION": "v1",
        "GREENHOUSE_BASE_URL": greenhouse_url.rstrip("/") + "/",
        "GREENHOUSE_API_KEY": greenhouse_key,
        "GREENHOUSE_ON_BEHALF_OF": "1001",
        "GREENHOUSE_WEBHOOK_SECRET": greenhouse_webhook_secret,
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
        **extra,
    }


def worker_answers(redis_url: str) -> bool:
    """True when a Celery worker on this broker answers a ping (it is consuming)."""
    from celery import Celery

    probe = Celery(broker=redis_url)
    try:
        return bool(probe.control.ping(timeout=0.5))
    finally:
        probe.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_http(url: str, timeout: float = 20.0, ok: tuple[int, ...] = (200, 401, 404, 503)) -> None:
    deadline = time.monotonic() + timeout
    last: str = "no answer"
    while time.monotonic() < deadline:
        try:
            response = requests.get(url, timeout=1)
            if response.status_code in ok:
                return
            last = f"status {response.status_code}"
        except requests.RequestException as exc:
            last = type(exc).__name__
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up within {timeout}s ({last})")


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        if not self.alive():
            return
        try:
            os.killpg(self.popen.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(5)

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class Stack:
    env: dict[str, str]
    log_dir: Path
    processes: dict[str, Process] = field(default_factory=dict)

    def start(self, name: str, *args: str, env: Mapping[str, str] | None = None) -> Process:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{name}.log"
        full_env = {**os.environ, **self.env, **(env or {})}
        handle = log_path.open("ab")
        popen = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "worker.cli", *args],
            env=full_env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        handle.close()
        process = Process(name, popen, log_path)
        self.processes[name] = process
        return process

    def stop(self) -> None:
        for process in reversed(list(self.processes.values())):
            process.stop()
        self.processes.clear()

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
