"""Prompt templates live in builders/prompts/*.jinja; their hash is part of every step signature that uses them.

distilabel's step signature hashes step attributes only, so a step carries ``template_hash`` as an attribute:
editing a template then invalidates that step's cache (and, through the build fingerprint, the whole build).
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

PROMPTS_DIR = Path(__file__).parent / "prompts"


@lru_cache(maxsize=None)
def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(PROMPTS_DIR)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
        trim_blocks=False,
        auto_reload=False,  # read once per process: a build's fingerprint holds the templates as they were at its start
    )


def template_names() -> list[str]:
    return sorted(p.stem for p in PROMPTS_DIR.glob("*.jinja"))


def render(name: str, **context: Any) -> str:
    return _env().get_template(f"{name}.jinja").render(**context).strip()


def template_hash(*names: str) -> str:
    h = hashlib.sha256()
    for name in sorted(names):
        h.update(name.encode())
        h.update((PROMPTS_DIR / f"{name}.jinja").read_bytes())
    return h.hexdigest()[:16]
