"""What a step process needs from the build: the parsed APIs, executors and the LLM client.

Steps run in their own processes (distilabel), so they receive plain, signature-friendly attributes (the build
directory and config dicts) and rebuild their clients in ``load()``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from goat_datasets.sources.models import ApiSpec

APIS_FILE = "apis.json"


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

    return OpenAICompatibleLLM(
        base_url=cfg["base_url"],
        model=cfg["model"],
        api_key_env=cfg.get("api_key_env"),
        temperature=float(cfg.get("temperature", 0.0)),
        max_new_tokens=int(cfg.get("max_new_tokens", 256)),
        seed=int(cfg.get("seed", 0)),
    )
