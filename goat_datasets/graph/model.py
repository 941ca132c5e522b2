"""The dependency graph's data model: one edge = (api A, output field path) -> (api B, parameter).

Edges live in a `networkx.MultiDiGraph` whose nodes are `ApiSpec` ids, because one API can feed several parameters
of another (a multigraph) and because networkx gives the sampler components and topological orders for free. Edge
attributes are plain JSON values (``DependencyEdge.to_attrs``) so ``graph.json`` is readable node-link JSON; the typed
view is `DependencyEdge`.

Every verification stage writes its verdict under its own attribute name (``candidate``, ``llm_check``,
``execution_check``), so a stage added later is one more `StageResult` field, and an edge is usable as long as no
stage has failed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable, Iterator, Literal

import networkx as nx
from pydantic import BaseModel, ConfigDict, Field

from goat_datasets.sources.models import ApiSpec, ParamLocation

GRAPH_FORMAT = "goat-dependency-graph"
GRAPH_FORMAT_VERSION = 1

StageStatus = Literal["passed", "failed", "skipped", "not_run"]
STAGES: tuple[str, ...] = ("candidate", "llm_check", "execution_check")


class StageResult(BaseModel):
    """One stage's verdict on one edge. ``code`` is a stable short reason (for counting), ``reason`` the long one."""

    model_config = ConfigDict(frozen=True)

    status: StageStatus = "not_run"
    code: str = ""
    reason: str = ""
    details: dict[str, Any] = Field(default_factory=dict)



def edge_key(source_path: str, target_param: str) -> str:
    """The multigraph key of an edge between two given APIs: unique per (output field, parameter) pair."""
    return f"{source_path}->{target_param}"


class DependencyEdge(BaseModel):
    """Output field ``source_path`` of ``source_api`` can be the value of ``target_param`` of ``target_api``."""

    model_config = ConfigDict(frozen=True)

    source_api: str
    source_path: str
    target_api: str
    target_param: str
    target_location: ParamLocation
    score: float
    source_type: str = "string"
    target_type: str = "string"
    reason: str = Field("", description="Why A's output fits B's parameter (written by the LLM check; guides argument filling)")
    # default_factory, not a shared default: pydantic deep-copies model defaults, which dominated candidate time
    candidate: StageResult = Field(default_factory=StageResult)
    llm_check: StageResult = Field(default_factory=StageResult)
    execution_check: StageResult = Field(default_factory=StageResult)

    @property
    def key(self) -> str:
        return edge_key(self.source_path, self.target_param)

    @property
    def failed_stage(self) -> str | None:
        """The first stage that rejected this edge, or None."""
        for stage in STAGES:
            if getattr(self, stage).status == "failed":
                return stage
        return None

    @property
    def usable(self) -> bool:
        return self.failed_stage is None

    def with_stage(self, stage: str, result: StageResult) -> "DependencyEdge":
        if stage not in STAGES:
            raise ValueError(f"unknown graph stage {stage!r} (known: {', '.join(STAGES)})")
        return self.model_copy(update={stage: result})

    def to_attrs(self) -> dict[str, Any]:
        """Edge attributes for networkx (everything but the two endpoints, which are the nodes)."""
        return self.model_dump(mode="json", exclude={"source_api", "target_api"})

    @classmethod
    def from_attrs(cls, source_api: str, target_api: str, attrs: dict[str, Any]) -> "DependencyEdge":
        return cls.model_validate({**attrs, "source_api": source_api, "target_api": target_api})

    def describe(self) -> str:
        return f"{self.source_api}.{self.source_path} -> {self.target_api}({self.target_param})"


def new_graph(apis: Iterable[ApiSpec]) -> nx.MultiDiGraph:
    """A graph with one node per API and no edges. Duplicate API ids are an error: ids must be unique per build."""
    graph = nx.MultiDiGraph(format=GRAPH_FORMAT, format_version=GRAPH_FORMAT_VERSION)
    for api in apis:
        if api.id in graph:
            raise ValueError(f"duplicate API id {api.id!r}: every ApiSpec in one graph needs a unique id")
        graph.add_node(api.id, tool=api.tool, name=api.name, source=api.source)
    return graph


def add_edge(graph: nx.MultiDiGraph, edge: DependencyEdge) -> None:
    for node in (edge.source_api, edge.target_api):
        if node not in graph:
            raise KeyError(f"edge {edge.describe()} names API {node!r}, which is not a node of the graph")
    graph.add_edge(edge.source_api, edge.target_api, key=edge.key, **edge.to_attrs())


def set_edge(graph: nx.MultiDiGraph, edge: DependencyEdge) -> None:
    """Replace the attributes of an existing edge (same endpoints and key)."""
    attrs = graph.edges[edge.source_api, edge.target_api, edge.key]
    attrs.clear()
    attrs.update(edge.to_attrs())


def iter_edges(graph: nx.MultiDiGraph) -> Iterator[DependencyEdge]:
    """Every edge as a `DependencyEdge`, in a deterministic order (by source, target, key)."""
    for a, b, key, attrs in sorted(graph.edges(keys=True, data=True), key=lambda e: (e[0], e[1], e[2])):
        yield DependencyEdge.from_attrs(a, b, attrs)


class DependencyGraph:
    """Typed queries over a dependency `MultiDiGraph` (a view: changes go to the wrapped graph)."""

    def __init__(self, graph: nx.MultiDiGraph):
        self.graph = graph

    @classmethod
    def from_apis(cls, apis: Iterable[ApiSpec]) -> "DependencyGraph":
        return cls(new_graph(apis))

    def add(self, edge: DependencyEdge) -> None:
        add_edge(self.graph, edge)

    def update(self, edge: DependencyEdge) -> None:
        set_edge(self.graph, edge)

    def edges(self, *, usable_only: bool = False) -> list[DependencyEdge]:
        return [e for e in iter_edges(self.graph) if e.usable or not usable_only]

    def edge(self, source_api: str, target_api: str, key: str) -> DependencyEdge:
        try:
            attrs = self.graph.edges[source_api, target_api, key]
        except KeyError:
            raise KeyError(f"no edge {source_api} -> {target_api} with key {key!r}") from None
        return DependencyEdge.from_attrs(source_api, target_api, attrs)

    def edges_into(self, api_id: str, param: str | None = None) -> list[DependencyEdge]:
        """Edges that can fill ``api_id``'s parameters (only ``param`` when given), best score first."""
        self._require(api_id)
        found = [
            DependencyEdge.from_attrs(a, api_id, attrs)
            for a, _, attrs in self.graph.in_edges(api_id, data=True)
            if param is None or attrs.get("target_param") == param
        ]
        return sorted(found, key=lambda e: (-e.score, e.source_api, e.source_path, e.target_param))

    def edges_from(self, api_id: str) -> list[DependencyEdge]:
        self._require(api_id)
        found = [DependencyEdge.from_attrs(api_id, b, attrs) for _, b, attrs in self.graph.out_edges(api_id, data=True)]
        return sorted(found, key=lambda e: (-e.score, e.target_api, e.target_param, e.source_path))

    def providers(self, api_id: str) -> dict[str, list[DependencyEdge]]:
        """``{param: edges into it}`` for every parameter of ``api_id`` that some other API can fill."""
        out: dict[str, list[DependencyEdge]] = {}
        for edge in self.edges_into(api_id):
            out.setdefault(edge.target_param, []).append(edge)
        return out

    def apis_with_edges(self) -> list[str]:
        return sorted(n for n in self.graph if self.graph.degree(n) > 0)

    def components(self) -> list[list[str]]:
        """Weakly connected components with at least one edge, largest first (sampling works per component)."""
        comps = [sorted(c) for c in nx.weakly_connected_components(self.graph) if len(c) > 1]
        return sorted(comps, key=lambda c: (-len(c), c))

    def _require(self, api_id: str) -> None:
        if api_id not in self.graph:
            raise KeyError(f"API {api_id!r} is not a node of the dependency graph")

    def __len__(self) -> int:
        return self.graph.number_of_edges()


def graph_to_json(graph: nx.MultiDiGraph) -> dict[str, Any]:
    data = nx.node_link_data(graph, edges="edges")
    data["edges"] = sorted(data["edges"], key=lambda e: (e["source"], e["target"], e["key"]))
    data["nodes"] = sorted(data["nodes"], key=lambda n: n["id"])
    return data


def graph_from_json(data: dict[str, Any], *, where: str = "graph JSON") -> nx.MultiDiGraph:
    if not isinstance(data, dict) or "nodes" not in data or "edges" not in data:
        raise ValueError(f"{where}: not node-link JSON (expected an object with 'nodes' and 'edges')")
    fmt = (data.get("graph") or {}).get("format")
    if fmt not in (None, GRAPH_FORMAT):
        raise ValueError(f"{where}: format is {fmt!r}, expected {GRAPH_FORMAT!r}")
    graph = nx.node_link_graph(data, directed=True, multigraph=True, edges="edges")
    for a, b, attrs in graph.edges(data=True):  # fail at load, with a location, rather than deep in the sampler
        try:
            DependencyEdge.from_attrs(a, b, attrs)
        except ValueError as exc:
            raise ValueError(f"{where}: edge {a} -> {b} is malformed: {exc}") from exc
    return graph


def save_graph(graph: nx.MultiDiGraph, path: str | Path) -> Path:
    """Write ``graph.json`` (node-link JSON, sorted so identical graphs give identical files)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(_dump_one_item_per_line(graph_to_json(graph)), encoding="utf-8")
    tmp.replace(path)
    return path


def _dump_one_item_per_line(data: dict[str, Any]) -> str:
    """Valid JSON with one node or edge per line: a tenth of the size of indented JSON, and still diffable."""

    def dump(value: Any) -> str:
        return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))

    parts = []
    for key in sorted(data):
        value = data[key]
        if key in ("nodes", "edges") and value:
            value_text = "[\n" + ",\n".join(dump(item) for item in value) + "\n]"
        else:
            value_text = dump(value)
        parts.append(f"{dump(key)}: {value_text}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


def load_graph(path: str | Path) -> nx.MultiDiGraph:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"dependency graph file {path} does not exist") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: invalid JSON at line {exc.lineno}: {exc.msg}") from None
    return graph_from_json(data, where=str(path))
