"""Hand-built dependency graphs for sampler tests: named APIs and edges given as tuples, no documents needed."""

from __future__ import annotations

import random

from goat_datasets.graph.model import DependencyEdge, StageResult, add_edge, new_graph
from goat_datasets.sampling import Chain, check_chain
from goat_datasets.sources.models import ApiSpec


def api(name: str) -> ApiSpec:
    return ApiSpec(id=name, source="t", tool="t", name=name)


def make_graph(names: list[str], edges: list[tuple[str, str, str, str]], failed: set[tuple[str, str]] = frozenset()):
    """``edges``: (source api, source path, target api, target param); ``failed``: (source, target) pairs whose
    edges failed the execution check (present in the graph, not usable)."""
    graph = new_graph([api(n) for n in names])
    for a, path, b, param in edges:
        stage = StageResult(status="failed", code="b_failed") if (a, b) in failed else StageResult(status="passed")
        add_edge(graph, DependencyEdge(source_api=a, source_path=path, target_api=b, target_param=param,
                                       target_location="query", score=0.5, execution_check=stage))  # fmt: skip
    return graph


def random_graph(rng: random.Random, nodes: int, edges: int):
    """``edges`` distinct random edges between ``nodes`` APIs, each from one of 3 fields into one of 3 params."""
    names = [f"api{i:04d}" for i in range(nodes)]
    triples = set()
    while len(triples) < edges:
        a, b = rng.sample(names, 2)
        triples.add((a, f"out{rng.randrange(3)}", b, f"p{rng.randrange(3)}"))
    return make_graph(names, sorted(triples))


def assert_valid(chains: list[Chain], graph, min_calls: int, max_calls: int) -> None:
    """Every chain passes `check_chain`, has a size in range, and ids are unique."""
    for c in chains:
        assert check_chain(c, graph) == [], (c, check_chain(c, graph))
        assert min_calls <= len(c) <= max_calls
    assert len({c.id for c in chains}) == len(chains)
