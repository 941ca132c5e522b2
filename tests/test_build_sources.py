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
