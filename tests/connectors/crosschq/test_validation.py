from __future__ import annotations

import pytest

from connectors.crosschq.models import (
    CandidateIn,
    CreateReferenceRequest,
    FlexParams,
    JobRole,
    RelationshipRequirement,
    RelationshipSpec,
)
from connectors.crosschq.validation import normalize_phone, validate_create
from connectors.errors import RequestValidationError

CATALOGUE = [
    JobRole(
        codename="consulting-services-manager",
        name="Consulting Services - Manager",
        relationships={"managers": RelationshipSpec(min=1, max=3), "peers": RelationshipSpec(min=0, max=10)},
    )
]


def make(**changes: object) -> CreateReferenceRequest:
    base: dict[str, object] = {
        "candidate": CandidateIn(
            first_name="Casey",
            last_name="Candidate",
            email="casey@example.com",
            mobile_phone="(415) 555-0134",
        ),
        "jobrole": "consulting-services-manager",
        "requestor": "recruiter@example.com",
        "use_sms": True,
        "flex_params": FlexParams(relationships=[RelationshipRequirement(rel="managers", required=2)]),
    }
    base.update(changes)
    return CreateReferenceRequest.model_validate(base)


def test_valid_request_gets_e164_phone() -> None:
    request = validate_create(make(), CATALOGUE)
    assert request.candidate.mobile_phone == "+14155550134"
    assert request.use_sms


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        (
            {"candidate": CandidateIn(first_name="", last_name="C", email="c@example.com")},
            "candidate.first_name",
        ),
        (
            {"candidate": CandidateIn(first_name="C", last_name=" ", email="c@example.com")},
            "candidate.last_name",
        ),
        ({"candidate": CandidateIn(first_name="C", last_name="C", email="")}, "candidate.email"),
        ({"candidate": CandidateIn(first_name="C", last_name="C", email="not-an-email")}, "candidate.email"),
        ({"requestor": "nobody"}, "requestor"),
        ({"jobrole": "astronaut"}, "jobrole"),
        (
            {"flex_params": FlexParams(relationships=[RelationshipRequirement(rel="friends", required=1)])},
            "flex_params.relationships[0].rel",
        ),
        (
            {"flex_params": FlexParams(relationships=[RelationshipRequirement(rel="managers", required=5)])},
            "flex_params.relationships[0].required",
        ),
        (
            {"flex_params": FlexParams(relationships=[RelationshipRequirement(rel="any", required=0)])},
            "flex_params.relationships[0].required",
        ),
        ({"flex_params": FlexParams(relationships=[])}, "flex_params.relationships"),
    ],
)
def test_each_problem_names_its_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(RequestValidationError) as info:
        validate_create(make(**changes), CATALOGUE)
    assert field in info.value.field_errors


def test_any_relationship_is_always_allowed() -> None:
    flex = FlexParams(relationships=[RelationshipRequirement(rel="any", required=2)])
    assert validate_create(make(flex_params=flex), CATALOGUE).flex_params.relationships[0].rel == "any"


def test_unparseable_phone_is_dropped_and_sms_turned_off() -> None:
    cand = CandidateIn(first_name="C", last_name="C", email="c@example.com", mobile_phone="call me maybe")
    request = validate_create(make(candidate=cand), CATALOGUE)
    assert request.candidate.mobile_phone is None
    assert request.use_sms is False


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("+1 415-555-0134", "US", "+14155550134"),
        ("020 7946 0958", "GB", "+442079460958"),
        ("415.555.0134", "US", "+14155550134"),
        ("12", "US", None),
        ("", "US", None),
    ],
)
def test_normalize_phone(raw: str, region: str, expected: str | None) -> None:
    assert normalize_phone(raw, region) == expected
