"""Carrying the recorded calls of a build over to the next build of the same recipe and sources.

A build directory is named by the fingerprint, which covers our code and prompt templates: after an upgrade or an
edited template the same recipe gets a fresh directory. Its finished stages must be redone (the code that made
them changed), but its calls need not be: an LLM generation is stored under its whole request (model, messages,
sampling settings) and an API response under its operation and arguments, so a stored answer is right for any
build that asks the same thing. A fresh directory therefore starts with copies of ``calls.sqlite`` and
``llm.sqlite`` from the newest build of the same recipe whose other inputs are identical (recipe content, API
documents, models, replay caches and rl files; `reuse_key`). Steps whose prompts and inputs did not change are
answered from them; a step whose template changed asks again, and so do the steps after it, whose inputs changed.

A live API whose data changes between builds is answered as it was: to ask it again, delete the older build
directory (or its ``calls.sqlite``) first.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Callable

from goat_builders.steps.context import CALLS_CACHE_FILE, LLM_CACHE_FILE

__all__ = ["INPUTS_FILE", "carry_over_calls", "record_inputs"]

INPUTS_FILE = "build_inputs.json"
CARRIED_FILES = (CALLS_CACHE_FILE, LLM_CACHE_FILE)


def record_inputs(build_dir: Path, reuse_key: str, fingerprint: str) -> None:
    (build_dir / INPUTS_FILE).write_text(
        json.dumps({"reuse_key": reuse_key, "fingerprint": fingerprint, "created": time.time()}, indent=1)
    )


def _reuse_key_of(build_dir: Path) -> str | None:
    try:
        return json.loads((build_dir / INPUTS_FILE).read_text()).get("reuse_key")
    except (OSError, ValueError, AttributeError):
        return None


def _copy_sqlite(src: Path, dst: Path) -> int:
    """A consistent copy (SQLite's backup API, safe with WAL files) written under a temporary name, then renamed:
    an interrupted copy leaves nothing behind. Returns the rows of the copy's first table."""
    tmp = dst.with_name(dst.name + ".carrying")
    tmp.unlink(missing_ok=True)
    source, target = sqlite3.connect(src), sqlite3.connect(tmp)
    try:
        source.backup(target)
        table = target.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY rowid").fetchone()
        rows = target.execute(f'SELECT COUNT(*) FROM "{table[0]}"').fetchone()[0] if table else 0
    finally:
        source.close()
        target.close()
    os.replace(tmp, dst)
    return rows


def carry_over_calls(build_dir: Path, reuse_key: str, log: Callable[[str], None] = print) -> Path | None:
    """Copies the call caches of the newest sibling build with the same ``reuse_key`` into the fresh ``build_dir``;
    returns that build's directory, or None (no such build, or ``build_dir`` already has calls of its own)."""
    if any((build_dir / name).exists() for name in CARRIED_FILES):
        return None
    siblings = [
        d for d in build_dir.parent.iterdir()
        if d != build_dir and d.is_dir() and _reuse_key_of(d) == reuse_key
        and any((d / name).is_file() for name in CARRIED_FILES)
    ]  # fmt: skip
    if not siblings:
        return None
    source = max(siblings, key=lambda d: (d / INPUTS_FILE).stat().st_mtime)
    counts = {}
    for name in CARRIED_FILES:
        if (source / name).is_file():
            counts[name] = _copy_sqlite(source / name, build_dir / name)
    log(
        f"carried over from {source.name} (same recipe and sources, other code or templates): "
        f"{counts.get(CALLS_CACHE_FILE, 0)} API responses, {counts.get(LLM_CACHE_FILE, 0)} LLM generations; "
        "only what they do not answer is asked again"
    )
    return source
