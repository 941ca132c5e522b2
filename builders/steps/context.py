"""What a step process needs from the build: the parsed APIs, executors and the LLM client, and what it records.

Steps run in their own processes (distilabel), so they receive plain, signature-friendly attributes (the build
directory and config dicts) and rebuild their clients in ``load()``.

Files a build's steps keep in the build directory, which make a killed build resume without redoing finished work:

- ``calls.sqlite``: every API call and its answer (`ResponseCache`); a re-run answers a call that already succeeded
  from it (a failed call is made again);
- ``llm.sqlite``: every successful LLM generation (`goat_datasets.llm.cache.CachedLLM`);
- ``rows_set_aside.jsonl``: during a run, the rows a step rejected, which skip the later steps (`set_aside`);
- ``build_log.jsonl``: one JSON line per step batch with its live and cached API and LLM calls: the record of what
  each run did (``goat build`` sums the lines of its own run at the end).
"""

from __future__ import annotations

import importlib.util
import json
import os
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

from goat_datasets.recipe.fingerprint import hash_files
from goat_datasets.sources.models import ApiSpec

APIS_FILE = "apis.json"
LOCAL_LLM_URL = "local"  # llm_config["base_url"] meaning: the build's local endpoint, whose URL is in the env var
LOCAL_LLM_URL_ENV = "GOAT_LOCAL_LLM_URL"
CALLS_CACHE_FILE = "calls.sqlite"
LLM_CACHE_FILE = "llm.sqlite"
BUILD_LOG_FILE = "build_log.jsonl"
SET_ASIDE_FILE = "rows_set_aside.jsonl"  # rows rejected by a step before the last: they skip the steps after it
SET_ASIDE_AT = "_set_aside_at"  # the position of the step that set a row aside (read by the steps after it)


def save_apis(build_dir: Path, apis: list[ApiSpec]) -> Path:
    path = Path(build_dir) / APIS_FILE
    path.write_text(json.dumps([a.model_dump(mode="json", by_alias=True) for a in apis], indent=1))
    return path


def load_apis(build_dir: str | Path) -> dict[str, ApiSpec]:
    data = json.loads((Path(build_dir) / APIS_FILE).read_text())
    return {a["id"]: ApiSpec.model_validate(a) for a in data}


def make_llm(cfg: dict[str, Any]) -> Any:
    """An OpenAI-compatible client: a remote server (vLLM, TGI, OpenAI) or the build's local endpoint."""
    from goat_datasets.llm.generation import OpenAICompatibleLLM

    base_url = cfg["base_url"]
    if base_url == LOCAL_LLM_URL:
        base_url = os.environ.get(LOCAL_LLM_URL_ENV, "")
        if not base_url:
            raise RuntimeError(f"the build's local LLM endpoint is not running ({LOCAL_LLM_URL_ENV} is unset)")
    return OpenAICompatibleLLM(
        base_url=base_url,
        model=cfg["model"],
        api_key_env=cfg.get("api_key_env"),
        temperature=float(cfg.get("temperature", 0.0)),
        max_new_tokens=int(cfg.get("max_new_tokens", 256)),
        seed=int(cfg.get("seed", 0)),
    )


def make_cached_llm(cfg: dict[str, Any], build_dir: str | Path) -> Any:
    """`make_llm` behind the build's generation cache (``llm.sqlite``); the key leaves the endpoint URL out."""
    from goat_datasets.llm.cache import CachedLLM

    return CachedLLM(make_llm(cfg), Path(build_dir) / LLM_CACHE_FILE, model_id=str(cfg["model"]))


def append_build_log(build_dir: str | Path, record: dict[str, Any]) -> None:
    """One JSON line in ``build_log.jsonl``, written with a single append (lines from several processes interleave
    whole)."""
    line = json.dumps({**record, "time": round(time.time(), 3), "pid": os.getpid()}, sort_keys=True) + "\n"
    _append_lines(Path(build_dir) / BUILD_LOG_FILE, [line])


def _append_lines(path: Path, lines: list[str]) -> None:
    """One ``write`` with the O_APPEND flag: lines from several processes interleave whole."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, "".join(lines).encode())
    finally:
        os.close(fd)


def set_aside(build_dir: str | Path, rows: list[dict[str, Any]], position: int) -> None:
    """Appends rejected ``rows`` to ``rows_set_aside.jsonl``, marked with the ``position`` of the step that set them
    aside; `goat_builders.sft_traces.run_pipeline` adds them back to the pipeline's output."""
    if rows:
        lines = [json.dumps({**r, SET_ASIDE_AT: position}, ensure_ascii=False) + "\n" for r in rows]
        _append_lines(Path(build_dir) / SET_ASIDE_FILE, lines)


class SetAsideCounter:
    """How many rows steps before a given position have set aside so far: read incrementally (only the bytes
    appended since the last look), so a progress line costs no more as the file grows."""

    def __init__(self, build_dir: str | Path, before: int):
        self.path = Path(build_dir) / SET_ASIDE_FILE
        self.before = before
        self.offset = 0
        self.count = 0

    def __call__(self) -> int:
        try:
            with self.path.open("rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return self.count
        complete = data[: data.rfind(b"\n") + 1]  # a line still being written is read next time
        self.offset += len(complete)
        for line in complete.splitlines():
            if json.loads(line).get(SET_ASIDE_AT, 0) < self.before:
                self.count += 1
        return self.count


def take_set_aside(build_dir: str | Path) -> list[dict[str, Any]]:
    """The rows set aside in a run (without their marks), and the file removed."""
    path = Path(build_dir) / SET_ASIDE_FILE
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        row.pop(SET_ASIDE_AT, None)
        rows.append(row)
    path.unlink()
    return rows


def read_build_log(build_dir: str | Path) -> list[dict[str, Any]]:
    """The lines of ``build_log.jsonl`` (a torn last line, from a killed run, is skipped)."""
    path = Path(build_dir) / BUILD_LOG_FILE
    if not path.is_file():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    return records


@lru_cache(maxsize=None)
def code_hash(*modules: str) -> str:
    """sha256 (16 hex digits) of the source files of ``modules``, found without importing them."""
    named = []
    for name in modules:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.origin:
            raise ImportError(f"code_hash: no source for module {name!r}")
        named.append((name, Path(spec.origin)))
    return hash_files(named)[:16]
