"""Harvest JSON → the normalized models of :mod:`connectors.ats`.

Pure functions: the connector fetches, these translate. Shapes follow the Harvest docs
(``_applications.md``, ``_candidates.md``, ``_jobs.md``, ``_users.md``) and tolerate what the docs
say may vary: ``null`` for any missing value, unknown keys, applications from before 2 Jun 2025
without ``recruiter``/``coordinator`` (then the candidate's are used), and hiring-team entries
given either as users (``id``, names) or as references (``user_id``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from connectors.ats import Application, Candidate, ContactPoint, Job, Person, Stage
from connectors.errors import ServerError

JsonDict = dict[str, Any]
SERVICE = "greenhouse"


def to_id(value: Any) -> str | None:
    """Greenhouse ids are integers; the normalized models use strings."""
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip()
    return text or None


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _objects(value: Any) -> list[JsonDict]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def contact_points(values: Any) -> tuple[ContactPoint, ...]:
    """``[{value, type}]`` → contact points, types kept as Greenhouse spells them (trimmed)."""
    points = []
    for item in _objects(values):
        value = _text(item.get("value"))
        if value:
            kind = _text(item.get("type")).lower() or None
            points.append(ContactPoint(value=value, type=kind))
    return tuple(points)


def _strings(values: Any) -> tuple[str, ...]:
    if not isinstance(values, list):
        return ()
    return tuple(v.strip() for v in values if isinstance(v, str) and v.strip())


def primary_email(user: Mapping[str, Any] | None) -> str | None:
    """A Harvest user's address: ``primary_email_address``, else the first of ``emails``."""
    if not user:
        return None
    primary = _text(user.get("primary_email_address")) or _text(user.get("email"))
    if primary:
        return primary
    for email in user.get("emails") or []:
        if isinstance(email, str) and email.strip():
            return email.strip()
    return None


def person(ref: Any, users: Mapping[str, JsonDict] | None = None) -> Person | None:
    """A user reference (``{id, first_name, last_name, name, ...}``) as a :class:`Person`.

    Harvest's references carry no e-mail, so the user record (from ``users``, keyed by id string)
    supplies it; webhook references carry ``email`` themselves. ``None`` for ``null``.
    """
    if not isinstance(ref, dict):
        return None
    user_id = to_id(ref.get("id") if ref.get("id") is not None else ref.get("user_id"))
    user = (users or {}).get(user_id or "") or {}
    first = _text(ref.get("first_name")) or _text(user.get("first_name"))
    last = _text(ref.get("last_name")) or _text(user.get("last_name"))
    if not (first or last):
        # Webhooks and some references only give "name"; split it at the first space.
        full = _text(ref.get("name")) or _text(user.get("name"))
        first, _, last = full.partition(" ")
    email = _text(ref.get("email")) or primary_email(user)
    if not (user_id or first or last or email):
        return None
    return Person(id=user_id, first_name=first, last_name=last.strip(), email=email or None)


def candidate(data: Mapping[str, Any]) -> Candidate:
    candidate_id = to_id(data.get("id"))
    if candidate_id is None:
        raise ServerError("candidate without id", service=SERVICE, path="candidate")
    return Candidate(
        id=candidate_id,
        first_name=_text(data.get("first_name")),
        last_name=_text(data.get("last_name")),
        emails=contact_points(data.get("email_addresses")),
        phones=contact_points(data.get("phone_numbers")),
        tags=_strings(data.get("tags")),
    )


def _names(values: Any) -> tuple[str, ...]:
    return tuple(_text(item.get("name")) for item in _objects(values) if _text(item.get("name")))


def job(application: Mapping[str, Any], job_data: Mapping[str, Any] | None = None) -> Job | None:
    """The application's job (candidate applications have exactly one; prospects 0..n)."""
    refs = _objects(application.get("jobs"))
    ref: Mapping[str, Any] = refs[0] if refs else {}
    data: Mapping[str, Any] = job_data or {}
    job_id = to_id(data.get("id")) or to_id(ref.get("id")) or to_id(application.get("job_id"))
    if job_id is None:
        return None
    return Job(
        id=job_id,
        name=_text(data.get("name")) or _text(ref.get("name")),
        departments=_names(data.get("departments") or ref.get("departments")),
        offices=_names(data.get("offices") or ref.get("offices")),
    )


def stage(application: Mapping[str, Any]) -> Stage | None:
    current = application.get("current_stage")
    if not isinstance(current, dict):
        return None
    stage_id = to_id(current.get("id"))
    return Stage(id=stage_id, name=_text(current.get("name"))) if stage_id else None


def custom_fields(record: Mapping[str, Any]) -> dict[str, Any]:
    """``keyed_custom_fields`` flattened to ``{name_key: value}`` (else ``custom_fields`` as is).

    Webhooks use the keyed shape under the name ``custom_fields``; both are recognised.
    """
    keyed = record.get("keyed_custom_fields")
    plain = record.get("custom_fields")
    source = keyed if isinstance(keyed, dict) else plain if isinstance(plain, dict) else {}
    flat: dict[str, Any] = {}
    for key, entry in source.items():
        is_keyed = isinstance(entry, dict) and "value" in entry and ("type" in entry or "name" in entry)
        flat[str(key)] = entry["value"] if is_keyed else entry
    return flat


def hiring_team_user_ids(team: Mapping[str, Any] | None) -> list[str]:
    """Ids of the job's active hiring managers, in Greenhouse's order."""
    ids: list[str] = []
    for entry in _objects((team or {}).get("hiring_managers")):
        if entry.get("active") is False:
            continue
        user_id = to_id(entry.get("user_id") if entry.get("user_id") is not None else entry.get("id"))
        if user_id and user_id not in ids:
            ids.append(user_id)
    return ids


def people_ids(
    application: Mapping[str, Any],
    candidate_data: Mapping[str, Any],
    team: Mapping[str, Any] | None,
) -> list[str]:
    """Every user id whose record is needed to give people their e-mail addresses."""
    refs: Iterable[Any] = (
        application.get("recruiter"),
        application.get("coordinator"),
        application.get("credited_to"),
        candidate_data.get("recruiter"),
        candidate_data.get("coordinator"),
    )
    ids = [to_id(ref.get("id")) for ref in refs if isinstance(ref, dict) and not _text(ref.get("email"))]
    ids.extend(hiring_team_user_ids(team))
    return list(dict.fromkeys(i for i in ids if i))


def application(
    data: Mapping[str, Any],
    candidate_data: Mapping[str, Any],
    *,
    job_data: Mapping[str, Any] | None = None,
    hiring_team: Mapping[str, Any] | None = None,
    users: Mapping[str, JsonDict] | None = None,
) -> Application:
    """One normalized application from Harvest's application, candidate, job, team and users."""
    application_id = to_id(data.get("id"))
    if application_id is None:
        raise ServerError("application without id", service=SERVICE, path="application")
    cand = candidate(candidate_data)
    users = users or {}
    managers = [person({"id": uid}, users) for uid in hiring_team_user_ids(hiring_team)]
    recruiter = data.get("recruiter") or candidate_data.get("recruiter")
    coordinator = data.get("coordinator") or candidate_data.get("coordinator")
    return Application(
        id=application_id,
        candidate=cand,
        job=job(data, job_data),
        stage=stage(data),
        status=_text(data.get("status")) or "active",
        # Greenhouse tags candidates, not applications: the application shows its candidate's.
        tags=cand.tags,
        custom_fields=custom_fields(data),
        recruiter=person(recruiter, users),
        coordinator=person(coordinator, users),
        credited_to=person(data.get("credited_to"), users),
        hiring_managers=tuple(m for m in managers if m is not None),
    )


def find_stage(stages: Iterable[Mapping[str, Any]], name: str) -> Mapping[str, Any] | None:
    """The stage called ``name`` (exact match first, then case-insensitive)."""
    stages = list(stages)
    for stage_data in stages:
        if _text(stage_data.get("name")) == name.strip():
            return stage_data
    folded = name.strip().casefold()
    for stage_data in stages:
        if _text(stage_data.get("name")).casefold() == folded:
            return stage_data
    return None
