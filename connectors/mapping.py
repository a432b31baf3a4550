"""Choices over the normalized models that every connector's candidates need.

These functions know nothing about any ATS: they pick the address to invite a candidate at, the
phone to text, and the person the request is made on behalf of, from :mod:`connectors.ats` models.
The worker calls them for every connector, so the rules are the same whichever ATS sent the event.
"""

from __future__ import annotations

from collections.abc import Iterable

from connectors.ats import Application, Candidate, ContactPoint, Person

# Candidates give a personal address as the one they read; a work address may belong to the
# employer the references are about. Anything else (untyped, "other") comes last.
EMAIL_PREFERENCE: tuple[str, ...] = ("personal", "work", "other")
# Only a mobile number can receive the SMS invitation; other numbers keep the ATS's order.
# Skype entries are often handles, not numbers, so they go last.
PHONE_PREFERENCE: tuple[str, ...] = ("mobile", "other", "skype")


def _ranked(points: Iterable[ContactPoint], preference: tuple[str, ...]) -> list[ContactPoint]:
    usable = [p for p in points if p.value and p.value.strip()]

    def rank(point: ContactPoint) -> int:
        kind = (point.type or "other").lower()
        if kind in preference:
            return preference.index(kind)
        # Unknown types rank with "other".
        return preference.index("other")

    # sorted() is stable: within one type, the ATS's own order wins.
    return sorted(usable, key=rank)


def best_email(candidate: Candidate) -> str | None:
    """The address to invite the candidate at: personal, then work, then any other."""
    ranked = _ranked(candidate.emails, EMAIL_PREFERENCE)
    return ranked[0].value.strip() if ranked else None


def best_phone(candidate: Candidate) -> str | None:
    """The number to text: a mobile first, then the others in the ATS's order, Skype last."""
    ranked = _ranked(candidate.phones, PHONE_PREFERENCE)
    return ranked[0].value.strip() if ranked else None


def requestor(application: Application, default_email: str | None = None) -> Person | None:
    """Who asks for the references: recruiter, then coordinator, then credited-to, then default.

    A person counts only with an e-mail address (Crosschq identifies the requestor by e-mail).
    ``default_email`` (the configured fallback) is used when none of the three has one; ``None``
    when there is no fallback either.
    """
    for person in (application.recruiter, application.coordinator, application.credited_to):
        if person is not None and person.email and person.email.strip():
            return person
    if default_email and default_email.strip():
        return Person(email=default_email.strip())
    return None
