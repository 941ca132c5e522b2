"""Recall of gold dependencies by the graph's candidate rule, on any RestBench-format pair of files.

    .venv/bin/python benchmarks/graph_recall.py \\
        --spec ../shared/data/restbench-tmdb/tmdb_oas.json --gold ../shared/data/restbench-tmdb/tmdb.json
    .venv/bin/python benchmarks/graph_recall.py --spec ... --gold ... --preset paper
    .venv/bin/python benchmarks/graph_recall.py --spec ... --gold ... --preset default --stage candidates --misses

Gold: RestBench items ``{"query", "solution": ["GET /search/person", "GET /person/{person_id}/movie_credits"]}``.
Every consecutive pair (A then B) of a solution, A != B, where B has a path parameter, is a dependency the graph should
contain: the pair is found when the graph has at least one edge A -> B. Steps are matched to operations by method and
path (trailing spaces stripped); a step naming no operation of the document is reported and its pairs are skipped.

Printed: recall of those pairs, the share of all ordered API pairs n(n-1) the graph links (``kept_fraction``, a
precision proxy), and recall when every rule keeps the same share of pairs (5/10/15/25%: the best-ranked pairs by
the rule's own score, so rules compare at equal budget). Embeddings are cached under $GOAT_CACHE_DIR/embeddings.
Last line: ``recall=R kept_fraction=F``.

Stages: ``candidates`` (the rule alone); ``execution`` (candidates, then the execution check against the
schema-simulated executor, `goat_datasets.execution.simulated`; pairs whose candidate edges all fail are ranked last
in the budget curve); ``llm`` (candidates, then GOAT's LLM check through the build's distilabel Task, asking any
OpenAI-compatible server; without ``--llm-base-url`` it exits with status 2):

    .venv/bin/python benchmarks/graph_recall.py --spec ... --gold ... --stage llm \\
        --llm-base-url http://127.0.0.1:8000/v1 --llm-model Qwen/Qwen2.5-7B-Instruct --max-edges 200

``--max-edges N`` asks about the N best-scored candidate edges only (the others stay, unchecked); answers are cached
in ``--llm-cache`` (default $GOAT_CACHE_DIR/benchmarks/graph_recall_llm/llm.sqlite), so a rerun asks nothing.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from pydantic import BaseModel, Field

from goat_datasets.graph.candidates import PRESET_NAMES, api_pair_scores, find_candidates
from goat_datasets.sources.models import ApiSpec

BUDGETS = (0.05, 0.10, 0.15, 0.25)
STAGES = ("candidates", "llm", "execution")


class RecallReport(BaseModel):
    preset: str
    stage: str
    apis: int
    possible_pairs: int = Field(description="n(n-1) ordered API pairs")
    gold_pairs: int
    found: int
    recall: float
    kept_pairs: int
    kept_fraction: float
    edges: int
    recall_at: dict[str, float] = Field(default_factory=dict, description="kept fraction -> recall at that budget")
    missed: list[str] = Field(default_factory=list)
    unmapped_steps: list[str] = Field(default_factory=list)
    llm_check: dict[str, int] | None = Field(None, description="stage llm: verdict counts, and edges left unchecked")
    seconds: float = 0.0


def route(method: str, path: str) -> str:
    return f"{method.upper()} {path.strip()}"


def _step(step: Any) -> str:
    """``"get  /search/person "`` -> ``"GET /search/person"``."""
    method, _, path = " ".join(str(step).split()).partition(" ")
    return route(method, path)


def gold_pairs(apis: Sequence[ApiSpec], gold: list[dict[str, Any]]) -> tuple[set[tuple[str, str]], list[str]]:
    """(the (A id, B id) pairs, the gold steps that name no operation of the document)."""
    by_route = {route(a.method, a.path): a for a in apis}
    pairs: set[tuple[str, str]] = set()
    unmapped: set[str] = set()
    for item in gold:
        steps = [_step(s) for s in item.get("solution", [])]
        unmapped |= {s for s in steps if s not in by_route}
        for a, b in zip(steps, steps[1:]):
            api_a, api_b = by_route.get(a), by_route.get(b)
            if api_a and api_b and api_a.id != api_b.id and any(p.location == "path" for p in api_b.params):
                pairs.add((api_a.id, api_b.id))
    return pairs, sorted(unmapped)


def load_apis(spec: Path, source: str = "spec") -> list[ApiSpec]:
    from goat_datasets.sources.openapi import parse_openapi

    return list(parse_openapi(json.loads(spec.read_text(encoding="utf-8")), source=source).apis)


def recall_at_budgets(
    scores: np.ndarray, index: dict[str, int], pairs: set[tuple[str, str]], budgets: Sequence[float] = BUDGETS
) -> dict[str, float]:
    """Recall when the best ``budget`` share of ordered pairs is kept (ties at the cut broken by pair order)."""
    n = scores.shape[0]
    off_diagonal = ~np.eye(n, dtype=bool)
    flat = scores[off_diagonal]
    order = np.argsort(-flat, kind="stable")
    positions = np.flatnonzero(off_diagonal.ravel())
    gold_flat = np.zeros(n * n, dtype=bool)
    for a, b in pairs:
        gold_flat[index[a] * n + index[b]] = True
    out = {}
    for budget in budgets:
        k = int(round(budget * n * (n - 1)))
        chosen = order[:k]
        chosen = chosen[np.isfinite(flat[chosen])]
        out[f"{budget:.2f}"] = float(gold_flat[positions[chosen]].sum() / max(1, len(pairs)))
    return out


def measure(
    apis: Sequence[ApiSpec],
    gold: list[dict[str, Any]],
    *,
    preset: str = "default",
    stage: str = "candidates",
    embedder: Any = None,
    budgets: Sequence[float] = BUDGETS,
    llm_check: Any = None,
    max_edges: int | None = None,
) -> RecallReport:
    """The benchmark's core: build the stage's graph edges with ``preset`` and score them against the gold.

    ``llm_check`` (stage ``llm``): ``(edges, {api id: ApiSpec}) -> [StageResult]``, as `build_graph` takes it.
    """
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r} (known: {', '.join(STAGES)})")
    if stage == "llm" and llm_check is None:
        raise NotImplementedError("stage 'llm' needs an LLM: give --llm-base-url URL --llm-model M")
    started = time.perf_counter()
    if embedder is None:
        from goat_datasets.embeddings import Embedder

        embedder = Embedder()
    pairs, unmapped = gold_pairs(apis, gold)
    edges, _ = find_candidates(apis, embedder, preset=preset)
    n = len(apis)
    index = {a.id: i for i, a in enumerate(apis)}
    scores = api_pair_scores(apis, embedder, preset=preset)
    if stage == "execution":
        candidates = {(e.source_api, e.target_api) for e in edges}
        edges = _execution_check(apis, edges)
        for a, b in candidates - {(e.source_api, e.target_api) for e in edges}:
            scores[index[a], index[b]] = -np.inf  # every candidate edge of the pair failed: ranked last
    llm_stats = None
    if stage == "llm":
        candidates = {(e.source_api, e.target_api) for e in edges}
        edges, llm_stats = _llm_check(apis, edges, llm_check, max_edges)
        for a, b in candidates - {(e.source_api, e.target_api) for e in edges}:
            scores[index[a], index[b]] = -np.inf  # the LLM rejected every candidate edge of the pair: ranked last
    linked = {(e.source_api, e.target_api) for e in edges}
    found = pairs & linked
    return RecallReport(
        preset=preset,
        stage=stage,
        apis=n,
        possible_pairs=n * (n - 1),
        gold_pairs=len(pairs),
        found=len(found),
        recall=len(found) / max(1, len(pairs)),
        kept_pairs=len(linked),
        kept_fraction=len(linked) / max(1, n * (n - 1)),
        edges=len(edges),
        recall_at=recall_at_budgets(scores, index, pairs, budgets),
        missed=[f"{a} -> {b}" for a, b in sorted(pairs - linked)],
        unmapped_steps=unmapped,
        llm_check=llm_stats,
        seconds=time.perf_counter() - started,
    )


def _llm_check(apis: Sequence[ApiSpec], edges: list, llm_check: Any, max_edges: int | None) -> tuple[list, dict]:
    """The edges the LLM check keeps (passed or unreadable; unchecked ones beyond ``max_edges`` too) and its counts."""
    from goat_datasets.graph.llm_check import apply_llm_check
    from goat_datasets.graph.model import add_edge, iter_edges, new_graph

    ranked = sorted(edges, key=lambda e: (-e.score, e.source_api, e.target_api, e.key))
    asked = ranked if max_edges is None else ranked[:max_edges]
    graph = new_graph(apis)
    for edge in edges:
        add_edge(graph, edge)
    verdicts = llm_check(asked, {a.id: a for a in apis})
    stats = apply_llm_check(graph, asked, verdicts, keep_skipped=True)
    counts = stats.model_dump(exclude={"dropped", "kept_skipped", "seconds"})
    counts["unchecked"] = len(edges) - len(asked)
    return list(iter_edges(graph)), counts


def _execution_check(apis: Sequence[ApiSpec], edges: list) -> list:
    """The edges that pass the execution check against the schema-simulated executor, when the package has one."""
    if importlib.util.find_spec("goat_datasets.execution.simulated") is None:
        raise NotImplementedError("stage 'execution': goat_datasets.execution.simulated does not exist yet")
    from goat_datasets.execution import simulated
    from goat_datasets.graph.model import add_edge, iter_edges, new_graph
    from goat_datasets.graph.verify import verify_by_execution

    if not hasattr(simulated, "SimulatedExecutor"):
        raise NotImplementedError("stage 'execution': goat_datasets.execution.simulated has no SimulatedExecutor")
    source = getattr(simulated, "simulated_argument", None)  # always has a value, so no edge is skipped for want
    graph = new_graph(apis)
    for edge in edges:
        add_edge(graph, edge)
    with simulated.SimulatedExecutor() as executor:
        verify_by_execution(graph, apis, executor, source, keep_skipped=True)
    return [e for e in iter_edges(graph) if e.usable]


def format_report(report: RecallReport, *, misses: bool = False) -> str:
    budgets = "  ".join(f"{float(k):.0%}: {v:.3f}" for k, v in report.recall_at.items())
    lines = [
        f"preset {report.preset}, stage {report.stage}: {report.apis} APIs, {report.possible_pairs} ordered pairs, "
        f"{report.gold_pairs} gold pairs",
        f"  recall {report.recall:.3f} ({report.found}/{report.gold_pairs}), kept {report.kept_pairs} pairs "
        f"= {report.kept_fraction:.3f} of all, {report.edges} edges, {report.seconds:.1f}s",
        f"  recall at kept fraction  {budgets}",
    ]
    if report.llm_check is not None:
        lines.append("  LLM check: " + ", ".join(f"{k} {v}" for k, v in report.llm_check.items()))
    if report.unmapped_steps:
        lines.append(f"  gold steps not in the document (their pairs skipped): {', '.join(report.unmapped_steps)}")
    if misses and report.missed:
        lines += ["  missed:"] + [f"    {m}" for m in report.missed]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spec", required=True, type=Path, help="OpenAPI document (JSON)")
    parser.add_argument("--gold", required=True, type=Path, help="RestBench-format queries with 'solution' paths")
    parser.add_argument("--preset", default="default", choices=PRESET_NAMES)
    parser.add_argument("--stage", default="candidates", choices=STAGES)
    parser.add_argument("--misses", action="store_true", help="list the gold pairs the graph misses")
    parser.add_argument("--json", type=Path, help="also write the report as JSON here")
    parser.add_argument("--llm-base-url", help="stage llm: an OpenAI-compatible server (http://host:port/v1)")
    parser.add_argument("--llm-model", help="stage llm: the model name the server expects")
    parser.add_argument("--llm-api-key-env", help="stage llm: NAME of the environment variable holding the API key")
    parser.add_argument("--max-edges", type=int, help="stage llm: ask about the N best-scored candidate edges only")
    parser.add_argument("--llm-cache", type=Path, help="stage llm: folder of the answers' cache (llm.sqlite)")
    args = parser.parse_args(argv)

    apis = load_apis(args.spec, source=args.spec.stem)
    gold = json.loads(args.gold.read_text(encoding="utf-8"))
    llm_check = None
    if args.stage == "llm" and args.llm_base_url:
        if not args.llm_model:
            parser.error("--llm-model is required with --llm-base-url")
        llm_check = _endpoint_llm_check(args)
    try:
        report = measure(apis, gold, preset=args.preset, stage=args.stage, llm_check=llm_check,
                         max_edges=args.max_edges)  # fmt: skip
    except NotImplementedError as exc:
        print(f"not available yet: {exc}")
        return 2
    print(format_report(report, misses=args.misses))
    if args.json:
        args.json.write_text(report.model_dump_json(indent=2) + "\n", encoding="utf-8")
    print(f"recall={report.recall:.4f} kept_fraction={report.kept_fraction:.4f}")
    return 0


def _endpoint_llm_check(args: argparse.Namespace) -> Any:
    from goat_builders.graph_pipeline import llm_check_hook
    from goat_datasets.cache_dir import cache_dir

    cache = args.llm_cache or cache_dir("benchmarks", "graph_recall_llm")
    cache.mkdir(parents=True, exist_ok=True)
    config = {"base_url": args.llm_base_url, "model": args.llm_model, "api_key_env": args.llm_api_key_env,
              "temperature": 0.0, "max_new_tokens": 256, "seed": 0}  # fmt: skip
    return llm_check_hook(config, cache, log=print)


if __name__ == "__main__":
    sys.exit(main())
