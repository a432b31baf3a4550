"""``crosschq-worker run`` (``make run``): the long-running stack of the ``Procfile``, under honcho.

``web``, ``worker``, ``beat`` and ``flower`` come from ``Procfile``; with ``SANDBOX=1`` (or
``--sandbox``) both sandboxes from ``Procfile.sandbox`` join them, with credentials generated for
the run and the worker pointed at them. The environment is this process's, completed by ``.env``
(the environment wins, as it does for the settings). When ``REDIS_URL`` does not answer, a
``redis-server`` is started first (``REDIS_EMBEDDED=auto``) and its URL passed to every process.

Flower never runs without authentication: without ``FLOWER_USER`` and ``FLOWER_PASSWORD`` it is
left out, with a message. Ctrl-C (or SIGTERM) stops every process, then the embedded Redis.
"""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Mapping
from pathlib import Path

from honcho.environ import parse as parse_dotenv
from honcho.environ import parse_procfile
from honcho.manager import Manager
from honcho.printer import Printer

from config import settings as settings_module
from config.errors import ConfigError
from worker.embedded_redis import ensure_redis

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SANDBOX_SECRETS = (
    "CROSSCHQ_API_TOKEN",
    "CROSSCHQ_WEBHOOK_SECRET",
    "GREENHOUSE_API_KEY",
    "GREENHOUSE_WEBHOOK_SECRET",
)


def find_procfile(name: str) -> Path:
    """``name`` in the current directory, else in the source tree."""
    for base in (Path.cwd(), PROJECT_ROOT):
        if (base / name).is_file():
            return base / name
    raise ConfigError(f"{name} not found in {Path.cwd()} or {PROJECT_ROOT}")


def read_processes(path: Path) -> dict[str, str]:
    return dict(parse_procfile(path.read_text(encoding="utf-8")).processes)


def base_env(environ: Mapping[str, str]) -> dict[str, str]:
    """``.env`` completed by the environment, with this interpreter's scripts first on PATH."""
    env: dict[str, str] = {}
    dotenv = Path(settings_module.ENV_FILE)
    if dotenv.is_file():
        env.update(parse_dotenv(dotenv.read_text(encoding="utf-8")))
    env.update(environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return env


def sandbox_env(env: Mapping[str, str]) -> dict[str, str]:
    """Point the worker at the local sandboxes, with fresh credentials (real ones stay unused)."""
    cq_port = env.get("CROSSCHQ_SANDBOX_PORT") or "8081"
    gh_port = env.get("GREENHOUSE_SANDBOX_PORT") or "8082"
    out = {
        "CROSSCHQ_SANDBOX_PORT": cq_port,
        "GREENHOUSE_SANDBOX_PORT": gh_port,
        "CROSSCHQ_BASE_URL": f"http://127.0.0.1:{cq_port}/",
        "CROSSCHQ_AUTH_SCHEME": "Token",
        "CROSSCHQ_WEBHOOK_AUTH": "token",
        "GREENHOUSE_BASE_URL": f"http://127.0.0.1:{gh_port}/",
        "GREENHOUSE_API_VERSION": "v1",
        "GREENHOUSE_ON_BEHALF_OF": "1001",
        "WEBHOOK_BASE_URL": f"http://127.0.0.1:{env.get('PORT') or '8000'}",
    }
    out.update({name: secrets.token_hex(20) for name in SANDBOX_SECRETS})
    return out


def has_flower_credentials(env: Mapping[str, str]) -> bool:
    return bool(env.get("FLOWER_USER")) and bool(env.get("FLOWER_PASSWORD"))


def plan(environ: Mapping[str, str], *, sandbox: bool) -> tuple[dict[str, str], dict[str, str]]:
    """The processes to run and their environment."""
    env = base_env(environ)
    processes = read_processes(find_procfile("Procfile"))
    if sandbox:
        processes.update(read_processes(find_procfile("Procfile.sandbox")))
        env.update(sandbox_env(env))
    if not has_flower_credentials(env):
        processes.pop("flower", None)
        print(
            "flower: not started; set FLOWER_USER and FLOWER_PASSWORD to run it (never without auth)",
            file=sys.stderr,
            flush=True,
        )
    return processes, env


def supervise(processes: Mapping[str, str], env: Mapping[str, str]) -> int:
    """Run every process under honcho until one stops or a signal arrives."""
    manager = Manager(Printer(sys.stdout))
    for name, command in processes.items():
        manager.add_process(name, command, env={**env, "HONCHO_PROCESS_NAME": f"{name}.1"})
    manager.loop()
    return int(manager.returncode or 0)


def run_stack(redis_url: str, embedded: str, *, sandbox: bool) -> int:
    processes, env = plan(os.environ, sandbox=sandbox)
    url, server = ensure_redis(redis_url, embedded)
    try:
        if server is not None:
            print(f"redis: none answered; started a redis-server on port {server.port}", flush=True)
            env.update(REDIS_URL=url, REDIS_EMBEDDED="never")
        return supervise(processes, env)
    finally:
        if server is not None:
            server.stop()
