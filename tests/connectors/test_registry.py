"""Loading connectors through the ``crosschq_worker.ats_connectors`` entry-point group."""

from __future__ import annotations

from importlib.metadata import EntryPoint
from typing import Any

import pytest

from config.errors import ConfigError
from config.settings import GreenhouseSettings, HttpSettings
from connectors import registry
from connectors.greenhouse.connector import GreenhouseConnector


class _Settings:
    def __init__(self, **greenhouse: Any) -> None:
        self.greenhouse = GreenhouseSettings(**greenhouse)
        self.http = HttpSettings()


def _installed() -> bool:
    return "greenhouse" in registry.available()


@pytest.mark.skipif(not _installed(), reason="the project is not installed (pip install -e .)")
def test_greenhouse_loads_through_its_entry_point() -> None:
    settings = _Settings(api_key="k", on_behalf_of="1001", webhook_secret="s")
    connector = registry.load("greenhouse", settings)
    assert isinstance(connector, GreenhouseConnector)
    assert connector.name == "greenhouse"


def test_greenhouse_with_missing_credentials_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_entry_points(
        monkeypatch,
        EntryPoint("greenhouse", "connectors.greenhouse.connector:GreenhouseConnector", registry.GROUP),
    )
    with pytest.raises(ConfigError, match="GREENHOUSE_API_KEY"):
        registry.load("greenhouse", _Settings(api_key="", on_behalf_of="1001"))
    with pytest.raises(ConfigError, match="GREENHOUSE_ON_BEHALF_OF"):
        registry.load("greenhouse", _Settings(api_key="k", on_behalf_of=""))


def test_an_unknown_name_is_a_config_error_naming_it() -> None:
    with pytest.raises(ConfigError, match="'workday-classic'"):
        registry.load("workday-classic", settings=None)


class _BrokenEntryPoint:
    name = "broken"
    value = "crosschq_broken.connector:BrokenConnector"
    group = registry.GROUP

    def load(self) -> Any:
        raise ImportError("No module named 'crosschq_broken'")


def _fake_entry_points(monkeypatch: pytest.MonkeyPatch, *eps: Any) -> None:
    def entry_points(*, group: str) -> list[Any]:
        return list(eps) if group == registry.GROUP else []

    monkeypatch.setattr(registry, "entry_points", entry_points)


def test_a_broken_entry_point_is_a_config_error_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_entry_points(monkeypatch, _BrokenEntryPoint())
    assert registry.available() == ["broken"]
    with pytest.raises(ConfigError, match="'broken'") as raised:
        registry.load("broken", settings=None)
    assert "crosschq_broken.connector:BrokenConnector" in str(raised.value)
    assert "ImportError" in str(raised.value)


def test_an_entry_point_that_is_not_a_connector_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _fake_entry_points(monkeypatch, EntryPoint("notone", "json:loads", registry.GROUP))
    with pytest.raises(ConfigError, match=r"'notone'.*not an AtsConnector"):
        registry.load("notone", settings=None)
