"""Why an edge A -> B is in the dependency graph or not: every stage's verdict, and the candidate rule's reasons.

A graph is judged by what it lacks as much as by what it has; a missing edge is answered from three places: the
edges the graph records between A and B (with every stage's `StageResult`), the records of edges a stage removed
(the execution check keeps only ``{edge, code, reason}`` of those, in ``graph_stats.json``), and the candidate rule
run again on the whole API set (`goat_datasets.graph.candidates.explain_pair`), which says for each (output field,
parameter) pair whether it would be a candidate and why.
"""

from __future__ import annotations

import difflib
from typing import Any, Iterable, Mapping, Sequence

import networkx as nx
from pydantic import BaseModel, Field

from goat_datasets.graph.candidates import PairExplanation, TextEmbedder, explain_pair
from goat_datasets.graph.model import STAGES, DependencyEdge, StageResult
from goat_datasets.sources.models import ApiSpec


class ApiNameError(ValueError):
    """A name given on the command line matches no API, or several."""


def resolve_api(name: str, apis: Sequence[ApiSpec]) -> str:
    """The id of the API ``name`` designates: an id, or an operation name that only one API has (any case)."""
    ids = {a.id for a in apis}
    if name in ids:
        return name
    for match in (lambda a: a.name == name, lambda a: a.name.lower() == name.lower() or a.id.lower() == name.lower()):
        found = sorted(a.id for a in apis if match(a))
        if len(found) == 1:
            return found[0]
        if found:
            raise ApiNameError(f"{name!r} is ambiguous: it names {', '.join(found)}; give the id")
    owner: dict[str, ApiSpec] = {}
    for a in apis:
        owner.setdefault(a.name, a)
        owner[a.id] = a
    close: list[ApiSpec] = []
    for match in difflib.get_close_matches(name, sorted(owner), n=6, cutoff=0.6):
        if owner[match] not in close:
            close.append(owner[match])
    hint = f"; did you mean {' or '.join(f'{a.name!r} ({a.id})' for a in close[:3])}?" if close else ""
    raise ApiNameError(f"no API named {name!r} among the {len(apis)} APIs of this build{hint}")


class RecordedEdge(BaseModel):
    """An edge A -> B the build recorded, usable or not: one in the graph, or one a stage removed from it."""

    source_path: str
    target_param: str
    in_graph: bool = Field(description="False: a stage removed it and only its failing verdict was kept")
    score: float | None = None
    usable: bool
    failed_stage: str | None = None
    reason: str = Field("", description="The edge's own reason (written by the LLM check; guides argument filling)")
    stages: dict[str, StageResult] = Field(default_factory=dict, description="Every recorded stage verdict")
    candidate: PairExplanation | None = Field(None, description="The candidate rule's view of the same pair, now")


class EdgeExplanation(BaseModel):
    source_api: str
    target_api: str
    verdict: str = Field(description="One sentence: is there a usable edge, and if not, where it stopped")
    usable_edges: int
    edges: list[RecordedEdge]
    candidates: list[PairExplanation] = Field(description="The candidate rule on every (field, parameter) pair")
    settings: dict[str, Any] = Field(default_factory=dict, description="The candidate settings the rule ran with")


def _removed_pair(record: Mapping[str, Any], a: str, b: str) -> tuple[str, str] | None:
    """(source_path, target_param) of a removal record ``"A.path -> B(param)"`` (`DependencyEdge.describe`) of A->B."""
    text = str(record.get("edge", ""))
    head, sep, rest = text.partition(f" -> {b}(")
    if not sep or not head.startswith(f"{a}.") or not rest.endswith(")"):
        return None
    return head[len(a) + 1 :], rest[:-1]


def explain_edge(
    graph: nx.MultiDiGraph,
    apis: Sequence[ApiSpec],
    source: str,
    target: str,
    *,
    embedder: TextEmbedder,
    preset: str = "default",
    threshold: float | None = None,
    top_k: int | None = None,
    no_cross_tool_id: bool = False,
    removed: Iterable[Mapping[str, Any]] = (),
) -> EdgeExplanation:
    """Explain A -> B (ids or unambiguous operation names, see `resolve_api`) in ``graph`` built from ``apis`` with
    the given candidate settings (those of the recipe, so the rule's answers match the graph's candidates).

    ``removed``: records of edges a stage removed (`goat_datasets.graph.artifacts.removed_edges`).
    """
    a, b = resolve_api(source, apis), resolve_api(target, apis)
    if a == b:
        raise ApiNameError(f"{source!r} and {target!r} are both {a}; an edge joins two different APIs")
    settings = {"preset": preset, "threshold": threshold, "top_k": top_k, "no_cross_tool_id": no_cross_tool_id}
    pairs = explain_pair(
        apis, embedder, a, b, preset=preset, threshold=threshold, top_k=top_k, no_cross_tool_id=no_cross_tool_id
    )
    by_pair = {(p.source_path, p.target_param): p for p in pairs if p.source_path is not None}

    edges: list[RecordedEdge] = []
    if graph.has_node(a) and graph.has_node(b):
        for key in sorted(graph[a][b]) if graph.has_edge(a, b) else []:
            e = DependencyEdge.from_attrs(a, b, graph.edges[a, b, key])
            edges.append(RecordedEdge(
                source_path=e.source_path, target_param=e.target_param, in_graph=True, score=e.score,
                usable=e.usable, failed_stage=e.failed_stage, reason=e.reason,
                stages={s: getattr(e, s) for s in STAGES}, candidate=by_pair.get((e.source_path, e.target_param)),
            ))  # fmt: skip
    for record in removed:
        pair = _removed_pair(record, a, b)
        if pair is None:
            continue
        stage = str(record.get("stage", "execution_check"))
        verdict = StageResult(status="failed", code=str(record.get("code", "")), reason=str(record.get("reason", "")))
        was_candidate = StageResult(status="passed", reason="a candidate (of a removed edge only the failure is kept)")
        edges.append(RecordedEdge(
            source_path=pair[0], target_param=pair[1], in_graph=False, usable=False, failed_stage=stage,
            stages={STAGES[0]: was_candidate, stage: verdict}, candidate=by_pair.get(pair),
        ))  # fmt: skip

    usable = [e for e in edges if e.usable]
    ordered = sorted(pairs, key=lambda p: (not p.kept, -p.score, p.target_param, p.source_path or ""))
    return EdgeExplanation(
        source_api=a, target_api=b, verdict=_verdict(a, b, edges, usable, ordered), usable_edges=len(usable),
        edges=edges, candidates=ordered, settings=settings,
    )  # fmt: skip


def _verdict(
    a: str, b: str, edges: list[RecordedEdge], usable: list[RecordedEdge], pairs: list[PairExplanation]
) -> str:
    if usable:
        which = ", ".join(f"{e.source_path} -> {e.target_param}" for e in usable)
        return f"{a} -> {b} exists: {len(usable)} usable edge{'s' if len(usable) != 1 else ''} ({which})"
    if edges:
        stops = ", ".join(
            f"{e.source_path} -> {e.target_param} failed the {e.failed_stage} ({e.stages[e.failed_stage].code})"
            for e in edges
            if e.failed_stage
        )
        return f"no usable edge {a} -> {b}: the candidate rule proposed {len(edges)}, and {stops}"
    kept = [p for p in pairs if p.kept]
    if kept:  # the rule keeps a pair the graph never recorded: the graph was built otherwise
        return (
            f"no edge {a} -> {b} in the graph, yet the candidate rule keeps {len(kept)} pair(s) now "
            f"({kept[0].source_path} -> {kept[0].target_param}): the graph was built with other settings or "
            "documents; rebuild it (goat graph --rebuild)"
        )
    considered = [p for p in pairs if p.source_path is not None]
    if not considered:
        return f"no edge {a} -> {b}: no (field, parameter) pair to compare (no fields in {a} or no targets in {b})"
    best = considered[0]
    return (
        f"no edge {a} -> {b}: the candidate rule kept none of {len(considered)} (field, parameter) pairs; "
        f"closest: {best.source_path} -> {best.target_param}, {best.why}"
    )
