"""Settings, read from the environment and ``.env``.

Variables are flat and documented (README and ``.env.example``); internally they are grouped in
sections, one pydantic-settings class per prefix. Nothing is read at import time:
:func:`get_settings` builds the settings once, on first use, and caches them.

A validation error is turned into :class:`ConfigError` whose message names the environment
variable and says what is wrong, never its value (it may be a secret).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from config.errors import ConfigError

ENV_FILE = ".env"


def _section(prefix: str) -> SettingsConfigDict:
    return SettingsConfigDict(
        env_prefix=prefix,
        env_file=ENV_FILE,
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
    )


class RedisSettings(BaseSettings):
    model_config = _section("REDIS_")

    url: str = Field("redis://127.0.0.1:6379/0", description="Broker, result backend and state store.")
    embedded: Literal["auto", "always", "never"] = Field(
        "auto", description="Start a bundled redis-server when REDIS_URL is unreachable (auto)."
    )


class HttpSettings(BaseSettings):
    model_config = _section("HTTP_")

    timeout_connect: float = Field(5.0, gt=0, description="Seconds to open a connection.")
    timeout_read: float = Field(30.0, gt=0, description="Seconds to wait for a response.")


class LogSettings(BaseSettings):
    model_config = _section("LOG_")

    format: Literal["auto", "json", "console"] = "auto"
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class CrosschqSettings(BaseSettings):
    model_config = _section("CROSSCHQ_")

    base_url: str = "https://partner.crosschq.com/"
    api_token: SecretStr = SecretStr("")
    auth_scheme: str = Field("Token", min_length=1)
    webhook_auth: Literal["basic", "token", "none"] = "token"
    webhook_user: str = "crosschq"
    webhook_secret: SecretStr = SecretStr("")
    default_region: str = Field("US", min_length=2, max_length=2, description="Phone region.")
    rate_limit: int = Field(10, gt=0, description="Calls per rate_window across all workers.")
    rate_window: float = Field(1.0, gt=0)

    @model_validator(mode="after")
    def _base_url_has_slash(self) -> CrosschqSettings:
        # Crosschq's paths are relative to the base; a missing slash would drop a path segment.
        if not self.base_url.endswith("/"):
            self.base_url += "/"
        return self


class GreenhouseSettings(BaseSettings):
    model_config = _section("GREENHOUSE_")

    api_version: Literal["v1", "v3"] = "v1"
    base_url: str = "https://harvest.greenhouse.io/"
    api_key: SecretStr = SecretStr("")
    client_id: str = ""
    client_secret: SecretStr = SecretStr("")
    token_url: str = "https://auth.greenhouse.io/token"  # noqa: S105 - a URL, not a secret
    on_behalf_of: str = Field("", description="Greenhouse user id that writes are made as.")
    webhook_secret: SecretStr = SecretStr("")
    field_status: str = "crosschq_status"
    field_progress: str = "crosschq_progress"
    field_score: str = "crosschq_score"
    field_report_url: str = "crosschq_report_url"
    note_visibility: Literal["admin_only", "private", "public"] = "private"
    attachment_visibility: Literal["admin_only", "private", "public"] = "admin_only"
    default_requestor_email: str = ""
    rate_limit: int = Field(50, gt=0, description="Harvest allows this many calls per window.")
    rate_window: float = Field(10.0, gt=0)

    @model_validator(mode="after")
    def _base_url_has_slash(self) -> GreenhouseSettings:
        if not self.base_url.endswith("/"):
            self.base_url += "/"
        return self


class WorkerSettings(BaseSettings):
    model_config = _section("WORKER_")

    max_retries: int = Field(8, ge=0)
    retry_backoff_base: float = Field(2.0, gt=0, description="Seconds; doubled per attempt.")
    retry_backoff_cap: float = Field(600.0, gt=0, description="Longest wait between retries.")
    soft_time_limit: int = Field(120, gt=0)
    hard_time_limit: int = Field(180, gt=0)
    visibility_timeout: int = Field(7200, gt=0, description="Seconds before Redis redelivers.")
    result_expires: int = Field(86400, gt=0)
    create_uncertain_seconds: int = Field(
        300, gt=0, description="How long a create whose answer was lost waits for Crosschq's webhook."
    )
    inbox_ttl: int = Field(14 * 86400, gt=0, description="Seconds raw webhook events are kept.")
    webhook_max_bytes: int = Field(1024 * 1024, gt=0)
    report_kinds: str = Field("summary", description="Comma list of reports to attach: summary,full.")
    connectors: str = Field("greenhouse", description="Comma list of ATS connectors to load.")
    task_events: bool = Field(
        False,
        description="Send Celery task events from the start; Flower switches them on while it runs.",
    )

    @model_validator(mode="after")
    def _limits_consistent(self) -> WorkerSettings:
        if self.hard_time_limit <= self.soft_time_limit:
            raise ValueError("hard_time_limit must be greater than soft_time_limit")
        if self.retry_backoff_cap >= self.visibility_timeout:
            raise ValueError("retry_backoff_cap must be shorter than visibility_timeout")
        return self


class ScheduleSettings(BaseSettings):
    """Beat: how often each periodic scan runs, and how much one scan may take on."""

    model_config = _section("SCHEDULE_")

    reminders_seconds: float = Field(300, gt=0, description="Interval of schedule.send_due_reminders.")
    conclude_seconds: float = Field(
        600, gt=0, description="Interval of schedule.conclude_due (auto-conclude and auto-cancel)."
    )
    reconcile_seconds: float = Field(600, gt=0, description="Interval of schedule.reconcile_stale.")
    jobroles_seconds: float = Field(3600, gt=0, description="Interval of schedule.refresh_jobroles.")
    inbox_seconds: float = Field(60, gt=0, description="Interval of schedule.redispatch_inbox.")
    batch_size: int = Field(100, gt=0, description="Due items claimed per Redis call.")
    max_per_scan: int = Field(1000, gt=0, description="Most items one scan enqueues; the rest wait.")
    lease_seconds: int = Field(
        3600, gt=0, description="A claimed item is due again after this long if its task never ran."
    )
    defer_seconds: int = Field(
        3600, gt=0, description="Wait after Crosschq answers 'not yet' (reminder, conclude)."
    )
    jobroles_ttl: int = Field(7200, gt=0, description="Seconds the cached job-role catalogue is kept.")
    inbox_after_seconds: int = Field(
        900, gt=0, description="An inbox event not processed this long after it was stored is re-sent."
    )
    inbox_max_redispatch: int = Field(3, ge=0, description="Re-dispatches before a dead letter.")

    @model_validator(mode="after")
    def _cache_outlives_refresh(self) -> ScheduleSettings:
        # A catalogue that expires before the next refresh sends every create to Crosschq for it.
        if self.jobroles_ttl <= self.jobroles_seconds:
            raise ValueError("jobroles_ttl must be longer than jobroles_seconds")
        return self


class FlowerSettings(BaseSettings):
    model_config = _section("FLOWER_")

    user: str = ""
    password: SecretStr = SecretStr("")
    port: int = 5555


class RulesSettings(BaseSettings):
    model_config = _section("")

    rules_file: Path | None = None


class Settings(BaseModel):
    """All sections; build with :func:`get_settings` (or ``Settings.load()`` in tests)."""

    redis: RedisSettings
    http: HttpSettings
    log: LogSettings
    crosschq: CrosschqSettings
    greenhouse: GreenhouseSettings
    worker: WorkerSettings
    schedule: ScheduleSettings
    flower: FlowerSettings
    rules: RulesSettings

    @classmethod
    def load(cls, **overrides: Any) -> Settings:
        """Read every section from the environment; ``overrides`` replace whole sections."""
        sections: dict[str, Any] = {}
        for name, field in cls.model_fields.items():
            if name in overrides:
                sections[name] = overrides[name]
                continue
            section_cls = field.annotation
            assert isinstance(section_cls, type) and issubclass(section_cls, BaseSettings)
            try:
                sections[name] = section_cls(_env_file=ENV_FILE)
            except ValidationError as exc:
                raise ConfigError(_describe(exc, section_cls)) from None
        return cls(**sections)


def _describe(exc: ValidationError, section_cls: type[BaseSettings]) -> str:
    prefix = str(section_cls.model_config.get("env_prefix", ""))
    problems = []
    for err in exc.errors():
        loc = [str(part) for part in err["loc"] if part != "__root__"]
        variable = (prefix + "_".join(loc)).upper() if loc else prefix.rstrip("_") + "_*"
        problems.append(f"{variable}: {err['msg']}")
    return "invalid settings: " + "; ".join(problems)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, built on first use."""
    return Settings.load()


def reset_settings_cache() -> None:
    """Forget cached settings (tests, or after the environment changed)."""
    get_settings.cache_clear()
