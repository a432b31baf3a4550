"""Trigger rules and policies, read from the TOML file named by ``RULES_FILE``.

A trigger says which applications get a reference check (a stage name, optionally narrowed by job,
department, office or tag) and what to ask Crosschq for (job role, relationships, notification
flags). Policies say what happens around it (cancel on reject, reports to attach, reminders...).
Without ``RULES_FILE`` the packaged ``rules.example.toml`` is used.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from config.errors import ConfigError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Relationship(_Strict):
    rel: str = Field(min_length=1)
    required: int = Field(1, ge=1)
    notes: str | None = None


class ReminderPolicy(_Strict):
    enabled: bool = True
    first_after_hours: float = Field(48, gt=0)
    every_hours: float = Field(48, gt=0)
    max_count: int = Field(3, ge=0)
    # (start hour, end hour) in ``timezone``, e.g. (21, 8): a reminder due then waits until 08:00.
    quiet_hours: tuple[int, int] | None = None
    timezone: str = "UTC"

    @field_validator("quiet_hours")
    @classmethod
    def _hours_of_day(cls, value: tuple[int, int] | None) -> tuple[int, int] | None:
        if value is not None and not all(0 <= hour <= 23 for hour in value):
            raise ValueError("quiet_hours are hours of the day, 0 to 23")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value


class ConcludePolicy(_Strict):
    enabled: bool = False
    min_completed: int = Field(2, ge=1)
    after_days: float = Field(7, ge=0)


class CancelPolicy(_Strict):
    on_rejected: bool = True
    on_hired: bool = False
    on_deleted: bool = True
    after_days_without_progress: float | None = None


class Policy(_Strict):
    reminders: ReminderPolicy = ReminderPolicy()
    conclude: ConcludePolicy = ConcludePolicy()
    cancel: CancelPolicy = CancelPolicy()
    report_kinds: tuple[Literal["summary", "full"], ...] = ("summary",)
    move_to_stage_on_complete: str | None = None
    reconcile_after_hours: float = Field(6, gt=0)


class Trigger(_Strict):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    stage: str = Field(min_length=1)
    jobs: tuple[str, ...] = ()
    departments: tuple[str, ...] = ()
    offices: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    jobrole: str = Field(min_length=1)
    relationships: tuple[Relationship, ...] = Field(min_length=1)
    job_position: str | None = None
    use_sms: bool = False
    send_past_due_notification: bool = True
    send_completed_notification: bool = True
    requestor_email: str | None = Field(None, description="Fallback requestor for this trigger.")
    policy: Policy | None = None

    @field_validator("jobs", "departments", "offices", "tags", mode="before")
    @classmethod
    def _listify(cls, value: object) -> object:
        return (value,) if isinstance(value, str) else value


class Rules(_Strict):
    policy: Policy = Policy()
    default_requestor_email: str | None = None
    triggers: tuple[Trigger, ...] = Field(default=(), alias="trigger")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    def policy_for(self, trigger_name: str | None) -> Policy:
        for trigger in self.triggers:
            if trigger.name == trigger_name and trigger.policy is not None:
                return trigger.policy
        return self.policy

    def trigger(self, name: str) -> Trigger | None:
        return next((t for t in self.triggers if t.name == name), None)


def parse_rules(text: str, source: str = "rules") -> Rules:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    try:
        rules = Rules.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors())
        raise ConfigError(f"{source}: {problems}") from None
    names = [t.name for t in rules.triggers]
    if len(names) != len(set(names)):
        raise ConfigError(f"{source}: trigger names must be unique")
    return rules


def example_rules_text() -> str:
    return resources.files("config").joinpath("rules.example.toml").read_text(encoding="utf-8")


def load_rules(path: Path | None) -> Rules:
    """The rules from ``path``, or the packaged example when ``path`` is ``None``."""
    if path is None:
        return parse_rules(example_rules_text(), "config/rules.example.toml")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"RULES_FILE {path}: cannot be read ({exc.strerror})") from None
    return parse_rules(text, f"RULES_FILE {path}")
