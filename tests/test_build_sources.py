"""The build reads every source kind through one path: raw bytes to the kind's parser (lists and JSON Lines too)."""

from __future__ import annotations

import pytest

from goat_builders.build import _source_exec_configs, load_sources
from goat_datasets.execution.router import make_router
from goat_datasets.recipe import load_recipe
from shared_data import SHARED_DATA

BOOKING = SHARED_DATA / "booking-orchestration" / "booking_api_functions.jsonl"
APIBANK = SHARED_DATA / "api-bank" / "api_descriptions.derived.json"
TMDB = SHARED_DATA / "restbench-tmdb" / "tmdb_oas.json"


def _recipe(tmp_path, sources: str):
    path = tmp_path / "recipe.yaml"
    path.write_text(f"# goat build recipe.yaml\nname: mixed\nversion: 1.0.0\nhub: {{repo_id: org/mixed}}\nsources:\n{sources}")
    return load_recipe(path)


@pytest.mark.skipif(not (BOOKING.exists() and APIBANK.exists() and TMDB.exists()), reason=f"shared data missing under {SHARED_DATA}")
def test_json_lines_lists_and_openapi_sources_load_and_simulate(tmp_path):
    recipe = _recipe(
        tmp_path,
        f"  - {{name: booking, kind: functions, spec: {BOOKING}, executor: simulated}}\n"
        f"  - {{name: apibank, kind: apibank, spec: {APIBANK}, executor: simulated}}\n"
        f"  - {{name: tmdb, kind: openapi, spec: {TMDB}, executor: simulated}}\n",
    )
    apis, contents, base_urls = load_sources(recipe, log=lambda _: None)
    by_source = {}
    for api in apis:
        by_source[api.source] = by_source.get(api.source, 0) + 1
    assert by_source == {"booking": 40, "apibank": 71, "tmdb": 54}
    assert set(contents) == {"booking", "apibank", "tmdb"} and all(contents.values())
    with make_router(_source_exec_configs(recipe, base_urls)) as router:
        movie = next(a for a in apis if a.source == "tmdb" and a.path == "/movie/{movie_id}")
        result = router.call(movie, {"movie_id": 550})
    assert result.ok and result.provenance == "simulated" and result.response["id"] == 550


def test_a_replay_source_answers_from_the_cache_named_in_the_recipe(tmp_path):
    from goat_datasets.cache import ResponseCache
    from goat_datasets.execution.base import CallResult
    from goat_datasets.recipe import RecipeError

    spec = tmp_path / "films.json"
    spec.write_text(
        '{"openapi": "3.0.3", "info": {"title": "films", "version": "1"}, "paths": {"/movies/{movie_id}": {"get": '
        '{"operationId": "get_movie", "parameters": [{"name": "movie_id", "in": "path", "required": true, '
        '"schema": {"type": "integer"}}], "responses": {"200": {"description": "ok"}}}}}}'
    )
    cache = ResponseCache(tmp_path / "calls.sqlite")
    cache.put("films.get_movie", {"movie_id": "550"},
              CallResult(api_id="films.get_movie", arguments={"movie_id": 550}, ok=True, status_code=200,
                         response={"title": "Fight Club"}, provenance="real"), "fp")  # fmt: skip
    recipe = _recipe(tmp_path, "  - {name: films, spec: films.json, executor: replay, cache: calls.sqlite}\n")
    apis, _, base_urls = load_sources(recipe, log=lambda _: None)
    with make_router(_source_exec_configs(recipe, base_urls)) as router:
        hit = router.call(apis[0], {"movie_id": 550})
        miss = router.call(apis[0], {"movie_id": 551})
    assert hit.ok and hit.response == {"title": "Fight Club"}
    assert not miss.ok and "cache miss" in miss.error

    with pytest.raises(RecipeError, match="set `cache:`"):
        _recipe(tmp_path, "  - {name: films, spec: films.json, executor: replay}\n")
    with pytest.raises(RecipeError, match="only read by `executor: replay`"):
        _recipe(tmp_path, "  - {name: films, spec: films.json, executor: http, base_url: 'http://127.0.0.1:1', cache: x.sqlite}\n")


@pytest.mark.parametrize("kind", ["openapi", "functions"])
def test_a_document_that_is_not_utf8_is_a_spec_error_naming_it(tmp_path, kind):
    from goat_datasets.sources.loading import SpecError

    (tmp_path / "doc.json").write_bytes(b'{"name": "caf\xe9"}')
    recipe = _recipe(tmp_path, f"  - {{name: d, kind: {kind}, spec: doc.json, base_url: 'http://127.0.0.1:1'}}\n")
    with pytest.raises(SpecError, match=r"^API document doc.json: not UTF-8 text \(invalid continuation byte at byte 13\)"):
        load_sources(recipe, log=lambda _: None)


def test_the_fingerprint_follows_the_replay_cache_content_not_its_file(tmp_path):
    """A replay source answers only from its cache: new answers must start a new build, a rewritten file with the
    same answers (other write times, other insertion order) must not."""
    from goat_datasets.cache import ResponseCache
    from goat_datasets.execution.base import CallResult
    from goat_datasets.recipe.fingerprint import fingerprint, replay_cache_digests

    spec = tmp_path / "films.json"
    spec.write_text('{"openapi": "3.0.3", "info": {"title": "films", "version": "1"}, "paths": {}}')

    def result(movie_id: int, title: str) -> CallResult:
        return CallResult(api_id="films.get_movie", arguments={"movie_id": movie_id}, ok=True, status_code=200,
                          response={"title": title}, provenance="real")  # fmt: skip

    def write(path, items):
        with ResponseCache(path) as cache:
            for movie_id, title in items:
                cache.put("films.get_movie", {"movie_id": movie_id}, result(movie_id, title), "fp-of-the-writer")

    recipe = _recipe(tmp_path, "  - {name: films, spec: films.json, executor: replay, cache: calls.sqlite}\n")
    fp_of = lambda: fingerprint(recipe, {"films": spec.read_bytes()}, ["m"], code="c", caches=replay_cache_digests(recipe))  # noqa: E731

    write(tmp_path / "calls.sqlite", [(550, "Fight Club"), (13, "Forrest Gump")])
    first = fp_of()
    (tmp_path / "calls.sqlite").unlink()
    write(tmp_path / "calls.sqlite", [(13, "Forrest Gump"), (550, "Fight Club")])  # same answers, other order/time
    assert fp_of() == first
    write(tmp_path / "calls.sqlite", [(680, "Pulp Fiction")])
    assert fp_of() != first
    # without replay caches the fingerprint is what it was before caches were hashed
    assert fingerprint(recipe, {"films": b"x"}, ["m"], code="c", caches={}) == fingerprint(recipe, {"films": b"x"}, ["m"], code="c")
    (tmp_path / "calls.sqlite").unlink()
    with pytest.raises(FileNotFoundError, match="replay cache 'calls.sqlite' not found"):
        replay_cache_digests(recipe)
