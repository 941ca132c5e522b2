"""Sample connected subgraphs of the dependency graph under a budget (GOAT §1b step 1, sampled, not enumerated).

The paper enumerates every node combination of every component and keeps each induced subgraph; that explodes on
real API pools. Here each sample is grown for a target shape (`goat_datasets.sampling.chains` defines chain,
fan_out, fan_in and dag), drawn by weight from the allowed shapes:

- chain: a walk that extends either end of a path;
- fan_out: a root and >= 2 of its children; fan_in: a sink and >= 2 parents, each claiming a different parameter;
  chains and stars bind, along each of their edges, every parameter of the child that its parent can fill;
- dag: the paper's construction: grow a connected set of APIs, then bind every parameter that another member can
  provide, skipping a binding that would close a cycle; kept only if the result is not a chain or a star.

The weights are the expected shares of the freely drawn subgraphs (a shape is drawn per subgraph and retried until
it succeeds or is dropped); with ``orders="all"`` a shape with more orders gets more samples.

Rules of every sample: only usable edges (no verification stage failed), each API at most once, at most one provider
per (API, parameter), acyclic, weakly connected, ``min_calls``..``max_calls`` calls. Duplicate subgraphs are rejected.

Diversity and coverage: every choice of an API is weighted by ``1 / (1 + samples using it so far)``, ``max_per_api``
caps the samples per API, and with ``coverage_k`` a first pass seeds a sample on each under-used API (in a seeded
random order) until every API that is in a usable edge is in ``coverage_k`` samples, when the graph allows it; then
free sampling fills up to ``n``. Every subgraph is emitted in one random topological order (``orders="one"``) or in
all of them (``orders="all"``, at most ``max_orders_per_subgraph``; beyond that a seeded random selection), each
order a sample of its own with the same ``subgraph_id``.

A shape that the graph cannot give (no API with two parameters fed by different APIs means no fan_in) is detected
up front where cheap, or after ``STALL_LIMIT`` failed tries in a row, and then dropped with a warning in the stats;
sampling ends when ``n`` samples exist, every shape is dropped, or ``max_attempts`` is spent. Determinism: one
`random.Random(seed)` and iteration over sorted lists only, so a seed gives the same samples on every machine.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from typing import Any, Iterable, Literal, Mapping, Sequence

import networkx as nx
from pydantic import BaseModel, Field

from goat_datasets.graph.model import iter_edges
from goat_datasets.sampling.chains import SHAPES, Binding, Chain, ChainStep, classify_shape, subgraph_id
from goat_datasets.sources.models import ApiSpec

log = logging.getLogger(__name__)

Orders = Literal["one", "all"]
DEFAULT_SHAPE_WEIGHTS: dict[str, float] = {"chain": 0.4, "fan_out": 0.2, "fan_in": 0.2, "dag": 0.2}
SHAPE_MIN_CALLS = {"chain": 1, "fan_out": 3, "fan_in": 3, "dag": 3}
STALL_LIMIT = 200  # failed tries in a row after which a shape counts as exhausted (or impossible if it never worked)
COVERAGE_TRIES = 8  # tries per under-covered API in the coverage pass
LISTED_APIS = 20  # names of never-covered APIs kept in the stats
REJECTION_REASONS = ("duplicate", "too_small", "shape_impossible", "shape_mismatch", "cap_reached")

Claims = dict[tuple[str, str], tuple[str, str]]  # (target api, param) -> (source api, source path)


class CoverageStats(BaseModel):
    k: int = Field(description="the coverage goal: samples wanted per eligible API")
    eligible: int = Field(0, description="APIs in at least one usable edge between allowed APIs")
    covered: int = Field(0, description="eligible APIs in at least k samples")
    used: int = Field(0, description="eligible APIs in at least one sample")
    never_used: int = 0
    never_used_apis: list[str] = Field(default_factory=list, description=f"the first {LISTED_APIS}, sorted")
    min_use: int = 0
    max_use: int = 0
    gini: float = Field(0.0, description="inequality of use over eligible APIs: 0 even, towards 1 concentrated")


class SamplingStats(BaseModel):
    requested: int
    produced: int = Field(0, description="samples (orders) produced")
    subgraphs: int = Field(0, description="distinct subgraphs behind the samples")
    attempts: int = 0
    max_attempts: int = 0
    settings: dict[str, Any] = Field(default_factory=dict)
    rejections: dict[str, int] = Field(default_factory=dict, description="failed attempts by reason")
    per_shape: dict[str, int] = Field(default_factory=dict, description="samples per shape")
    size_histogram: dict[int, int] = Field(default_factory=dict, description="samples per number of calls")
    per_api: dict[str, int] = Field(default_factory=dict, description="samples using each API")
    coverage: CoverageStats = Field(default_factory=lambda: CoverageStats(k=0))
    impossible_shapes: dict[str, str] = Field(default_factory=dict, description="requested shapes never produced, why")
    warnings: list[str] = Field(default_factory=list)
    note: str = Field("", description="why fewer than requested were produced")

    def summary(self) -> list[str]:
        """A few lines for the build log."""
        rejected = ", ".join(f"{k} {v}" for k, v in self.rejections.items() if v) or "none"
        shapes = ", ".join(f"{k} {v}" for k, v in self.per_shape.items())
        sizes = ", ".join(f"{k}:{v}" for k, v in self.size_histogram.items())
        c = self.coverage
        never = ", ".join(c.never_used_apis) + (f" (+{c.never_used - len(c.never_used_apis)} more)"
                                                if c.never_used > len(c.never_used_apis) else "")  # fmt: skip
        lines = [
            f"sampling: {self.produced}/{self.requested} samples from {self.subgraphs} subgraphs in {self.attempts} "
            f"attempts (rejected: {rejected})",
            f"  shapes: {shapes or 'none'}; calls per sample: {sizes or 'none'}",
            f"  coverage: {c.covered}/{c.eligible} APIs in >= {c.k} samples, {c.used} used; use min {c.min_use} "
            f"max {c.max_use} gini {c.gini:.2f}" + (f"; never used: {never}" if c.never_used else ""),
        ]
        lines += [f"  warning: {w}" for w in self.warnings]
        return lines


def normalise_shapes(shapes: Mapping[str, float] | Sequence[str] | None) -> dict[str, float]:
    """``{shape: weight}`` in SHAPES order with zero weights dropped; a list means equal weights, None the default."""
    if shapes is None:
        return dict(DEFAULT_SHAPE_WEIGHTS)
    weights = dict(shapes) if isinstance(shapes, Mapping) else {s: 1.0 for s in shapes}
    unknown = sorted(set(weights) - set(SHAPES))
    if unknown:
        raise ValueError(f"unknown shape(s) {', '.join(unknown)} (known: {', '.join(SHAPES)})")
    if any(w < 0 for w in weights.values()):
        raise ValueError(f"shape weights must be >= 0, got {weights}")
    out = {s: float(weights[s]) for s in SHAPES if weights.get(s, 0) > 0}
    if not out:
        raise ValueError("at least one shape needs a positive weight")
    return out


def _allowed_ids(graph: nx.MultiDiGraph, apis: Iterable[ApiSpec | str] | Mapping[str, ApiSpec]) -> set[str]:
    ids = set(apis.keys()) if isinstance(apis, Mapping) else {a if isinstance(a, str) else a.id for a in apis}
    missing = sorted(ids - set(graph.nodes))
    if missing:
        more = " ..." if len(missing) > 5 else ""
        raise KeyError(f"APIs not in the dependency graph: {', '.join(missing[:5])}{more}")
    return ids


class _Pool:
    """The usable edges between allowed APIs, indexed for the shape builders (every list sorted)."""

    def __init__(self, graph: nx.MultiDiGraph, allowed: set[str]):
        paths: dict[tuple[str, str], dict[str, list[str]]] = {}
        for e in iter_edges(graph):
            if e.usable and e.source_api != e.target_api and e.source_api in allowed and e.target_api in allowed:
                paths.setdefault((e.source_api, e.target_api), {}).setdefault(e.target_param, []).append(e.source_path)
        self.paths = paths  # (A, B) -> {param of B: [output paths of A that can fill it]}
        children: dict[str, list[str]] = {}
        parents: dict[str, list[str]] = {}
        providers: dict[str, dict[str, list[str]]] = {}
        for a, b in sorted(paths):
            children.setdefault(a, []).append(b)
            parents.setdefault(b, []).append(a)
            for param in paths[a, b]:
                providers.setdefault(b, {}).setdefault(param, []).append(a)
        self.children, self.parents = children, parents
        self.providers = {b: dict(sorted(ps.items())) for b, ps in providers.items()}  # B -> {param: [A]}
        self.allowed = sorted(allowed)
        self.eligible = sorted(set(children) | set(parents))
        self.fan_out_roots = [a for a in self.eligible if len(children.get(a, ())) >= 2]
        self.fan_in_width = {b: _max_matching(ps) for b, ps in self.providers.items()}
        self.fan_in_sinks = [b for b in sorted(self.fan_in_width) if self.fan_in_width[b] >= 2]
        self.fan_in_sink_set = set(self.fan_in_sinks)
        self.fan_out_root_set = set(self.fan_out_roots)


def _max_matching(providers: dict[str, list[str]]) -> int:
    """How many of an API's parameters can be fed by pairwise different APIs (Kuhn's augmenting paths)."""
    owner: dict[str, str] = {}

    def augment(param: str, seen: set[str]) -> bool:
        for api in providers[param]:
            if api not in seen:
                seen.add(api)
                if api not in owner or augment(owner[api], seen):
                    owner[api] = param
                    return True
        return False

    return sum(augment(p, set()) for p in sorted(providers))


class _Sampler:
    def __init__(self, pool: _Pool, rng: random.Random, *, min_calls: int, max_calls: int, max_per_api: int | None,
                 orders: Orders, max_orders: int):  # fmt: skip
        self.pool, self.rng = pool, rng
        self.min_calls, self.max_calls, self.max_per_api = min_calls, max_calls, max_per_api
        self.orders, self.max_orders = orders, max_orders
        self.use: Counter = Counter()
        self.seen: set[str] = set()

    # ---------------------------------------------------------------- choices

    def is_open(self, api: str) -> bool:
        return self.max_per_api is None or self.use[api] < self.max_per_api

    def pick(self, items: Iterable[str]) -> str | None:
        """One open API, weighted towards the least used."""
        options = [x for x in items if self.is_open(x)]
        if not options:
            return None
        return self.rng.choices(options, weights=[1.0 / (1 + self.use[x]) for x in options], k=1)[0]

    def pick_many(self, items: Iterable[str], k: int) -> list[str]:
        options = [x for x in items if self.is_open(x)]
        chosen: list[str] = []
        while options and len(chosen) < k:
            i = self.rng.choices(range(len(options)), weights=[1.0 / (1 + self.use[x]) for x in options], k=1)[0]
            chosen.append(options.pop(i))
        return chosen

    def size_for(self, shape: str) -> int:
        return self.rng.randint(max(self.min_calls, SHAPE_MIN_CALLS[shape]), self.max_calls)

    def bind_all(self, a: str, b: str, claims: Claims) -> None:
        """Bind every parameter of ``b`` that ``a`` can fill and no other member fills yet."""
        for param, paths in self.pool.paths[a, b].items():
            if (b, param) not in claims:
                claims[b, param] = (a, self.rng.choice(paths))

    # ---------------------------------------------------------------- impossibility known up front

    def impossible_shapes(self) -> dict[str, str]:
        p, out = self.pool, {}
        for shape in SHAPES:
            if max(self.min_calls, SHAPE_MIN_CALLS[shape]) > self.max_calls:
                out[shape] = f"a {shape} needs at least {SHAPE_MIN_CALLS[shape]} calls, max_calls is {self.max_calls}"
        if not p.eligible and self.min_calls > 1:
            out.setdefault("chain", "no usable edge between the allowed APIs")
        need = max(2, self.min_calls - 1)
        if not any(len(p.children[a]) >= need for a in p.fan_out_roots):
            out.setdefault("fan_out", f"no API feeds {need} or more other APIs")
        if not any(p.fan_in_width[b] >= need for b in p.fan_in_sinks):
            out.setdefault("fan_in", f"no API has {need} or more parameters fed by different APIs")
        if not p.eligible:
            out.setdefault("dag", "no usable edge between the allowed APIs")
        return out

    # ---------------------------------------------------------------- shape builders: (members, claims) or a reason

    def build(self, shape: str, required: str | None) -> tuple[list[str], Claims] | str:
        size = self.size_for(shape)
        built = getattr(self, f"_{shape}")(size, required)
        if isinstance(built, str):
            return built
        members, claims = built
        if len(members) < max(self.min_calls, SHAPE_MIN_CALLS[shape]):
            return "too_small"
        if classify_shape(members, {(a, b) for (b, _), (a, _) in claims.items()}) != shape:
            return "shape_mismatch"
        return members, claims

    def _chain(self, size: int, required: str | None) -> tuple[list[str], Claims] | str:
        p = self.pool
        start = required or self.pick(p.allowed if size == 1 else p.eligible)
        if start is None:
            return "cap_reached"
        path, members = [start], {start}
        while len(path) < size:
            options = sorted(
                {(b, "tail") for b in p.children.get(path[-1], ()) if b not in members and self.is_open(b)}
                | {(a, "head") for a in p.parents.get(path[0], ()) if a not in members and self.is_open(a)}
            )
            if not options:
                break
            api, end = self.rng.choices(options, weights=[1.0 / (1 + self.use[x]) for x, _ in options], k=1)[0]
            path.insert(len(path) if end == "tail" else 0, api)
            members.add(api)
        claims: Claims = {}
        for a, b in zip(path, path[1:]):
            self.bind_all(a, b, claims)
        return path, claims

    def _fan_out(self, size: int, required: str | None) -> tuple[list[str], Claims] | str:
        p = self.pool
        first_child: list[str] = []
        if required is None:
            root = self.pick(p.fan_out_roots)
            if root is None:
                return "cap_reached"
        else:
            roles = ["root"] if required in p.fan_out_root_set else []
            roots = [r for r in p.parents.get(required, ()) if r in p.fan_out_root_set and self.is_open(r)]
            roles += ["child"] if roots else []
            if not roles:
                return "shape_impossible"
            if self.rng.choice(roles) == "root":
                root = required
            else:
                root = self.pick(roots)
                first_child = [required]
        assert root is not None
        others = [c for c in p.children[root] if c not in first_child]
        children = first_child + self.pick_many(others, size - 1 - len(first_child))
        if len(children) < 2:
            return "shape_impossible"
        claims: Claims = {}
        for c in children:
            self.bind_all(root, c, claims)
        return [root, *children], claims

    def _fan_in(self, size: int, required: str | None) -> tuple[list[str], Claims] | str:
        p = self.pool
        claims: Claims = {}
        parents: list[str] = []
        if required is None or (required in p.fan_in_sink_set and self.rng.random() < 0.5):
            sink = required or self.pick(p.fan_in_sinks)
            if sink is None:
                return "cap_reached"
        else:  # the required API as one of the parents
            sinks = [s for s in p.children.get(required, ()) if s in p.fan_in_sink_set and self.is_open(s)]
            sink = self.pick(sinks) if sinks else (required if required in p.fan_in_sink_set else None)
            if sink is None:
                return "shape_impossible"
            if sink != required:
                param = self.rng.choice(sorted(p.paths[required, sink]))
                claims[sink, param] = (required, self.rng.choice(p.paths[required, sink][param]))
                parents.append(required)
        params = [q for q in p.providers[sink] if (sink, q) not in claims]
        self.rng.shuffle(params)
        for param in params:
            if len(parents) >= size - 1:
                break
            parent = self.pick(a for a in p.providers[sink][param] if a not in parents and a != sink)
            if parent is not None:
                claims[sink, param] = (parent, self.rng.choice(p.paths[parent, sink][param]))
                parents.append(parent)
        if len(parents) < 2:
            return "shape_impossible"
        for parent in parents:
            self.bind_all(parent, sink, claims)
        return [*parents, sink], claims

    def _dag(self, size: int, required: str | None) -> tuple[list[str], Claims] | str:
        p = self.pool
        start = required or self.pick(p.eligible)
        if start is None:
            return "cap_reached"
        members, claims = [start], {}
        in_set = {start}
        while len(members) < size:
            # a new API and one edge that joins it to the members: (new api, (source, target, param))
            joins: dict[str, list[tuple[str, str, str]]] = {}
            for m in members:
                for c in p.children.get(m, ()):
                    if c not in in_set:
                        for param in p.paths[m, c]:
                            joins.setdefault(c, []).append((m, c, param))
                for a in p.parents.get(m, ()):
                    if a not in in_set:
                        for param in p.paths[a, m]:
                            if (m, param) not in claims:
                                joins.setdefault(a, []).append((a, m, param))
            new = self.pick(sorted(joins))
            if new is None:
                break
            a, b, param = self.rng.choice(sorted(joins[new]))
            claims[b, param] = (a, self.rng.choice(p.paths[a, b][param]))
            members.append(new)
            in_set.add(new)
        # the induced subgraph: every other binding between members that keeps one provider per param and no cycle
        extra = sorted((a, b, param) for a in members for b in members if (a, b) in p.paths for param in p.paths[a, b])
        self.rng.shuffle(extra)
        succ: dict[str, set[str]] = {}
        for (b, _), (a, _) in claims.items():
            succ.setdefault(a, set()).add(b)
        for a, b, param in extra:
            if (b, param) in claims or (b not in succ.get(a, ()) and _reaches(succ, b, a)):
                continue
            claims[b, param] = (a, self.rng.choice(p.paths[a, b][param]))
            succ.setdefault(a, set()).add(b)
        return members, claims

    # ---------------------------------------------------------------- orders and samples

    def orders_of(self, members: list[str], claims: Claims) -> list[list[str]]:
        preds: dict[str, set[str]] = {m: set() for m in members}
        for (b, _), (a, _) in claims.items():
            preds[b].add(a)
        if self.orders == "one":
            return [self._random_order(preds)]
        found = _topological_orders(preds, limit=self.max_orders + 1)
        if len(found) <= self.max_orders:
            return found
        picked: dict[tuple[str, ...], list[str]] = {}
        for _ in range(20 * self.max_orders):
            order = self._random_order(preds)
            picked.setdefault(tuple(order), order)
            if len(picked) == self.max_orders:
                break
        return list(picked.values())

    def _random_order(self, preds: dict[str, set[str]]) -> list[str]:
        done: list[str] = []
        left = dict(preds)
        while left:
            ready = sorted(m for m, ps in left.items() if ps.issubset(done))
            nxt = self.rng.choice(ready)
            done.append(nxt)
            del left[nxt]
        return done

    def samples(self, members: list[str], claims: Claims, room: int) -> list[Chain]:
        """The samples of one accepted subgraph: at most ``room``, and none past an API's cap."""
        orders = self.orders_of(members, claims)
        if self.max_per_api is not None:
            room = min(room, *(self.max_per_api - self.use[m] for m in members))
        chains = []
        for order in orders[: max(room, 0)]:
            position = {api: i for i, api in enumerate(order)}
            steps = [
                ChainStep(
                    api_id=api,
                    bindings=[
                        Binding(param=param, from_step=position[a], source_path=path)
                        for (b, param), (a, path) in sorted(claims.items())
                        if b == api
                    ],
                )
                for api in order
            ]
            chains.append(Chain.from_steps(steps))
        return chains


def _reaches(succ: dict[str, set[str]], start: str, goal: str) -> bool:
    stack, seen = [start], {start}
    while stack:
        x = stack.pop()
        if x == goal:
            return True
        for y in succ.get(x, ()):
            if y not in seen:
                seen.add(y)
                stack.append(y)
    return False


def _topological_orders(preds: dict[str, set[str]], limit: int) -> list[list[str]]:
    """Topological orders in lexicographic order, at most ``limit`` (stops early: a 10-node star has 9! of them)."""
    out: list[list[str]] = []
    order: list[str] = []
    placed: set[str] = set()
    nodes = sorted(preds)

    def extend() -> None:
        if len(out) >= limit:
            return
        if len(order) == len(nodes):
            out.append(list(order))
            return
        for m in nodes:
            if m not in placed and preds[m] <= placed:
                order.append(m)
                placed.add(m)
                extend()
                placed.discard(m)
                order.pop()

    extend()
    return out


def _gini(values: list[int]) -> float:
    total = sum(values)
    if not values or total == 0:
        return 0.0
    xs = sorted(values)
    n = len(xs)
    return round(2 * sum((i + 1) * x for i, x in enumerate(xs)) / (n * total) - (n + 1) / n, 4)


def sample_subgraphs(
    graph: nx.MultiDiGraph,
    apis: Iterable[ApiSpec | str] | Mapping[str, ApiSpec],
    *,
    n: int,
    min_calls: int = 2,
    max_calls: int = 4,
    seed: int = 0,
    max_per_api: int | None = None,
    max_attempts: int | None = None,
    shapes: Mapping[str, float] | Sequence[str] | None = None,
    coverage_k: int = 1,
    orders: Orders = "one",
    max_orders_per_subgraph: int = 6,
) -> tuple[list[Chain], SamplingStats]:
    """Up to ``n`` samples (`Chain`s) of ``min_calls``..``max_calls`` calls over the graph restricted to ``apis``.

    ``apis`` limits which nodes may appear (e.g. the seen APIs of a benchmark split). ``shapes``: weights per shape
    (a list: equal weights; None: `DEFAULT_SHAPE_WEIGHTS`). ``max_attempts`` bounds the subgraph draws (default
    ``50 * n + 1000``). Returns fewer than ``n`` samples, with ``stats.note`` saying why, when the graph, the caps or
    the budget cannot give more.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if min_calls < 1 or max_calls < min_calls:
        raise ValueError(f"need 1 <= min_calls <= max_calls, got min_calls={min_calls}, max_calls={max_calls}")
    if max_per_api is not None and max_per_api < 1:
        raise ValueError(f"max_per_api must be a positive integer or None, got {max_per_api}")
    if coverage_k < 0:
        raise ValueError(f"coverage_k must be >= 0, got {coverage_k}")
    if orders not in ("one", "all"):
        raise ValueError(f"orders must be 'one' or 'all', got {orders!r}")
    if max_orders_per_subgraph < 1:
        raise ValueError(f"max_orders_per_subgraph must be >= 1, got {max_orders_per_subgraph}")
    weights = normalise_shapes(shapes)
    max_attempts = 50 * n + 1000 if max_attempts is None else max_attempts
    pool = _Pool(graph, _allowed_ids(graph, apis))
    rng = random.Random(seed)
    sampler = _Sampler(pool, rng, min_calls=min_calls, max_calls=max_calls, max_per_api=max_per_api, orders=orders,
                       max_orders=max_orders_per_subgraph)  # fmt: skip
    stats = SamplingStats(
        requested=n,
        max_attempts=max_attempts,
        settings={"seed": seed, "min_calls": min_calls, "max_calls": max_calls, "max_per_api": max_per_api,
                  "shapes": weights, "coverage_k": coverage_k, "orders": orders,
                  "max_orders_per_subgraph": max_orders_per_subgraph},  # fmt: skip
        rejections={r: 0 for r in REJECTION_REASONS},
        per_shape={s: 0 for s in weights},
    )
    chains: list[Chain] = []
    subgraphs = 0

    def attempt(shape: str, required: str | None) -> bool:
        nonlocal subgraphs
        stats.attempts += 1
        built = sampler.build(shape, required)
        if isinstance(built, str):
            stats.rejections[built] += 1
            return False
        members, claims = built
        sid = subgraph_id(members, [(a, path, b, param) for (b, param), (a, path) in claims.items()])
        if sid in sampler.seen:
            stats.rejections["duplicate"] += 1
            return False
        new = sampler.samples(members, claims, n - len(chains))
        if not new:
            stats.rejections["cap_reached"] += 1
            return False
        sampler.seen.add(sid)
        subgraphs += 1
        for chain in new:
            sampler.use.update(chain.api_ids)
            stats.per_shape[shape] += 1
        chains.extend(new)
        return True

    impossible = sampler.impossible_shapes()
    active = {s: w for s, w in weights.items() if s not in impossible}
    for shape in weights:
        if shape in impossible:
            stats.impossible_shapes[shape] = impossible[shape]
            stats.warnings.append(f"shape {shape} is impossible here: {impossible[shape]}")

    # coverage pass: a sample seeded on each API still under its goal
    goal = min(coverage_k, max_per_api or coverage_k)
    coverage_cut = ""  # why the coverage pass stopped early, if it did
    if goal and active:
        order = list(pool.eligible)
        rng.shuffle(order)
        for api in order:
            tried: set[str] = set()
            for _ in range(COVERAGE_TRIES):
                if sampler.use[api] >= goal or len(chains) >= n or stats.attempts >= max_attempts:
                    break
                left = [s for s in active if s not in tried]
                if not left:
                    break
                shape = rng.choices(left, weights=[active[s] for s in left], k=1)[0]
                if not attempt(shape, api):
                    tried.add(shape)
            if len(chains) >= n or stats.attempts >= max_attempts:
                coverage_cut = (f"n={n} samples are too few for {len(pool.eligible)} APIs" if len(chains) >= n
                                else f"the budget of {max_attempts} attempts is spent")  # fmt: skip
                break

    # free sampling: a shape is drawn per sample, not per attempt, so the weights are the shares of the output
    fails: Counter = Counter()
    exhausted: list[str] = []
    shape: str | None = None
    while len(chains) < n and stats.attempts < max_attempts and active:
        if shape not in active:
            shape = rng.choices(list(active), weights=list(active.values()), k=1)[0]
        if attempt(shape, None):
            fails[shape] = 0
            shape = None
            continue
        fails[shape] += 1
        if fails[shape] >= STALL_LIMIT:
            del active[shape]
            if stats.per_shape[shape] == 0:
                stats.impossible_shapes[shape] = (
                    f"no {shape} of {min_calls}-{max_calls} calls found in {STALL_LIMIT} tries"
                    + (f" under max_per_api={max_per_api}" if max_per_api is not None else "")
                )
                stats.warnings.append(f"shape {shape} is impossible here: {stats.impossible_shapes[shape]}")
            else:
                exhausted.append(shape)

    if len(chains) < n:
        if not weights.keys() - stats.impossible_shapes.keys():
            why = "no requested shape is possible in this graph"
        elif not active:
            why = (f"every possible shape is exhausted ({', '.join(exhausted)}: too few distinct subgraphs"
                   + (f" under max_per_api={max_per_api}" if max_per_api is not None else "") + ")")  # fmt: skip
        else:
            why = f"the budget of {max_attempts} attempts is spent"
        rejected = ", ".join(f"{v} {k}" for k, v in stats.rejections.items() if v)
        stats.note = f"only {len(chains)} of {n} samples: {why}" + (f" (rejected: {rejected})" if rejected else "")
        stats.warnings.append(stats.note)
    stats.produced = len(chains)
    stats.subgraphs = subgraphs
    stats.per_api = dict(sorted(sampler.use.items()))
    stats.size_histogram = dict(sorted(Counter(len(c) for c in chains).items()))
    stats.coverage = _coverage(pool.eligible, sampler.use, coverage_k)
    if coverage_k and stats.coverage.covered < stats.coverage.eligible:
        short = stats.coverage.eligible - stats.coverage.covered
        why = coverage_cut or "no more distinct subgraphs under min_calls, max_calls and max_per_api"
        stats.warnings.append(
            f"{short} of {stats.coverage.eligible} APIs are in fewer than coverage_k={coverage_k} samples ({why})"
        )
    for w in stats.warnings:
        log.warning("sampling: %s", w)
    return chains, stats


def _coverage(eligible: list[str], use: Counter, k: int) -> CoverageStats:
    uses = [use[a] for a in eligible]
    never = [a for a in eligible if use[a] == 0]
    return CoverageStats(
        k=k,
        eligible=len(eligible),
        covered=sum(u >= k for u in uses),
        used=sum(u > 0 for u in uses),
        never_used=len(never),
        never_used_apis=never[:LISTED_APIS],
        min_use=min(uses, default=0),
        max_use=max(uses, default=0),
        gini=_gini(uses),
    )


sample_chains = sample_subgraphs  # the name from before shapes existed; kept for callers
