"""Candidate generation: `explain_pair` agrees with `find_candidates`, and the sparse scorer at scale.

`explain_pair` is checked against `find_candidates` on RestBench TMDB (real MiniLM embeddings, cached under
$GOAT_CACHE_DIR/embeddings) for every preset; the scale tests run the synthetic documents of
``benchmarks/graph_scale.py`` with its deterministic hash embedder.
"""

from __future__ import annotations

import gc
import importlib.util
import json
import random
import sys
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from goat_datasets.embeddings import Embedder
from goat_datasets.graph import candidates as cand
from goat_datasets.graph.candidates import PairExplanation, explain_pair, find_candidates
from goat_datasets.graph.model import DependencyEdge, StageResult
from goat_datasets.sources.models import ApiSpec, OutputField, Param
from goat_datasets.sources.openapi import parse_openapi

from shared_data import SHARED_DATA

REPO = Path(__file__).resolve().parents[1]
TMDB_SPEC = SHARED_DATA / "restbench-tmdb" / "tmdb_oas.json"


def _scale_benchmark():
    spec = importlib.util.spec_from_file_location("graph_scale_benchmark", REPO / "benchmarks" / "graph_scale.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


scale = _scale_benchmark()


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return Embedder()


@pytest.fixture(scope="module")
def tmdb() -> list[ApiSpec]:
    if not TMDB_SPEC.exists():
        pytest.skip(f"{TMDB_SPEC} not found (shared data lives beside the repo)")
    return list(parse_openapi(json.loads(TMDB_SPEC.read_text(encoding="utf-8")), source="tmdb").apis)


def _edge_key(source_api, target_api, source_path, target_param):
    return (source_api, target_api, source_path, target_param)


# ------------------------------------------------------------------------------------------------------ explain_pair


@pytest.mark.parametrize(
    "preset,options",
    [("default", {}), ("paper", {}), ("similarity", {}), ("default", {"top_k": 1}),
     ("default", {"no_cross_tool_id": True}), ("similarity", {"top_k": 2, "threshold": 0.4})],
)  # fmt: skip
def test_explain_pair_keeps_exactly_what_find_candidates_keeps_on_tmdb(tmdb, embedder, preset, options):
    edges, _ = find_candidates(tmdb, embedder, preset=preset, **options)
    found = {_edge_key(e.source_api, e.target_api, e.source_path, e.target_param): e.score for e in edges}
    with_edges = sorted({(e.source_api, e.target_api) for e in edges})
    rng = random.Random(7)
    ids = [a.id for a in tmdb]
    pairs = rng.sample(with_edges, 6) + [tuple(rng.sample(ids, 2)) for _ in range(6)]
    reasons = set()
    for a, b in pairs:
        explained = explain_pair(tmdb, embedder, a, b, preset=preset, **options)
        kept = {_edge_key(x.source_api, x.target_api, x.source_path, x.target_param): x.score
                for x in explained if x.kept}  # fmt: skip
        expected = {k: v for k, v in found.items() if k[:2] == (a, b)}
        assert kept == expected, (a, b)  # the same pairs, and the same scores to the bit (the same products)
        b_api = next(x for x in tmdb if x.id == b)
        assert {x.target_param for x in explained} == {p.name for p in b_api.params}  # every parameter is explained
        for x in explained:
            assert x.why.startswith("kept: " if x.kept else "not kept: "), x
            assert (x.source_path is None) == (x.excluded is not None) == (x.rule == "not a target")
            reasons.add(x.rule)
    assert reasons - {"not a target", "not a source", "type filter", "cross-tool id"}  # some pairs reach the rule


def test_explain_pair_says_why_on_tmdb(tmdb, embedder):
    explained = explain_pair(tmdb, embedder, "tmdb.GET_search_person", "tmdb.GET_person_person_id")
    by_key = {(x.source_path, x.target_param): x for x in explained}
    kept = by_key[("results[*].id", "person_id")]
    assert kept.kept and kept.rule == "evidence" and kept.evidence >= 0.7 and kept.type_fits
    assert kept.why.startswith("kept: strong name/structure evidence 0.80 >= 0.7")
    counter = by_key[("total_results", "person_id")]
    assert (counter.kept, counter.rule) == (False, "not a source") and "counts or pages results" in counter.why
    text = by_key[("results[*].name", "person_id")]
    assert (text.rule, text.type_fits) == ("type filter", False) and "cannot fill an integer parameter" in text.why
    known_for = by_key[("results[*].known_for[*].id", "person_id")]  # a movie id: other fields have evidence
    assert not known_for.kept and known_for.evidence == 0 and "no cosine fallback" in known_for.why
    excluded = [x for x in explained if x.excluded]
    assert all(x.source_path is None and not x.kept for x in excluded)

    paper = explain_pair(tmdb, embedder, "tmdb.GET_search_person", "tmdb.GET_person_person_id", preset="paper")
    assert all(x.rule == "similarity" and x.source_path for x in paper)  # paper: one API-level row, a bound field
    assert any(x.kept and x.why.startswith("kept: cosine") and x.cosine > 0.2 for x in paper)


def _toy(name: str, params=(), fields=(), tool: str = "t") -> ApiSpec:
    return ApiSpec(id=f"{tool}.{name}", source=tool, tool=tool, name=name, params=tuple(params),
                   output_fields=tuple(fields))  # fmt: skip


class TableEmbedder:
    """Vectors chosen by hand: every cosine is known."""

    def __init__(self, table: dict[str, list[float]]):
        self.table = table

    def encode(self, texts):
        return np.array([self.table.get(t, [0.0, 0.0, 1.0]) for t in texts], dtype=np.float32)


def test_explain_pair_decides_against_every_api_not_just_the_two():
    """The cosine fallback keeps the best field over *all* APIs: the runner-up is explained as such."""
    target = _toy("find", [Param(name="query", location="query", required=True, description="words")])
    best = _toy("best", fields=[OutputField(path="title", description="words")])
    second = _toy("second", fields=[OutputField(path="label", description="text")])
    table = {"query: words": [1.0, 0.0, 0.0], "title: words": [1.0, 0.0, 0.0], "label: text": [0.8, 0.6, 0.0]}
    apis, emb = [target, best, second], TableEmbedder(table)
    edges, _ = find_candidates(apis, emb)
    assert {(e.source_api, e.source_path) for e in edges} == {("t.best", "title")}
    runner_up = explain_pair(apis, emb, "t.second", "t.find")
    assert len(runner_up) == 1 and not runner_up[0].kept and runner_up[0].rule == "similarity fallback"
    assert runner_up[0].cosine == pytest.approx(0.8) and "below the best 1" in runner_up[0].why
    alone = explain_pair([target, second], emb, "t.second", "t.find")  # without the better source it is kept
    assert alone[0].kept and alone[0].why.startswith("kept: no field has name/structure evidence for query")

    optional = _toy("find2", [Param(name="query", location="query", description="words")])
    lone = explain_pair([optional, best], TableEmbedder({"title: words": [1.0, 0, 0]}), "t.best", "t.find2")
    assert not lone[0].kept and "optional parameter gets no cosine fallback" in lone[0].why


def test_explain_pair_reports_parameters_that_are_never_targets_and_bad_ids():
    target = _toy("list", [Param(name="page", location="query", schema={"type": "integer"}),
                           Param(name="order", location="query", schema={"type": "string", "enum": ["a", "b"]})])
    source = _toy("src", fields=[OutputField(path="n", type="integer")])
    got = explain_pair([target, source], TableEmbedder({}), "t.src", "t.list")
    assert [(x.target_param, x.excluded, x.kept) for x in got] == [("page", "pagination", False),
                                                                  ("order", "enum", False)]  # fmt: skip
    assert all(isinstance(x, PairExplanation) and x.why.startswith("not kept: ") for x in got)
    with pytest.raises(ValueError, match="source_api 't.nope' is not among the 2 APIs"):
        explain_pair([target, source], TableEmbedder({}), "t.nope", "t.list")
    with pytest.raises(ValueError, match="both 't.src'"):
        explain_pair([target, source], TableEmbedder({}), "t.src", "t.src")


# ------------------------------------------------------------------------------------------- the sparse scorer


def _dense_evidence(prep) -> np.ndarray:
    """The evidence rule stated densely, one column at a time over every field (the pre-sparse implementation)."""
    ev_rule = prep.evidence
    out = np.zeros((len(prep.fields), len(prep.targets)), dtype=np.float32)
    has_object = ev_rule.field_object >= 0
    for tj in range(len(prep.targets)):
        column = out[:, tj]
        for key in ev_rule.param_keys[tj]:
            hit = ev_rule.index.get(key)
            if hit is not None:
                idx, strength = hit
                column[idx] = np.maximum(column[idx], strength)
        entity = ev_rule.param_entity[tj]
        allowed = (ev_rule.veto < 0) | (ev_rule.veto == entity)
        if entity >= 0:
            column[~allowed] = 0.0
        e = ev_rule.entity_of[tj]
        if e >= 0:
            struct = has_object & (ev_rule.field_leaf == ev_rule.echo_leaf[e]) & allowed
            struct[struct] = ev_rule.obj_ok[ev_rule.field_object[struct], e]
            column[struct] = np.maximum(column[struct], cand.STRUCTURE)
    return out


def _top_k_by_column(score: np.ndarray, k: int, row_order: np.ndarray) -> np.ndarray:
    """Per column, the k best finite scores, ties to the row first in row_order: plain Python sorting."""
    keep = np.zeros(score.shape, dtype=bool)
    for c in range(score.shape[1]):
        finite = [r for r in range(score.shape[0]) if np.isfinite(score[r, c])]
        for r in sorted(finite, key=lambda r: (-score[r, c], row_order[r]))[: max(k, 0)]:
            keep[r, c] = True
    return keep


def _dense_oracle(prep) -> tuple[dict[tuple[int, int], float], dict[str, int]]:
    """Every decision of the rule on full (rows x targets) matrices: kept (row, target) -> score, and the counts."""
    cfg = prep.cfg
    block = max(1, min(len(prep.targets), (1 << 24) // len(prep.rows_vecs)))  # the same products, bit for bit
    cos = np.hstack([prep.rows_vecs @ prep.param_vecs[s : s + block].T for s in range(0, len(prep.targets), block)])
    valid = (prep.source_api[:, None] != prep.param_api[None, :]) & prep.row_ok[:, None]
    counts = {"dropped_cross_tool_id": 0, "kept_by_evidence": 0, "kept_by_similarity": 0}
    if cfg.no_cross_tool_id:
        other = prep.api_tool[prep.source_api][:, None] != prep.api_tool[prep.param_api][None, :]
        drop = valid & other & prep.cross_tool_id[None, :]
        counts["dropped_cross_tool_id"] = int(drop.sum())
        valid &= ~drop
    if cfg.type_filter and not prep.api_level:
        fits = prep.fits_table[prep.fk_index[:, None], prep.pk_index[None, :]]
    else:
        fits = np.ones_like(valid)
    how = np.zeros(cos.shape, dtype=np.int8)
    ev = np.zeros(cos.shape, dtype=np.float32)
    if prep.evidence is None:
        keep = valid & fits & (cos > cfg.threshold)
        rank = np.where(valid & fits, cos, -np.inf)
        counts["kept_by_threshold"] = int((valid & (cos > cfg.threshold)).sum())
    else:
        ev = _dense_evidence(prep)
        cos01 = np.clip(cos, 0.0, 1.0)
        any_evidence = valid & fits & (ev >= cfg.threshold)
        strong = any_evidence & (ev >= cfg.strong_evidence)
        weak = any_evidence & ~strong
        by_evidence = strong | _top_k_by_column(np.where(weak, ev + 0.05 * cos01, -np.inf), cfg.weak_top_k,
                                                prep.row_order)  # fmt: skip
        no_evidence = ~any_evidence.any(axis=0)
        if cfg.similarity_required_only:
            no_evidence &= prep.param_required
        same_idness = prep.field_is_id[:, None] == prep.param_is_id[None, :]
        claim = prep.evidence.claim[:, None]
        unclaimed = (claim < 0) | (claim == prep.evidence.param_entity[None, :])
        sim_ok = valid & fits & same_idness & unclaimed & (cos >= cfg.similarity_floor) & no_evidence[None, :]
        by_similarity = _top_k_by_column(np.where(sim_ok, cos, -np.inf), cfg.similarity_top_k, prep.row_order)
        keep = by_evidence | by_similarity
        how = np.where(by_evidence, 1, np.where(by_similarity, 2, 0)).astype(np.int8)
        need = np.where(prep.param_required, cand.REQUIRED_BONUS, 0.0)[None, :]
        rank = np.where(valid & fits, np.where(ev > 0, 1.0 + ev + need + 0.05 * cos01, cos01), -np.inf)
        counts["kept_by_threshold"] = int((valid & ((ev >= cfg.threshold) | (cos >= cfg.similarity_floor))).sum())
        counts["kept_by_evidence"] = int(by_evidence.sum())
        counts["kept_by_similarity"] = int((by_similarity & ~by_evidence).sum())
    counts["pairs_considered"] = int(valid.sum())
    counts["kept_by_type"] = int(keep.sum())
    if cfg.top_k is not None:
        keep = _top_k_by_column(np.where(keep, rank, -np.inf), cfg.top_k, prep.row_order)
    kept = {}
    for r, c in zip(*np.nonzero(keep)):
        c_ = float(cos[r, c])
        score = float(ev[r, c]) + 0.05 * max(0.0, min(1.0, c_)) if how[r, c] == 1 else c_
        kept[(int(r), int(c))] = round(score, 6)
    return kept, counts


def _edge_cells(prep, edges) -> dict[tuple[int, int], float]:
    """Edges as (row, target) -> score, in the scorer's own indices."""
    rows = {(prep.apis[f.api].id, f.field.path): i for i, f in enumerate(prep.fields)}
    if prep.api_level:
        rows = {a.id: i for i, a in enumerate(prep.apis)}
    targets = {(prep.apis[bi].id, p.name, p.location): j for j, (bi, p, _) in enumerate(prep.targets)}
    out = {}
    for e in edges:
        r = rows[e.source_api] if prep.api_level else rows[(e.source_api, e.source_path)]
        out[(r, targets[(e.target_api, e.target_param, e.target_location)])] = e.score
    assert len(out) == len(edges)
    return out


SCORER_CASES = [
    ("default", {}), ("paper", {}), ("similarity", {}), ("default", {"top_k": 2}),
    ("default", {"no_cross_tool_id": True}), ("paper", {"top_k": 3, "no_cross_tool_id": True}),
    ("similarity", {"threshold": 0.35, "top_k": 2}), ("default", {"similarity_floor": 0.25}),
    ("default", {"weak_top_k": 1, "similarity_top_k": 2, "similarity_required_only": False, "threshold": 0.6,
                 "strong_evidence": 0.95}),
]  # fmt: skip


@pytest.fixture(scope="module")
def synthetic() -> tuple[list[ApiSpec], object]:
    apis = scale.synthetic_apis(300, seed=3)
    embedder = scale.HashEmbedder()
    return apis, embedder


@pytest.mark.parametrize("preset,options", SCORER_CASES)
def test_sparse_scorer_makes_every_decision_of_the_dense_rule(synthetic, preset, options):
    apis, embedder = synthetic
    edges, stats = find_candidates(apis, embedder, preset=preset, **options)
    prep = cand._prepare(apis, embedder, cand.preset_config(preset, **options), cand.CandidateStats())
    kept, counts = _dense_oracle(prep)
    assert _edge_cells(prep, edges) == kept
    assert {k: getattr(stats, k) for k in counts} == counts
    assert len(edges) > 0 and stats.kept_by_top_k == len(edges)


@pytest.mark.parametrize("preset,options", SCORER_CASES[:4])
def test_sparse_scorer_matches_the_dense_rule_on_tmdb(tmdb, embedder, preset, options):
    """Real documents: response-example fields, echoes, structure evidence, MiniLM cosines."""
    edges, stats = find_candidates(tmdb, embedder, preset=preset, **options)
    prep = cand._prepare(tmdb, embedder, cand.preset_config(preset, **options), cand.CandidateStats())
    kept, counts = _dense_oracle(prep)
    assert _edge_cells(prep, edges) == kept
    assert {k: getattr(stats, k) for k in counts} == counts


def test_results_do_not_depend_on_the_block_size(synthetic):
    apis, embedder = synthetic
    for preset in ("default", "paper"):
        whole = find_candidates(apis, embedder, preset=preset)
        split = find_candidates(apis, embedder, preset=preset, block_size=7)
        assert [e.model_dump() for e in split[0]] == [e.model_dump() for e in whole[0]]
        assert split[1].model_dump(exclude={"seconds"}) == whole[1].model_dump(exclude={"seconds"})


def test_fast_built_edges_are_ordinary_pydantic_edges(synthetic):
    """Edges are built without validation: they must equal validated ones and behave the same when copied."""
    apis, embedder = synthetic
    gc.disable()
    try:
        edges, _ = find_candidates(apis, embedder)
        assert not gc.isenabled()  # the builder restores the caller's GC state ...
    finally:
        gc.enable()
    find_candidates(apis[:20], embedder)
    assert gc.isenabled()  # ... either way
    for edge in edges[:: max(1, len(edges) // 50)]:
        c = edge.candidate
        validated = DependencyEdge(  # what the builder did before, one validated edge at a time
            source_api=edge.source_api, source_path=edge.source_path, target_api=edge.target_api,
            target_param=edge.target_param, target_location=edge.target_location, score=edge.score,
            source_type=edge.source_type, target_type=edge.target_type,
            candidate=StageResult(status=c.status, code=c.code, reason=c.reason),
        )  # fmt: skip
        assert validated == edge and validated.model_dump() == edge.model_dump()
        assert edge.model_fields_set == validated.model_fields_set
        assert edge.candidate.model_fields_set == validated.candidate.model_fields_set
        assert DependencyEdge.model_validate(edge.model_dump()) == edge
        assert DependencyEdge.from_attrs(edge.source_api, edge.target_api, edge.to_attrs()) == edge
    first, second = edges[0], edges[1]
    copied = first.with_stage("llm_check", StageResult(status="passed", code="ok"))
    assert "llm_check" in copied.model_fields_set and "llm_check" not in second.model_fields_set
    assert second.llm_check == StageResult() and copied.llm_check.status == "passed"
    with pytest.raises(ValidationError):
        first.score = 2.0  # still frozen


def test_the_synthetic_benchmark_document_keeps_its_edge_count():
    """A regression guard for the scale benchmark: the 1,000-API document and its default-preset edges."""
    apis = scale.synthetic_apis(1000, seed=0)
    embedder = scale.HashEmbedder()
    edges, stats = find_candidates(apis, embedder)
    assert (stats.output_fields, stats.target_params, len(edges)) == (9994, 1344, 27988)
    assert (stats.kept_by_evidence, stats.kept_by_similarity) == (27988, 0)
