"""What a step process needs from the build: the parsed APIs, executors and the LLM client.

Steps run in their own processes (distilabel), so they receive plain, signature-friendly attributes (the build
directory and config dicts) and rebuild their clients in ``load()``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from goat_datasets.sources.models import ApiSpec

APIS_FILE = "apis.json"
LOCAL_LLM_URL = "local"  # llm_config["base_url"] meaning: the build's local endpoint, whose URL is in the env var
LOCAL_LLM_URL_ENV = "GOAT_LOCAL_LLM_URL"


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
