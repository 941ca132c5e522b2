"""The ``simulated`` executor: determinism, 422s, schema conformance on TMDB, consistent ids, echo, graph check."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from goat_datasets.execution.base import is_empty_response
from goat_datasets.execution.router import make_router
from goat_datasets.execution.simulated import SimulatedExecutor, api_noun, simulated_argument
from goat_datasets.graph import DependencyEdge, StageResult, verify_by_execution
from goat_datasets.graph.model import add_edge, iter_edges, new_graph
from goat_datasets.registry import executors
from goat_datasets.sources.models import ApiSpec, Param
from goat_datasets.sources.openapi import RECURSIVE_REF_KEY, parse_openapi

from shared_data import SHARED_DATA  # noqa: E402

TMDB = SHARED_DATA / "restbench-tmdb" / "tmdb_oas.json"
REPO = Path(__file__).resolve().parents[1]


def conforms(value: Any, schema: dict[str, Any]) -> list[str]:
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(value)]


@pytest.fixture(scope="module")
def tmdb() -> dict[str, ApiSpec]:
    if not TMDB.is_file():
        pytest.skip(f"TMDB document not found at {TMDB}")
    apis = parse_openapi(json.loads(TMDB.read_text()), source="tmdb").apis
    return {a.name: a for a in apis}


def films() -> dict[str, ApiSpec]:
    """A small hand-written source: search -> details, with formats, bounds, patterns and enums."""
    movie = {
        "type": "object",
        "properties": {
            "movie_id": {"type": "integer", "minimum": 1},
            "title": {"type": "string"},
            "release_date": {"type": "string", "format": "date"},
            "updated_at": {"type": "string", "format": "date-time"},
            "contact": {"type": "string", "format": "email"},
            "homepage": {"type": "string", "format": "uri"},
            "uuid": {"type": "string", "format": "uuid"},
            "code": {"type": "string", "pattern": "^[A-Z]{2}-[0-9]{3}$"},
            "rating": {"type": "number", "minimum": 0, "maximum": 5},
            "score": {"oneOf": [{"type": "integer"}, {"type": "number"}]},
            "status": {"type": "string", "enum": ["released", "planned"]},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 3},
            "sequel": {RECURSIVE_REF_KEY: "#/components/schemas/Movie", "type": "object"},
        },
        "required": ["movie_id", "title"],
    }
    search = ApiSpec(
        id="films.search_movies", source="films", tool="films", name="search_movies", path="/search/movies",
        params=(
            Param(name="query", location="query", required=True, schema={"type": "string"}),
            Param(name="page", location="query", schema={"type": "integer", "minimum": 1}),
            Param(name="sort", location="query", schema={"type": "string", "enum": ["title", "year"]}),
        ),
        response_schema={"type": "object", "properties": {
            "page": {"type": "integer"}, "query": {"type": "string"},
            "results": {"type": "array", "items": {"type": "object", "properties": {
                "id": {"type": "integer"}, "title": {"type": "string"}, "overview": {"type": "string"}}}}}},
        response_examples=(
            {"page": 1, "results": [{"id": 7, "title": "Alien", "overview": "In space no one hears."}]},
        ),
    )  # fmt: skip
    details = ApiSpec(
        id="films.get_movie", source="films", tool="films", name="get_movie", path="/movies/{movie_id}",
        params=(Param(name="movie_id", location="path", required=True, schema={"type": "integer"}),),
        response_schema=movie,
    )
    no_schema = ApiSpec(
        id="films.rate_movie", source="films", tool="films", name="rate_movie", method="POST", path="/ratings",
        params=(Param(name="movie_id", location="body", required=True, schema={"type": "integer"}),
                Param(name="stars", location="body", required=True, schema={"type": "integer", "maximum": 5})),
    )  # fmt: skip
    example_only = ApiSpec(
        id="films.status", source="films", tool="films", name="status", path="/status",
        response_examples=({"healthy": True, "version": "1.2"},),
    )
    return {a.name: a for a in (search, details, no_schema, example_only)}


# ---------------------------------------------------------------------------------------------------------------
# registration, determinism


def test_registered_and_built_by_the_router_with_the_http_keywords():
    assert executors.get("simulated") is SimulatedExecutor
    router = make_router([{"name": "films", "executor": "simulated", "base_url": "", "allowed_hosts": ["x.org"]}])
    result = router.call(films()["get_movie"], {"movie_id": 3})
    assert result.ok and result.provenance == "simulated" and result.status_code == 200
    with pytest.raises(ValueError):
        SimulatedExecutor(seed="1")  # type: ignore[arg-type]


def _canonical(executor: SimulatedExecutor, api: ApiSpec, arguments: dict[str, Any]) -> str:
    return json.dumps(executor.call(api, arguments).response, sort_keys=True)


def test_same_call_same_bytes_across_instances_and_processes():
    api, arguments = films()["get_movie"], {"movie_id": 42}
    first = _canonical(SimulatedExecutor(), api, arguments)
    assert first == _canonical(SimulatedExecutor(), api, arguments)
    assert first == _canonical(SimulatedExecutor(seed=0), api, dict(reversed(list(arguments.items()))))
    assert first != _canonical(SimulatedExecutor(seed=1), api, arguments)  # the seed picks another world
    assert _canonical(SimulatedExecutor(), api, {"movie_id": 43}) != first
    # None arguments are absent, as over HTTP
    search = films()["search_movies"]
    assert _canonical(SimulatedExecutor(), search, {"query": "x", "page": None}) == _canonical(
        SimulatedExecutor(), search, {"query": "x"}
    )

    code = (
        "import json, sys; sys.path.insert(0, 'tests');"
        "from test_simulated_executor import films;"
        "from goat_datasets.execution.simulated import SimulatedExecutor;"
        "r = SimulatedExecutor().call(films()['get_movie'], {'movie_id': 42});"
        "print(json.dumps(r.response, sort_keys=True))"
    )
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
                             check=True, timeout=120)  # fmt: skip
        assert out.stdout.strip() == first


# ---------------------------------------------------------------------------------------------------------------
# validation


@pytest.mark.parametrize(
    ("arguments", "needle"),
    [
        ({}, "movie_id: required parameter missing"),
        ({"movie_id": None}, "movie_id: required parameter missing"),
        ({"movie_id": "Fight Club"}, "movie_id: 'Fight Club' is not of type 'integer'"),
        ({"movie_id": True}, "is not of type 'integer'"),
        ({"movie_id": 5, "language": "en"}, "language: unknown parameter"),
    ],
)
def test_bad_arguments_are_422_values(arguments, needle):
    result = SimulatedExecutor().call(films()["get_movie"], arguments)
    assert not result.ok and result.status_code == 422 and result.provenance == "simulated"
    assert needle in result.error and result.response is None


def test_enum_and_bounds_of_optional_arguments_are_checked_too():
    search, executor = films()["search_movies"], SimulatedExecutor()
    bad_enum = executor.call(search, {"query": "x", "sort": "rating"})
    assert bad_enum.status_code == 422 and "sort: 'rating' is not one of ['title', 'year']" in bad_enum.error
    assert executor.call(search, {"query": "x", "page": 0}).status_code == 422
    assert executor.call(search, {"query": "x", "sort": "year", "page": 2}).ok
    assert executor.call(search, ["query"]).status_code == 422  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------------------------
# responses


def test_response_follows_formats_bounds_patterns_enums_and_cut_recursion():
    api = films()["get_movie"]
    for movie_id in range(1, 40):
        response = SimulatedExecutor().call(api, {"movie_id": movie_id}).response
        assert conforms(response, api.response_schema) == []
        assert response["movie_id"] == movie_id  # echoed under its own name
        assert 2 <= len(response["tags"]) <= 3 and response["sequel"] == {}
        assert isinstance(response["score"], float)  # an integer would match both oneOf branches


def test_documented_examples_are_preferred_for_leaves():
    search = films()["search_movies"]
    overviews = {
        r["overview"]
        for q in ("a", "b", "c", "d")
        for r in SimulatedExecutor().call(search, {"query": q}).response["results"]
    }
    assert overviews == {"In space no one hears."}


def test_an_entity_may_be_identified_by_family_id_and_nested_ids_are_not_echoed():
    apis, executor = films(), SimulatedExecutor()
    for hit in executor.call(apis["search_movies"], {"query": "Alien"}).response["results"]:
        movie = executor.call(apis["get_movie"], {"movie_id": hit["id"]}).response  # its key is movie_id, not id
        assert movie["movie_id"] == hit["id"] and movie["title"] == hit["title"]
    similar = ApiSpec(
        id="films.similar", source="films", tool="films", name="similar", path="/movies/{movie_id}/similar",
        params=(Param(name="movie_id", location="path", required=True, schema={"type": "integer"}),),
        response_schema={"type": "object", "properties": {"movie_id": {"type": "integer"}, "results": {
            "type": "array", "items": {"type": "object", "properties": {
                "movie_id": {"type": "integer"}, "title": {"type": "string"}}}}}},
    )  # fmt: skip
    response = executor.call(similar, {"movie_id": 7}).response
    assert response["movie_id"] == 7 and 7 not in {m["movie_id"] for m in response["results"]}
    for movie in response["results"]:
        assert executor.call(apis["get_movie"], {"movie_id": movie["movie_id"]}).response["title"] == movie["title"]


def test_without_a_response_schema_the_example_or_an_echo_comes_back():
    apis, executor = films(), SimulatedExecutor()
    rated = executor.call(apis["rate_movie"], {"movie_id": 7, "stars": 4})
    assert rated.ok and rated.response == {"movie_id": 7, "stars": 4, "result": "success", "simulated": True}
    assert executor.call(apis["status"], {}).response == {"healthy": True, "version": "1.2"}


def test_arguments_are_echoed_where_the_names_match(tmdb):
    executor = SimulatedExecutor()
    assert executor.call(tmdb["GET_movie_movie_id"], {"movie_id": 550}).response["id"] == 550
    assert executor.call(tmdb["GET_movie_movie_id_credits"], {"movie_id": 550}).response["id"] == 550
    assert executor.call(tmdb["GET_credit_credit_id"], {"credit_id": "52542282760ee313280017f9"}).response["id"] == (
        "52542282760ee313280017f9"
    )
    season = executor.call(tmdb["GET_tv_tv_id_season_season_number"], {"tv_id": 1396, "season_number": 3}).response
    assert season["season_number"] == 3 and {e["season_number"] for e in season["episodes"]} == {3}
    assert executor.call(tmdb["GET_movie_popular"], {"page": 4}).response["page"] == 4
    search = executor.call(films()["search_movies"], {"query": "Alien"}).response
    assert search["query"] == "Alien"


def test_ids_are_pooled_and_entities_keep_their_names_across_operations(tmdb):
    executor = SimulatedExecutor()
    popular = executor.call(tmdb["GET_movie_popular"], {}).response["results"]
    assert 1 <= len(popular) <= 5
    for movie in popular:
        details = executor.call(tmdb["GET_movie_movie_id"], {"movie_id": movie["id"]}).response
        assert details["id"] == movie["id"] and details["title"] == movie["title"]

    # searching for a title the simulator returned finds that movie first; its details keep the title
    wanted = popular[0]
    found = executor.call(tmdb["GET_search_movie"], {"query": wanted["title"]}).response["results"]
    assert found[0]["id"] == wanted["id"] and found[0]["title"] == wanted["title"]
    other = executor.call(tmdb["GET_search_movie"], {"query": "Inception"}).response["results"]
    assert other, "a search never comes back empty"
    for hit in other:
        details = executor.call(tmdb["GET_movie_movie_id"], {"movie_id": hit["id"]}).response
        assert details["title"] == hit["title"]

    # people: credits -> person details, and the same person id has the same name in every list
    cast = executor.call(tmdb["GET_movie_movie_id_credits"], {"movie_id": wanted["id"]}).response["cast"]
    person = executor.call(tmdb["GET_person_person_id"], {"person_id": cast[0]["id"]}).response
    assert person["id"] == cast[0]["id"] and person["name"] == cast[0]["name"]
    people = executor.call(tmdb["GET_search_person"], {"query": person["name"]}).response["results"]
    assert people[0]["id"] == person["id"] and people[0]["name"] == person["name"]

    # ids come from a small pool per family: many calls meet few distinct movies
    pages = [executor.call(tmdb["GET_movie_popular"], {"page": p}).response for p in range(1, 30)]
    seen = {movie["id"] for page in pages for movie in page["results"]}
    assert len(seen) <= 24


def test_every_tmdb_operation_answers_within_its_response_schema(tmdb, capsys):
    apis = list(tmdb.values())
    valid, failures = 0, {}
    for seed in (0, 1, 2):
        executor = SimulatedExecutor(seed=seed)
        for api in apis:
            arguments = {p.name: simulated_argument(api, p, seed=seed) for p in api.required_params}
            result = executor.call(api, arguments)
            errors = conforms(result.response, api.response_schema) if result.ok else [result.error]
            if errors or is_empty_response(result.response):
                failures[f"{api.name} (seed {seed})"] = errors[:3] or ["empty response"]
            else:
                valid += 1
    with capsys.disabled():
        print(f"\nTMDB: {len(apis)} operations x 3 seeds, {valid} responses valid and non-empty")
    assert failures == {}
    assert len(apis) == 54 and valid == 3 * len(apis)


def test_api_noun():
    assert api_noun(films()["search_movies"]) == "movie"
    assert api_noun(ApiSpec(id="s.x", source="s", tool="s", name="getUserProfiles")) == "user"
    assert api_noun(ApiSpec(id="s.y", source="s", tool="s", name="x", path="/v3/search/{q}")) == "item"


# ---------------------------------------------------------------------------------------------------------------
# the graph's execution check over simulated calls


def _edge(source: str, path: str, target: str, param: str, target_type: str = "integer") -> DependencyEdge:
    return DependencyEdge(source_api=f"tmdb.{source}", source_path=path, target_api=f"tmdb.{target}",
                          target_param=param, target_location="path", score=0.5, source_type="integer",
                          target_type=target_type, candidate=StageResult(status="passed", code="similar"))  # fmt: skip


def test_true_tmdb_dependencies_pass_the_execution_check(tmdb):
    names = ["GET_search_movie", "GET_movie_movie_id", "GET_movie_movie_id_credits", "GET_person_person_id",
             "GET_search_person", "GET_person_person_id_movie_credits", "GET_search_company", "GET_company_company_id",
             "GET_credit_credit_id"]  # fmt: skip
    apis = [tmdb[n] for n in names]
    true_edges = [
        _edge("GET_search_movie", "results[*].id", "GET_movie_movie_id", "movie_id"),
        _edge("GET_search_movie", "results[*].id", "GET_movie_movie_id_credits", "movie_id"),
        _edge("GET_movie_movie_id_credits", "cast[*].id", "GET_person_person_id", "person_id"),
        _edge("GET_movie_movie_id_credits", "cast[*].credit_id", "GET_credit_credit_id", "credit_id", "string"),
        _edge("GET_search_person", "results[*].id", "GET_person_person_id_movie_credits", "person_id"),
        _edge("GET_search_company", "results[*].id", "GET_company_company_id", "company_id"),
    ]
    wrong = [
        _edge("GET_search_movie", "results", "GET_movie_movie_id", "movie_id"),  # a list for a scalar
        _edge("GET_search_movie", "results[*].rating", "GET_movie_movie_id", "movie_id"),  # no such field
    ]
    graph = new_graph(apis)
    for edge in true_edges + wrong:
        add_edge(graph, edge)

    # the documents give no example for `query` or the ids: the default source cannot call the searches
    untouched = new_graph(apis)
    for edge in true_edges:
        add_edge(untouched, edge)
    default = verify_by_execution(untouched, apis, SimulatedExecutor())
    assert default.passed == 0 and default.skipped == len(true_edges)

    stats = verify_by_execution(graph, apis, SimulatedExecutor(), simulated_argument)
    assert (stats.checked, stats.passed, stats.failed) == (len(true_edges) + len(wrong), len(true_edges), len(wrong))
    assert stats.reasons == {"field_not_scalar": 1, "field_missing": 1}
    for edge in iter_edges(graph):
        assert edge.execution_check.status == "passed", edge.describe()
        value = edge.execution_check.details["value"]
        b = SimulatedExecutor().call(tmdb[edge.target_api.split(".", 1)[1]], {edge.target_param: value})
        assert b.response["id"] == value  # the id taken from A comes back in B's response
