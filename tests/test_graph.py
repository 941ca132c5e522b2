"""Dependency graph: embedding cache, candidate math and filters, graph.json round trip, execution check."""

from __future__ import annotations

import json
import threading
from typing import Any, Callable

import httpx
import numpy as np
import pytest

from goat_datasets.embeddings import Embedder
from goat_datasets.execution.base import CallResult
from goat_datasets.graph import (
    DependencyEdge,
    DependencyGraph,
    StageResult,
    build_graph,
    find_candidates,
    load_graph,
    save_graph,
    verify_by_execution,
)
from goat_datasets.graph.candidates import (
    api_output_text,
    api_pair_scores,
    api_param_text,
    field_fits_param,
    field_text,
    param_text,
    preset_config,
    target_exclusion,
    words,
)
from goat_datasets.graph.model import add_edge, iter_edges, new_graph
from goat_datasets.graph.verify import example_arguments, schema_example
from goat_datasets.jsonpath import MISSING
from goat_datasets.sources.models import ApiSpec, OutputField, Param

from shared_data import SHARED_DATA  # noqa: E402

DATA = SHARED_DATA


def movie_apis() -> list[ApiSpec]:
    """Four APIs whose true dependencies are obvious to a reader: search -> movie -> person -> weather."""
    return [
        ApiSpec(
            id="films.search_movies", source="films", tool="films", name="search_movies",
            description="Search movies by title",
            params=(
                Param(name="query", location="query", required=True, description="Words to look for in movie titles",
                      schema={"type": "string", "examples": ["Alien"]}),
                Param(name="page", location="query", schema={"type": "integer", "default": 1}, description="Page of results"),
                Param(name="sort_by", location="query", schema={"type": "string", "enum": ["title", "year"]},
                      description="Sort order"),
            ),
            output_fields=(
                OutputField(path="results", type="array", description="Movies matching the query"),
                OutputField(path="results[*].movie_id", type="integer", description="Identifier of the movie"),
                OutputField(path="results[*].title", type="string", description="Title of the movie"),
                OutputField(path="total_pages", type="integer", description="Number of result pages"),
            ),
        ),
        ApiSpec(
            id="films.get_movie", source="films", tool="films", name="get_movie", description="Details of one movie",
            params=(Param(name="movie_id", location="path", required=True, schema={"type": "integer"},
                          description="Identifier of the movie"),),
            output_fields=(
                OutputField(path="title", type="string", description="Title of the movie"),
                OutputField(path="director_id", type="integer", description="Identifier of the person who directed the movie"),
                OutputField(path="release_date", type="string", description="Date the movie was released"),
            ),
        ),
        ApiSpec(
            id="films.get_person", source="films", tool="films", name="get_person", description="Details of a person",
            params=(Param(name="person_id", location="path", required=True, schema={"type": "integer"},
                          description="Identifier of the person"),),
            output_fields=(
                OutputField(path="name", type="string", description="Name of the person"),
                OutputField(path="birthplace", type="string", description="City where the person was born"),
            ),
        ),
        ApiSpec(
            id="weather.current", source="weather", tool="weather", name="current_weather",
            description="Current weather in a city",
            params=(Param(name="city", location="query", required=True, schema={"type": "string", "examples": ["Paris"]},
                          description="Name of the city"),),
            output_fields=(OutputField(path="temperature_c", type="number", description="Temperature in degrees Celsius"),),
        ),
    ]  # fmt: skip


# ---------------------------------------------------------------------------------------------------------------
# embeddings


@pytest.fixture(scope="module")
def embedder(tmp_path_factory) -> Embedder:
    return Embedder(cache_dir=tmp_path_factory.mktemp("emb"))


def test_embedder_returns_unit_float32_rows_in_input_order(embedder):
    vectors = embedder.encode(["movie identifier", "city name", "movie identifier"])
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(vectors[0], vectors[2])
    assert float(vectors[0] @ vectors[1]) < 0.9
    assert embedder.encode([]).shape == (0, 384)
    with pytest.raises(TypeError, match="sequence of strings"):
        embedder.encode("one string")


def test_embedding_cache_means_a_second_build_loads_no_model(tmp_path):
    texts = ["get_movie: movie_id: Identifier of the movie", "search_movies returns results[*].movie_id"]
    first = Embedder(cache_dir=tmp_path)
    a = first.encode(texts)
    assert first.model_loads == 1 and first.texts_embedded == 2
    first.close()

    second = Embedder(cache_dir=tmp_path)
    b = second.encode(list(reversed(texts)))
    assert second.model_loads == 0 and second.texts_embedded == 0  # all from disk, model never loaded
    np.testing.assert_array_equal(a, b[::-1])
    second.encode([texts[0], "a text never seen"])
    assert second.model_loads == 1 and second.texts_embedded == 1  # only the new text was embedded
    assert len(second.cache) == 3


def test_embedding_cache_keys_include_the_model(tmp_path):
    default = Embedder(cache_dir=tmp_path)
    other = Embedder(str(tmp_path / "some-local-model-dir"), cache_dir=tmp_path)
    assert default.key("x") != other.key("x")
    with pytest.raises(RuntimeError, match="cannot load embedding model"):
        other.encode(["x"])


# ---------------------------------------------------------------------------------------------------------------
# candidates


def best_source(edges: list[DependencyEdge], target_api: str, param: str) -> str:
    into = sorted((e for e in edges if e.target_api == target_api and e.target_param == param), key=lambda e: -e.score)
    assert into, f"no candidate edge into {target_api}({param})"
    return f"{into[0].source_api}.{into[0].source_path}"


def test_real_embeddings_rank_the_true_dependency_first(embedder):
    edges, stats = find_candidates(movie_apis(), embedder, threshold=0.2)
    assert best_source(edges, "films.get_movie", "movie_id") == "films.search_movies.results[*].movie_id"
    assert best_source(edges, "films.get_person", "person_id") == "films.get_movie.director_id"
    assert best_source(edges, "weather.current", "city") == "films.get_person.birthplace"
    assert best_source(edges, "films.search_movies", "query") == "films.get_movie.title"
    assert all(e.source_api != e.target_api for e in edges)
    assert all(e.target_param not in ("page", "sort_by") for e in edges)  # pagination knob and enum
    assert all(e.source_path != "results" for e in edges)  # an array never fills a scalar
    assert all(e.score > 0.2 and e.candidate.status == "passed" for e in edges)
    assert stats.excluded_params == {"pagination": 1, "enum": 1}
    assert stats.pairs_considered > stats.kept_by_threshold >= stats.kept_by_type == stats.kept_by_top_k == len(edges)


class TableEmbedder:
    """Vectors chosen by hand, so every cosine in the test is known exactly."""

    def __init__(self, table: dict[str, list[float]]):
        self.table = table
        self.calls = 0

    def encode(self, texts):
        self.calls += 1
        return np.array([self.table[t] for t in texts], dtype=np.float32)


def typed_apis() -> list[ApiSpec]:
    producer = ApiSpec(
        id="p.producer", source="p", tool="p", name="producer",
        params=(Param(name="q", location="query", description="anything"),),
        output_fields=(
            OutputField(path="items[*].id", type="integer"),
            OutputField(path="items[*].code", type="string"),  # "123" in the example: a string of digits
            OutputField(path="items[*].word", type="string"),
            OutputField(path="items", type="array"),
            OutputField(path="items[*].name", type="string"),
        ),
        response_examples=({"items": [{"id": 1, "code": "123", "word": "abc", "name": "n"}]},),
    )
    consumer = ApiSpec(
        id="c.consumer", source="c", tool="c", name="consumer",
        params=(
            Param(name="x", location="query", required=True, schema={"type": "integer"}),
            Param(name="y", location="query", required=True, schema={"type": "string"}),
            Param(name="limit", location="query", schema={"type": "integer"}),
            Param(name="mode", location="query", schema={"type": "string", "enum": ["a", "b"]}),
            Param(name="verbose", location="query", schema={"type": "boolean"}),
        ),
    )  # fmt: skip
    return [producer, consumer]


def typed_table(apis: list[ApiSpec]) -> dict[str, list[float]]:
    producer, consumer = apis
    field_vectors = {"items[*].id": [1, 0], "items[*].code": [0.8, 0.6], "items[*].word": [0.6, 0.8],
                     "items": [1, 0], "items[*].name": [0, 1]}  # fmt: skip
    table = {field_text(producer, f): field_vectors[f.path] for f in producer.output_fields}
    table[param_text(producer, producer.params[0])] = [1, 0]  # matches its own fields: must be ignored (A == B)
    table.update({param_text(consumer, p): [1, 0] for p in consumer.params})
    return table


def test_candidate_scores_threshold_type_filter_and_top_k_are_exact():
    """The similarity preset (field-level cosine, type filter, threshold, top-k): every number known exactly."""
    apis = typed_apis()
    edges, stats = find_candidates(apis, TableEmbedder(typed_table(apis)), preset="similarity", threshold=0.5)
    assert stats.pairs_considered == 10  # 5 fields x {x, y}; the producer's own param q is never a target of itself
    assert stats.excluded_params == {"pagination": 1, "enum": 1, "boolean": 1}
    assert stats.kept_by_threshold == 8  # items[*].name has cosine 0 with both
    assert stats.kept_by_type == 5
    got = {(e.target_param, e.source_path): e.score for e in edges}
    assert got == pytest.approx(
        {("x", "items[*].id"): 1.0, ("x", "items[*].code"): 0.8,  # integer param: integer or digit string
         ("y", "items[*].id"): 1.0, ("y", "items[*].code"): 0.8, ("y", "items[*].word"): 0.6},
        abs=1e-6,
    )  # fmt: skip
    x_edge = next(e for e in edges if e.target_param == "x" and e.source_path == "items[*].code")
    assert (x_edge.source_type, x_edge.target_type, x_edge.target_location) == ("digit_string", "integer", "query")

    top1, stats1 = find_candidates(apis, TableEmbedder(typed_table(apis)), preset="similarity", threshold=0.5, top_k=1)
    assert {(e.target_param, e.source_path) for e in top1} == {("x", "items[*].id"), ("y", "items[*].id")}
    assert stats1.kept_by_type == 5 and stats1.kept_by_top_k == 2

    high, stats_high = find_candidates(apis, TableEmbedder(typed_table(apis)), preset="similarity", threshold=0.7)
    assert stats_high.kept_by_threshold == 6 and {e.source_path for e in high} == {"items[*].id", "items[*].code"}
    with pytest.raises(ValueError, match="top_k"):
        find_candidates(apis, TableEmbedder(typed_table(apis)), preset="similarity", top_k=0)


def test_type_table_and_target_rules():
    assert field_fits_param("integer", "string") and field_fits_param("string", "string")
    assert field_fits_param("digit_string", "integer") and not field_fits_param("string", "integer")
    assert field_fits_param("number", "number") and field_fits_param("decimal_string", "number")
    assert not field_fits_param("array", "string") and not field_fits_param("object", "integer")
    assert field_fits_param("array", "array:integer") and field_fits_param("integer", "array:integer")
    assert not field_fits_param("string", "array:integer")
    assert target_exclusion(Param(name="per_page", location="query", schema={"type": "integer"})) == "pagination"
    assert target_exclusion(Param(name="pageSize", location="query")) == "pagination"
    assert target_exclusion(Param(name="movie_id", location="path", schema={"type": "integer"})) is None


def test_no_fields_or_no_targets_gives_no_edges_without_embedding():
    emb = TableEmbedder({})
    edges, stats = find_candidates([typed_apis()[1]], emb)
    assert edges == [] and stats.output_fields == 0 and emb.calls == 0


def test_default_preset_on_the_toy_apis_uses_names_then_falls_back_to_cosine(embedder):
    edges, stats = find_candidates(movie_apis(), embedder)  # preset="default"
    got = {(e.source_api, e.source_path, e.target_api, e.target_param): e.candidate.code for e in edges}
    assert got == {
        ("films.search_movies", "results[*].movie_id", "films.get_movie", "movie_id"): "evidence",  # same name
        # no name evidence for these required inputs: the single best field by cosine (ids only feed ids)
        ("films.get_movie", "director_id", "films.get_person", "person_id"): "similar",
        ("films.get_movie", "title", "films.search_movies", "query"): "similar",
        ("films.get_person", "birthplace", "weather.current", "city"): "similar",
    }
    assert stats.preset == "default" and (stats.kept_by_evidence, stats.kept_by_similarity) == (1, 3)


def op(name: str, path: str, outputs: list[tuple[str, str]], params: tuple[Param, ...] = (), **extra: Any) -> ApiSpec:
    return ApiSpec(id=f"db.{name}", source="db", tool="db", name=name, method="GET", path=path, params=params,
                   output_fields=tuple(OutputField(path=p, type=t) for p, t in outputs), **extra)  # fmt: skip


def path_id(name: str) -> Param:
    return Param(name=name, location="path", required=True, schema={"type": "integer"})


PERSON_KEYS = [("name", "string"), ("profile_path", "string"), ("known_for_department", "string"), ("gender", "integer")]


def rest_apis() -> list[ApiSpec]:
    """A TMDB-like document in miniature: every kind of evidence the default preset uses, and its traps."""
    entity = [("logo_path", "string"), ("headquarters", "string"), ("origin_country", "string"), ("name", "string")]
    return [
        op("search_people", "/search/person", summary="Search people",
           outputs=[("page", "integer"), ("total_pages", "integer"), ("results[*].id", "integer")]
           + [(f"results[*].{k}", t) for k, t in PERSON_KEYS],
           params=(Param(name="query", location="query", required=True, description="Text to search for"),)),
        op("get_person", "/person/{person_id}", [("id", "integer"), ("birthday", "string"), ("biography", "string")]
           + PERSON_KEYS, (path_id("person_id"),), summary="Person details"),
        op("get_movie", "/movie/{movie_id}", [("id", "integer"), ("title", "string"), ("release_date", "string"),
           ("overview", "string"), ("budget", "integer"), ("production_companies[*].id", "integer"),
           ("production_companies[*].name", "string"), ("production_companies[*].logo_path", "string")],
           (path_id("movie_id"),), summary="Movie details"),
        op("movie_credits", "/movie/{movie_id}/credits", [("id", "integer"), ("cast[*].id", "integer"),
           ("cast[*].character", "string"), ("cast[*].credit_id", "string")]
           + [(f"cast[*].{k}", t) for k, t in PERSON_KEYS], (path_id("movie_id"),), summary="Movie credits"),
        op("get_company", "/company/{company_id}", [("id", "integer"), *entity], (path_id("company_id"),)),
        op("get_network", "/network/{network_id}", [("id", "integer"), *entity], (path_id("network_id"),)),
        op("get_tv", "/tv/{tv_id}", [("id", "integer"), ("name", "string"), ("first_air_date", "string"),
           ("networks[*].id", "integer"), ("networks[*].name", "string"), ("networks[*].logo_path", "string")],
           (path_id("tv_id"),), summary="TV show details"),
        # the schema lost its list (TMDB's trending has an unnamed property); the example still shows it
        op("trending", "/trending", [("page", "integer")], summary="Trending",
           description="The movies everyone watches this week.",
           response_examples=({"page": 1, "results": [{"id": 550, "title": "Fight Club", "release_date": "1999"}]},)),
    ]  # fmt: skip


def test_default_preset_finds_ids_by_owner_resource_structure_and_examples(embedder):
    edges, stats = find_candidates(rest_apis(), embedder)
    got = {(e.source_api[3:], e.source_path, e.target_api[3:], e.target_param) for e in edges}
    assert got == {
        ("search_people", "results[*].id", "get_person", "person_id"),  # the path names the resource
        ("movie_credits", "cast[*].id", "get_person", "person_id"),  # cast items look like GET /person/{person_id}
        ("get_movie", "production_companies[*].id", "get_company", "company_id"),  # the owner names the entity
        ("get_tv", "networks[*].id", "get_network", "network_id"),  # ... and no company_id: networks are not companies
        ("trending", "results[*].id", "get_movie", "movie_id"),  # a field only the response example shows
        ("trending", "results[*].id", "movie_credits", "movie_id"),
        ("get_movie", "id", "movie_credits", "movie_id"),  # the details endpoint's own id
    }
    # never sources: /movie/{movie_id}/credits -> id only repeats the input; total_pages counts results
    assert stats.echo_fields == 4 and stats.example_fields == 3  # id, page, page, total_pages; results[*].{id,title,date}
    assert all(e.candidate.code == "evidence" and e.score >= 0.5 for e in edges)
    trending = next(e for e in edges if e.source_api == "db.trending")
    assert "response example" in trending.candidate.reason and trending.source_type == "integer"
    # tv_id: nothing produces tv ids, and cast ids are known to be persons': no cosine fallback either
    assert not [e for e in edges if e.target_param == "tv_id"]


def test_default_results_do_not_depend_on_input_order_or_block_size(embedder):
    apis = rest_apis()
    shuffled = apis[::-1]
    key = lambda edges: sorted((e.source_api, e.source_path, e.target_api, e.target_param, e.score) for e in edges)  # noqa: E731
    reference = key(find_candidates(apis, embedder)[0])
    assert key(find_candidates(shuffled, embedder, block_size=1)[0]) == reference
    assert key(find_candidates(shuffled, embedder, block_size=3)[0]) == reference


def test_api_pair_scores_rank_what_the_rule_keeps_first(embedder):
    apis = rest_apis()
    kept = {(e.source_api, e.target_api) for e in find_candidates(apis, embedder)[0]}
    scores = api_pair_scores(apis, embedder)
    assert scores.shape == (len(apis), len(apis)) and np.isneginf(np.diag(scores)).all()
    ids = [a.id for a in apis]
    ranked = sorted(((scores[i, j], ids[i], ids[j]) for i in range(len(ids)) for j in range(len(ids)) if i != j),
                    reverse=True)  # fmt: skip
    assert {(a, b) for _, a, b in ranked[: len(kept)]} == kept


def test_paper_preset_is_api_level_untyped_and_binds_the_closest_field():
    apis = typed_apis()
    producer, consumer = apis
    table = {api_output_text(producer): [1, 0], api_output_text(consumer): [0, 1]}
    table.update({api_param_text(producer, p): [0, 1] for p in producer.params})  # like the consumer's output
    table.update({api_param_text(consumer, p): [1, 0] for p in consumer.params})  # every one like the producer's
    field_vectors = {"items[*].id": [0.9, 0.1], "items[*].code": [1, 0], "items[*].word": [0.6, 0.8],
                     "items": [0, 1], "items[*].name": [0, 1]}  # fmt: skip
    table.update({field_text(producer, f): field_vectors[f.path] for f in producer.output_fields})
    edges, stats = find_candidates(apis, TableEmbedder(table), preset="paper")
    got = {(e.source_api, e.target_api, e.target_param): (e.source_path, e.score) for e in edges}
    # no target exclusion (limit, the enum and the boolean are targets too), no type filter; the consumer has no
    # output field, so its edge into the producer's q binds the whole response
    assert got == {
        ("p.producer", "c.consumer", "x"): ("items[*].code", 1.0),  # integer x: the closest compatible field
        ("p.producer", "c.consumer", "y"): ("items[*].code", 1.0),
        ("p.producer", "c.consumer", "limit"): ("items[*].code", 1.0),
        ("p.producer", "c.consumer", "mode"): ("items[*].code", 1.0),
        ("p.producer", "c.consumer", "verbose"): ("items[*].code", 1.0),
        ("c.consumer", "p.producer", "q"): ("$", 1.0),
    }
    assert stats.excluded_params == {} and stats.preset == "paper"


def test_presets_and_overrides():
    assert preset_config("paper").output_texts == "api" and preset_config("paper").type_filter is False
    assert preset_config("default", threshold=0.8).threshold == 0.8
    with pytest.raises(ValueError, match="unknown candidate preset 'goat'.*paper, similarity, default"):
        preset_config("goat")
    with pytest.raises(ValueError, match="no_such_knob"):
        preset_config("default", no_such_knob=1)
    assert words("production_companies") == ["production", "company"] and words("imdbID") == ["imdb", "id"]
    assert words("People") == ["person"] and words("first_air_date.gte") == ["first", "air", "date", "gte"]


def test_no_cross_tool_id_drops_id_edges_between_tools(embedder):
    split = [a.model_copy(update={"tool": "people" if "person" in a.path else "rest"}) for a in rest_apis()]
    tool = {a.id: a.tool for a in split}
    kept = find_candidates(split, embedder)[0]
    same_tool, stats = find_candidates(split, embedder, no_cross_tool_id=True)
    assert stats.dropped_cross_tool_id > 0
    assert any(tool[e.source_api] != tool[e.target_api] for e in kept)  # cast[*].id -> person_id crosses tools
    assert {e.describe() for e in same_tool} == {e.describe() for e in kept if tool[e.source_api] == tool[e.target_api]}


# ---------------------------------------------------------------------------------------------------------------
# graph model and graph.json


def sample_edge(**overrides: Any) -> DependencyEdge:
    values: dict[str, Any] = dict(
        source_api="films.search_movies", source_path="results[*].movie_id", target_api="films.get_movie",
        target_param="movie_id", target_location="path", score=0.8, source_type="integer", target_type="integer",
        candidate=StageResult(status="passed", code="similar", reason="cosine 0.8"),
    )  # fmt: skip
    values.update(overrides)
    return DependencyEdge(**values)


def test_graph_json_round_trip_keeps_nodes_edges_and_stage_results(tmp_path):
    graph = new_graph(movie_apis())
    add_edge(graph, sample_edge(execution_check=StageResult(status="passed", code="both_calls_ok", details={"value": 7})))
    add_edge(graph, sample_edge(source_path="results[*].title", target_param="movie_id", score=0.3))
    add_edge(graph, sample_edge(source_api="films.get_movie", source_path="director_id", target_api="films.get_person",
                                target_param="person_id", reason="the director is a person"))  # fmt: skip
    path = save_graph(graph, tmp_path / "out" / "graph.json")
    loaded = load_graph(path)

    assert list(iter_edges(loaded)) == list(iter_edges(graph))
    assert dict(loaded.nodes(data=True)) == dict(graph.nodes(data=True))
    assert loaded.nodes["films.get_movie"] == {"tool": "films", "name": "get_movie", "source": "films"}
    assert loaded.number_of_edges("films.search_movies", "films.get_movie") == 2  # a multigraph
    first = path.read_bytes()
    save_graph(loaded, path)
    assert path.read_bytes() == first  # byte-identical: graph.json diffs are meaningful
    data = json.loads(first)
    assert {e["key"] for e in data["edges"]} >= {"results[*].movie_id->movie_id", "director_id->person_id"}


def test_load_graph_reports_bad_files(tmp_path):
    bad = tmp_path / "graph.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="invalid JSON at line 1"):
        load_graph(bad)
    bad.write_text(json.dumps({"nodes": []}))
    with pytest.raises(ValueError, match="not node-link JSON"):
        load_graph(bad)
    graph = new_graph(movie_apis())
    add_edge(graph, sample_edge())
    save_graph(graph, bad)
    data = json.loads(bad.read_text())
    data["edges"][0]["score"] = "high"
    bad.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="films.search_movies -> films.get_movie is malformed"):
        load_graph(bad)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_graph(tmp_path / "missing.json")


def test_dependency_graph_queries():
    graph = new_graph(movie_apis())
    view = DependencyGraph(graph)
    view.add(sample_edge(score=0.8))
    view.add(sample_edge(source_path="total_pages", score=0.4))
    view.add(sample_edge(source_api="films.get_movie", source_path="director_id", target_api="films.get_person",
                         target_param="person_id"))  # fmt: skip
    assert [e.source_path for e in view.edges_into("films.get_movie", "movie_id")] == ["results[*].movie_id", "total_pages"]
    assert view.edges_into("films.get_movie", "nope") == []
    assert list(view.providers("films.get_person")) == ["person_id"]
    assert [e.target_api for e in view.edges_from("films.search_movies")] == ["films.get_movie", "films.get_movie"]
    assert view.components() == [["films.get_movie", "films.get_person", "films.search_movies"]]
    assert len(view) == 3
    view.update(sample_edge(execution_check=StageResult(status="failed", code="b_failed")))
    assert not view.edge("films.search_movies", "films.get_movie", "results[*].movie_id->movie_id").usable
    assert len(view.edges(usable_only=True)) == 2
    with pytest.raises(KeyError, match="not a node"):
        view.edges_into("films.unknown")
    with pytest.raises(ValueError, match="duplicate API id"):
        new_graph(movie_apis() + movie_apis()[:1])
    with pytest.raises(KeyError, match="not a node of the graph"):
        add_edge(graph, sample_edge(target_api="films.unknown"))


# ---------------------------------------------------------------------------------------------------------------
# execution check


class FakeExecutor:
    """Executor double: each API id maps to a function of the arguments returning (status, body)."""

    def __init__(self, handlers: dict[str, Callable[[dict], tuple[int, Any]]]):
        self.handlers = handlers
        self.calls: list[tuple[str, dict]] = []
        self._lock = threading.Lock()

    def call(self, api: ApiSpec, arguments: dict) -> CallResult:
        with self._lock:
            self.calls.append((api.id, dict(arguments)))
        status, body = self.handlers[api.id](arguments)
        ok = 200 <= status < 300
        return CallResult(api_id=api.id, arguments=arguments, ok=ok, status_code=status, response=body,
                          error=None if ok else json.dumps(body))  # fmt: skip

    def close(self) -> None:
        pass


MOVIES = {7: {"title": "Alien", "director_id": 70, "release_date": "1979-05-25"}}


def film_handlers() -> dict[str, Callable[[dict], tuple[int, Any]]]:
    return {
        "films.search_movies": lambda a: (200, {"results": [{"movie_id": 7, "title": "Alien"}], "total_pages": 1}),
        "films.get_movie": lambda a: (200, MOVIES[a["movie_id"]]) if a["movie_id"] in MOVIES else (404, {"detail": "no such movie"}),
        "films.get_person": lambda a: (500, {"detail": "database down"}),
        "weather.current": lambda a: (200, {"temperature_c": 11.5}),
    }  # fmt: skip


def candidate_graph(edges: list[DependencyEdge]):
    graph = new_graph(movie_apis())
    for e in edges:
        add_edge(graph, e)
    return graph


def test_example_arguments_come_from_the_schema():
    search, movie = movie_apis()[:2]
    assert example_arguments(search) == ({"query": "Alien"}, [])  # optional page/sort_by are left to the API
    assert example_arguments(movie) == ({}, ["movie_id"])
    assert example_arguments(movie, skip=("movie_id",)) == ({}, [])
    p = Param(name="k", location="query", schema={"enum": ["a", "b"], "default": "b"})
    assert schema_example(movie, p) == "b"
    p = Param(name="k", location="query", schema={"examples": {"one": {"value": 3}}})
    assert schema_example(movie, p) == 3
    assert schema_example(movie, Param(name="k", location="query", schema={"enum": ["a"]})) == "a"
    assert schema_example(movie, Param(name="k", location="query")) is MISSING


def test_execution_check_passes_fails_and_skips_with_reasons():
    graph = candidate_graph([
        sample_edge(),  # 7 -> get_movie(7): passes
        sample_edge(source_path="total_pages"),  # 1 -> get_movie(1): 404
        sample_edge(source_path="results[*].rating"),  # not in the response
        sample_edge(source_path="results", target_type="integer"),  # a list where a scalar is needed
        sample_edge(source_api="films.get_movie", source_path="director_id", target_api="films.get_person",
                    target_param="person_id"),  # get_movie has no example movie_id: cannot call A
        sample_edge(source_path="results[*].title", target_api="weather.current", target_param="city",
                    target_location="query", target_type="string"),
    ])  # fmt: skip
    executor = FakeExecutor(film_handlers())
    stats = verify_by_execution(graph, movie_apis(), executor)

    assert (stats.checked, stats.passed, stats.failed, stats.skipped) == (6, 2, 3, 1)
    assert stats.reasons == {"b_failed": 1, "field_missing": 1, "field_not_scalar": 1, "no_example_arguments_a": 1}
    searches = [c for c in executor.calls if c[0] == "films.search_movies"]
    assert searches == [("films.search_movies", {"query": "Alien"})]  # A called once for all its edges
    assert stats.calls_a == 1 and stats.calls_b == 3

    view = DependencyGraph(graph)
    kept = {e.describe(): e for e in view.edges()}
    assert len(kept) == 3  # 2 passed + 1 skipped; the 3 failed are gone
    passed = view.edge("films.search_movies", "films.get_movie", "results[*].movie_id->movie_id")
    assert passed.execution_check.status == "passed"
    assert passed.execution_check.details["b_arguments"] == {"movie_id": 7}
    skipped = view.edge("films.get_movie", "films.get_person", "director_id->person_id")
    assert skipped.execution_check.status == "skipped"
    assert "no example arguments for films.get_movie" in skipped.execution_check.reason
    dropped = {d.code: d.reason for d in stats.dropped}
    assert "HTTP 404" in dropped["b_failed"] and "no such movie" in dropped["b_failed"]
    assert "results[*].rating is missing from the response" in dropped["field_missing"]


def test_execution_check_reports_a_failing_source_and_an_executor_that_raises():
    handlers = film_handlers()
    handlers["films.search_movies"] = lambda a: (503, {"detail": "maintenance"})

    def explode(a):
        raise ConnectionError("boom")

    handlers["weather.current"] = explode
    graph = candidate_graph([
        sample_edge(),
        sample_edge(source_api="films.get_person", source_path="birthplace", target_api="weather.current",
                    target_param="city", target_location="query", target_type="string"),
    ])  # fmt: skip
    # give get_person an example so that its call happens; weather's executor raises instead of returning a failure
    apis = movie_apis()
    person = apis[2].model_copy(update={"params": (Param(name="person_id", location="path", required=True,
                                                         schema={"type": "integer", "example": 70}),)})  # fmt: skip
    handlers["films.get_person"] = lambda a: (200, {"name": "Ridley Scott", "birthplace": "South Shields"})
    stats = verify_by_execution(graph, [apis[0], apis[1], person, apis[3]], FakeExecutor(handlers), keep_skipped=False)
    reasons = {d.code: d.reason for d in stats.dropped}
    assert reasons["a_failed"] == 'films.search_movies failed: HTTP 503: {"detail": "maintenance"}'
    assert "executor raised ConnectionError('boom')" in reasons["b_failed"]
    assert graph.number_of_edges() == 0


def test_build_graph_wires_candidates_and_execution_check(embedder):
    graph, stats = build_graph(movie_apis(), embedder=embedder, threshold=0.2, top_k=2,
                               executor=FakeExecutor(film_handlers()))  # fmt: skip
    assert stats.candidates.kept_by_top_k == stats.execution_check.checked
    assert stats.edges == stats.candidates.kept_by_top_k - stats.execution_check.failed
    assert DependencyGraph(graph).edge("films.search_movies", "films.get_movie", "results[*].movie_id->movie_id")
    assert graph.graph["stats"]["edges"] == stats.edges

    unverified, stats2 = build_graph(movie_apis(), embedder=embedder, threshold=0.2, top_k=2)
    assert stats2.execution_check is None and stats2.execution_check_skipped_reason == "no executor given"
    assert stats2.edges == stats.candidates.kept_by_top_k
    assert {e.execution_check.code for e in iter_edges(unverified)} == {"not_requested"}


def test_build_graph_passes_the_preset_through(embedder):
    graph, stats = build_graph(movie_apis(), embedder=embedder, preset="paper")
    assert stats.candidates.preset == "paper" and graph.graph["stats"]["candidates"]["preset"] == "paper"
    assert stats.edges == stats.candidates.kept_by_top_k > 0


# ---------------------------------------------------------------------------------------------------------------
# execution check over real HTTP


def films_app():
    from fastapi import FastAPI, HTTPException

    app = FastAPI()

    @app.get("/")
    def root():
        return {"ok": True}

    @app.get("/search/movie")
    def search(query: str):
        return {"results": [{"movie_id": 7, "title": "Alien"}] if "alien" in query.lower() else [], "total_pages": 1}

    @app.get("/movie/{movie_id}")
    def movie(movie_id: int):
        if movie_id not in MOVIES:
            raise HTTPException(404, "no such movie")
        return MOVIES[movie_id]

    return app


HTTP_PATHS = {"films.search_movies": "/search/movie", "films.get_movie": "/movie/{movie_id}"}


class MiniHttpExecutor:
    """Just enough of an HTTP executor for this test: path and query parameters, GET, failures as values."""

    def __init__(self, base_url: str):
        self.client = httpx.Client(base_url=base_url, timeout=5.0)

    def call(self, api: ApiSpec, arguments: dict) -> CallResult:
        path, query = HTTP_PATHS[api.id], {}
        for name, value in arguments.items():
            if api.param(name).location == "path":
                path = path.replace("{" + name + "}", str(value))
            else:
                query[name] = value
        try:
            r = self.client.get(path, params=query)
        except httpx.HTTPError as exc:
            return CallResult(api_id=api.id, arguments=arguments, ok=False, error=str(exc), provenance="error")
        body = r.json()
        return CallResult(api_id=api.id, arguments=arguments, ok=r.is_success, status_code=r.status_code,
                          response=body, error=None if r.is_success else r.text)  # fmt: skip

    def close(self) -> None:
        self.client.close()


def test_execution_check_over_real_http():
    from goat_datasets.servers import serve_in_thread

    graph = candidate_graph([sample_edge(), sample_edge(source_path="total_pages")])
    with serve_in_thread(films_app()) as base_url:
        executor = MiniHttpExecutor(base_url)
        try:
            stats = verify_by_execution(graph, movie_apis(), executor)
        finally:
            executor.close()
    assert (stats.passed, stats.failed) == (1, 1)
    assert "HTTP 404" in stats.dropped[0].reason and "no such movie" in stats.dropped[0].reason
    (edge,) = iter_edges(graph)
    assert edge.source_path == "results[*].movie_id" and edge.execution_check.details["b_status"] == 200


def test_execution_check_with_the_package_http_executor():
    http = pytest.importorskip("goat_datasets.execution.http")
    from goat_datasets.servers import serve_in_thread

    apis = [a.model_copy(update={"method": "GET", "path": HTTP_PATHS[a.id]}) for a in movie_apis()[:2]]
    graph = new_graph(apis)
    add_edge(graph, sample_edge())
    add_edge(graph, sample_edge(source_path="total_pages"))
    with serve_in_thread(films_app()) as base_url:
        executor = http.HttpExecutor(base_url)
        try:
            stats = verify_by_execution(graph, apis, executor)
        finally:
            executor.close()
    assert (stats.passed, stats.failed) == (1, 1), stats.dropped


# ---------------------------------------------------------------------------------------------------------------
# a real document


@pytest.mark.slow
def test_tmdb_candidates_recover_gold_consecutive_pairs(embedder):
    openapi = pytest.importorskip("goat_datasets.sources.openapi")
    tmdb = DATA / "restbench-tmdb"
    if not tmdb.exists():
        pytest.skip(f"{tmdb} not found (shared data lives beside the repo)")
    apis = openapi.parse_openapi(json.loads((tmdb / "tmdb_oas.json").read_text()), source="tmdb").apis
    # the similarity preset (field-level cosine > 0.2, type filter); the presets compared: tests/test_graph_recall.py
    edges, stats = find_candidates(apis, embedder, preset="similarity", threshold=0.2)
    by_route = {f"{a.method.upper()} {a.path}": a.id for a in apis}
    linked = {(e.source_api, e.target_api) for e in edges}
    gold_pairs = set()
    for item in json.loads((tmdb / "tmdb.json").read_text()):
        steps = [by_route.get(s.strip()) for s in item["solution"]]
        gold_pairs |= {(a, b) for a, b in zip(steps, steps[1:]) if a and b and a != b}
    recall = len(gold_pairs & linked) / len(gold_pairs)
    print(f"TMDB: {stats.kept_by_top_k} candidate edges, gold-pair recall {recall:.2f} over {len(gold_pairs)} pairs")
    assert stats.output_fields > 100 and recall >= 0.8


def test_execution_check_skips_operations_it_may_not_call():
    """A live API's writes are not executed by the check (they would change later answers); their edges are kept
    as skipped, with the reason."""
    calls = []

    class Recorder:
        def call(self, api, arguments):
            calls.append(api.id)
            return CallResult(api_id=api.id, arguments=arguments, ok=True, status_code=200, response={"id": 1})

        def close(self):
            pass

    a = ApiSpec(id="s.create", source="s", tool="t", name="create", method="POST",
                output_fields=(OutputField(path="id", type="integer"),))
    b = ApiSpec(id="s.get", source="s", tool="t", name="get", method="GET",
                params=(Param(name="item_id", location="path", required=True, json_schema={"type": "integer"}),))
    graph = new_graph([a, b])
    add_edge(graph, DependencyEdge(source_api=a.id, source_path="id", target_api=b.id, target_param="item_id",
                                   target_location="path", score=1.0, source_type="integer",
                                   target_type="integer"))  # fmt: skip
    stats = verify_by_execution(graph, [a, b], Recorder(), may_call=lambda api: api.method == "GET")
    assert calls == [] and stats.skipped == 1 and stats.reasons == {"not_called": 1}
    (edge,) = list(iter_edges(graph))
    assert edge.execution_check.code == "not_called" and "s.create" in edge.execution_check.reason
