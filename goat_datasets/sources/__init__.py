"""API document parsers. Each source kind turns a document into `ApiSpec`s.

Importing the package registers the built-in source kinds (so recipe validation knows their names).
"""

from goat_datasets.sources.models import ApiSpec, OutputField, Param
from goat_datasets.sources import openapi as _openapi  # noqa: F401  (registers "openapi")

__all__ = ["ApiSpec", "OutputField", "Param"]
