"""How close the trace pipeline comes to the rate its LLM allows: samples/s against the ideal LLM-bound rate.

    .venv/bin/python benchmarks/pipeline_overhead.py                       # 48 samples, concurrency 1, 4, 8
    .venv/bin/python benchmarks/pipeline_overhead.py --samples 96 --llm-latency 0.2 --concurrency 2 8 16

The real builder (sources, graph, sampling, the distilabel pipeline with its steps, call caches and build log) runs
against the bundled demo API, slowed by ``--api-latency`` seconds per request, and an OpenAI-compatible LLM that
answers every request after exactly ``--llm-latency`` seconds (tests/fake_llm.py: real HTTP, any number of requests
in flight). Each concurrency setting runs the same sampled chains in a fresh build directory, so no call is
answered from a cache.

The ideal: each step processes ``c`` rows at once (its ``concurrency``), and distilabel runs the steps in their own
processes, so a sample's steps overlap with other samples'. The slowest step then bounds the rate:
``ideal = c / max_step(per-sample seconds of that step)``, with per-sample seconds = the step's LLM calls per sample
× LLM latency (+ API calls per sample × API latency for the step that executes calls), counted from the build's own
records. ``ratio = measured / ideal`` (target >= 0.9); ``overhead per row`` = (wall - ideal wall) / samples, which
includes distilabel's start-up (a few seconds per run, so larger ``--samples`` give a truer steady-state ratio).
Last line: ``ratio_at_<c>=R ... overhead_ms_per_row_at_<c>=O``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the fake LLM server, shared with the tests

WRITE_OPERATIONS = ("book_tickets", "cancel_booking", "post_review")
STEP_OF_KIND = {"arguments": "execute_chains", "sub_instructions": "write_query_and_answer",
                "query": "write_query_and_answer", "answer": "write_query_and_answer", "judge": "judge"}  # fmt: skip


def slow_demo_api(latency_s: float, counter: list[int]) -> Any:
    from goat_datasets.demo_api.app import create_app

    app = create_app(seed=0)

    @app.middleware("http")
    async def delay(request: Any, call_next: Any) -> Any:
        if request.url.path not in ("/health", "/openapi.json"):
            counter[0] += 1
            await asyncio.sleep(latency_s)
        return await call_next(request)

    return app


def recipe_for(api_url: str, llm_url: str, samples: int, path: Path) -> Path:
    import yaml

    recipe = yaml.safe_load((REPO / "recipes" / "demo.yaml").read_text())
    recipe["sources"][0].update(spec=f"{api_url}/openapi.json", base_url=api_url, exclude=list(WRITE_OPERATIONS))
    recipe["llm"] = {"provider": "openai", "base_url": llm_url, "model": "fake"}
    recipe["sampling"].update(n=samples, max_calls=3)
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


def run_once(setup: Any, chains: list[dict], llm_url: str, concurrency: int, root: Path) -> tuple[float, list[dict]]:
    from goat_builders.sft_traces import _steps, build_pipeline, run_pipeline

    bdir = root / f"c{concurrency}"
    shutil.rmtree(bdir, ignore_errors=True)
    bdir.mkdir(parents=True)
    shutil.copy(setup.build_dir / "apis.json", bdir / "apis.json")
    pipeline = build_pipeline(
        name=f"overhead-c{concurrency}", build_dir=bdir, chains=chains, sources=setup.exec_configs,
        llm_config={"base_url": llm_url, "model": "fake", "temperature": 0.0, "max_new_tokens": 256, "seed": 0},
        fingerprint=setup.fingerprint,
    )  # fmt: skip
    for step in _steps(pipeline):
        if hasattr(step, "concurrency"):
            step.concurrency = concurrency
    started = time.perf_counter()
    rows = run_pipeline(pipeline)
    return time.perf_counter() - started, rows


def ideal_seconds(rows: list[dict], concurrency: int, llm_s: float, api_calls: int, api_s: float) -> float:
    per_step: dict[str, float] = {}
    for row in rows:
        usage = json.loads(row.get("usage") or "{}")
        for kind, u in (usage.get("by_step") or {}).items():
            step = STEP_OF_KIND.get(kind, kind)
            per_step[step] = per_step.get(step, 0.0) + u.get("calls", 0) * llm_s
    per_step["execute_chains"] = per_step.get("execute_chains", 0.0) + api_calls * api_s
    return max(per_step.values()) / concurrency


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=48)
    parser.add_argument("--llm-latency", type=float, default=0.1)
    parser.add_argument("--api-latency", type=float, default=0.02)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 8])
    args = parser.parse_args()

    from fake_llm import FakeLLM

    from goat_builders.build import build_graph_stage, prepare_build, sample_stage
    from goat_datasets.recipe import load_recipe
    from goat_datasets.servers import serve_in_thread

    tmp = Path(tempfile.mkdtemp(prefix="goat-overhead-"))
    os.environ["GOAT_CACHE_DIR"] = str(tmp / "cache")
    api_calls = [0]
    fake = FakeLLM(delay_s=args.llm_latency)
    results: dict[int, tuple[float, float]] = {}
    try:
        with fake.serve() as llm_url, serve_in_thread(slow_demo_api(args.api_latency, api_calls), health_path="/health") as api:
            recipe = load_recipe(recipe_for(api, llm_url, args.samples, tmp / "recipe.yaml"))
            quiet = lambda *_: None  # noqa: E731
            setup = prepare_build(recipe, quiet)
            graph = build_graph_stage(recipe, setup.apis, setup.build_dir, setup.exec_configs, quiet)
            chains = sample_stage(recipe, graph, setup.apis, setup.build_dir, quiet)
            print(f"{len(chains)} sampled chains; LLM latency {args.llm_latency}s, API latency {args.api_latency}s; "
                  f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip
            print(f"{'concurrency':>11} {'wall s':>8} {'samples/s':>10} {'ideal/s':>8} {'ratio':>6} {'overhead ms/row':>16}")
            for c in args.concurrency:
                before = api_calls[0]
                wall, rows = run_once(setup, chains, llm_url, c, tmp / "runs")
                ideal = ideal_seconds(rows, c, args.llm_latency, api_calls[0] - before, args.api_latency)
                rate, ideal_rate = len(rows) / wall, len(rows) / ideal
                overhead_ms = (wall - ideal) / len(rows) * 1000
                results[c] = (rate / ideal_rate, overhead_ms)
                print(f"{c:>11} {wall:>8.1f} {rate:>10.2f} {ideal_rate:>8.2f} {rate / ideal_rate:>6.2f} {overhead_ms:>16.0f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(" ".join(f"ratio_at_{c}={r:.2f}" for c, (r, _) in results.items()) + " "
          + " ".join(f"overhead_ms_per_row_at_{c}={o:.0f}" for c, (_, o) in results.items()))  # fmt: skip


if __name__ == "__main__":
    main()
