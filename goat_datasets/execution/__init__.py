"""Executors: how a call of an `ApiSpec` with arguments becomes a response.

Importing the package registers the built-in executors, so a recipe's ``executor:`` names resolve wherever the
package is imported (recipe validation, builds, tests).
"""

from goat_datasets.execution.base import CallResult, Executor
from goat_datasets.execution import http as _http  # noqa: F401  (registers "http")
from goat_datasets.execution import simulated as _simulated  # noqa: F401  (registers "simulated")
from goat_datasets.execution import replay as _replay  # noqa: F401  (registers "replay")

__all__ = ["CallResult", "Executor"]
