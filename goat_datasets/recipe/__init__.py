"""Recipes: the YAML files users write, their schema, loading with line-numbered errors, and build fingerprints."""

from goat_datasets.recipe.errors import RecipeError, RecipeIssue
from goat_datasets.recipe.fingerprint import build_dir, code_version, fingerprint
from goat_datasets.recipe.loader import load_recipe, parse_recipe
from goat_datasets.recipe.registry import RecipeInfo, list_recipes, resolve_recipe_path
from goat_datasets.recipe.schema import (
    GraphConfig,
    HubConfig,
    LLMConfig,
    OutputsConfig,
    Recipe,
    SamplingConfig,
    SftOutput,
    SourceConfig,
)

__all__ = [
    "GraphConfig",
    "HubConfig",
    "LLMConfig",
    "OutputsConfig",
    "Recipe",
    "RecipeError",
    "RecipeInfo",
    "RecipeIssue",
    "SamplingConfig",
    "SftOutput",
    "SourceConfig",
    "build_dir",
    "code_version",
    "fingerprint",
    "list_recipes",
    "load_recipe",
    "parse_recipe",
    "resolve_recipe_path",
]
