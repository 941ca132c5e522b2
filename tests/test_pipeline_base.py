"""GoatPipeline (distilabel without per-batch bookkeeping), LoadRows, the steps' worker pool, SQLite connections of
ended threads. Real distilabel pipelines, no LLM."""

import json
import threading
import time
from pathlib import Path

import distilabel
import distilabel.pipeline.base as distilabel_base
import pytest
from distilabel.pipeline import Pipeline
from distilabel.steps import Step, StepInput

from goat_builders.pipeline_base import POLL_S, GoatPipeline, _prompt_polling
from goat_builders.sft_traces import build_pipeline, default_batch_size, run_pipeline
from goat_builders.steps.load import LoadRows, load_rows_step
from goat_builders.steps.traces import _BuildStep
from goat_datasets.cache.store import ResponseCache


class Double(Step):
    @property
    def inputs(self) -> list[str]:
        return ["n"]

    @property
    def outputs(self) -> list[str]:
        return ["doubled"]

    def process(self, inputs: StepInput):  # type: ignore[override]
        for row in inputs:
            row["doubled"] = 2 * row["n"]
        yield inputs


def _pipeline(tmp_path: Path, rows: list[dict], batch_size: int) -> GoatPipeline:
    with GoatPipeline(name="t-goat", cache_dir=str(tmp_path / "distilabel")) as pipeline:
        load = load_rows_step("load", tmp_path / "in" / "rows.jsonl", rows, batch_size, ["n"])
        load >> Double(name="double", input_batch_size=batch_size)
    return pipeline


def test_the_distilabel_internals_goat_pipeline_relies_on_are_there():
    assert distilabel.__version__ == "1.5.3"  # pyproject pins it; a new version needs this module re-read
    for name in ("_output_queue_loop", "_manage_batch_flow", "_cache", "_finalize_pipeline_execution"):
        assert callable(getattr(distilabel_base.BasePipeline, name)), name
    assert isinstance(distilabel_base.BasePipeline.__dict__["_cache_location"], property)
    assert distilabel_base.time is time  # the module polls with time.sleep


def test_a_run_saves_distilabels_state_once_not_after_every_batch(tmp_path, monkeypatch):
    saves: list[str] = []
    locations: list[int] = []
    real_cache, real_location = Pipeline._cache, distilabel_base.BasePipeline._cache_location.fget

    def counting_cache(self):
        saves.append(threading.current_thread().name)
        real_cache(self)

    def counting_location(self):
        locations.append(1)
        return real_location(self)

    monkeypatch.setattr(distilabel_base.BasePipeline, "_cache", counting_cache)
    monkeypatch.setattr(distilabel_base.BasePipeline, "_cache_location", property(counting_location))
    rows = [{"n": i} for i in range(60)]
    out = run_pipeline(_pipeline(tmp_path, rows, batch_size=2))
    assert sorted(r["doubled"] for r in out) == [2 * i for i in range(60)]
    assert len(saves) <= 2  # 30 batches per step; distilabel alone saves after each of the 60
    assert len(locations) <= 12  # computed once per run while batches flow, not once or twice per batch


def test_distilabels_polls_sleep_at_most_poll_s_while_a_pipeline_runs(monkeypatch):
    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)
    with _prompt_polling():
        distilabel_base.time.sleep(2.5)
        distilabel_base.time.sleep(0.001)
        assert distilabel_base.time.monotonic is time.monotonic
    assert distilabel_base.time is time  # restored
    assert slept == [POLL_S, 0.001]


def test_load_rows_reads_its_rows_from_a_file_and_signs_them(tmp_path):
    rows = [{"chain_id": f"c{i}", "chain": json.dumps({"i": i})} for i in range(5)]
    with GoatPipeline(name="t-load", cache_dir=str(tmp_path / "d")):
        step = load_rows_step("load", tmp_path / "rows.jsonl", rows, 2, ["chain_id", "chain"])
        other = load_rows_step("load2", tmp_path / "rows2.jsonl", rows[:4], 2, ["chain_id", "chain"])
        with pytest.raises(ValueError, match="exactly the columns"):
            load_rows_step("load3", tmp_path / "rows3.jsonl", [{"chain_id": "x"}], 2, ["chain_id", "chain"])
    assert isinstance(step, LoadRows) and step.count == 5 and step.outputs == ["chain_id", "chain"]
    assert step.digest != other.digest and step.signature != other.signature
    assert "c0" not in json.dumps(step.dump())  # the rows are not an attribute: distilabel's dumps stay small
    batches = list(step.process())
    assert [len(b) for b, _ in batches] == [2, 2, 1] and [last for _, last in batches] == [False, False, True]
    assert [r["chain_id"] for b, _ in batches for r in b] == [r["chain_id"] for r in rows]
    assert [r["chain_id"] for b, _ in step.process(offset=4) for r in b] == ["c4"]
    (tmp_path / "rows.jsonl").write_text("{}\n")
    with pytest.raises(RuntimeError, match="has 1 rows, expected 5"):
        list(step.process())


def test_a_pipeline_without_rows_returns_none_at_once(tmp_path):
    assert run_pipeline(_pipeline(tmp_path, [], batch_size=2)) == []
    (tmp_path / "apis.json").write_text("[]")
    traces = build_pipeline(name="t", build_dir=tmp_path, chains=[], sources=[], llm_config={})
    assert run_pipeline(traces) == []


def test_batches_are_at_least_as_large_as_the_concurrency(tmp_path):
    assert default_batch_size(1) == 8 and default_batch_size(32) == 32
    (tmp_path / "apis.json").write_text("[]")
    pipeline = build_pipeline(
        name="t", build_dir=tmp_path, chains=[], sources=[], llm_config={}, concurrency=16, judge=True
    )
    steps = [pipeline.dag.get_step(n)["step"] for n in pipeline.dag]
    assert {s.concurrency for s in steps if hasattr(s, "concurrency")} == {16}
    assert {s.input_batch_size for s in steps if hasattr(s, "input_batch_size")} == {16}
    with pytest.raises(ValueError, match="batch_size 8 < concurrency 16"):
        build_pipeline(name="t", build_dir=tmp_path, chains=[], sources=[], llm_config={}, concurrency=16, batch_size=8)


class _Recorder(_BuildStep):
    @property
    def inputs(self) -> list[str]:
        return ["n"]

    @property
    def outputs(self) -> list[str]:
        return ["thread"]

    def process(self, inputs: StepInput):  # type: ignore[override]
        yield inputs


def test_a_steps_workers_live_across_batches(tmp_path):
    (tmp_path / "apis.json").write_text("[]")
    step = _Recorder(name="rec", build_dir=str(tmp_path), concurrency=3)
    step.load()
    try:
        threads: set[str] = set()

        def record(row: dict) -> None:
            time.sleep(0.01)
            threads.add(threading.current_thread().name)

        for _ in range(5):
            step._map(record, [{"n": i} for i in range(6)])
        assert 1 <= len(threads) <= 3  # the same three workers for every batch
    finally:
        step.unload()
    assert step._pool is None


def test_connections_of_ended_threads_are_closed(tmp_path):
    cache = ResponseCache(tmp_path / "calls.sqlite")
    try:
        for i in range(40):  # a new thread each time, as a step that started new workers per batch would
            t = threading.Thread(target=cache.put, args=("api", {"i": i}, {"response": i, "ok": True}))
            t.start()
            t.join()
        assert len(cache._connections) <= 2  # the caller's, and the last thread's until the next one opens
        assert len(cache) == 40
    finally:
        cache.close()


@pytest.mark.slow
def test_rows_rejected_early_skip_the_later_steps_and_come_back_in_order(tmp_path, monkeypatch):
    """Every API call fails (the API is gone by the time the pipeline runs): no LLM step has work, nothing hangs
    (distilabel waits forever for a step that never gets a row), and the pipeline returns one rejected row per
    chain, in chain order, with its APIs."""
    from demo_builds import demo_api, write_recipe
    from fake_llm import FakeLLM

    from goat_builders.build import build_graph_stage, prepare_build, sample_stage
    from goat_builders.steps.context import SET_ASIDE_FILE, read_build_log
    from goat_datasets.recipe import load_recipe
    from goat_datasets.servers import serve_in_thread

    monkeypatch.setenv("GOAT_CACHE_DIR", str(tmp_path / "cache"))
    fake = FakeLLM(delay_s=0.0)
    quiet = lambda *_: None  # noqa: E731
    with fake.serve() as llm_url:
        with serve_in_thread(demo_api([], lambda: ""), health_path="/health") as api_url:
            recipe = load_recipe(write_recipe(tmp_path, api_url, llm_url, n=10))
            setup = prepare_build(recipe, quiet)
            graph = build_graph_stage(recipe, setup.apis, setup.build_dir, setup.exec_configs, quiet)
            chains = sample_stage(recipe, graph, setup.apis, setup.build_dir, quiet)
        fake.phase = "pipeline"
        llm_config = {"base_url": llm_url, "model": "fake", "temperature": 0.0, "max_new_tokens": 64, "seed": 0}
        pipeline = build_pipeline(
            name="gone", build_dir=setup.build_dir, chains=chains, sources=setup.exec_configs, llm_config=llm_config,
            concurrency=2,
        )  # fmt: skip
        rows = run_pipeline(pipeline)
    assert [r["chain_id"] for r in rows] == [c["id"] for c in chains] and len(rows) == 10
    assert {r["status"] for r in rows} == {"rejected"} and {r["stage"] for r in rows} <= {"execution", "arguments"}
    assert all(r["api_ids"] and r["reason"] for r in rows)
    kinds = {kind for kind, _ in fake.requests("pipeline")}
    assert kinds <= {"arguments"}  # no sub-instruction, query, answer or judge request: those steps saw no row
    later = [r for r in read_build_log(setup.build_dir) if r["step"] != "execute_chains"]
    assert all(r["ok"] == 0 and r["llm_live"] == r["llm_cached"] == 0 for r in later)  # whole rejected batches ride on
    assert not (setup.build_dir / SET_ASIDE_FILE).exists()
