"""A connector from another distribution, found by entry point, passes the contract.

``tests/example_connector`` is a separate package (the Makefile installs it into the venv);
nothing here imports it by name: it is loaded the way the worker loads every connector.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from connectors import registry
from connectors.ats import AtsConnector, EventKind
from connectors.contract import AtsConnectorContract

pytestmark = pytest.mark.skipif(
    "example" not in registry.available(),
    reason="tests/example_connector is not installed (pip install -e tests/example_connector)",
)


class TestExampleConnectorContract(AtsConnectorContract):
    @pytest.fixture
    def connector(self) -> AtsConnector:
        return registry.load("example", settings=None)

    @pytest.fixture
    def known_application_id(self) -> str:
        return "ex-100"

    @pytest.fixture
    def application_without_email_id(self) -> str:
        return "ex-101"

    @pytest.fixture
    def target_stage_name(self) -> str:
        return "Reference Check"

    # The example reuses the in-memory fake, whose helpers sign and report what landed.
    @pytest.fixture
    def signed_webhook(self, connector: Any) -> Callable[[EventKind, str], tuple[dict[str, str], bytes]]:
        return lambda kind, application_id: connector.make_webhook(kind, application_id)

    @pytest.fixture
    def sign_body(self, connector: Any) -> Callable[[bytes], dict[str, str]]:
        return connector.sign

    @pytest.fixture
    def written_state(self, connector: Any) -> Callable[[str], dict[str, Any]]:
        return connector.state


def test_it_is_registered_under_its_own_name() -> None:
    cls = registry.connector_class("example")
    assert cls.name == "example"
    assert cls.__module__ == "crosschq_example_connector"
