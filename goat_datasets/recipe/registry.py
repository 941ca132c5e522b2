"""The recipes a user can run: ``./recipes`` and the repository's ``recipes/`` folder.

`goat recipes list` and name lookup (``goat validate demo``) read this one listing. Each recipe file opens with a
comment giving the command that builds it, which the listing shows, so the list doubles as a how-to.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel, Field

import goat_datasets
from goat_datasets.recipe.errors import RecipeError
from goat_datasets.recipe.loader import load_recipe

RECIPE_SUFFIXES = (".yaml", ".yml")


class RecipeInfo(BaseModel):
    """One line of `goat recipes list`. A recipe that does not load is listed too, with ``error`` set."""

    name: str = Field(description="The recipe's name (its file stem when it does not load).")
    path: Path
    description: str = ""
    command: str = Field(description="How to build it, from the file's first comment line.")
    error: str | None = Field(default=None, description="Summary of the load problems, None when it is valid.")


def default_recipe_dirs() -> list[Path]:
    """``./recipes`` (the user's), then the ``recipes/`` folder beside the installed package (the shipped ones)."""
    return [Path.cwd() / "recipes", Path(goat_datasets.__file__).resolve().parents[1] / "recipes"]


def first_comment(path: Path) -> str | None:
    """The text of the file's opening comment line, or None when it does not open with one."""
    try:
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                stripped = line.strip()
                if not stripped:
                    continue
                return stripped.lstrip("#").strip() if stripped.startswith("#") else None
    except (OSError, UnicodeDecodeError):
        return None
    return None


def _recipe_files(dirs: Iterable[Path]) -> list[Path]:
    seen: set[Path] = set()
    files = []
    for folder in dirs:
        if not folder.is_dir():
            continue
        for file in sorted(folder.iterdir()):
            resolved = file.resolve()
            if file.suffix in RECIPE_SUFFIXES and file.is_file() and resolved not in seen:
                seen.add(resolved)
                files.append(file)
    return files


def _display_path(path: Path) -> Path:
    try:
        return path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return path.resolve()


def list_recipes(dirs: Iterable[str | os.PathLike[str]] | None = None) -> list[RecipeInfo]:
    """Every recipe file in ``dirs`` (default: `default_recipe_dirs`), de-duplicated by real path."""
    folders = default_recipe_dirs() if dirs is None else [Path(d) for d in dirs]
    infos = []
    for file in _recipe_files(folders):
        shown = _display_path(file)
        command = first_comment(file) or f"goat build {shown}"
        try:
            recipe = load_recipe(file)
        except RecipeError as exc:
            count = len(exc.issues)
            summary = f"{count} issue{'s' if count != 1 else ''}; first: {exc.issues[0]}"
            infos.append(RecipeInfo(name=file.stem, path=shown, command=command, error=summary))
            continue
        infos.append(RecipeInfo(name=recipe.name, path=shown, description=recipe.description, command=command))
    return infos


def resolve_recipe_path(
    name_or_path: str | os.PathLike[str], dirs: Iterable[str | os.PathLike[str]] | None = None
) -> Path:
    """A recipe file from a path, or from a recipe name or file stem in the listing (``demo``, ``goat-demo``).

    An unknown name is returned unchanged as a path, so loading it reports "no such recipe file".
    """
    path = Path(name_or_path)
    if path.exists() or path.suffix in RECIPE_SUFFIXES or len(path.parts) > 1:
        return path
    for info in list_recipes(dirs):
        if str(name_or_path) in (info.name, info.path.stem):
            return info.path
    return path
