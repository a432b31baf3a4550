"""``python -m worker.cli sandbox crosschq`` serves the Partner API v2 sandbox."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from worker.cli import build_parser

REPO_ROOT = Path(__file__).resolve().parents[3]
# Distinctive, so that "never printed" can be checked (a one-letter token appears in any text).
TOKEN = "cli-sandbox-token-3d9b"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_until_listening(process: subprocess.Popen[str], port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "the sandbox exited before listening"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listening on port {port} after {timeout} s")


def test_sandbox_arguments_reach_the_sandbox() -> None:
    argv = ["sandbox", "crosschq", "--port", "8123", "--token", TOKEN, "--auth-scheme", "Bearer"]
    args = build_parser().parse_args(argv)
    assert (args.which, args.rest) == (
        "crosschq",
        ["--port", "8123", "--token", TOKEN, "--auth-scheme", "Bearer"],
    )


def test_cli_serves_the_crosschq_sandbox() -> None:
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "worker.cli", "sandbox", "crosschq", "--port", str(port),
         "--token", TOKEN],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_until_listening(process, port)
        session = requests.Session()
        session.trust_env = False  # loopback, never through a proxy
        url = f"http://127.0.0.1:{port}/api/v2/settings/jobrole/"

        answer = session.get(url, headers={"Authorization": f"Token {TOKEN}"}, timeout=5)
        assert answer.status_code == 200
        roles = answer.json()
        assert isinstance(roles, list)
        assert "consulting-services-manager" in {role["codename"] for role in roles}

        anonymous = session.get(url, timeout=5)
        assert anonymous.status_code == 401
        assert anonymous.json() == {"detail": "Authentication credentials were not provided."}
        wrong = session.get(url, headers={"Authorization": "Token nope"}, timeout=5)
        assert wrong.status_code == 401
        session.close()

        process.terminate()
        out, err = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=5)
    assert process.returncode == 0, err
    assert f"crosschq sandbox listening on http://127.0.0.1:{port}/" in out
    assert TOKEN not in out + err
