"""The root of the project's one exception tree.

::

    WorkerError
    ├── ConfigError                  settings or rules are invalid (config/)
    └── IntegrationError             anything that went wrong talking to the outside (connectors/errors.py)
        ├── RetryableError           ... try again later
        └── PermanentError           ... retrying cannot help

The full tree under ``IntegrationError`` is drawn in :mod:`connectors.errors`.
"""

from __future__ import annotations


class WorkerError(Exception):
    """Base class of every error this project raises on purpose."""


class ConfigError(WorkerError):
    """Settings or the rules file are invalid; the message names the variable or key."""
