"""The fingerprint of a build: what the produced data depends on, hashed.

It names the build (cache) directory, so re-running the same recipe resumes, and anything that changes the content
(a recipe setting, a byte of an API document, a model, our own code) starts a fresh directory instead of silently
reusing stale stages. It also goes into the dataset card, which makes `goat rebuild` checkable.

Fields left out on purpose, because they do not change a single row of the data:
- ``version``: a release label. Publishing the same content as 1.0.1 must reuse the 1.0.0 build, and a rebuild of
  a published version must reproduce its fingerprint whatever it is tagged.
- ``hub``: where the data goes (repo id, privacy), not what it is.
- ``description`` and ``license``: text for the dataset card.
- ``llm.concurrency``: how many requests are in flight, which changes speed only (every request is cached by its
  content), so a user can raise it and resume an interrupted build.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from goat_datasets.cache_dir import cache_dir
from goat_datasets.recipe.schema import Recipe

CODE_PACKAGES = ("goat_datasets", "goat_builders")
CODE_SUFFIXES = (".py", ".jinja")
NON_CONTENT_FIELDS = frozenset({"version", "hub", "description", "license"})
NON_CONTENT_NESTED = {"llm": frozenset({"concurrency"})}


def _package_dir(name: str) -> Path | None:
    """Where a package lives, found without importing it (goat_builders may be missing or heavy to import)."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def code_version() -> str:
    """sha256 over the relative path and bytes of every .py and .jinja file of our packages, in sorted order.

    Editing a prompt template or a step changes it, which invalidates caches that a version number would not.
    """
    named: list[tuple[str, Path]] = []
    for package in CODE_PACKAGES:
        root = _package_dir(package)
        if root is None:
            continue
        files = sorted(
            p for p in root.rglob("*") if p.suffix in CODE_SUFFIXES and p.is_file() and "__pycache__" not in p.parts
        )
        named += [(f"{package}/{file.relative_to(root).as_posix()}", file) for file in files]
    return hash_files(named)


def hash_files(named_files: Iterable[tuple[str, Path]]) -> str:
    """sha256 hex of ``(name, file bytes)`` pairs in the given order; lengths delimit the entries, so moving bytes
    between a name and a file cannot collide."""
    digest = hashlib.sha256()
    for name, file in named_files:
        data = file.read_bytes()
        digest.update(f"{len(name)}:{name}:{len(data)}:".encode())
        digest.update(data)
    return digest.hexdigest()


def _canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def content_settings(recipe: Recipe) -> dict[str, Any]:
    """The recipe as data, minus the fields that do not change the content (see the module docstring)."""
    settings = {k: v for k, v in recipe.model_dump(mode="json").items() if k not in NON_CONTENT_FIELDS}
    for section, fields in NON_CONTENT_NESTED.items():
        if isinstance(settings.get(section), dict):
            settings[section] = {k: v for k, v in settings[section].items() if k not in fields}
    return settings


def replay_cache_digests(recipe: Recipe) -> dict[str, str]:
    """`ResponseCache.content_digest` of each source's replay cache, by source name.

    A replay source answers only from its cache, so the cache is an input like the API document: adding responses
    to it must start a fresh build, while the same responses in a rewritten file must not.
    """
    from goat_datasets.cache.store import ResponseCache

    digests: dict[str, str] = {}
    for source in recipe.sources:
        if not source.cache:
            continue
        path = recipe.resolve_path(source.cache)
        if not Path(path).is_file():
            raise FileNotFoundError(
                f"source {source.name!r}: replay cache {source.cache!r} not found (looked at {path})"
            )
        with ResponseCache(path, create=False) as cache:
            digests[source.name] = cache.content_digest()
    return digests


def fingerprint(
    recipe: Recipe,
    spec_contents: Mapping[str, bytes],
    model_ids: Sequence[str],
    code: str | None = None,
    caches: Mapping[str, str] | None = None,
) -> str:
    """sha256 hex of (content settings, sha256 of each spec by source name, model ids, code version, replay caches).

    ``spec_contents`` maps every source name of the recipe to the raw bytes of its document; ``model_ids`` is kept
    in the given order (callers give a fixed order, e.g. sorted); ``code`` defaults to `code_version()`; ``caches``
    maps a source name to its replay cache's content digest (`replay_cache_digests`). A recipe without replay
    caches keeps the fingerprint it had before caches were hashed.
    """
    names = {s.name for s in recipe.sources}
    if set(spec_contents) != names:
        missing, extra = sorted(names - set(spec_contents)), sorted(set(spec_contents) - names)
        raise ValueError(
            f"spec_contents must have one entry per source of recipe {recipe.name!r}: "
            f"missing {missing or 'none'}, unexpected {extra or 'none'}"
        )
    payload = {
        "recipe": content_settings(recipe),
        "specs": {name: hashlib.sha256(bytes(data)).hexdigest() for name, data in sorted(spec_contents.items())},
        "models": list(model_ids),
        "code": code_version() if code is None else code,
    }
    if caches:
        payload["replay_caches"] = dict(sorted(caches.items()))
    return hashlib.sha256(_canonical_json(payload)).hexdigest()


def build_dir(recipe: Recipe, fp: str) -> Path:
    """``<cache>/builds/<name>-<fp[:12]>``: readable, and distinct per content."""
    if len(fp) < 12:
        raise ValueError(f"fingerprint {fp!r} is too short; pass the full hex digest from fingerprint()")
    return cache_dir() / "builds" / f"{recipe.name}-{fp[:12]}"
