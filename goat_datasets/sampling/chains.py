"""Sample call chains from the dependency graph under a budget (GOAT §1b step 1, sampled instead of enumerated).

A chain is a list of calls in execution order. The first call is free; every later call takes at least one argument
from an EARLIER call's response through a graph edge (a `Binding`), so the order is a topological order and the chain
is connected and acyclic by construction. Each parameter of a step gets at most one provider, and each API appears at
most once per chain. When a new step is added, every parameter that some earlier step can provide is bound (the
induced subgraph of the paper), choosing at random between providers.

The paper enumerates every node combination of every component; that explodes on real API pools, so here chains
grow by seeded random walks: pick a root, then repeatedly pick an API that an earlier step can feed. Diversity comes
from weighting every choice by ``1 / (1 + uses so far)``, rejecting duplicates and capping uses per API
(``max_per_api``). Every choice is made over sorted lists with one `random.Random(seed)`, so a seed gives the same
chains on every machine.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
from collections import Counter
from typing import Iterable, Mapping, Sequence, TypeVar

import networkx as nx
from pydantic import BaseModel, Field

from goat_datasets.graph.model import edge_key, iter_edges
from goat_datasets.sources.models import ApiSpec

log = logging.getLogger(__name__)
T = TypeVar("T")


class Binding(BaseModel):
    """Parameter ``param`` of this step takes the value at ``source_path`` of step ``from_step``'s response."""

    param: str
    from_step: int
    source_path: str


class ChainStep(BaseModel):
    api_id: str
    bindings: list[Binding] = Field(default_factory=list)


class Chain(BaseModel):
    id: str
    steps: list[ChainStep]

    @property
    def api_ids(self) -> list[str]:
        return [s.api_id for s in self.steps]

    def __len__(self) -> int:
        return len(self.steps)

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
        return cls(id=f"chain-{digest}", steps=list(steps))


class SamplingStats(BaseModel):
    requested: int
    produced: int = 0
    attempts: int = 0
    duplicates: int = Field(0, description="attempts that produced an already-sampled chain")
    too_short: int = Field(0, description="attempts whose walk ended before min_calls")
    per_api: dict[str, int] = Field(default_factory=dict, description="chains using each API")
    length_histogram: dict[int, int] = Field(default_factory=dict)
    note: str = Field("", description="why fewer than requested were produced")


def _weighted_choice(rng: random.Random, items: list[T], usage: Counter, key=lambda x: x) -> T:
    weights = [1.0 / (1 + usage[key(item)]) for item in items]
    return rng.choices(items, weights=weights, k=1)[0]


def _allowed_ids(graph: nx.MultiDiGraph, apis: Iterable[ApiSpec | str] | Mapping[str, ApiSpec]) -> set[str]:
    ids = set(apis.keys()) if isinstance(apis, Mapping) else {a if isinstance(a, str) else a.id for a in apis}
    missing = sorted(ids - set(graph.nodes))
    if missing:
        raise KeyError(f"APIs not in the dependency graph: {', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}")
    return ids


def sample_chains(
    graph: nx.MultiDiGraph,
    apis: Iterable[ApiSpec | str] | Mapping[str, ApiSpec],
    *,
    n: int,
    min_calls: int = 2,
    max_calls: int = 4,
    seed: int = 0,
    max_per_api: int | None = None,
    max_attempts: int | None = None,
) -> tuple[list[Chain], SamplingStats]:
    """Up to ``n`` distinct chains of ``min_calls``..``max_calls`` calls over the graph restricted to ``apis``.

    ``apis`` limits which nodes may appear (e.g. the seen APIs of a benchmark split). Edges that a graph stage
    marked failed are ignored. Returns fewer than ``n`` chains, with ``stats.note`` saying why, when the graph (or
    ``max_per_api``) cannot give more within ``max_attempts`` (default ``50 * n + 1000``).
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if min_calls < 1 or max_calls < min_calls:
        raise ValueError(f"need 1 <= min_calls <= max_calls, got min_calls={min_calls}, max_calls={max_calls}")
    if max_per_api is not None and max_per_api < 1:
        raise ValueError(f"max_per_api must be a positive integer or None, got {max_per_api}")
    allowed = _allowed_ids(graph, apis)
    max_attempts = 50 * n + 1000 if max_attempts is None else max_attempts

    # providers[B][param] = sorted [(A, source_path)]; feeds[A] = sorted targets
    providers: dict[str, dict[str, list[tuple[str, str]]]] = {}
    feeds: dict[str, set[str]] = {}
    for e in iter_edges(graph):
        if not e.usable or e.source_api == e.target_api or not {e.source_api, e.target_api} <= allowed:
            continue
        providers.setdefault(e.target_api, {}).setdefault(e.target_param, []).append((e.source_api, e.source_path))
        feeds.setdefault(e.source_api, set()).add(e.target_api)
    feeds_sorted = {a: sorted(bs) for a, bs in feeds.items()}
    roots = sorted(allowed) if min_calls == 1 else sorted(feeds_sorted)

    rng = random.Random(seed)
    usage: Counter = Counter()
    seen: set[tuple] = set()
    chains: list[Chain] = []
    stats = SamplingStats(requested=n)

    def available(api_id: str) -> bool:
        return max_per_api is None or usage[api_id] < max_per_api

    while len(chains) < n and stats.attempts < max_attempts:
        open_roots = [a for a in roots if available(a)]
        if not open_roots:
            stats.note = "no API can start a chain (no edges, or every root reached max_per_api)"
            break
        stats.attempts += 1
        steps = _grow(rng, open_roots, feeds_sorted, providers, usage, available, rng.randint(min_calls, max_calls))
        if len(steps) < min_calls:
            stats.too_short += 1
            continue
        signature = Chain.signature(steps)
        if signature in seen:
            stats.duplicates += 1
            continue
        seen.add(signature)
        chain = Chain.from_steps(steps)
        chains.append(chain)
        usage.update(chain.api_ids)
    if len(chains) < n and not stats.note:
        stats.note = (
            f"only {len(chains)} distinct chains of {min_calls}-{max_calls} calls found in {stats.attempts} attempts "
            f"({stats.duplicates} duplicates, {stats.too_short} too short"
            + (f", max_per_api={max_per_api}" if max_per_api is not None else "")
            + ")"
        )
    stats.produced = len(chains)
    stats.per_api = dict(sorted(usage.items()))
    stats.length_histogram = dict(sorted(Counter(len(c) for c in chains).items()))
    log.info("sampling: %d/%d chains in %d attempts %s", stats.produced, n, stats.attempts, stats.note)
    return chains, stats


def _grow(
    rng: random.Random,
    roots: list[str],
    feeds: dict[str, list[str]],
    providers: dict[str, dict[str, list[tuple[str, str]]]],
    usage: Counter,
    available,
    length: int,
) -> list[ChainStep]:
    steps = [ChainStep(api_id=_weighted_choice(rng, roots, usage))]
    used = {steps[0].api_id}
    while len(steps) < length:
        frontier = sorted({b for s in steps for b in feeds.get(s.api_id, ()) if b not in used and available(b)})
        if not frontier:
            break
        target = _weighted_choice(rng, frontier, usage)
        position = {s.api_id: i for i, s in enumerate(steps)}
        bindings: list[Binding] = []
        for param, sources in sorted(providers.get(target, {}).items()):
            options = [(position[a], path) for a, path in sources if a in position]
            if options:
                from_step, path = rng.choice(sorted(options))
                bindings.append(Binding(param=param, from_step=from_step, source_path=path))
        steps.append(ChainStep(api_id=target, bindings=bindings))
        used.add(target)
    return steps


def check_chain(chain: Chain, graph: nx.MultiDiGraph) -> list[str]:
    """Every way ``chain`` breaks the sampler's contract (empty when valid); for tests and for loaded chains."""
    problems: list[str] = []
    seen_apis: set[str] = set()
    for i, step in enumerate(chain.steps):
        if step.api_id in seen_apis:
            problems.append(f"step {i}: {step.api_id} appears twice")
        seen_apis.add(step.api_id)
        if i > 0 and not step.bindings:
            problems.append(f"step {i}: {step.api_id} has no binding from an earlier step")
        params = [b.param for b in step.bindings]
        if len(params) != len(set(params)):
            problems.append(f"step {i}: a parameter has more than one provider")
        for b in step.bindings:
            if not 0 <= b.from_step < i:
                problems.append(f"step {i}: binding of {b.param} refers to step {b.from_step}, not an earlier step")
                continue
            source = chain.steps[b.from_step].api_id
            if not graph.has_edge(source, step.api_id, key=edge_key(b.source_path, b.param)):
                problems.append(f"step {i}: no graph edge {source}.{b.source_path} -> {step.api_id}({b.param})")
    if chain.id != Chain.from_steps(chain.steps).id:
        problems.append(f"id {chain.id} does not match the chain's content")
    return problems
