"""docker-compose.yml, the Procfiles, the Dockerfile and .env.example agree with each other and
with the settings. Docker is not needed: the files are read and compared."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic_settings import BaseSettings

from config.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_ONLY = {"REDIS_PASSWORD"}
# Values that differ by design between a host and a container: where to listen and to write.
PER_HOST_OPTIONS = {"--host", "--address", "--port", "--state-dir", "--webhook-url"}
DEFAULTED = re.compile(r"\$\{([A-Z0-9_]+):-([^}]*)\}")
REFERENCED = re.compile(r"(?<!\$)\$\{([A-Za-z0-9_]+)")


def compose() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "docker-compose.yml").read_text()))


def services() -> dict[str, dict[str, Any]]:
    return dict(compose()["services"])


def procfile(name: str) -> dict[str, str]:
    entries = {}
    for line in (ROOT / name).read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            process, _, command = line.partition(":")
            entries[process.strip()] = command.strip()
    return entries


def normalized(command: str) -> list[str]:
    """The command with ``${VAR:-default}`` replaced by its default and per-host values blanked."""
    words = shlex.split(DEFAULTED.sub(r"\2", command))
    return ["*" if i and words[i - 1] in PER_HOST_OPTIONS else w for i, w in enumerate(words)]


def known_settings() -> set[str]:
    names = set()
    for field in Settings.model_fields.values():
        section = field.annotation
        assert isinstance(section, type) and issubclass(section, BaseSettings)
        prefix = str(section.model_config.get("env_prefix", ""))
        names |= {(prefix + name).upper() for name in section.model_fields}
    return names


PROCESSES = [(name, "Procfile") for name in procfile("Procfile")] + [
    (name, "Procfile.sandbox") for name in procfile("Procfile.sandbox")
]


@pytest.mark.parametrize(("process", "source"), PROCESSES)
def test_every_procfile_process_is_a_service_with_the_same_command(process: str, source: str) -> None:
    service = services().get(process)
    assert service is not None, f"{source} process {process!r} has no service in docker-compose.yml"
    assert normalized(service["command"]) == normalized(procfile(source)[process])


def test_sandboxes_only_under_the_sandbox_profile() -> None:
    sandboxes = set(procfile("Procfile.sandbox"))
    for name, service in services().items():
        if name in sandboxes:
            assert service.get("profiles") == ["sandbox"], name
        else:
            assert "profiles" not in service, name


def test_every_variable_is_a_setting_or_compose_only() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    referenced = set(REFERENCED.findall(text))
    for service in services().values():
        referenced |= set((service.get("environment") or {}).keys())
    unknown = referenced - known_settings() - COMPOSE_ONLY
    assert not unknown, f"not a setting: {sorted(unknown)}"
    assert "REDIS_URL" in referenced and "FLOWER_PASSWORD" in referenced


def test_redis_keeps_its_data_never_evicts_and_needs_a_password() -> None:
    redis = services()["redis"]
    command = " ".join(redis["command"])
    assert "--appendonly yes" in command
    assert "--maxmemory-policy noeviction" in command
    assert "--requirepass ${REDIS_PASSWORD" in command
    assert any(str(v).endswith(":/data") for v in redis["volumes"])
    for name in ("web", "worker", "beat", "flower"):
        assert "${REDIS_PASSWORD" in services()[name]["environment"]["REDIS_URL"], name


def test_flower_has_required_auth_and_a_loopback_port() -> None:
    flower = services()["flower"]
    env = flower["environment"]
    assert env["FLOWER_USER"].startswith("${FLOWER_USER:?")
    assert env["FLOWER_PASSWORD"].startswith("${FLOWER_PASSWORD:?")
    assert "--basic-auth" not in flower["command"]  # the password stays out of `ps`


def test_published_ports_are_loopback_only() -> None:
    for name, service in services().items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), (name, port)


def test_every_service_has_a_health_check() -> None:
    for name, service in services().items():
        test = (service.get("healthcheck") or {}).get("test")
        assert test, f"{name} has no health check"


def test_dockerfile_installs_the_package_as_a_non_root_user() -> None:
    lines = [line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines()]
    assert next(line for line in lines if line.startswith("FROM")) == "FROM python:3.11-slim"
    assert any(line.startswith("RUN pip install .") for line in lines)
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".env" in ignored and ".venv" in ignored


def test_env_example_lists_exactly_the_settings() -> None:
    listed = {
        line.split("=", 1)[0].strip()
        for line in (ROOT / ".env.example").read_text().splitlines()
        if "=" in line and not line.lstrip().startswith("#")
    }
    assert listed <= known_settings(), sorted(listed - known_settings())
    assert known_settings() <= listed, sorted(known_settings() - listed)
