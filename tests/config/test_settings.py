from __future__ import annotations

from pathlib import Path

import pytest

from config.errors import ConfigError
from config.settings import Settings, get_settings, reset_settings_cache


def test_defaults_are_usable() -> None:
    settings = Settings.load()
    assert settings.crosschq.base_url == "https://partner.crosschq.com/"
    assert settings.crosschq.auth_scheme == "Token"
    assert settings.http.timeout_connect > 0 and settings.http.timeout_read > 0
    assert settings.worker.retry_backoff_cap < settings.worker.visibility_timeout


def test_environment_is_read_flat(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CROSSCHQ_API_TOKEN", "s3cret-token")
    monkeypatch.setenv("CROSSCHQ_BASE_URL", "http://127.0.0.1:9999")
    monkeypatch.setenv("GREENHOUSE_API_VERSION", "v3")
    monkeypatch.setenv("RULES_FILE", "/tmp/rules.toml")
    monkeypatch.setenv("LOG_FORMAT", "json")
    settings = Settings.load()
    assert settings.crosschq.api_token.get_secret_value() == "s3cret-token"
    assert settings.crosschq.base_url == "http://127.0.0.1:9999/"
    assert settings.greenhouse.api_version == "v3"
    assert settings.rules.rules_file == Path("/tmp/rules.toml")
    assert "s3cret-token" not in repr(settings) and "s3cret-token" not in str(settings.crosschq)


def test_dotenv_file_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("CROSSCHQ_WEBHOOK_AUTH=basic\nHTTP_TIMEOUT_READ=7\n")
    monkeypatch.setattr("config.settings.ENV_FILE", str(env))
    settings = Settings.load()
    assert settings.crosschq.webhook_auth == "basic"
    assert settings.http.timeout_read == 7


def test_error_names_the_variable_and_hides_the_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_TIMEOUT_READ", "soon-ish")
    with pytest.raises(ConfigError) as info:
        Settings.load()
    assert "HTTP_TIMEOUT_READ" in str(info.value)
    assert "soon-ish" not in str(info.value)


def test_bad_choice_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CROSSCHQ_WEBHOOK_AUTH", "hmac")
    with pytest.raises(ConfigError, match="CROSSCHQ_WEBHOOK_AUTH"):
        Settings.load()


def test_inconsistent_limits_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKER_RETRY_BACKOFF_CAP", "99999")
    with pytest.raises(ConfigError, match="visibility_timeout"):
        Settings.load()


def test_get_settings_is_cached_and_lazy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    first = get_settings()
    monkeypatch.setenv("LOG_LEVEL", "ERROR")
    assert get_settings() is first
    reset_settings_cache()
    assert get_settings().log.level == "ERROR"


def test_env_example_lists_every_variable() -> None:
    example = (Path(__file__).parents[2] / ".env.example").read_text()
    settings = Settings.load()
    for section_name in Settings.model_fields:
        section = getattr(settings, section_name)
        prefix = str(type(section).model_config.get("env_prefix", ""))
        for field in type(section).model_fields:
            variable = (prefix + field).upper()
            assert f"{variable}=" in example, f"{variable} missing from .env.example"
