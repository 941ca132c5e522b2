"""A sampled call chain: one ordered instance of a connected, acyclic subgraph of the dependency graph (GOAT §1b).

A chain is a list of calls in execution order, the format the trace builder executes. A call takes arguments from
EARLIER calls' responses through graph edges (`Binding`s), so the order is a topological order of the subgraph. The
same subgraph can be run in several orders; each order is its own `Chain` (its own content-hashed ``id``) that shares
the subgraph's ``subgraph_id``. ``shape`` and ``subgraph_id`` are derived from the steps (`Chain.from_steps`), never
chosen separately, so they cannot disagree with the calls.

Shapes, over the API-level edges of the subgraph (A -> B when B takes at least one parameter from A's response):

- ``chain``: a path; each step feeds the next one only (a single call counts as a path of one).
- ``fan_out``: one root feeding >= 2 children and nothing else; the children do not depend on each other.
- ``fan_in``: one sink with >= 2 parameters, each fed by a different parent; the parents do not depend on each
  other.
- ``dag``: any other connected acyclic subgraph.

Steps with no path between them (fan-out children, fan-in parents) can run in parallel; ``depends_on`` of each step
lists the steps it reads from, which is all a consumer needs to find them.

The sampler is in `goat_datasets.sampling.subgraphs`.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from typing import Iterable, Literal, Sequence

import networkx as nx
from pydantic import BaseModel, Field, computed_field

from goat_datasets.graph.model import DependencyEdge, edge_key

Shape = Literal["chain", "fan_out", "fan_in", "dag"]
SHAPES: tuple[str, ...] = ("chain", "fan_out", "fan_in", "dag")


class Binding(BaseModel):
    """Parameter ``param`` of this step takes the value at ``source_path`` of step ``from_step``'s response."""

    param: str
    from_step: int
    source_path: str


class ChainStep(BaseModel):
    api_id: str
    bindings: list[Binding] = Field(default_factory=list)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def depends_on(self) -> list[int]:
        """The earlier steps whose responses this step reads (derived from the bindings, so it cannot drift)."""
        return sorted({b.from_step for b in self.bindings})


class Chain(BaseModel):
    id: str
    steps: list[ChainStep]
    subgraph_id: str = Field("", description="Shared by every order of the same subgraph (content hash).")
    shape: str = Field("", description="One of SHAPES, computed from the steps.")

    @property
    def api_ids(self) -> list[str]:
        return [s.api_id for s in self.steps]

    def __len__(self) -> int:
        return len(self.steps)

    def data_edges(self) -> list[tuple[str, str, str, str]]:
        """``(source api, source path, target api, param)`` of every binding that refers to an earlier step."""
        return _data_edges(self.steps)

    @staticmethod
    def signature(steps: Sequence[ChainStep]) -> tuple:
        return tuple(
            (s.api_id, tuple((b.param, b.from_step, b.source_path) for b in sorted(s.bindings, key=lambda b: b.param)))
            for s in steps
        )

    @classmethod
    def from_steps(cls, steps: Sequence[ChainStep]) -> "Chain":
        """A chain whose id is a hash of its content: the same chain gets the same id in every build."""
        canonical = json.dumps(cls.signature(steps), separators=(",", ":"))
        digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]
        edges = _data_edges(steps)
        api_ids = [s.api_id for s in steps]
        return cls(
            id=f"chain-{digest}",
            steps=list(steps),
            subgraph_id=subgraph_id(api_ids, edges),
            shape=classify_shape(api_ids, {(a, b) for a, _, b, _ in edges}),
        )


def _data_edges(steps: Sequence[ChainStep]) -> list[tuple[str, str, str, str]]:
    return sorted(
        (steps[b.from_step].api_id, b.source_path, s.api_id, b.param)
        for i, s in enumerate(steps)
        for b in s.bindings
        if 0 <= b.from_step < i
    )


def subgraph_id(api_ids: Iterable[str], data_edges: Iterable[tuple[str, str, str, str]]) -> str:
    """A content hash of a subgraph (its APIs and bindings), the same whatever order its calls run in."""
    canonical = json.dumps({"apis": sorted(set(api_ids)), "edges": sorted(data_edges)}, separators=(",", ":"))
    return "subgraph-" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def weakly_connected_parts(nodes: Iterable[str], edges: Iterable[tuple[str, str]]) -> list[list[str]]:
    """The nodes grouped by weak connectivity over ``edges`` (sorted; union-find: cheaper than networkx here)."""
    parent = {n: n for n in nodes}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        if a in parent and b in parent:
            parent[find(a)] = find(b)
    groups: dict[str, list[str]] = {}
    for n in sorted(parent):
        groups.setdefault(find(n), []).append(n)
    return sorted(groups.values())


def classify_shape(api_ids: Sequence[str], edges: set[tuple[str, str]]) -> str:
    """The shape (see the module docstring) of the subgraph with these nodes and API-level edges ``(A, B)``."""
    nodes = sorted(set(api_ids))
    n = len(nodes)
    if n <= 1:
        return "chain"
    if len(edges) == n - 1 and len(weakly_connected_parts(nodes, edges)) == 1:  # a tree
        indeg = Counter(b for _, b in edges)
        outdeg = Counter(a for a, _ in edges)
        if all(indeg[x] <= 1 and outdeg[x] <= 1 for x in nodes):
            return "chain"
        if n >= 3 and max(outdeg.values()) == n - 1:
            return "fan_out"
        if n >= 3 and max(indeg.values()) == n - 1:
            return "fan_in"
    return "dag"


def check_chain(chain: Chain, graph: nx.MultiDiGraph) -> list[str]:
    """Every way ``chain`` breaks the sampler's contract (empty when valid); for tests and for loaded chains."""
    problems: list[str] = []
    seen_apis: set[str] = set()
    for i, step in enumerate(chain.steps):
        if step.api_id in seen_apis:
            problems.append(f"step {i}: {step.api_id} appears twice")
        seen_apis.add(step.api_id)
        params = [b.param for b in step.bindings]
        if len(params) != len(set(params)):
            problems.append(f"step {i}: a parameter has more than one provider")
        for b in step.bindings:
            if not 0 <= b.from_step < i:
                problems.append(f"step {i}: binding of {b.param} refers to step {b.from_step}, not an earlier step")
                continue
            source = chain.steps[b.from_step].api_id
            key = edge_key(b.source_path, b.param)
            if not graph.has_edge(source, step.api_id, key=key):
                problems.append(f"step {i}: no graph edge {source}.{b.source_path} -> {step.api_id}({b.param})")
            elif not DependencyEdge.from_attrs(source, step.api_id, graph.edges[source, step.api_id, key]).usable:
                problems.append(
                    f"step {i}: graph edge {source}.{b.source_path} -> {step.api_id}({b.param}) failed a check"
                )
    parts = weakly_connected_parts(chain.api_ids, {(a, b) for a, _, b, _ in chain.data_edges()})
    if len(parts) > 1:
        problems.append("the steps are not one connected subgraph: " + " | ".join(",".join(p) for p in parts))
    expected = Chain.from_steps(chain.steps)
    if chain.id != expected.id:
        problems.append(f"id {chain.id} does not match the chain's content")
    if chain.subgraph_id and chain.subgraph_id != expected.subgraph_id:
        problems.append(f"subgraph_id {chain.subgraph_id} does not match the chain's content")
    if chain.shape and chain.shape != expected.shape:
        problems.append(f"shape {chain.shape} does not match the chain's edges ({expected.shape})")
    return problems
