"""`goat graph RECIPE [--explain A B]` end to end: the demo API served over HTTP, the real sources, embedder, candidate
rule and execution check, in a fresh GOAT_CACHE_DIR. The graph stage needs no LLM, and none is started.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import networkx as nx
import pytest
import yaml
from typer.testing import CliRunner

from goat_datasets.cli import app
from goat_datasets.graph.model import load_graph

from shared_data import SHARED_DATA

REPO = Path(__file__).resolve().parents[1]
DEMO_RECIPE = REPO / "recipes" / "demo.yaml"
TMDB_SPEC = SHARED_DATA / "restbench-tmdb" / "tmdb_oas.json"
WRITE_OPERATIONS = ("book_tickets", "cancel_booking", "post_review")  # the graph check never calls them anyway


class Goat:
    """Runs `goat` in this process with the test's cache directory and a wide terminal (tables unwrapped)."""

    def __init__(self, cache: Path):
        self.env = {"GOAT_CACHE_DIR": str(cache), "COLUMNS": "250"}

    def __call__(self, *args: str) -> Any:
        return CliRunner().invoke(app, [str(a) for a in args], env=self.env)

    def json(self, *args: str) -> Any:
        result = self(*args, "--json")
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Iterator[tuple[Goat, Path, Path]]:
    """(goat, recipe, build directory) after a first `goat graph` of the demo recipe against a live demo API."""
    from goat_datasets.demo_api.app import create_app
    from goat_datasets.servers import serve_in_thread

    tmp = tmp_path_factory.mktemp("goat-graph")
    goat = Goat(tmp / "cache")
    with serve_in_thread(create_app(seed=0), health_path="/health") as url:
        recipe = yaml.safe_load(DEMO_RECIPE.read_text())
        recipe["sources"][0].update(spec=f"{url}/openapi.json", base_url=url, exclude=list(WRITE_OPERATIONS))
        path = tmp / "demo.yaml"
        path.write_text(yaml.safe_dump(recipe, sort_keys=False))
        first = goat("graph", path)
        assert first.exit_code == 0, first.output
        assert "graph: reusing" not in first.output and "local LLM endpoint" not in first.output
        builds = list((tmp / "cache" / "builds").iterdir())
        assert len(builds) == 1
        yield goat, path, builds[0]


def test_goat_graph_writes_the_artifacts_and_summarises_the_stages(demo):
    goat, recipe, build_dir = demo
    graph = load_graph(build_dir / "graph.json")
    stats = json.loads((build_dir / "graph_stats.json").read_text())
    assert stats["candidates"]["kept_by_top_k"] == stats["stages"]["edges"]  # the GraphStats content is kept
    stages = stats["stages"]
    removed = len(stats["execution_check"]["dropped"])
    assert stages["edges_in_graph"] == graph.number_of_edges() and stages["removed_edges"] == removed > 0
    assert stages["by_stage"]["execution_check"]["failed"] == removed + sum(
        1 for *_, a in graph.edges(data=True) if a["execution_check"]["status"] == "failed"
    )
    assert stages["by_stage"]["execution_check"]["passed"] > 0 and stages["usable_edges"] > 0
    assert stages["by_stage"]["llm_check"]["not_run"] == stages["edges"]  # no LLM check in this recipe

    flat = nx.read_graphml(build_dir / "graph.graphml")
    assert flat.number_of_edges() == graph.number_of_edges() and flat.number_of_nodes() == graph.number_of_nodes()
    assert (build_dir / "graph.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    data = goat.json("graph", recipe)
    assert data["build_dir"] == str(build_dir) and data["stages"] == stages
    assert set(data["artifacts"]) == {"graph", "stats", "graphml", "png"}

    result = goat("graph", recipe)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "graph: reusing" in out and "edges per stage" in out and "top APIs by usable edges" in out
    after = stages["usable_after"]
    assert f"{stages['edges']} candidate edges -> {after['llm_check']} after llm_check -> " in out
    assert f"{after['execution_check']} after execution_check" in out
    assert str(build_dir / "graph.png") in out


def test_a_reused_graph_gets_its_missing_artifacts_back(demo):
    goat, recipe, build_dir = demo
    (build_dir / "graph.png").unlink()
    (build_dir / "graph.graphml").unlink()
    result = goat("graph", recipe)
    assert result.exit_code == 0 and "graph: reusing" in result.output, result.output
    assert (build_dir / "graph.png").is_file() and (build_dir / "graph.graphml").is_file()


def test_explain_an_existing_edge_gives_every_stage(demo):
    goat, recipe, _ = demo
    ex = goat.json("graph", recipe, "--explain", "search_movies", "get_movie")
    assert (ex["source_api"], ex["target_api"]) == ("demo.search_movies", "demo.get_movie")
    assert ex["usable_edges"] == 1 and "exists" in ex["verdict"]
    [edge] = [e for e in ex["edges"] if e["usable"]]
    assert (edge["source_path"], edge["target_param"]) == ("results[*].movie_id", "movie_id")
    assert edge["stages"]["candidate"]["status"] == "passed" and edge["stages"]["llm_check"]["status"] == "not_run"
    check = edge["stages"]["execution_check"]
    assert check["status"] == "passed" and check["code"] == "both_calls_ok"
    assert check["details"]["b_status"] == 200 and check["details"]["value"].startswith("m")
    assert edge["candidate"]["kept"] and edge["candidate"]["rule"] == "evidence"

    result = goat("graph", recipe, "--explain", "demo.search_movies", "GET_MOVIE")
    assert result.exit_code == 0, result.output
    assert "demo.search_movies -> demo.get_movie exists" in result.output and "both_calls_ok" in result.output


def test_explain_an_edge_the_execution_check_removed(demo):
    goat, recipe, build_dir = demo
    record = json.loads((build_dir / "graph_stats.json").read_text())["execution_check"]["dropped"][0]
    source, target = record["edge"].split(" -> ")
    apis = {a["id"] for a in json.loads((build_dir / "apis.json").read_text())}
    source_api = next(a for a in sorted(apis, key=len, reverse=True) if source.startswith(a + "."))
    target_api = target.split("(")[0]
    ex = goat.json("graph", recipe, "--explain", source_api, target_api)
    removed = [e for e in ex["edges"] if not e["in_graph"]]
    assert removed and removed[0]["stages"]["execution_check"]["code"] == record["code"]
    if ex["usable_edges"] == 0:
        assert f"failed the execution_check ({record['code']})" in ex["verdict"]


def test_explain_a_missing_edge_gives_the_candidate_decision_per_pair(demo):
    goat, recipe, _ = demo
    ex = goat.json("graph", recipe, "--explain", "get_weather_forecast", "get_person")
    assert ex["usable_edges"] == 0 and ex["edges"] == []
    assert ex["verdict"].startswith("no edge demo.get_weather_forecast -> demo.get_person")
    pairs = ex["candidates"]
    assert pairs and not any(p["kept"] for p in pairs)
    assert {p["target_param"] for p in pairs} == {"person_id"} and all(p["why"].startswith("not kept") for p in pairs)

    result = goat("graph", recipe, "--explain", "get_weather_forecast", "get_person")
    assert result.exit_code == 0 and "kept none of" in result.output and "not kept" in result.output, result.output


def test_bad_input_exits_with_status_2(demo, tmp_path):
    goat, recipe, _ = demo
    result = goat("graph", recipe, "--explain", "get_movei", "get_person")
    assert result.exit_code == 2
    assert "no API named 'get_movei'" in result.output and "did you mean 'get_movie'" in result.output
    same = goat("graph", recipe, "--explain", "get_movie", "demo.get_movie")
    assert same.exit_code == 2 and "an edge joins two different APIs" in same.output
    bad = tmp_path / "bad.yaml"
    bad.write_text(recipe.read_text().replace("candidates: default", "candidates: defualt"))
    result = goat("graph", bad)
    assert result.exit_code == 2 and "did you mean 'default'" in result.output


def test_rebuild_builds_the_graph_again(demo):
    goat, recipe, build_dir = demo
    before = (build_dir / "graph.json").read_text()
    result = goat("graph", recipe, "--rebuild")
    assert result.exit_code == 0 and "graph: reusing" not in result.output, result.output
    assert (build_dir / "graph.png").is_file() and (build_dir / "graph_stats.json").is_file()
    strip = lambda text: {k: v for k, v in json.loads(text).items() if k != "graph"}  # noqa: E731  (timings)
    assert strip((build_dir / "graph.json").read_text()) == strip(before)  # same API, same seed: same graph


@pytest.mark.slow  # ~20 s: embeds the 54 TMDB operations' texts into a fresh cache
@pytest.mark.skipif(not TMDB_SPEC.is_file(), reason=f"{TMDB_SPEC} is not available")
def test_explain_on_tmdb_with_the_simulated_executor(tmp_path):
    goat = Goat(tmp_path / "cache")
    recipe = yaml.safe_load(DEMO_RECIPE.read_text())
    recipe["name"] = "tmdb-graph"
    recipe["sources"] = [{"name": "tmdb", "kind": "openapi", "spec": str(TMDB_SPEC), "executor": "simulated"}]
    path = tmp_path / "tmdb.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    ex = goat.json("graph", path, "--explain", "GET_search_person", "GET_person_person_id_movie_credits")
    assert ex["usable_edges"] >= 1, ex["verdict"]
    edge = next(e for e in ex["edges"] if e["usable"])
    assert edge["target_param"] == "person_id" and edge["stages"]["execution_check"]["status"] == "passed"
    missing = goat.json("graph", path, "--explain", "GET_genre_movie_list", "GET_person_person_id")
    assert missing["usable_edges"] == 0 and not any(p["kept"] for p in missing["candidates"])


def test_goat_graph_with_the_llm_check_through_the_recipe(tmp_path):
    """`graph.llm_check: true` in a recipe: `goat graph` asks the recipe's LLM about every candidate (a fake
    OpenAI-compatible server here, with a rule as its judgement), drops the edges it calls unrelated before the
    execution check, keeps the reason on the edges it passes, counts unreadable answers, and a rerun asks nothing."""
    import re

    from fake_llm import FakeLLM
    from goat_datasets.demo_api.app import create_app
    from goat_datasets.servers import serve_in_thread

    def judge(prompt: str) -> str:
        param = re.search(r"B's parameter `([^`]+)`", prompt).group(1)
        field = re.search(r"A's output field `([^`]+)`", prompt).group(1)
        if param == "city":
            return "hmm, hard to say"  # unreadable: kept unverified, counted
        leaf = field.rsplit(".", 1)[-1].split("[")[0]
        ok = leaf == param or (leaf == "id" and param.endswith("_id"))
        return json.dumps({"connectable": ok, "reason": f"{leaf} {'fits' if ok else 'does not fit'} {param}"})

    fake = FakeLLM(delay_s=0.0, respond=judge)
    goat = Goat(tmp_path / "cache")
    with serve_in_thread(create_app(seed=0), health_path="/health") as url, fake.serve() as llm_url:
        recipe = yaml.safe_load(DEMO_RECIPE.read_text())
        recipe["sources"][0].update(spec=f"{url}/openapi.json", base_url=url, exclude=list(WRITE_OPERATIONS))
        recipe["llm"] = {"provider": "openai", "base_url": llm_url, "model": "fake-judge"}
        recipe["graph"]["llm_check"] = True
        path = tmp_path / "demo.yaml"
        path.write_text(yaml.safe_dump(recipe, sort_keys=False))
        result = goat("graph", path)
        assert result.exit_code == 0, result.output
        asked = len(fake.log)
        build_dir = next((tmp_path / "cache" / "builds").iterdir())
        stats = json.loads((build_dir / "graph_stats.json").read_text())
        check = stats["llm_check"]
        assert check["asked"] == stats["candidates"]["kept_by_top_k"] > 0
        assert asked >= check["asked"]  # unreadable answers are asked again
        assert check["connectable"] > 0 and check["not_connectable"] > 0 and check["unparseable"] > 0
        assert check["connectable"] + check["not_connectable"] + check["unparseable"] + check["llm_failures"] == check["asked"]
        graph = load_graph(build_dir / "graph.json")
        verdicts = [a["llm_check"] for *_, a in graph.edges(data=True)]
        assert verdicts and all(v["status"] in ("passed", "skipped") for v in verdicts)  # rejected ones are gone
        passed = [a for *_, a in graph.edges(data=True) if a["llm_check"]["status"] == "passed"]
        assert passed and all(a["reason"].endswith(a["target_param"]) for a in passed)
        assert all(a["target_param"] == "city" for *_, a in graph.edges(data=True) if a["llm_check"]["status"] == "skipped")

        again = goat("graph", path, "--rebuild")
        assert again.exit_code == 0, again.output
        assert len(fake.log) == asked  # every verdict comes from llm.sqlite
