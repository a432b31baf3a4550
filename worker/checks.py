"""``crosschq-worker check``: is this deployment ready to run? One result per check.

Each function returns :class:`CheckResult` values and never raises for what it checks, so the
command can list every problem at once. Messages name the setting or the rule to fix; secrets
are never part of them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import redis

from config.errors import ConfigError, WorkerError
from config.rules import Rules, Trigger, load_rules
from config.settings import Settings
from connectors import registry
from connectors.crosschq.client import CrosschqClient
from connectors.crosschq.models import JobRole

OK, WARN, FAIL = "ok", "WARN", "FAIL"


@dataclass(frozen=True)
class CheckResult:
    name: str
    level: str  # OK, WARN or FAIL
    detail: str = ""

    @property
    def failed(self) -> bool:
        return self.level == FAIL

    def line(self) -> str:
        return f"{self.level:4s}  {self.name}" + (f": {self.detail}" if self.detail else "")


def check_settings() -> tuple[CheckResult, Settings | None]:
    try:
        settings = Settings.load()
    except ConfigError as exc:
        return CheckResult("settings", FAIL, str(exc)), None
    return CheckResult("settings", OK, "every variable is valid"), settings


def check_webhook_secrets(settings: Settings) -> CheckResult:
    name, cq, gh = "webhook secrets", settings.crosschq, settings.greenhouse
    missing = []
    if cq.webhook_auth != "none" and not cq.webhook_secret.get_secret_value():
        missing.append("CROSSCHQ_WEBHOOK_SECRET")
    if "greenhouse" in connector_names(settings) and not gh.webhook_secret.get_secret_value():
        missing.append("GREENHOUSE_WEBHOOK_SECRET")
    if missing:
        return CheckResult(name, FAIL, f"{', '.join(missing)} empty: webhooks would be refused")
    if cq.webhook_auth == "none":
        return CheckResult(name, WARN, "CROSSCHQ_WEBHOOK_AUTH=none: Crosschq webhooks are not authenticated")
    return CheckResult(name, OK, "set")


def check_redis(url: str) -> CheckResult:
    """Reachable, and configured so that queues are never evicted (``noeviction``)."""
    client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=5)
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        return CheckResult("redis", FAIL, f"REDIS_URL does not answer ({type(exc).__name__})")
    try:
        policy = client.config_get("maxmemory-policy").get("maxmemory-policy")
    except redis.ResponseError:
        # Managed services often disable CONFIG; the policy must then be checked in their console.
        return CheckResult("redis", WARN, "answers, but CONFIG GET is not allowed: make sure of noeviction")
    finally:
        client.close()
    if policy != "noeviction":
        return CheckResult(
            "redis", FAIL, f"maxmemory-policy is {policy!r}: set noeviction, or queued tasks can be evicted"
        )
    return CheckResult("redis", OK, "answers; maxmemory-policy noeviction")


def check_crosschq(settings: Settings) -> tuple[CheckResult, list[JobRole] | None]:
    """The token is accepted: the job-role catalogue can be read."""
    if not settings.crosschq.api_token.get_secret_value():
        return CheckResult("crosschq", FAIL, "CROSSCHQ_API_TOKEN is empty"), None
    try:
        roles = CrosschqClient.from_settings(settings).list_jobroles()
    except WorkerError as exc:
        return CheckResult("crosschq", FAIL, f"token not accepted or API unreachable: {exc}"), None
    return CheckResult("crosschq", OK, f"token accepted; {len(roles)} job role(s)"), roles


def connector_names(settings: Settings) -> list[str]:
    return [name.strip() for name in settings.worker.connectors.split(",") if name.strip()]


def check_connectors(settings: Settings) -> list[CheckResult]:
    """Each configured ATS connector loads and its credentials are accepted."""
    results = []
    for name in connector_names(settings):
        try:
            registry.load(name, settings).check_connection()
        except WorkerError as exc:
            results.append(CheckResult(f"ats {name}", FAIL, str(exc)))
        else:
            results.append(CheckResult(f"ats {name}", OK, "credentials accepted"))
    return results


def trigger_problems(trigger: Trigger, roles: dict[str, JobRole]) -> list[str]:
    role = roles.get(trigger.jobrole)
    if role is None:
        return [f"trigger {trigger.name!r}: job role {trigger.jobrole!r} is not in the catalogue"]
    problems = []
    for rel in trigger.relationships:
        if rel.rel == "any":
            continue
        spec = role.relationships.get(rel.rel)
        if spec is None:
            problems.append(f"trigger {trigger.name!r}: {rel.rel!r} is no relationship of {role.codename!r}")
        elif not spec.min <= rel.required <= spec.max:
            problems.append(
                f"trigger {trigger.name!r}: {rel.rel} requires {rel.required}, allowed {spec.min}..{spec.max}"
            )
    return problems


def check_rules(settings: Settings, catalogue: Iterable[JobRole] | None) -> CheckResult:
    """The rules file parses, and every trigger fits the job-role catalogue."""
    source = str(settings.rules.rules_file or "the packaged example rules")
    try:
        rules: Rules = load_rules(settings.rules.rules_file)
    except ConfigError as exc:
        return CheckResult("rules", FAIL, str(exc))
    if not rules.triggers:
        return CheckResult("rules", WARN, f"{source}: no trigger, so no request is ever created")
    if catalogue is None:
        return CheckResult("rules", WARN, f"{source}: parsed; not checked (no job-role catalogue)")
    roles = {role.codename: role for role in catalogue}
    problems = [p for trigger in rules.triggers for p in trigger_problems(trigger, roles)]
    if problems:
        return CheckResult("rules", FAIL, "; ".join(problems))
    return CheckResult("rules", OK, f"{source}: {len(rules.triggers)} trigger(s) fit the catalogue")


def run_checks() -> list[CheckResult]:
    result, settings = check_settings()
    if settings is None:
        return [result]
    crosschq, catalogue = check_crosschq(settings)
    return [
        result,
        check_webhook_secrets(settings),
        check_redis(settings.redis.url),
        crosschq,
        *check_connectors(settings),
        check_rules(settings, catalogue),
    ]
