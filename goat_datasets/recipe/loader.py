"""Recipe file -> validated `Recipe`, or a `RecipeError` listing every problem with its line and field path.

Order of work: YAML syntax (one issue, nothing else can be said) -> node tree with positions, duplicate keys and
``${VAR}`` interpolation -> ``--set`` overrides -> pydantic validation -> local spec files exist. Problems of all later
stages are collected together, so a user sees every mistake in one run.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from goat_datasets.recipe.errors import RecipeError, RecipeIssue
from goat_datasets.recipe.interpolate import interpolate
from goat_datasets.recipe.overrides import Override, OverrideError, apply_override, parse_override
from goat_datasets.recipe.paths import Loc, did_you_mean, field_names_at, format_loc, parse_field_path
from goat_datasets.recipe.schema import Recipe, is_url, repeated_names
from goat_datasets.recipe.yaml_tree import LocatedTree, read_tree

REQUIRED_HINT = "a recipe needs at least: name, version, hub.repo_id and sources"


def load_recipe(
    path: str | os.PathLike[str],
    overrides: Sequence[str] = (),
    *,
    environ: Mapping[str, str] | None = None,
    check_files: bool = True,
) -> Recipe:
    """Read and validate a recipe file. ``overrides`` are ``key.path=value`` strings (the CLI's ``--set``).

    ``environ`` (default: ``os.environ``) resolves ``${VAR}``; ``check_files`` also checks that local spec files exist.
    """
    file = Path(path)
    label = str(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RecipeError([RecipeIssue(file=label, message="no such recipe file")]) from None
    except IsADirectoryError:
        raise RecipeError([RecipeIssue(file=label, message="is a directory, not a recipe file")]) from None
    except UnicodeDecodeError as exc:
        raise RecipeError([RecipeIssue(file=label, message=f"is not UTF-8 text ({exc.reason})")]) from None
    except OSError as exc:
        raise RecipeError([RecipeIssue(file=label, message=f"cannot be read: {exc.strerror or exc}")]) from None
    recipe = parse_recipe(
        text, file=label, overrides=overrides, base_dir=file.parent, environ=environ, check_files=check_files
    )
    recipe.path = file
    return recipe


def parse_recipe(
    text: str,
    *,
    file: str = "<recipe>",
    overrides: Sequence[str] = (),
    base_dir: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    check_files: bool = True,
) -> Recipe:
    """Validate recipe text (e.g. the verbatim recipe stored in a dataset card). ``file`` only labels messages;
    ``base_dir`` is where relative spec paths point (None: spec files are not checked)."""
    env = os.environ if environ is None else environ
    try:
        tree = read_tree(text, on_string=lambda s: interpolate(s, env))
    except yaml.YAMLError as exc:
        raise RecipeError([_syntax_issue(file, exc)]) from None
    if tree is None:
        raise RecipeError([RecipeIssue(file=file, line=1, column=1, message=f"the recipe is empty; {REQUIRED_HINT}")])
    if not isinstance(tree.data, dict):
        where = tree.positions[()]
        kind = "a list" if isinstance(tree.data, list) else f"a single value ({tree.data!r})"
        raise RecipeError(
            [
                RecipeIssue(
                    file=file,
                    line=where.line,
                    column=where.column,
                    message=f"the top level of a recipe must be a mapping of fields, got {kind}",
                )
            ]
        )

    issues = [
        RecipeIssue(
            file=file, line=t.position.line, column=t.position.column, field_path=format_loc(t.loc), message=t.message
        )
        for t in tree.issues
    ]
    seen_locs = {t.loc for t in tree.issues}
    applied: list[Override] = []
    for text_ in overrides:
        try:
            override = parse_override(text_, Recipe)
            apply_override(tree.data, override, Recipe)
            applied.append(override)
        except OverrideError as exc:
            issues.append(RecipeIssue(file=f"--set {exc.text}", field_path=format_loc(exc.loc), message=str(exc)))

    recipe: Recipe | None = None
    try:
        recipe = Recipe.model_validate(tree.data)
    except ValidationError as exc:
        for error in exc.errors():
            loc = _loc_of(error)
            if loc not in seen_locs:
                issues.append(_issue_at(loc, _message(error, loc), file, tree, applied))
        if not any(e["type"] == "duplicate_source" for e in exc.errors()):
            issues.extend(_duplicate_source_names(tree, file, applied))
    if check_files and base_dir is not None:
        missing = _missing_spec_files(tree, file, Path(base_dir), applied)
        issues.extend(i for i in missing if parse_field_path(i.field_path) not in seen_locs)

    if issues:
        raise RecipeError(_sorted(issues, file))
    assert recipe is not None
    return recipe


def _syntax_issue(file: str, exc: yaml.YAMLError) -> RecipeIssue:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    message = "YAML syntax error: " + (f"{context}, {problem}" if context else problem)
    if mark is None:
        return RecipeIssue(file=file, message=message)
    return RecipeIssue(file=file, line=mark.line + 1, column=mark.column + 1, message=message)


def _loc_of(error: Mapping[str, Any]) -> Loc:
    """The error's location in the data; pydantic's internal tags (``function-after[...]``) are dropped, and a
    cross-field check's ``at`` (see `goat_datasets.recipe.schema`) is appended."""
    loc = tuple(p for p in error["loc"] if isinstance(p, int) or not (p.endswith("]") and "[" in p))
    at = (error.get("ctx") or {}).get("at")
    return loc + tuple(at) if at else loc


def _message(error: Mapping[str, Any], loc: Loc) -> str:
    kind = error["type"]
    value = error.get("input")
    if kind == "extra_forbidden":
        name = str(loc[-1]) if loc else "?"
        return f"unknown field {name!r}{did_you_mean(name, field_names_at(Recipe, loc[:-1]))}"
    if kind == "missing":
        return f"missing required field {str(loc[-1])!r}" if loc else "missing"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"expected a mapping of fields here, got {_describe(value)}"
    if kind == "list_type":
        return f"expected a list here, got {_describe(value)}"
    message = error["msg"]
    if kind == "value_error" and message.startswith("Value error, "):
        return message[len("Value error, ") :]
    if kind == "assertion_error" and message.startswith("Assertion failed, "):
        return message[len("Assertion failed, ") :]
    if isinstance(value, (str, int, float, bool)) or value is None:
        message += f" (got {value!r})"
    return message


def _describe(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"{type(value).__name__} {value!r}"


def _covering_override(loc: Loc, applied: Iterable[Override]) -> Override | None:
    """The last override that wrote ``loc`` or one of its parents: the value at fault came from it."""
    found = None
    for override in applied:
        if loc[: len(override.loc)] == override.loc:
            found = override
    return found


def _issue_at(loc: Loc, message: str, file: str, tree: LocatedTree, applied: list[Override]) -> RecipeIssue:
    """An issue placed on the override that wrote ``loc``, else on the line of ``loc`` (or its nearest parent)."""
    override = _covering_override(loc, applied)
    if override is not None:
        return RecipeIssue(file=override.label, field_path=format_loc(loc), message=message)
    position, _ = tree.position_of(loc)
    return RecipeIssue(
        file=file,
        line=position.line if position else None,
        column=position.column if position else None,
        field_path=format_loc(loc),
        message=message,
    )


def _missing_spec_files(tree: LocatedTree, file: str, base_dir: Path, applied: list[Override]) -> list[RecipeIssue]:
    sources = tree.data.get("sources")
    if not isinstance(sources, list):
        return []
    issues = []
    for i, source in enumerate(sources):
        spec = source.get("spec") if isinstance(source, dict) else None
        if not isinstance(spec, str) or not spec.strip() or is_url(spec):
            continue
        target = (base_dir / Path(spec).expanduser()).resolve()
        if target.is_file():
            continue
        loc: Loc = ("sources", i, "spec")
        message = f"spec file {spec!r} not found (looked at {target}); a relative path is relative to the recipe file"
        issues.append(_issue_at(loc, message, file, tree, applied))
    return issues


def _duplicate_source_names(tree: LocatedTree, file: str, applied: list[Override]) -> list[RecipeIssue]:
    """The schema checks unique names only once every source is valid; this finds repeats regardless."""
    sources = tree.data.get("sources")
    if not isinstance(sources, list):
        return []
    names = [s.get("name") if isinstance(s, dict) and isinstance(s.get("name"), str) else object() for s in sources]
    issues = []
    for i, first in repeated_names(names):
        message = f"source name {names[i]!r} is already used by sources[{first}]"
        issues.append(_issue_at(("sources", i, "name"), message, file, tree, applied))
    return issues


def _sorted(issues: list[RecipeIssue], file: str) -> list[RecipeIssue]:
    """File issues in line order first, then issues of overrides in the order they were given."""
    in_file = sorted((i for i in issues if i.file == file), key=lambda i: (i.line or 0, i.column or 0))
    return in_file + [i for i in issues if i.file != file]
