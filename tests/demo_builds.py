"""`goat build` of the demo recipe as a user runs it, for end-to-end tests: the demo API served here (logging the
calls it answers), a recipe pointing at it and at an OpenAI-compatible LLM (tests/fake_llm.py), and the build in a
subprocess of its own session, so a test can kill it with every distilabel step process."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import yaml

REPO = Path(__file__).resolve().parents[1]
DEMO_RECIPE = REPO / "recipes" / "demo.yaml"
SAMPLES = 6  # samples a test recipe asks for unless told otherwise
# Left out of the recipe: with them the API has state, and calls made concurrently (the graph stage's execution
# check, the steps' worker threads) would make two builds differ whatever the resume does.
WRITE_OPERATIONS = ("book_tickets", "cancel_booking", "post_review")

def demo_api(log: list[tuple[str, str, int]], phase: Callable[[], str]) -> Any:
    """The demo API, logging each request as ``(phase, "METHOD path?query", status)``."""
    from goat_datasets.demo_api.app import create_app

    app = create_app(seed=0)

    @app.middleware("http")
    async def record(request: Any, call_next: Any) -> Any:
        response = await call_next(request)
        if request.url.path not in ("/health", "/openapi.json"):  # calls only, not the spec the build reads
            log.append((phase(), f"{request.method} {request.url.path}?{request.url.query}", response.status_code))
        return response

    return app


def write_recipe(tmp_path: Path, api_url: str, llm_url: str, n: int = SAMPLES) -> Path:
    """The demo recipe against ``api_url`` (read operations only) and the LLM at ``llm_url``, asking ``n`` samples."""
    recipe = yaml.safe_load(DEMO_RECIPE.read_text())
    recipe["sources"][0]["spec"] = f"{api_url}/openapi.json"
    recipe["sources"][0]["base_url"] = api_url
    recipe["llm"] = {"provider": "openai", "base_url": llm_url, "model": "fake"}
    recipe["sources"][0]["exclude"] = list(WRITE_OPERATIONS)
    recipe["sampling"]["n"] = n
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


def build_env(cache: Path) -> dict[str, str]:
    env = {**os.environ, "GOAT_CACHE_DIR": str(cache), "HF_HOME": str(cache / "hf-home"), "COLUMNS": "240"}
    env.pop("HF_ENDPOINT", None)
    return env


def start_build(recipe: Path, cache: Path, out: Path) -> subprocess.Popen:
    """`goat build` in its own session (process group), so that a kill reaches distilabel's step processes too."""
    goat = Path(sys.executable).with_name("goat")
    return subprocess.Popen(
        [str(goat), "build", str(recipe)],
        env=build_env(cache),
        stdout=out.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def finish(proc: subprocess.Popen, out: Path, timeout: float = 300) -> str:
    try:
        proc.wait(timeout=timeout)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # children left behind by a killed leader
    return " ".join(out.read_text().split())  # rich may wrap lines


def only_build_dir(cache: Path) -> Path:
    dirs = list((cache / "builds").iterdir())
    assert len(dirs) == 1, dirs
    return dirs[0]
