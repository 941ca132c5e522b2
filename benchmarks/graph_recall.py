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
in the budget curve); ``llm`` (the LLM check: not available yet, exit status 2).
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
) -> RecallReport:
    """The benchmark's core: build the stage's graph edges with ``preset`` and score them against the gold."""
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r} (known: {', '.join(STAGES)})")
    if stage == "llm":
        raise NotImplementedError("stage 'llm': the LLM check is not available yet")
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
        seconds=time.perf_counter() - started,
    )


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
    args = parser.parse_args(argv)

    apis = load_apis(args.spec, source=args.spec.stem)
    gold = json.loads(args.gold.read_text(encoding="utf-8"))
    try:
        report = measure(apis, gold, preset=args.preset, stage=args.stage)
    except NotImplementedError as exc:
        print(f"not available yet: {exc}")
        return 2
    print(format_report(report, misses=args.misses))
    if args.json:
        args.json.write_text(report.model_dump_json(indent=2) + "\n", encoding="utf-8")
    print(f"recall={report.recall:.4f} kept_fraction={report.kept_fraction:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
