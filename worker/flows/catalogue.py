"""The Crosschq job-role catalogue: refreshed by beat, checked against the trigger rules.

Account admins turn job roles on and off in Crosschq's UI, so the catalogue changes under the
rules (Crosschq Partner API v2, ``GET /api/v2/settings/jobrole/``). The refresh keeps the cache
that creates validate against; :func:`check_rules` lists every rule the current catalogue can no
longer serve (``crosschq-worker check`` prints them). A create for such a rule fails validation
and the recruiter gets a note in the ATS saying why (flow A, ``report_cannot_start``).
"""

from __future__ import annotations

from collections.abc import Iterable

from config.logs import get_logger
from config.rules import Trigger
from connectors.crosschq.models import JobRole
from worker.deps import Deps

log = get_logger("worker.flows.catalogue")


def refresh(deps: Deps) -> int:
    """Fetch the catalogue, cache it for ``SCHEDULE_JOBROLES_TTL`` and log rule problems."""
    roles = deps.crosschq.list_jobroles()
    deps.store.cache_jobroles([r.model_dump() for r in roles], ttl=deps.settings.schedule.jobroles_ttl)
    log.info("jobroles.refreshed", count=len(roles))
    for problem in check_rules(deps, roles):
        log.warning("rules.problem", problem=problem)
    return len(roles)


def check_rules(deps: Deps, roles: Iterable[JobRole] | None = None) -> list[str]:
    """One line per trigger rule that the catalogue (cached, else fetched) cannot serve."""
    by_name = {role.codename: role for role in (deps.catalogue() if roles is None else roles)}
    problems: list[str] = []
    for trigger in deps.rules.triggers:
        role = by_name.get(trigger.jobrole)
        if role is None:
            problems.append(
                f"trigger {trigger.name}: job role {trigger.jobrole!r} is not in the Crosschq catalogue "
                "(disabled or removed)"
            )
            continue
        problems.extend(_relationship_problems(trigger, role))
    return problems


def _relationship_problems(trigger: Trigger, role: JobRole) -> list[str]:
    problems = []
    for rel in trigger.relationships:
        if rel.rel == "any":
            continue
        spec = role.relationships.get(rel.rel)
        where = f"trigger {trigger.name}: relationship {rel.rel!r}"
        if spec is None:
            problems.append(f"{where} is not offered by job role {role.codename!r}")
        elif not spec.min <= rel.required <= spec.max:
            problems.append(f"{where} asks for {rel.required}, job role allows {spec.min} to {spec.max}")
    return problems
