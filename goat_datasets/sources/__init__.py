"""API document parsers. Each source kind turns a document into `ApiSpec`s.

Importing the package registers the built-in source kinds (so recipe validation knows their names).
"""

from goat_datasets.sources.models import ApiSpec, OutputField, Param
from goat_datasets.sources import openapi as _openapi  # noqa: F401  (registers "openapi")
from goat_datasets.sources import swagger2 as _swagger2  # noqa: F401  (registers "swagger2")
from goat_datasets.sources import functions as _functions  # noqa: F401  (registers "functions")
from goat_datasets.sources import toolbench as _toolbench  # noqa: F401  (registers "toolbench")
from goat_datasets.sources import apibank as _apibank  # noqa: F401  (registers "apibank")

__all__ = ["ApiSpec", "OutputField", "Param"]
