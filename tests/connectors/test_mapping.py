"""The ATS-independent choices: which e-mail, which phone, who is the requestor."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from connectors.ats import Application, Candidate, ContactPoint, Person
from connectors.mapping import best_email, best_phone, requestor

Contacts = Sequence[tuple[str, str | None]]


def _candidate(emails: Contacts = (), phones: Contacts = ()) -> Candidate:
    return Candidate(
        id="1",
        emails=tuple(ContactPoint(value=v, type=t) for v, t in emails),
        phones=tuple(ContactPoint(value=v, type=t) for v, t in phones),
    )


@pytest.mark.parametrize(
    ("emails", "expected"),
    [
        ([], None),
        ([("w@example.com", "work"), ("p@example.com", "personal")], "p@example.com"),
        ([("o@example.com", "other"), ("w@example.com", "work")], "w@example.com"),
        ([("o@example.com", "other")], "o@example.com"),
        ([("u@example.com", None), ("w@example.com", "work")], "w@example.com"),
        ([("x@example.com", "weird"), ("o@example.com", "other")], "x@example.com"),
        ([("  ", "personal"), ("w@example.com", "work")], "w@example.com"),
        ([(" p@example.com ", "PERSONAL")], "p@example.com"),
        ([("p1@example.com", "personal"), ("p2@example.com", "personal")], "p1@example.com"),
    ],
)
def test_best_email(emails: list[tuple[str, str | None]], expected: str | None) -> None:
    assert best_email(_candidate(emails=emails)) == expected


@pytest.mark.parametrize(
    ("phones", "expected"),
    [
        ([], None),
        ([("+1 555 0101", "home"), ("+1 555 0102", "mobile")], "+1 555 0102"),
        ([("+1 555 0101", "work"), ("+1 555 0103", "home")], "+1 555 0101"),
        ([("live:someone", "skype"), ("+1 555 0104", "other")], "+1 555 0104"),
        ([("live:someone", "skype")], "live:someone"),
        ([("+1 555 0105", None), ("+1 555 0106", "mobile")], "+1 555 0106"),
        ([("", "mobile"), ("+1 555 0107", "home")], "+1 555 0107"),
    ],
)
def test_best_phone(phones: list[tuple[str, str | None]], expected: str | None) -> None:
    assert best_phone(_candidate(phones=phones)) == expected


RITA = Person(id="1", first_name="Rita", email="rita@example.com")
CORA = Person(id="2", first_name="Cora", email="cora@example.com")
CRED = Person(id="3", first_name="Cred", email="cred@example.com")
NOMAIL = Person(id="4", first_name="Nomail")


@pytest.mark.parametrize(
    ("recruiter", "coordinator", "credited_to", "default", "expected"),
    [
        (RITA, CORA, CRED, "ops@example.com", "rita@example.com"),
        (None, CORA, CRED, "ops@example.com", "cora@example.com"),
        (None, None, CRED, "ops@example.com", "cred@example.com"),
        (NOMAIL, None, CRED, None, "cred@example.com"),
        (None, None, None, "ops@example.com", "ops@example.com"),
        (NOMAIL, NOMAIL, NOMAIL, " ops@example.com ", "ops@example.com"),
        (None, None, None, None, None),
        (None, None, None, "", None),
    ],
)
def test_requestor(
    recruiter: Person | None,
    coordinator: Person | None,
    credited_to: Person | None,
    default: str | None,
    expected: str | None,
) -> None:
    app = Application(
        id="9",
        candidate=_candidate(),
        recruiter=recruiter,
        coordinator=coordinator,
        credited_to=credited_to,
    )
    person = requestor(app, default)
    assert (person.email if person else None) == expected
    if expected and recruiter is RITA:
        assert person is RITA
