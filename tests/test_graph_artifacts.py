"""Graph artifacts: GraphML round trip, the PNG, per-stage statistics, and explaining one edge (unit level).

The end-to-end path (`goat graph` on the demo API) is in tests/test_cli_graph.py.
"""

from __future__ import annotations

import hashlib
import json
import struct

import networkx as nx
import numpy as np
import pytest

from goat_datasets.graph.artifacts import (
    draw_graph,
    graph_from_graphml,
    removed_edges,
    stage_stats,
    write_graph_artifacts,
    write_graphml,
)
from goat_datasets.graph.explain import ApiNameError, explain_edge, resolve_api
from goat_datasets.graph.model import DependencyEdge, StageResult, add_edge, graph_to_json, new_graph
from goat_datasets.sources.models import ApiSpec, OutputField, Param

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def api(name: str, tool: str, fields: tuple[str, ...] = (), params: tuple[str, ...] = ()) -> ApiSpec:
    return ApiSpec(
        id=f"src.{name}", source="src", tool=tool, name=name,
        params=tuple(Param(name=p, location="query", required=True, schema={"type": "string"}) for p in params),
        output_fields=tuple(OutputField(path=f, type="string") for f in fields),
    )  # fmt: skip


def edge(a: str, path: str, b: str, param: str, **stages: StageResult) -> DependencyEdge:
    return DependencyEdge(
        source_api=f"src.{a}", source_path=path, target_api=f"src.{b}", target_param=param, target_location="query",
        score=0.75, candidate=StageResult(status="passed", code="evidence", reason="named like the parameter"),
        **stages,
    )  # fmt: skip


def ok(code: str = "ok") -> StageResult:
    return StageResult(status="passed", code=code, reason=f"{code} reason")


def failed(code: str, reason: str = "") -> StageResult:
    return StageResult(status="failed", code=code, reason=reason or f"{code} reason")


def skipped(code: str) -> StageResult:
    return StageResult(status="skipped", code=code, reason=f"{code} reason")


@pytest.fixture()
def graph() -> nx.MultiDiGraph:
    """Four APIs in two tools (D isolated), six edges of which three usable, and two A -> B edges (a multigraph)."""
    apis = [api("a", "movies"), api("b", "movies"), api("c", "cinemas"), api("d", "weather")]
    g = new_graph(apis)
    g.graph["stats"] = {"apis": 4, "nested": {"list": [1, 2]}}
    details = {"a_arguments": {"query": "Dune"}, "b_status": 200, "value": "m1"}
    checked = StageResult(status="passed", code="both_calls_ok", reason="B accepted «m1»", details=details)
    for e in [
        edge("a", "results[*].id", "b", "movie_id", execution_check=checked),
        edge("a", "results[*].title", "b", "movie_id", llm_check=failed("not_connectable", "a title is not an id")),
        edge("b", "cinema_id", "c", "cinema_id", llm_check=ok(), execution_check=skipped("not_called")),
        edge("c", "movie_id", "a", "query", llm_check=skipped("unparseable"), execution_check=failed("b_empty")),
        edge("c", "name", "b", "movie_id", llm_check=ok(), execution_check=failed("b_failed", "HTTP 422")),
        edge("c", "city", "b", "city", llm_check=ok(), execution_check=failed("b_failed", "HTTP 500")),
    ]:  # fmt: skip
        add_edge(g, e)
    return g


REMOVED = [{"edge": "src.a.results[*].id -> src.c(cinema_id)", "code": "b_empty", "reason": "found nothing"}]


def test_stage_stats_counts_every_stage_by_status_and_code(graph):
    s = stage_stats(graph, removed=[{**r, "stage": "execution_check"} for r in REMOVED])
    assert (s["edges"], s["edges_in_graph"], s["removed_edges"], s["usable_edges"]) == (7, 6, 1, 2)
    cand, llm, exe = (s["by_stage"][k] for k in ("candidate", "llm_check", "execution_check"))
    assert {k: cand[k] for k in ("passed", "failed", "skipped", "not_run")} == {
        "passed": 7, "failed": 0, "skipped": 0, "not_run": 0}  # fmt: skip
    # the LLM check ran on some edges, so the removed edge's verdict there is unknown, not "not run"
    assert {k: llm[k] for k in ("passed", "failed", "skipped", "not_run", "unknown")} == {
        "passed": 3, "failed": 1, "skipped": 1, "not_run": 1, "unknown": 1}  # fmt: skip
    assert llm["failed_by_code"] == {"not_connectable": {"count": 1, "example": "a title is not an id"}}
    assert llm["skipped_by_code"] == {"unparseable": {"count": 1, "example": "unparseable reason"}}
    assert {k: exe[k] for k in ("passed", "failed", "skipped", "not_run")} == {
        "passed": 1, "failed": 4, "skipped": 1, "not_run": 1}  # fmt: skip
    assert exe["failed_by_code"] == {
        "b_empty": {"count": 2, "example": "b_empty reason"},
        "b_failed": {"count": 2, "example": "HTTP 422"},
    }
    assert s["usable_after"] == {"candidate": 7, "llm_check": 6, "execution_check": 2}
    assert (s["apis"], s["apis_with_edges"], s["isolated_apis"]) == (4, 3, 1)
    assert s["components"] == {"count": 1, "largest": [3]}
    # usable: a->b (results[*].id) and b->c: in-degree b 1, c 1, a 0, d 0
    assert s["degree"]["in"] == {"0": 2, "1": 2} and s["degree"]["out"] == {"0": 2, "1": 2}
    assert s["tool_pairs"]["same_tool"] == 1 and s["tool_pairs"]["cross_tool"] == 1
    assert s["top_apis"][0] == {"api": "src.b", "in": 1, "out": 1}


def test_stage_stats_counts_removed_edges_as_not_run_where_a_stage_never_ran():
    g = new_graph([api("a", "t"), api("b", "t")])
    add_edge(g, edge("a", "x", "b", "p", execution_check=ok()))
    record = {"edge": "src.a.y -> src.b(p)", "code": "b_empty", "reason": "r", "stage": "execution_check"}
    s = stage_stats(g, removed=[record])
    assert s["by_stage"]["llm_check"]["not_run"] == 2 and "unknown" not in s["by_stage"]["llm_check"]
    assert s["by_stage"]["execution_check"]["failed"] == 1 and s["usable_edges"] == 1


def test_removed_edges_are_read_from_the_stats_file_shape():
    stats = {"execution_check": {"dropped": REMOVED, "failed": 1}, "candidates": {"kept_by_top_k": 3}}
    assert removed_edges(stats) == [{**REMOVED[0], "stage": "execution_check"}]
    assert removed_edges(None) == [] and removed_edges({"execution_check": None}) == []


def test_edges_the_llm_check_removed_count_there_and_never_reach_the_execution_check():
    g = new_graph([api("a", "t"), api("b", "t")])
    add_edge(g, edge("a", "x", "b", "p", llm_check=ok(), execution_check=ok()))
    stats = {
        "llm_check": {"dropped": [{"edge": "src.a.y -> src.b(p)", "code": "not_connectable", "reason": "echo"}]},
        "execution_check": {"dropped": [{"edge": "src.a.z -> src.b(p)", "code": "b_empty", "reason": "nothing"}]},
    }
    s = stage_stats(g, removed=removed_edges(stats))
    llm, exe = s["by_stage"]["llm_check"], s["by_stage"]["execution_check"]
    assert (llm["passed"], llm["failed"], llm.get("unknown", 0)) == (1, 1, 1)  # z passed or was skipped: not kept
    assert (exe["passed"], exe["failed"], exe["not_run"]) == (1, 1, 0)
    assert s["usable_after"] == {"candidate": 3, "llm_check": 2, "execution_check": 1}


def test_graphml_round_trip_keeps_every_verdict_and_the_multigraph_keys(graph, tmp_path):
    path = write_graphml(graph, tmp_path / "graph.graphml")
    flat = nx.read_graphml(path)  # what Gephi and yEd read: scalar attributes only
    assert isinstance(flat, nx.MultiDiGraph) and flat.number_of_edges() == 6 and flat.number_of_nodes() == 4
    ids = [k for _, _, k in flat.edges(keys=True)]
    assert len(set(ids)) == len(ids)  # document-wide unique edge ids: tools drop repeated ones
    attrs = flat.edges["src.a", "src.b", "src.a.results[*].title->movie_id@src.b"]
    assert attrs["llm_check_status"] == "failed" and attrs["llm_check_code"] == "not_connectable"
    assert attrs["usable"] is False and attrs["failed_stage"] == "llm_check" and attrs["score"] == 0.75
    assert flat.nodes["src.c"] == {"tool": "cinemas", "name": "c", "source": "src", "label": "c"}
    assert {k for k in attrs if isinstance(attrs[k], (dict, list))} == set()

    back = graph_from_graphml(path)
    original, restored = graph_to_json(graph), graph_to_json(back)
    assert restored["edges"] == original["edges"]  # keys, nested details and unicode reasons included
    assert restored["nodes"] == original["nodes"]
    assert back.graph["stats"] == graph.graph["stats"] and back.graph["format"] == graph.graph["format"]


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_MAGIC and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_png_of_a_small_graph(graph, tmp_path):
    path = draw_graph(graph, tmp_path / "g.png", title="toy")
    data = path.read_bytes()
    width, height = _png_size(data)
    assert 400 < width <= 2000 and 300 < height <= 1600 and 5_000 < len(data) < 2_000_000


def synthetic_graph(n: int, m: int, seed: int = 0) -> nx.MultiDiGraph:
    rng = np.random.default_rng(seed)
    g = new_graph([api(f"op{i}", f"tool{i % 40}") for i in range(n)])
    for j, (a, b) in enumerate(rng.integers(0, n, size=(m, 2)).tolist()):
        if a != b:
            add_edge(g, edge(f"op{a}", f"f{j}", f"op{b}", "p",
                             execution_check=failed("b_empty") if j % 7 == 0 else ok()))  # fmt: skip
    return g


def test_png_stays_bounded_for_a_large_graph(tmp_path):
    g = synthetic_graph(1500, 4500)
    path = draw_graph(g, tmp_path / "big.png")  # ~2 s here for 1,000 APIs (measured, not asserted)
    data = path.read_bytes()
    width, height = _png_size(data)
    assert width <= 2000 and height <= 1600 and len(data) < 3_000_000


def test_the_picture_is_deterministic(graph, tmp_path):
    a = draw_graph(graph, tmp_path / "a.png").read_bytes()
    b = draw_graph(graph, tmp_path / "b.png").read_bytes()
    assert hashlib.sha256(a).digest() == hashlib.sha256(b).digest()


def test_write_graph_artifacts_keeps_existing_files_and_adds_missing_stats(graph, tmp_path):
    base = {"apis": 4, "execution_check": {"dropped": REMOVED}}
    paths = write_graph_artifacts(graph, tmp_path, stats=base, title="toy")
    stats = json.loads(paths["stats"].read_text())
    assert stats["apis"] == 4 and stats["execution_check"] == base["execution_check"]
    assert stats["stages"]["removed_edges"] == 1 and stats["stages"]["edges"] == 7
    assert paths["png"].read_bytes()[:8] == PNG_MAGIC and nx.read_graphml(paths["graphml"]).number_of_edges() == 6

    # a reused graph: an older stats file without "stages" gets them; a missing picture is drawn again
    paths["stats"].write_text(json.dumps(base))
    paths["png"].unlink()
    graphml_mtime = paths["graphml"].stat().st_mtime_ns
    write_graph_artifacts(graph, tmp_path)
    assert json.loads(paths["stats"].read_text())["stages"]["removed_edges"] == 1
    assert paths["png"].is_file() and paths["graphml"].stat().st_mtime_ns == graphml_mtime


# ------------------------------------------------------------------------------------------------------- explain


def test_resolve_api_takes_ids_and_unambiguous_names():
    apis = [api("get_movie", "m"), api("search_movies", "m"),
            ApiSpec(id="other.get_movie", source="other", tool="m", name="get_movie")]  # fmt: skip
    assert resolve_api("src.search_movies", apis) == "src.search_movies"
    assert resolve_api("search_movies", apis) == "src.search_movies"
    assert resolve_api("SEARCH_MOVIES", apis) == "src.search_movies"
    with pytest.raises(ApiNameError, match="ambiguous.*other.get_movie, src.get_movie"):
        resolve_api("get_movie", apis)
    with pytest.raises(ApiNameError, match=r"'serch_movies'.*did you mean 'search_movies' \(src.search_movies\)"):
        resolve_api("serch_movies", apis)
    with pytest.raises(ApiNameError, match="no API named 'zzz' among the 3 APIs of this build$"):
        resolve_api("zzz", apis)


class WordEmbedder:
    """Bag-of-words vectors: texts sharing words are similar (deterministic, no model)."""

    def encode(self, texts):
        out = np.zeros((len(texts), 64), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in text.lower().replace("_", " ").replace(".", " ").split():
                out[i, int(hashlib.md5(word.encode()).hexdigest(), 16) % 64] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1, norms)


def explain_apis() -> list[ApiSpec]:
    return [
        api("search_movies", "movies", fields=("results[*].movie_id", "results[*].title"), params=("query",)),
        api("get_movie", "movies", fields=("title", "rating"), params=("movie_id",)),
        api("get_weather", "weather", fields=("temperature",), params=("city",)),
    ]


def test_explain_edge_reports_recorded_removed_and_missing_edges():
    apis = explain_apis()
    g = new_graph(apis)
    add_edge(g, edge("search_movies", "results[*].movie_id", "get_movie", "movie_id",
                     execution_check=ok("both_calls_ok")))  # fmt: skip
    kept = explain_edge(g, apis, "search_movies", "get_movie", embedder=WordEmbedder())
    assert kept.usable_edges == 1 and kept.verdict.startswith("src.search_movies -> src.get_movie exists")
    [recorded] = kept.edges
    assert recorded.in_graph and recorded.stages["execution_check"].code == "both_calls_ok"
    assert recorded.candidate is not None and recorded.candidate.kept and recorded.candidate.rule == "evidence"

    g.remove_edge("src.search_movies", "src.get_movie")
    removed = [{"edge": "src.search_movies.results[*].movie_id -> src.get_movie(movie_id)", "code": "b_empty",
                "reason": "found nothing", "stage": "execution_check"}]  # fmt: skip
    gone = explain_edge(g, apis, "src.search_movies", "get_movie", embedder=WordEmbedder(), removed=removed)
    assert gone.usable_edges == 0 and "failed the execution_check (b_empty)" in gone.verdict
    assert not gone.edges[0].in_graph and gone.edges[0].stages["execution_check"].reason == "found nothing"

    stale = explain_edge(g, apis, "search_movies", "get_movie", embedder=WordEmbedder())  # no record at all
    assert "built with other settings" in stale.verdict

    missing = explain_edge(g, apis, "get_weather", "get_movie", embedder=WordEmbedder())
    assert missing.usable_edges == 0 and missing.edges == [] and "kept none of 1" in missing.verdict
    assert [(p.source_path, p.target_param, p.kept) for p in missing.candidates] == [
        ("temperature", "movie_id", False)
    ]

    with pytest.raises(ApiNameError, match="both src.get_movie"):
        explain_edge(g, apis, "get_movie", "src.get_movie", embedder=WordEmbedder())


def test_a_graph_without_usable_edges_still_gets_stats_and_a_picture(tmp_path):
    g = new_graph([api("a", "t"), api("b", "t")])
    add_edge(g, edge("a", "x", "b", "p", execution_check=failed("b_failed")))
    s = stage_stats(g)
    assert s["usable_edges"] == 0 and s["components"] == {"count": 0, "largest": []} and s["top_apis"] == []
    assert s["degree"]["in"] == {"0": 2} and s["tool_pairs"]["same_tool"] == 0
    assert draw_graph(g, tmp_path / "none.png").read_bytes()[:8] == PNG_MAGIC
    assert draw_graph(new_graph([]), tmp_path / "empty.png").read_bytes()[:8] == PNG_MAGIC
