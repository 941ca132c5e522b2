"""Chain sampling over hand-built dependency graphs: validity, exhaustiveness on tiny graphs, caps, determinism.

`sample_chains` is now the shape-aware subgraph sampler (tests/test_subgraphs.py covers shapes, orders, coverage);
expectations changed where the behaviour deliberately did: stats fields (size_histogram, note wording), bindings
follow the subgraph's shape (only a dag binds every parameter another member can fill), and a step may have no
binding (a second root of a fan-in) as long as the steps stay connected.
"""

from __future__ import annotations

import random

import pytest

from goat_datasets.sampling import Chain, ChainStep, Binding, check_chain, sample_chains
from graphs import assert_valid, make_graph, random_graph


def shapes(chains: list[Chain]) -> set[tuple]:
    return {Chain.signature(c.steps) for c in chains}


def test_linear_graph_gives_exactly_its_three_chains_then_says_why_it_stopped():
    graph = make_graph(["A", "B", "C"], [("A", "id", "B", "a_id"), ("B", "id", "C", "b_id")])
    chains, stats = sample_chains(graph, ["A", "B", "C"], n=10, min_calls=2, max_calls=4, seed=0)
    assert sorted(c.api_ids for c in chains) == [["A", "B"], ["A", "B", "C"], ["B", "C"]]
    assert_valid(chains, graph, 2, 4)
    abc = next(c for c in chains if len(c) == 3)
    assert abc.steps[2].bindings == [Binding(param="b_id", from_step=1, source_path="id")]
    assert stats.produced == 3 and stats.requested == 10 and "only 3 of 10 samples" in stats.note
    assert "chain: too few distinct subgraphs" in stats.note
    assert stats.size_histogram == {2: 2, 3: 1} and stats.per_shape["chain"] == 3
    assert set(stats.impossible_shapes) == {"fan_out", "fan_in", "dag"}
    assert stats.per_api == {"A": 2, "B": 3, "C": 2}


def test_a_dag_binds_every_parameter_another_member_can_provide_a_star_only_its_edges():
    graph = make_graph(
        ["A", "B", "C"],
        [("A", "city", "B", "city"), ("A", "date", "C", "date"), ("B", "hotel_id", "C", "hotel_id"),
         ("A", "alt_date", "C", "date")],
    )  # fmt: skip
    nodes = ["A", "B", "C"]
    dags, _ = sample_chains(graph, nodes, n=50, min_calls=3, max_calls=3, seed=1, shapes=["dag"])
    assert_valid(dags, graph, 3, 3)
    # the induced subgraph (GOAT's): C binds both parameters, date from one of A's two fields (one provider only)
    assert [c.api_ids for c in dags] == [["A", "B", "C"]] * 2 and {c.shape for c in dags} == {"dag"}
    assert {tuple((b.param, b.from_step, b.source_path) for b in c.steps[2].bindings) for c in dags} == {
        (("date", 0, "alt_date"), ("hotel_id", 1, "hotel_id")),
        (("date", 0, "date"), ("hotel_id", 1, "hotel_id")),
    }
    # a fan-out A -> B, A -> C does not bind B -> C: C only gets date, and B and C may run in either order
    fans, _ = sample_chains(graph, nodes, n=50, min_calls=3, max_calls=3, seed=1, shapes=["fan_out"], orders="all")
    assert_valid(fans, graph, 3, 3)
    acb = [c for c in fans if c.api_ids == ["A", "C", "B"]]
    assert acb and all([b.param for b in c.steps[1].bindings] == ["date"] for c in acb)
    assert {c.shape for c in fans} == {"fan_out"} and len(fans) == 4  # 2 subgraphs (date or alt_date) x 2 orders


def test_disconnected_components_never_mix_and_isolated_apis_never_appear():
    graph = make_graph(
        ["A", "B", "C", "X", "Y", "Lonely"],
        [("A", "id", "B", "id"), ("B", "id", "C", "id"), ("X", "id", "Y", "id")],
    )
    chains, _ = sample_chains(graph, list(graph.nodes), n=20, min_calls=2, max_calls=3, seed=3)
    assert_valid(chains, graph, 2, 3)
    for c in chains:
        assert set(c.api_ids) <= {"A", "B", "C"} or set(c.api_ids) <= {"X", "Y"}
    assert {"X", "Y"} in [set(c.api_ids) for c in chains]
    assert all("Lonely" not in c.api_ids for c in chains)


def test_cycles_do_not_repeat_apis_and_failed_edges_are_ignored():
    graph = make_graph(["A", "B", "C"], [("A", "x", "B", "x"), ("B", "y", "A", "y"), ("B", "z", "C", "z")],
                       failed={("B", "C")})  # fmt: skip
    chains, _ = sample_chains(graph, ["A", "B", "C"], n=10, min_calls=2, max_calls=4, seed=0)
    assert sorted(c.api_ids for c in chains) == [["A", "B"], ["B", "A"]]
    assert_valid(chains, graph, 2, 4)


def test_same_seed_same_chains_other_seed_other_order():
    graph = random_graph(random.Random(5), nodes=25, edges=60)
    a, stats_a = sample_chains(graph, list(graph.nodes), n=40, seed=11)
    b, stats_b = sample_chains(graph, list(graph.nodes), n=40, seed=11)
    c, _ = sample_chains(graph, list(graph.nodes), n=40, seed=12)
    assert [x.id for x in a] == [x.id for x in b] and stats_a == stats_b
    assert [x.id for x in a] != [x.id for x in c]
    # ids are content hashes: the same chain found by another seed has the same id
    same = {x.id: x for x in a}.keys() & {x.id: x for x in c}.keys()
    for chain_id in same:
        assert next(x for x in a if x.id == chain_id).steps == next(x for x in c if x.id == chain_id).steps


def test_max_per_api_caps_every_api_across_the_sample():
    graph = random_graph(random.Random(2), nodes=12, edges=30)
    chains, stats = sample_chains(graph, list(graph.nodes), n=200, seed=0, max_per_api=3)
    assert chains and max(stats.per_api.values()) <= 3
    counts: dict[str, int] = {}
    for c in chains:
        for a in c.api_ids:
            counts[a] = counts.get(a, 0) + 1
    assert counts == stats.per_api
    assert stats.produced < 200 and stats.note


def test_apis_argument_restricts_the_nodes():
    graph = make_graph(["A", "B", "C"], [("A", "id", "B", "id"), ("B", "id", "C", "id"), ("A", "id", "C", "id")])
    chains, _ = sample_chains(graph, ["A", "C"], n=10, seed=0)
    assert [c.api_ids for c in chains] == [["A", "C"]]
    with pytest.raises(KeyError, match="not in the dependency graph: Z"):
        sample_chains(graph, ["A", "Z"], n=1)


def test_bad_arguments_are_clear_errors():
    graph = make_graph(["A", "B"], [("A", "id", "B", "id")])
    with pytest.raises(ValueError, match="min_calls <= max_calls"):
        sample_chains(graph, ["A", "B"], n=1, min_calls=3, max_calls=2)
    with pytest.raises(ValueError, match="max_per_api"):
        sample_chains(graph, ["A", "B"], n=1, max_per_api=0)
    empty, stats = sample_chains(make_graph(["A", "B"], []), ["A", "B"], n=3)
    assert empty == [] and "no requested shape is possible" in stats.note
    assert set(stats.impossible_shapes) == {"chain", "fan_out", "fan_in", "dag"}
    singles, _ = sample_chains(make_graph(["A", "B"], []), ["A", "B"], n=5, min_calls=1, max_calls=1)
    assert sorted(c.api_ids for c in singles) == [["A"], ["B"]]


def test_check_chain_catches_broken_chains():
    graph = make_graph(["A", "B", "C"], [("A", "id", "B", "id")])
    bad = Chain.from_steps([
        ChainStep(api_id="A"),
        ChainStep(api_id="B", bindings=[Binding(param="id", from_step=1, source_path="id")]),
        ChainStep(api_id="C"),
        ChainStep(api_id="A", bindings=[Binding(param="q", from_step=1, source_path="id")]),
    ])  # fmt: skip
    problems = check_chain(bad, graph)
    assert "step 1: binding of id refers to step 1, not an earlier step" in problems
    assert "the steps are not one connected subgraph: A,B | C" in problems
    assert "step 3: A appears twice" in problems
    assert "step 3: no graph edge B.id -> A(q)" in problems
    assert check_chain(bad.model_copy(update={"id": "chain-0"}), graph)[-1].startswith("id chain-0 does not match")


def test_large_random_graph_sample_is_valid_diverse_and_cheap():
    graph = random_graph(random.Random(0), nodes=200, edges=800)
    chains, stats = sample_chains(graph, list(graph.nodes), n=500, min_calls=2, max_calls=4, seed=0, max_per_api=20)
    assert stats.produced == 500 and stats.attempts < 2 * 500  # few draws wasted (643 today), whatever the machine
    assert_valid(chains, graph, 2, 4)
    assert set(stats.size_histogram) == {2, 3, 4}
    assert len(stats.per_api) > 150  # usage weighting spreads the sample over most APIs
    assert max(stats.per_api.values()) <= 20
