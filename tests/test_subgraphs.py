"""Shape-aware subgraph sampling: shape definitions, orders, coverage, caps, impossible shapes, stats, the build
stage, speed on 1,000 APIs, and an end-to-end run over the real demo API (real graph, real HTTP execution)."""

from __future__ import annotations

import json
import random
import re
from itertools import permutations
from pathlib import Path

import pytest

from goat_datasets.recipe import RecipeError, load_recipe
from goat_datasets.recipe.schema import SamplingConfig
from goat_datasets.sampling import SHAPES, Chain, classify_shape, sample_subgraphs
from goat_datasets.sampling.subgraphs import STALL_LIMIT
from graphs import api, assert_valid, make_graph, random_graph

DEMO_RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "demo.yaml"


def reaches(chain: Chain, i: int, j: int) -> bool:
    """Whether step j depends (transitively) on step i."""
    stack = [j]
    while stack:
        k = stack.pop()
        if i in chain.steps[k].depends_on:
            return True
        stack.extend(chain.steps[k].depends_on)
    return False


# A hub R feeding three APIs, a sink S with three parameters fed by three different APIs, and a path X -> Y -> Z.
SHAPED = make_graph(
    ["R", "C1", "C2", "C3", "P1", "P2", "P3", "S", "X", "Y", "Z"],
    [("R", "id", "C1", "r"), ("R", "id", "C2", "r"), ("R", "name", "C3", "q"),
     ("P1", "a", "S", "a"), ("P2", "b", "S", "b"), ("P3", "c", "S", "c"), ("P3", "c2", "S", "c"),
     ("X", "x", "Y", "x"), ("Y", "y", "Z", "y")],
)  # fmt: skip


# ------------------------------------------------------------------------------------------------- shapes


def test_classify_shape_follows_the_documented_definitions():
    assert classify_shape(["A"], set()) == "chain"
    assert classify_shape(["A", "B", "C"], {("A", "B"), ("B", "C")}) == "chain"
    assert classify_shape(["A", "B", "C"], {("A", "B"), ("A", "C")}) == "fan_out"
    assert classify_shape(["A", "B", "C"], {("A", "C"), ("B", "C")}) == "fan_in"
    assert classify_shape(["A", "B", "C"], {("A", "B"), ("A", "C"), ("B", "C")}) == "dag"  # parents not independent
    assert classify_shape(["A", "B", "C", "D"], {("A", "B"), ("B", "C"), ("B", "D")}) == "dag"  # a tree, no star
    assert classify_shape(["A", "B", "C", "D"], {("A", "B"), ("C", "B"), ("C", "D")}) == "dag"  # zigzag


def test_each_shape_is_what_its_definition_says():
    for shape in SHAPES:
        if shape == "dag":
            continue  # SHAPED has no dag; see the next test
        chains, stats = sample_subgraphs(SHAPED, list(SHAPED.nodes), n=100, min_calls=2, max_calls=4, seed=3,
                                         shapes=[shape], orders="all")  # fmt: skip
        assert chains and stats.per_shape == {shape: len(chains)}
        assert_valid(chains, SHAPED, 2, 4)
        for c in chains:
            assert c.shape == shape
            if shape == "chain":  # a path: each step feeds the next only
                assert [s.depends_on for s in c.steps] == [[]] + [[i] for i in range(len(c) - 1)]
            if shape == "fan_out":  # one root, >= 2 children that do not depend on each other
                root = next(i for i, s in enumerate(c.steps) if not s.depends_on)
                assert c.steps[root].api_id == "R" and len(c) >= 3
                assert all(s.depends_on == [root] for i, s in enumerate(c.steps) if i != root)
            if shape == "fan_in":  # one sink, >= 2 parameters fed by different, independent parents
                sink = c.steps[-1]
                assert sink.api_id == "S" and len(sink.bindings) == len(c) - 1 >= 2
                assert len({b.from_step for b in sink.bindings}) == len({b.param for b in sink.bindings}) == len(c) - 1
                assert all(not s.depends_on for s in c.steps[:-1])
    # the path X -> Y -> Z is the only chain of 3 and has one order; fan-outs of R: C1, C2, C3 in every order
    chains, _ = sample_subgraphs(SHAPED, list(SHAPED.nodes), n=100, min_calls=3, max_calls=3, seed=0,
                                 shapes=["chain"], orders="all")  # fmt: skip
    assert [c.api_ids for c in chains] == [["X", "Y", "Z"]]


def test_a_dag_is_the_induced_acyclic_subgraph_and_siblings_stay_independent():
    # D reads from A and from B, B from A: a dag; E is a second child of A, independent of B and D
    graph = make_graph(["A", "B", "D", "E"],
                       [("A", "a", "B", "a"), ("A", "a", "D", "a"), ("B", "b", "D", "b"), ("A", "a", "E", "a"),
                        ("D", "d", "A", "back")])  # fmt: skip
    chains, stats = sample_subgraphs(graph, list(graph.nodes), n=50, min_calls=4, max_calls=4, seed=0,
                                     shapes=["dag"], orders="all", max_orders_per_subgraph=50)  # fmt: skip
    assert_valid(chains, graph, 4, 4)
    assert {c.shape for c in chains} == {"dag"} and stats.subgraphs == 2
    # the cycle A -> D -> A is broken one way or the other: two subgraphs, each with all its orders
    by_subgraph: dict[str, list[str]] = {}
    for c in chains:
        by_subgraph.setdefault(c.subgraph_id, []).append(" ".join(c.api_ids))
    assert sorted(map(sorted, by_subgraph.values())) == [["A B D E", "A B E D", "A E B D"], ["D A B E", "D A E B"]]
    for c in chains:
        pos = {a: i for i, a in enumerate(c.api_ids)}
        assert not reaches(c, pos["E"], pos["B"]) and not reaches(c, pos["B"], pos["E"])  # parallel-able
        if c.api_ids[0] == "A":  # the induced subgraph binds both of D's parameters
            assert sorted(b.param for b in c.steps[pos["D"]].bindings) == ["a", "b"]


def test_all_orders_share_the_subgraph_id_and_the_cap_keeps_a_seeded_selection():
    graph = make_graph(["R", "C1", "C2", "C3"], [("R", "id", c, "r") for c in ("C1", "C2", "C3")])
    every, stats = sample_subgraphs(graph, list(graph.nodes), n=100, min_calls=4, max_calls=4, seed=0,
                                    shapes=["fan_out"], orders="all", max_orders_per_subgraph=10)  # fmt: skip
    assert_valid(every, graph, 4, 4)
    assert sorted(tuple(c.api_ids[1:]) for c in every) == sorted(permutations(["C1", "C2", "C3"]))
    assert len({c.subgraph_id for c in every}) == 1 and stats.subgraphs == 1 and stats.produced == 6
    capped, _ = sample_subgraphs(graph, list(graph.nodes), n=100, min_calls=4, max_calls=4, seed=0,
                                 shapes=["fan_out"], orders="all", max_orders_per_subgraph=4)  # fmt: skip
    assert len(capped) == 4 and {c.id for c in capped} <= {c.id for c in every}
    one, _ = sample_subgraphs(graph, list(graph.nodes), n=100, min_calls=4, max_calls=4, seed=0, shapes=["fan_out"])
    assert len(one) == 1 and one[0].subgraph_id == every[0].subgraph_id
    # n counts samples (orders), not subgraphs
    two, stats = sample_subgraphs(graph, list(graph.nodes), n=2, min_calls=4, max_calls=4, seed=0,
                                  shapes=["fan_out"], orders="all")  # fmt: skip
    assert len(two) == 2 == stats.produced and stats.note == ""


# ------------------------------------------------------------------------------------------------- limits


def test_an_impossible_shape_is_reported_and_does_not_stall_the_others():
    path = make_graph(["A", "B", "C", "D"], [("A", "x", "B", "x"), ("B", "y", "C", "y"), ("C", "z", "D", "z")])
    chains, stats = sample_subgraphs(path, list(path.nodes), n=50, min_calls=2, max_calls=4, seed=0)
    assert stats.attempts < 600  # each impossible shape is given up after STALL_LIMIT tries (439 draws in all today)
    assert sorted(len(c) for c in chains) == [2, 2, 2, 3, 3, 4]  # every sub-path, then it stops
    assert set(stats.impossible_shapes) == {"fan_out", "fan_in", "dag"}
    assert "no API feeds 2 or more other APIs" in stats.impossible_shapes["fan_out"]
    assert f"no dag of 2-4 calls found in {STALL_LIMIT} tries" == stats.impossible_shapes["dag"]
    assert any(w.startswith("shape fan_in is impossible here") for w in stats.warnings)
    assert "only 6 of 50 samples: every possible shape is exhausted (chain" in stats.note
    # only impossible shapes requested: nothing is tried at all
    none, stats = sample_subgraphs(path, list(path.nodes), n=5, shapes={"fan_in": 1, "fan_out": 2})
    assert none == [] and stats.attempts == 0 and "no requested shape is possible" in stats.note
    # too few calls allowed for a star
    _, stats = sample_subgraphs(SHAPED, list(SHAPED.nodes), n=5, min_calls=2, max_calls=2)
    assert stats.impossible_shapes["fan_in"] == "a fan_in needs at least 3 calls, max_calls is 2"


def test_failed_edges_and_apis_outside_the_selection_are_never_used():
    graph = make_graph(["R", "C1", "C2", "C3", "Z"],
                       [("R", "id", "C1", "r"), ("R", "id", "C2", "r"), ("R", "id", "C3", "r"), ("R", "id", "Z", "r")],
                       failed={("R", "C3")})  # fmt: skip
    chains, _ = sample_subgraphs(graph, ["R", "C1", "C2", "C3"], n=50, min_calls=2, max_calls=4, seed=0)
    assert_valid(chains, graph, 2, 4)
    used = {a for c in chains for a in c.api_ids}
    assert used == {"R", "C1", "C2"}


def test_max_per_api_holds_with_all_orders():
    graph = random_graph(random.Random(4), nodes=30, edges=90)
    chains, stats = sample_subgraphs(graph, list(graph.nodes), n=400, min_calls=2, max_calls=4, seed=1,
                                     max_per_api=5, orders="all")  # fmt: skip
    assert_valid(chains, graph, 2, 4)
    counts: dict[str, int] = {}
    for c in chains:
        for a in c.api_ids:
            counts[a] = counts.get(a, 0) + 1
    assert counts == stats.per_api and max(counts.values()) == 5
    assert stats.produced < 400 and "max_per_api=5" in stats.note


# ------------------------------------------------------------------------------------------------- coverage


def islands_graph():
    """One dense component and ten two-API islands: usage weighting alone rarely reaches the islands early."""
    rng = random.Random(7)
    hub = [f"h{i:02d}" for i in range(30)]
    edges = {(a, f"o{rng.randrange(3)}", b, f"p{rng.randrange(3)}") for a, b in
             (rng.sample(hub, 2) for _ in range(150))}  # fmt: skip
    islands = [(f"i{k}a", f"i{k}b") for k in range(10)]
    edges |= {(a, "id", b, "id") for a, b in islands}
    return make_graph(hub + [x for pair in islands for x in pair], sorted(edges))


def test_coverage_pass_reaches_every_api_k_times_when_possible():
    graph = islands_graph()
    nodes = list(graph.nodes)
    # 30 samples are enough to reach all 50 APIs (10 islands + ~10 samples of 3 in the hub) only when aimed at
    for seed in range(5):
        _, stats = sample_subgraphs(graph, nodes, n=30, min_calls=2, max_calls=4, seed=seed, coverage_k=1)
        assert stats.coverage.eligible == 50 and stats.coverage.covered == 50 and stats.coverage.never_used == 0
        _, stats0 = sample_subgraphs(graph, nodes, n=30, min_calls=2, max_calls=4, seed=seed, coverage_k=0)
        assert stats0.coverage.used < 50  # the coverage pass is what made the difference
    deeper, stats2 = sample_subgraphs(graph, nodes, n=200, min_calls=2, max_calls=4, seed=0, coverage_k=2)
    # an island has one subgraph only, so it can be in one sample only: "when possible"
    assert stats2.coverage.covered == 30 and stats2.coverage.min_use == 1
    assert all(stats2.per_api[a] >= 2 for a in nodes if a.startswith("h"))
    assert all(stats2.per_api[a] == 1 for a in nodes if a.startswith("i"))
    assert any(w.endswith("(no more distinct subgraphs under min_calls, max_calls and max_per_api)")
               for w in stats2.warnings)  # fmt: skip
    # an island cannot hold a sample of 3 calls: coverage is impossible there, and the stats say which APIs
    _, stats3 = sample_subgraphs(graph, nodes, n=100, min_calls=3, max_calls=4, seed=0, coverage_k=1)
    assert stats3.coverage.never_used == 20 and stats3.coverage.never_used_apis[:2] == ["i0a", "i0b"]
    assert any("20 of 50 APIs are in fewer than coverage_k=1" in w for w in stats3.warnings)


# ------------------------------------------------------------------------------------------------- determinism, stats


def test_same_seed_same_samples_whatever_the_insertion_order_of_the_graph():
    rng = random.Random(9)
    graph = random_graph(rng, nodes=40, edges=140)
    edges = [(a, d["source_path"] if "source_path" in d else k.split("->")[0], b, d["target_param"])
             for a, b, k, d in graph.edges(keys=True, data=True)]  # fmt: skip
    shuffled = list(edges)
    random.Random(1).shuffle(shuffled)
    names = list(graph.nodes)
    other = make_graph(list(reversed(names)), shuffled)
    kwargs = dict(n=80, min_calls=2, max_calls=5, seed=21, orders="all", max_orders_per_subgraph=3)
    a, stats_a = sample_subgraphs(graph, names, **kwargs)
    b, stats_b = sample_subgraphs(other, list(reversed(names)), **kwargs)
    assert [c.model_dump() for c in a] == [c.model_dump() for c in b] and stats_a == stats_b
    c, _ = sample_subgraphs(graph, names, **{**kwargs, "seed": 22})
    assert [x.id for x in a] != [x.id for x in c]


def test_stats_add_up_and_summarise():
    graph = random_graph(random.Random(3), nodes=60, edges=240)
    chains, stats = sample_subgraphs(graph, list(graph.nodes), n=150, min_calls=2, max_calls=5, seed=0,
                                     orders="all", max_orders_per_subgraph=2)  # fmt: skip
    assert stats.produced == len(chains) == 150 and stats.note == ""
    assert sum(stats.per_shape.values()) == sum(stats.size_histogram.values()) == 150
    assert all(stats.per_shape[s] > 0 for s in SHAPES)
    assert stats.subgraphs == len({c.subgraph_id for c in chains}) < 150
    assert stats.attempts == stats.subgraphs + sum(stats.rejections.values())
    assert set(stats.rejections) == {"duplicate", "too_small", "shape_impossible", "shape_mismatch", "cap_reached"}
    for shape, count in stats.per_shape.items():
        assert count == sum(c.shape == shape for c in chains)
    assert stats.settings["shapes"] == {"chain": 0.4, "fan_out": 0.2, "fan_in": 0.2, "dag": 0.2}
    uses = [stats.per_api.get(a, 0) for a in graph.nodes if graph.degree(a)]
    assert (stats.coverage.min_use, stats.coverage.max_use) == (min(uses), max(uses)) and 0 < stats.coverage.gini < 1
    lines = stats.summary()
    assert lines[0].startswith(f"sampling: 150/150 samples from {stats.subgraphs} subgraphs")
    assert "chain " in lines[1] and "coverage: " in lines[2]
    assert json.loads(stats.model_dump_json())["size_histogram"]


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match="unknown shape.*fan_inn"):
        sample_subgraphs(SHAPED, ["R"], n=1, shapes=["fan_inn"])
    with pytest.raises(ValueError, match="positive weight"):
        sample_subgraphs(SHAPED, ["R"], n=1, shapes={"chain": 0})
    with pytest.raises(ValueError, match="orders must be"):
        sample_subgraphs(SHAPED, ["R"], n=1, orders="some")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="coverage_k"):
        sample_subgraphs(SHAPED, ["R"], n=1, coverage_k=-1)


# ------------------------------------------------------------------------------------------------- recipe and stage


def test_recipe_shapes_accept_a_list_or_weights_and_name_bad_fields():
    assert SamplingConfig().shapes == {"chain": 0.4, "fan_out": 0.2, "fan_in": 0.2, "dag": 0.2}
    assert SamplingConfig(shapes=["chain", "dag"]).shapes == {"chain": 1.0, "dag": 1.0}
    recipe = load_recipe(DEMO_RECIPE, ["sampling.shapes={fan_in: 2, chain: 1}", "sampling.orders=all"])
    assert recipe.sampling.shapes == {"fan_in": 2.0, "chain": 1.0} and recipe.sampling.orders == "all"
    with pytest.raises(RecipeError) as err:
        load_recipe(DEMO_RECIPE, ["sampling.shapes=[chain, fan_inn]", "sampling.orders=some", "sampling.coverage_k=-1"])
    text = "\n".join(str(i) for i in err.value.issues)
    assert "sampling.shapes" in text and "fan_inn" in text and "'chain', 'fan_out', 'fan_in' or 'dag'" in text
    assert "sampling.orders" in text and "sampling.coverage_k" in text
    with pytest.raises(RecipeError, match="positive weight"):
        load_recipe(DEMO_RECIPE, ["sampling.shapes={chain: 0}"])


def test_sample_stage_writes_samples_and_stats_and_prints_a_summary(tmp_path):
    from goat_builders.build import sample_stage

    recipe = load_recipe(DEMO_RECIPE, ["sampling.n=8", "sampling.max_calls=4", "sampling.orders=all"])
    lines: list[str] = []
    data = sample_stage(recipe, SHAPED, [api(n) for n in SHAPED.nodes], tmp_path, lines.append)
    assert len(data) == 8 and json.loads((tmp_path / "chains.json").read_text()) == data
    step = data[0]["steps"][-1]
    assert set(data[0]) == {"id", "steps", "subgraph_id", "shape"} and set(step) == {"api_id", "bindings", "depends_on"}
    stats = json.loads((tmp_path / "sampling_stats.json").read_text())
    assert stats["produced"] == 8 and stats["settings"]["orders"] == "all" and stats["coverage"]["eligible"] == 11
    assert lines[0].startswith("sampling: 8/8 samples") and any("coverage:" in line for line in lines)
    assert sample_stage(recipe, SHAPED, [], tmp_path, lines.append) == data  # resumed: chains.json is reused
    empty = make_graph(["A", "B"], [])
    (tmp_path / "other").mkdir()
    with pytest.raises(RuntimeError, match="no requested shape is possible"):
        sample_stage(recipe, empty, [api("A"), api("B")], tmp_path / "other", lines.append)


# ------------------------------------------------------------------------------------------------- scale


def test_a_thousand_subgraphs_of_a_thousand_apis():
    graph = random_graph(random.Random(0), nodes=1000, edges=4000)
    chains, stats = sample_subgraphs(graph, list(graph.nodes), n=1000, min_calls=2, max_calls=6, seed=0,
                                     max_per_api=25)  # fmt: skip
    assert stats.produced == 1000 and stats.attempts < 1500  # 1,101 draws today (0.3-0.6 s here, not asserted)
    assert_valid(chains, graph, 2, 6)
    assert all(stats.per_shape[s] > 50 for s in SHAPES) and set(stats.size_histogram) == {2, 3, 4, 5, 6}
    assert stats.coverage.covered == stats.coverage.eligible  # coverage_k=1 by default
    assert max(stats.per_api.values()) <= 25


# ------------------------------------------------------------------------------------------------- end to end


class ExampleArgumentsLLM:
    """Answers an argument request with the documented example of each parameter asked for (no model needed)."""

    def __init__(self, apis):
        self.by_name = {a.name: a for a in apis}
        self.calls = 0

    def generate(self, messages, max_new_tokens=None):
        from goat_datasets.graph.verify import MISSING, schema_example
        from goat_datasets.llm.generation import Generation

        self.calls += 1
        prompt = messages[-1]["content"]
        target = self.by_name[re.search(r"call to the API `([^`]+)`", prompt).group(1)]
        wanted = json.loads(re.search(r"keys are exactly: (\[.*\])", prompt).group(1))
        args = {p.name: schema_example(target, p) for p in target.params if p.name in wanted}
        args = {k: (v if v is not MISSING else 1) for k, v in args.items()}
        return Generation(text=json.dumps(args), prompt_tokens=1, completion_tokens=1, seconds=0.0)


@pytest.mark.slow  # ~20 s on 2 busy cores, mostly the embedder building the real graph
def test_samples_of_every_shape_from_the_real_demo_graph_execute_over_http(tmp_path):
    import httpx

    from goat_builders.traces import execute_chain
    from goat_datasets.demo_api import create_app
    from goat_datasets.embeddings import Embedder
    from goat_datasets.execution.router import make_router
    from goat_datasets.graph.build import build_graph
    from goat_datasets.servers import serve_in_thread
    from goat_datasets.sources.openapi import parse_openapi

    with serve_in_thread(create_app(seed=0), health_path="/health") as url:
        doc = httpx.get(url + "/openapi.json").json()
        reads = [a for a in parse_openapi(doc, "demo", base_url=url).apis if a.method.upper() == "GET"]
        with make_router([{"name": "demo", "executor": "http", "base_url": url}]) as router:
            graph, _ = build_graph(reads, embedder=Embedder(cache_dir=tmp_path / "emb"), executor=router)
            chains, stats = sample_subgraphs(graph, {a.id: a for a in reads}, n=40, min_calls=2, max_calls=4,
                                             seed=0, orders="all", max_orders_per_subgraph=2)  # fmt: skip
            assert stats.produced == 40 and all(stats.per_shape[s] > 0 for s in SHAPES), stats.summary()
            assert_valid(chains, graph, 2, 4)
            assert stats.coverage.covered == stats.coverage.eligible
            apis = {a.id: a for a in reads}
            llm = ExampleArgumentsLLM(reads)
            executed = {s: 0 for s in SHAPES}
            for chain in chains:
                if executed[chain.shape] >= 2:
                    continue
                run = execute_chain([s.model_dump() for s in chain.steps], apis, router, llm)
                if run.ok:
                    executed[chain.shape] += 1
                    for call, step in zip(run.calls, chain.steps):  # bound values came from the parents' responses
                        assert set(call.derived) == {b.param for b in step.bindings}
                else:  # a real API may have no data for a value: a recorded reason, never a binding bug
                    assert run.failure.stage in ("execution", "empty_response", "binding"), run.failure
    assert all(executed[s] > 0 for s in SHAPES), executed
