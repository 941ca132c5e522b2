"""How close the trace pipeline comes to the rate its LLM allows: samples/s against the ideal LLM-bound rate.

    .venv/bin/python benchmarks/pipeline_overhead.py                       # 48 samples, concurrency 1, 4, 8
    .venv/bin/python benchmarks/pipeline_overhead.py --samples 96 --llm-latency 0.2 --concurrency 2 8 16

The real builder (sources, graph, sampling, the distilabel pipeline with its steps, call caches and build log) runs
against the bundled demo API, slowed by ``--api-latency`` seconds per request, and an OpenAI-compatible LLM that
answers every request after exactly ``--llm-latency`` seconds (tests/fake_llm.py: real HTTP, any number of requests
in flight). Both servers run in a process of their own, as real ones would: in the benchmark's process they would
compete for the GIL with distilabel's main loop and answer late. Each concurrency setting runs the same sampled
chains in a fresh build directory, so no call is answered from a cache.

The ideal: each step processes ``c`` rows at once (its ``concurrency``), and distilabel runs the steps in their own
processes, so a sample's steps overlap with other samples'. The slowest step then bounds the rate:
``ideal = c / max_step(per-sample seconds of that step)``, with per-sample seconds = the step's LLM calls per sample
× LLM latency (+ API calls per sample × API latency for the step that executes calls), counted from the build's own
records (the rows' LLM usage, ``build_log.jsonl``). ``ratio = measured / ideal`` (target >= 0.9); ``overhead per row`` = (wall - ideal
wall) / samples, which includes the fixed cost of a run: start-up until the first batch starts (``start s``), and
filling and draining the steps' chain of processes, so larger ``--samples`` give a truer steady-state ratio.
The steps' progress lines scroll by while it runs; the table comes at the end. Last line:
``ratio_at_<c>=R ... overhead_ms_per_row_at_<c>=O``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the fake LLM server, shared with the tests

WRITE_OPERATIONS = ("book_tickets", "cancel_booking", "post_review")
STEP_OF_KIND = {"arguments": "execute_chains", "sub_instructions": "write_query_and_answer",
                "query": "write_query_and_answer", "answer": "write_query_and_answer", "judge": "judge"}  # fmt: skip


def slow_demo_api(latency_s: float) -> Any:
    from goat_datasets.demo_api.app import create_app

    app = create_app(seed=0)

    @app.middleware("http")
    async def delay(request: Any, call_next: Any) -> Any:
        if request.url.path not in ("/health", "/openapi.json"):
            await asyncio.sleep(latency_s)
        return await call_next(request)

    return app


def serve_fakes(llm_latency: float, api_latency: float, urls: Any, stop: Any) -> None:
    """Child process: the fake LLM and the slowed demo API until ``stop`` is set; their URLs go to ``urls``."""
    from fake_llm import FakeLLM

    from goat_datasets.servers import serve_in_thread

    with FakeLLM(delay_s=llm_latency).serve() as llm_url:
        with serve_in_thread(slow_demo_api(api_latency), health_path="/health") as api_url:
            urls.put((llm_url, api_url))
            stop.wait()


@contextlib.contextmanager
def fake_servers(llm_latency: float, api_latency: float) -> Iterator[tuple[str, str]]:
    ctx = multiprocessing.get_context("spawn")
    urls, stop = ctx.Queue(), ctx.Event()
    proc = ctx.Process(target=serve_fakes, args=(llm_latency, api_latency, urls, stop), daemon=True)
    proc.start()
    try:
        yield urls.get(timeout=120)
    finally:
        stop.set()
        proc.join(timeout=10)
        if proc.is_alive():
            proc.kill()


def recipe_for(api_url: str, llm_url: str, samples: int, path: Path) -> Path:
    import yaml

    recipe = yaml.safe_load((REPO / "recipes" / "demo.yaml").read_text())
    recipe["sources"][0].update(spec=f"{api_url}/openapi.json", base_url=api_url, exclude=list(WRITE_OPERATIONS))
    recipe["llm"] = {"provider": "openai", "base_url": llm_url, "model": "fake"}
    recipe["sampling"].update(n=samples, max_calls=3)
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


def run_once(
    setup: Any, chains: list[dict], llm_url: str, concurrency: int, root: Path
) -> tuple[float, list[dict], list[dict], float]:
    """Wall seconds, rows, build log records and start time (epoch s) of one pipeline run."""
    from goat_builders.sft_traces import build_pipeline, run_pipeline
    from goat_builders.steps.context import read_build_log

    bdir = root / f"c{concurrency}"
    shutil.rmtree(bdir, ignore_errors=True)
    bdir.mkdir(parents=True)
    shutil.copy(setup.build_dir / "apis.json", bdir / "apis.json")
    pipeline = build_pipeline(
        name=f"overhead-c{concurrency}", build_dir=bdir, chains=chains, sources=setup.exec_configs,
        llm_config={"base_url": llm_url, "model": "fake", "temperature": 0.0, "max_new_tokens": 256, "seed": 0},
        fingerprint=setup.fingerprint, concurrency=concurrency,
    )  # fmt: skip
    started, epoch = time.perf_counter(), time.time()
    rows = run_pipeline(pipeline)
    wall = time.perf_counter() - started
    return wall, rows, read_build_log(bdir), epoch


def start_seconds(records: list[dict], run_started: float) -> float:
    """From the run's start to the first batch's start (the log has each batch's end time and duration)."""
    return min(r["time"] - r["batch_s"] for r in records) - run_started


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

    from goat_builders.build import build_graph_stage, prepare_build, sample_stage
    from goat_datasets.recipe import load_recipe

    tmp = Path(tempfile.mkdtemp(prefix="goat-overhead-"))
    os.environ["GOAT_CACHE_DIR"] = str(tmp / "cache")
    results: dict[int, tuple[float, float]] = {}
    try:
        with fake_servers(args.llm_latency, args.api_latency) as (llm_url, api):
            recipe = load_recipe(recipe_for(api, llm_url, args.samples, tmp / "recipe.yaml"))
            quiet = lambda *_: None  # noqa: E731
            setup = prepare_build(recipe, quiet)
            graph = build_graph_stage(recipe, setup.apis, setup.build_dir, setup.exec_configs, quiet)
            chains = sample_stage(recipe, graph, setup.apis, setup.build_dir, quiet)
            lines = [
                f"{len(chains)} sampled chains; LLM latency {args.llm_latency}s, API latency {args.api_latency}s; "
                f"load average {os.getloadavg()[0]:.1f}",
                f"{'concurrency':>11} {'wall s':>7} {'start s':>7} {'samples/s':>9} {'ideal/s':>7} {'ratio':>5} "
                f"{'overhead ms/row':>15}",
            ]  # fmt: skip
            for c in args.concurrency:
                wall, rows, records, epoch = run_once(setup, chains, llm_url, c, tmp / "runs")
                api_calls = sum(r.get("api_live", 0) for r in records)
                ideal = ideal_seconds(rows, c, args.llm_latency, api_calls, args.api_latency)
                rate, ideal_rate = len(rows) / wall, len(rows) / ideal
                overhead_ms = (wall - ideal) / len(rows) * 1000
                results[c] = (rate / ideal_rate, overhead_ms)
                lines.append(
                    f"{c:>11} {wall:>7.1f} {start_seconds(records, epoch):>7.2f} {rate:>9.2f} {ideal_rate:>7.2f} "
                    f"{rate / ideal_rate:>5.2f} {overhead_ms:>15.0f}"
                )  # fmt: skip
        print("\n".join(lines))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(" ".join(f"ratio_at_{c}={r:.2f}" for c, (r, _) in results.items()) + " "
          + " ".join(f"overhead_ms_per_row_at_{c}={o:.0f}" for c, (_, o) in results.items()))  # fmt: skip


if __name__ == "__main__":
    main()
