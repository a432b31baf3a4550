"""Pydantic models for every request and response shape of the Crosschq Partner API v2.

Responses and webhooks ignore unknown keys (Crosschq adds fields) and tolerate missing ones;
requests are strict, so a typo in our own code fails loudly before anything is sent.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from connectors.crosschq.status import Status, parse_status


class _Response(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- job roles --------------------------------------------------------------------------------
class RelationshipSpec(_Response):
    default: int = 0
    label: str = ""
    max: int = 10
    min: int = 0
    skip_reference_optin: bool = False
    whv_mode: str | None = None


class JobRole(_Response):
    codename: str
    name: str = ""
    relationships: dict[str, RelationshipSpec] = Field(default_factory=dict)


# -- create / edit ----------------------------------------------------------------------------
class CandidateIn(_Request):
    first_name: str
    last_name: str
    email: str
    mobile_phone: str | None = None


class HiringManager(_Request):
    first_name: str = ""
    last_name: str = ""
    email: str


class RelationshipRequirement(_Request):
    rel: str
    required: int
    notes: str | None = None


class FlexParams(_Request):
    relationships: list[RelationshipRequirement] = Field(default_factory=list)


class CreateReferenceRequest(_Request):
    candidate: CandidateIn
    jobrole: str
    requestor: str
    requestor_first_name: str | None = None
    requestor_last_name: str | None = None
    use_sms: bool = False
    flex_params: FlexParams = Field(default_factory=FlexParams)
    send_past_due_notification: bool = False
    send_completed_notification: bool = False
    job_position: str | None = None
    hiring_manager: HiringManager | None = None


class EditReferenceRequest(_Request):
    sms_message: str | None = None
    flex_params: FlexParams | None = None
    hiring_manager: HiringManager | None = None
    candidate_message: str | None = None
    use_sms: bool | None = None


class CreatedRequest(_Response):
    request_id: str


# -- retrieve / webhook -----------------------------------------------------------------------
class CandidateOut(_Response):
    id: str | None = None
    first_name: str = ""
    last_name: str = ""
    email: str | None = None
    mobile_phone: str | None = None


class PersonOut(_Response):
    id: str | None = None
    first_name: str = ""
    last_name: str = ""
    email: str | None = None


class JobRoleRef(_Response):
    id: str | None = None
    name: str = ""


class Reference(_Response):
    first_name: str = ""
    last_name: str = ""
    email: str | None = None
    mobile_phone: str | None = None
    status: str | None = None
    relationship: str | None = None
    workplace_name: str | None = None
    job_title: str | None = None

    @property
    def completed(self) -> bool:
        return (self.status or "").lower() == "completed"

    @property
    def declined(self) -> bool:
        return (self.status or "").lower() == "declined"


class _StatusBearing(_Response):
    """``status`` is kept as text when unknown and derived from ``status_message`` when absent."""

    status: Status | str | None = None
    status_message: str | None = None

    @field_validator("status", mode="before")
    @classmethod
    def _parse_status(cls, value: Any) -> Status | str | None:
        return parse_status(value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _derive_status(self) -> _StatusBearing:
        if self.status is None and self.status_message:
            self.status = parse_status(self.status_message)
        return self


class ReferenceRequest(_StatusBearing):
    """The retrieve endpoint's answer."""

    id: str
    asmt_score: float | None = None
    ref_score: float | None = None
    can_send_reminder: bool = False
    candidate: CandidateOut | None = None
    comments_count: int = 0
    completed_on: datetime | None = None
    created_on: datetime | None = None
    is_past_due: bool = False
    job_position: str | None = None
    jobrole: JobRoleRef | None = None
    hiring_manager: PersonOut | None = None
    references: list[Reference] = Field(default_factory=list)
    request_detail_url: str | None = None
    status_description: str | None = None
    flex_params: dict[str, Any] | None = None

    @property
    def completed_references(self) -> int:
        return sum(1 for r in self.references if r.completed)


class WebhookEvent(_StatusBearing):
    """A Crosschq webhook body; accepts every example of the spec."""

    id: str
    event_name: str | None = None
    candidate: CandidateOut | None = None
    job_position: str | None = None
    status_updated_on: datetime | None = None
    progress: int | None = None
    references: list[Reference] = Field(default_factory=list)
    report_url: str | None = None
    report_summary_pdf: str | None = None
    report_full_pdf: str | None = None
    created_at: datetime | None = None
    updated_on: datetime | None = None
    score: float | None = Field(None, allow_inf_nan=False)

    @field_validator("progress", mode="before")
    @classmethod
    def _progress(cls, value: Any) -> Any:
        if isinstance(value, float):
            if not math.isfinite(value):
                raise ValueError("progress must be a finite number")
            return round(value)
        return value

    @property
    def completed_references(self) -> int:
        return sum(1 for r in self.references if r.completed)

    @property
    def report_ready(self) -> bool:
        """Crosschq says the PDF can be downloaded now."""
        return self.event_name == "reference_request_full_completed" or self.status in (
            Status.CONCLUDED,
            Status.AUTO_CONCLUDED,
        )
