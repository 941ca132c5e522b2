"""Yield of constrained chain synthesis against the unconstrained baseline, on a real recorded response cache.

    .venv/bin/python benchmarks/rl_yield.py                                   # booking-orchestration, seed 0
    .venv/bin/python benchmarks/rl_yield.py --queries-per-template 3 --max-retries 50 --seed 1
    .venv/bin/python benchmarks/rl_yield.py --extra complexfuncbench:tests/fixtures/complexfuncbench_sample.jsonl

The cache is the booking-orchestration samples' 442 gold calls with their real responses (imported into a temporary
cache, `goat_datasets.cache.importers`), plus any ``--extra KIND:FILE``; the templates are the paper's 107 workflow
templates; the functions its 40 schemas. Both methods get the same requests (every template drawn uniformly,
``--queries-per-template`` chains each) and the same budget of ``--max-retries`` passes per request, where a pass is
one walk through the template; both give up on a request at once when a function of its template has no usable
recorded call (no pass could succeed):

- constrained (`goat_datasets.rl.synthesis.synthesize`): the reverse index picks, per dependent step, the recorded
  calls whose arguments equal the values read from the parent's response; no LLM call until the query.
- unconstrained (`sample_unconstrained`): independent steps take a random recorded call; a dependent step's other
  arguments come from a filler standing for an LLM call (the arguments of a random recorded call of the function:
  real values, generous to the baseline), its dependent ones from the parent; the pass succeeds only if every call
  is an exact cache hit.

A valid sample is a new (not duplicate) chain whose every step replays from the cache (`validate_chain`) and whose
query passes the value check. Queries are written by a deterministic fake LLM that copies the required values out of
the rendered ``rl_query`` prompt, so every query call succeeds and counts as one LLM call (what an LLM would be asked,
without the model's own failure rate). LLM calls: constrained = query calls; unconstrained = filler calls + query
calls.

Printed: per method, requests, passes, valid samples, LLM calls, valid per pass, per request and per LLM call; the last
line is ``constrained_yield=Y unconstrained_yield=Y ratio=R constrained_per_llm_call=... unconstrained_per_llm_call=...
ratio_per_llm_call=...`` with yield = valid samples per pass.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from goat_builders.prompting import render
from goat_datasets.cache import ResponseCache
from goat_datasets.cache.importers import import_files
from goat_datasets.execution.replay import ReplayExecutor
from goat_datasets.llm.generation import Generation
from goat_datasets.rl import ReverseIndex, RLSynthesisSettings, load_templates, make_query_writer, synthesize
from goat_datasets.rl.query import QueryResult
from goat_datasets.rl.synthesis import draw_templates, resolve_functions, sample_unconstrained, validate_chain
from goat_datasets.sources.functions import load_functions_source

VALUES_MARKER = "exactly as written: "


class ValueCopyingLLM:
    """A deterministic stand-in for the query-writing LLM: it reads the required values out of the prompt."""

    def __init__(self) -> None:
        self.calls = 0

    def generate(self, messages: list[dict[str, Any]], max_new_tokens: int | None = None) -> Generation:
        self.calls += 1
        prompt = messages[-1]["content"]
        line = next((l for l in prompt.splitlines() if VALUES_MARKER in l), None)
        if line is None:
            return Generation(error="the prompt has no list of values to state")
        values = line.split(VALUES_MARKER, 1)[1].rstrip(";").strip()
        return Generation(text=f"Could you help me with this: {values}?")


def shared_data() -> Path:
    for candidate in (os.environ.get("GOAT_SHARED_DATA"), Path(__file__).resolve().parents[2] / "shared" / "data",
                      "/work/shared/data"):  # fmt: skip
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    sys.exit("no shared data directory: set GOAT_SHARED_DATA")


def ratio(a: float, b: float) -> float:
    return a / b if b else (math.inf if a else float("nan"))


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    data = Path(args.data) if args.data else shared_data() / "booking-orchestration"
    cache_path = workdir / "responses.sqlite"
    cache = ResponseCache(cache_path)
    reports = [import_files("booking", [data / "training_workflows.json"], cache)]
    for extra in args.extra:
        kind, _, file = extra.partition(":")
        reports.append(import_files(kind, [file], cache))
    apis = load_functions_source((data / "booking_api_functions.jsonl").read_bytes(), source="booking",
                                 doc_name="booking_api_functions.jsonl").apis  # fmt: skip
    templates = load_templates(data / "workflow_templates.json")
    apis_by_id = {api.id: api for api in apis}
    index = ReverseIndex.from_cache(cache, min_float_decimals=args.min_float_decimals)
    settings = RLSynthesisSettings(
        seed=args.seed,
        queries_per_template=args.queries_per_template,
        max_retries=args.max_retries,
        min_float_decimals=args.min_float_decimals,
    )
    executor = ReplayExecutor(cache_path=cache_path)
    write = make_query_writer(ValueCopyingLLM(), lambda context: render("rl_query", **context), apis_by_id)

    started = time.perf_counter()
    constrained = synthesize(templates, index, apis, executor, write, settings)
    constrained_s = time.perf_counter() - started
    c = constrained.counts

    # The baseline, on the same requests with the same pass budget.
    started = time.perf_counter()
    api_for, unusable = resolve_functions(templates, apis)
    u = {"requests": 0, "passes": 0, "valid": 0, "llm_calls": 0, "hits": 0, "duplicates": 0, "invalid": 0,
         "query_rejected": 0}  # fmt: skip
    seen: set[tuple] = set()
    for draw, template in enumerate(draw_templates(templates, settings)):
        for query_number in range(settings.queries_per_template):
            u["requests"] += 1
            if template.id in unusable:
                u["passes"] += 1
                continue
            rng = random.Random(f"{settings.seed}:{draw}:{template.id}:{query_number}")
            chain = None
            for _ in range(settings.max_retries):
                u["passes"] += 1
                outcome = sample_unconstrained(template, index, api_for, rng)
                u["llm_calls"] += outcome.llm_calls
                if outcome.chain is not None or outcome.permanent:  # permanent: constrained stops there too
                    chain = outcome.chain
                    break
            if chain is None:
                continue
            u["hits"] += 1
            if chain.signature in seen:
                u["duplicates"] += 1
                continue
            seen.add(chain.signature)
            if validate_chain(chain, executor, apis_by_id):
                u["invalid"] += 1
                continue
            query: QueryResult = write(chain)
            u["llm_calls"] += query.llm_calls
            if not query.ok:
                u["query_rejected"] += 1
                continue
            u["valid"] += 1
    unconstrained_s = time.perf_counter() - started
    executor.close()
    cache.close()

    out = {
        "cache": {"entries": len(index), "imports": [r.summary() for r in reports]},
        "templates": len(templates),
        "settings": settings.model_dump(exclude={"system_prompt"}),
        "constrained": {
            "requests": c["attempts"], "passes": c["sampling_tries"], "valid": c["rows"], "llm_calls": c["llm_calls"],
            "duplicates": c["duplicates"], "rejected_sampling": c["rejected_sampling"],
            "rejected_validation": c["rejected_validation"], "rejected_query": c["rejected_query"],
            "seconds": round(constrained_s, 3),
        },
        "unconstrained": {**u, "seconds": round(unconstrained_s, 3)},
    }  # fmt: skip
    for name in ("constrained", "unconstrained"):
        m = out[name]
        m["valid_per_pass"] = ratio(m["valid"], m["passes"])
        m["valid_per_request"] = ratio(m["valid"], m["requests"])
        m["valid_per_llm_call"] = ratio(m["valid"], m["llm_calls"])
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="booking-orchestration folder (default: <shared data>/booking-orchestration)")
    parser.add_argument("--extra", action="append", default=[], metavar="KIND:FILE",
                        help="also import FILE with importer KIND (apibank, complexfuncbench, booking)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--queries-per-template", type=int, default=3)
    parser.add_argument("--max-retries", type=int, default=50)
    parser.add_argument("--min-float-decimals", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print the whole report as JSON")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="rl_yield_") as workdir:
        report = run(args, Path(workdir))
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"cache: {report['cache']['entries']} usable entries; {report['templates']} templates")
        for name in ("constrained", "unconstrained"):
            m = report[name]
            print(f"{name:>13}: {m['requests']} requests, {m['passes']} passes, {m['valid']} valid, "
                  f"{m['llm_calls']} LLM calls; valid/pass {m['valid_per_pass']:.4f}, "
                  f"valid/request {m['valid_per_request']:.4f}, valid/LLM call {m['valid_per_llm_call']:.4f} "
                  f"({m['seconds']} s)")  # fmt: skip
    c, u = report["constrained"], report["unconstrained"]
    print(
        f"constrained_yield={c['valid_per_pass']:.4f} unconstrained_yield={u['valid_per_pass']:.4f} "
        f"ratio={ratio(c['valid_per_pass'], u['valid_per_pass']):.2f} "
        f"constrained_per_llm_call={c['valid_per_llm_call']:.4f} "
        f"unconstrained_per_llm_call={u['valid_per_llm_call']:.4f} "
        f"ratio_per_llm_call={ratio(c['valid_per_llm_call'], u['valid_per_llm_call']):.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
