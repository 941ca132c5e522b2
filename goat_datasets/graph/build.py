"""The graph stage end to end: (descriptions) -> candidates -> (LLM check) -> execution check -> final graph.

The two LLM stages are hooks (``describe``, ``llm_check``) because their runner, a distilabel pipeline, lives in the
builders, which the core never imports (`goat_builders.graph_pipeline` makes them).
"""

from __future__ import annotations

import logging
import time
from typing import Callable, Sequence

import networkx as nx
from pydantic import BaseModel

from goat_datasets.execution.base import Executor
from goat_datasets.graph.candidates import CandidateStats, TextEmbedder, find_candidates
from goat_datasets.graph.descriptions import DescriptionStats
from goat_datasets.graph.llm_check import LlmCheckStats, apply_llm_check
from goat_datasets.graph.model import (
    DependencyEdge, DependencyGraph, StageResult, add_edge, iter_edges, new_graph, set_edge,
)  # fmt: skip
from goat_datasets.graph.verify import ArgumentSource, ExecutionCheckStats, verify_by_execution
from goat_datasets.sources.models import ApiSpec

log = logging.getLogger(__name__)


class GraphStats(BaseModel):
    """Counts per stage, for logs and the dataset card."""

    apis: int
    descriptions: DescriptionStats | None = None
    candidates: CandidateStats
    llm_check: LlmCheckStats | None = None
    execution_check: ExecutionCheckStats | None = None
    execution_check_skipped_reason: str = ""
    edges: int = 0
    apis_with_edges: int = 0
    components: int = 0
    largest_component: int = 0
    seconds: float = 0.0


def build_graph(
    apis: Sequence[ApiSpec],
    *,
    embedder: TextEmbedder,
    threshold: float | None = None,
    top_k: int | None = None,
    preset: str = "default",
    no_cross_tool_id: bool = False,
    executor: Executor | None = None,
    verify: bool = True,
    argument_source: ArgumentSource | None = None,
    may_call: Callable[[ApiSpec], bool] | None = None,
    max_workers: int = 8,
    keep_skipped: bool = True,
    describe: Callable[[list[ApiSpec]], tuple[list[ApiSpec], DescriptionStats]] | None = None,
    llm_check: Callable[[list[DependencyEdge], dict[str, ApiSpec]], list[StageResult]] | None = None,
) -> tuple[nx.MultiDiGraph, GraphStats]:
    """Build the dependency graph of ``apis``. With ``verify`` but no executor, edges stay unverified (skipped).

    ``preset`` names the candidate rule (`goat_datasets.graph.candidates.preset_config`: ``default``, ``paper``,
    ``similarity``); ``threshold`` (None: the preset's), ``top_k`` (None: no cap) and ``no_cross_tool_id`` override it.

    ``describe`` returns copies of the APIs with descriptions filled (used by every later stage of this graph; the
    caller's ApiSpecs are not changed). ``llm_check`` returns one ``llm_check`` verdict per candidate edge: failed
    edges leave the graph before the execution check (never executed), skipped ones (an unreadable answer) stay
    unless ``keep_skipped`` is off, as in the execution check.
    """
    started = time.perf_counter()
    descriptions: DescriptionStats | None = None
    if describe is not None:
        described, descriptions = describe(list(apis))
        if [a.id for a in described] != [a.id for a in apis]:
            raise ValueError("the describe hook must return one ApiSpec per API, with the same ids in the same order")
        apis = described
    graph = new_graph(apis)
    log.info("graph: %d APIs, candidates (preset %s, threshold %s, top_k %s)", len(apis), preset, threshold, top_k)
    edges, cand_stats = find_candidates(
        apis, embedder, threshold=threshold, top_k=top_k, preset=preset, no_cross_tool_id=no_cross_tool_id
    )
    for edge in edges:
        add_edge(graph, edge)
    stats = GraphStats(apis=len(apis), descriptions=descriptions, candidates=cand_stats)

    if llm_check is not None:
        log.info("graph: LLM check of %d candidate edges", len(edges))
        t_check = time.perf_counter()
        verdicts = llm_check(list(edges), {a.id: a for a in apis})
        stats.llm_check = apply_llm_check(graph, edges, verdicts, keep_skipped=keep_skipped)
        stats.llm_check.seconds = time.perf_counter() - t_check

    if verify and executor is not None:
        log.info("graph: execution check of %d candidate edges", graph.number_of_edges())
        stats.execution_check = verify_by_execution(
            graph, apis, executor, argument_source, max_workers=max_workers, keep_skipped=keep_skipped,
            may_call=may_call,
        )
    else:
        why = "verify is off" if not verify else "no executor given"
        stats.execution_check_skipped_reason = why
        skipped = StageResult(status="skipped", code="not_requested", reason=f"execution check not run: {why}")
        for edge in iter_edges(graph):
            set_edge(graph, edge.with_stage("execution_check", skipped))

    view = DependencyGraph(graph)
    components = view.components()
    stats.edges = graph.number_of_edges()
    stats.apis_with_edges = len(view.apis_with_edges())
    stats.components = len(components)
    stats.largest_component = len(components[0]) if components else 0
    stats.seconds = time.perf_counter() - started
    graph.graph["stats"] = stats.model_dump(
        mode="json", exclude={"execution_check": {"dropped"}, "llm_check": {"dropped"}}
    )
    log.info(
        "graph: %d edges over %d APIs in %d components (%.2fs)",
        stats.edges, stats.apis_with_edges, stats.components, stats.seconds,
    )  # fmt: skip
    return graph, stats
