"""From an ATS application and the rules to a Crosschq create request.

:func:`matching_trigger` decides whether an application is due a reference check;
:func:`build_request` maps the candidate and people (best e-mail, mobile in E.164, requestor,
hiring manager). Both are pure: the flows pass in what they read.
"""

from __future__ import annotations

import hashlib

from config.rules import Rules, Trigger
from connectors.ats import Application, Person
from connectors.crosschq.models import (
    CandidateIn,
    CreateReferenceRequest,
    FlexParams,
    HiringManager,
    RelationshipRequirement,
)
from connectors.errors import MappingError
from connectors.mapping import best_email, best_phone, requestor


def _norm(text: str | None) -> str:
    return (text or "").strip().casefold()


def _any_match(wanted: tuple[str, ...], have: list[str]) -> bool:
    if not wanted:
        return True
    have_norm = {_norm(h) for h in have}
    return any(_norm(w) in have_norm for w in wanted)


def trigger_matches(trigger: Trigger, application: Application) -> bool:
    if application.stage is None or _norm(application.stage.name) != _norm(trigger.stage):
        return False
    job = application.job
    jobs = [job.id, job.name] if job else []
    return (
        _any_match(trigger.jobs, jobs)
        and _any_match(trigger.departments, list(job.departments) if job else [])
        and _any_match(trigger.offices, list(job.offices) if job else [])
        and _any_match(trigger.tags, [*application.tags, *application.candidate.tags])
    )


def matching_trigger(rules: Rules, application: Application) -> Trigger | None:
    """The first trigger whose conditions the application's current state meets."""
    return next((t for t in rules.triggers if trigger_matches(t, application)), None)


def hiring_manager(application: Application) -> Person | None:
    return next((p for p in application.hiring_managers if p.email), None)


def hiring_manager_hash(application: Application) -> str:
    """A digest of the hiring manager's e-mail, to notice a change without storing the address."""
    person = hiring_manager(application)
    email = (person.email or "") if person else ""
    return hashlib.sha256(email.lower().encode()).hexdigest()[:16] if email else ""


def build_request(
    application: Application, trigger: Trigger, *, default_requestor: str | None = None
) -> CreateReferenceRequest:
    """The create request for this application, or ``MappingError`` saying what is missing."""
    cand = application.candidate
    email = best_email(cand)
    missing = []
    if not email:
        missing.append("the candidate has no e-mail address")
    if not cand.first_name.strip() or not cand.last_name.strip():
        missing.append("the candidate's first or last name is empty")
    owner = requestor(application, trigger.requestor_email or default_requestor)
    if owner is None or not owner.email:
        missing.append(
            "no recruiter, coordinator or credited-to user with an e-mail, and no default requestor"
        )
    if missing:
        raise MappingError("cannot start a reference check: " + "; ".join(missing), service="mapping")
    assert email is not None and owner is not None and owner.email is not None
    manager = hiring_manager(application)
    phone = best_phone(cand)
    return CreateReferenceRequest(
        candidate=CandidateIn(
            first_name=cand.first_name.strip(),
            last_name=cand.last_name.strip(),
            email=email,
            mobile_phone=phone,
        ),
        jobrole=trigger.jobrole,
        requestor=owner.email,
        requestor_first_name=owner.first_name or None,
        requestor_last_name=owner.last_name or None,
        use_sms=trigger.use_sms and phone is not None,
        flex_params=FlexParams(
            relationships=[
                RelationshipRequirement(rel=r.rel, required=r.required, notes=r.notes)
                for r in trigger.relationships
            ]
        ),
        send_past_due_notification=trigger.send_past_due_notification,
        send_completed_notification=trigger.send_completed_notification,
        job_position=trigger.job_position or (application.job.name if application.job else None),
        hiring_manager=(
            HiringManager(first_name=manager.first_name, last_name=manager.last_name, email=manager.email)
            if manager is not None and manager.email
            else None
        ),
    )
