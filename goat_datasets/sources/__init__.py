"""API document parsers. Each source kind turns a document into `ApiSpec`s."""

from goat_datasets.sources.models import ApiSpec, OutputField, Param

__all__ = ["ApiSpec", "OutputField", "Param"]
