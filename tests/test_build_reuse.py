"""An edited prompt template (or any code change) starts a fresh build directory, whose calls are carried over from
the previous build of the same recipe: only the changed step and those after it ask again.

End to end and in process (distilabel forks its step processes from here, so they see the edited template): the
demo API over real HTTP, the real trace pipeline, the fake OpenAI-compatible LLM, whose request log is the count.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from demo_builds import demo_api, write_recipe
from fake_llm import FakeLLM

import goat_builders.build as build_module
import goat_builders.prompting as prompting
from goat_builders.build import run_build
from goat_builders.reuse import INPUTS_FILE, carry_over_calls, record_inputs
from goat_builders.steps.context import read_build_log
from goat_datasets.cache.store import ResponseCache
from goat_datasets.recipe import load_recipe
from goat_datasets.servers import serve_in_thread


def _rows(build_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (build_dir / "rows.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_an_edited_judge_template_asks_only_the_judge_again(tmp_path, monkeypatch):
    monkeypatch.setenv("GOAT_CACHE_DIR", str(tmp_path / "cache"))
    api_log: list[tuple[str, str, int]] = []
    fake = FakeLLM(delay_s=0.0)
    quiet = lambda *_: None  # noqa: E731
    with fake.serve() as llm_url, serve_in_thread(demo_api(api_log, lambda: ""), health_path="/health") as api:
        recipe = load_recipe(write_recipe(tmp_path, api, llm_url, n=6))
        fake.phase = "first"
        first = run_build(recipe, quiet)

        prompts = tmp_path / "prompts"
        shutil.copytree(prompting.PROMPTS_DIR, prompts)
        judge = prompts / "judge.jinja"
        judge.write_text(judge.read_text() + "\nBe strict about dates.\n")
        monkeypatch.setattr(prompting, "PROMPTS_DIR", prompts)
        prompting._env.cache_clear()
        monkeypatch.setattr(build_module, "code_version", lambda: "edited-judge-template")
        fake.phase = "second"
        second = run_build(recipe, quiet)
    prompting._env.cache_clear()

    assert second.build_dir != first.build_dir  # other code, other fingerprint, fresh directory
    kinds_first = [kind for kind, _ in fake.requests("first")]
    kinds_second = [kind for kind, _ in fake.requests("second")]
    assert kinds_first.count("judge") >= 3 and "query" in kinds_first
    assert set(kinds_second) == {"judge"} and len(kinds_second) == kinds_first.count("judge")
    log_second = read_build_log(second.build_dir)
    # the graph's execution check calls the API again (its stage is redone), the trace pipeline does not
    assert sum(r["api_live"] for r in log_second) == 0 and sum(r["api_cached"] for r in log_second) > 0
    by_step: dict[str, int] = {}
    for r in log_second:
        by_step.setdefault(r["step"], 0)
        by_step[r["step"]] += r["llm_live"]
    assert by_step["execute_chains"] == by_step["write_query_and_answer"] == 0 and by_step["judge"] > 0
    strip = lambda rows: [{k: v for k, v in r.items() if k != "usage"} for r in rows]  # noqa: E731
    assert strip(_rows(second.build_dir)) == strip(_rows(first.build_dir))  # the fake judge says the same


def test_calls_are_carried_over_only_from_a_build_of_the_same_inputs(tmp_path):
    builds = tmp_path / "builds"
    old, other, new = builds / "r-old", builds / "r-other", builds / "r-new"
    for d in (old, other, new):
        d.mkdir(parents=True)
    with ResponseCache(old / "calls.sqlite") as cache:
        cache.put("api", {"x": 1}, {"response": {"ok": 1}, "ok": True})
    with ResponseCache(other / "calls.sqlite") as cache:
        cache.put("api", {"x": 2}, {"response": {"ok": 2}, "ok": True})
    record_inputs(old, "key-a", "fp-old")
    record_inputs(other, "key-b", "fp-other")
    lines: list[str] = []
    assert carry_over_calls(new, "key-c", lines.append) is None and not (new / "calls.sqlite").exists()
    assert carry_over_calls(new, "key-a", lines.append) == old
    assert "1 API responses, 0 LLM generations" in lines[-1]
    with ResponseCache(new / "calls.sqlite", create=False) as cache:
        assert cache.get("api", {"x": 1}) is not None and cache.get("api", {"x": 2}) is None
    assert carry_over_calls(new, "key-a", lines.append) is None  # it has calls of its own now: never overwritten
    assert not (new / INPUTS_FILE).exists()  # prepare_build records the inputs after carrying


@pytest.mark.slow
def test_llm_concurrency_sets_the_batches_and_changing_it_keeps_the_build(tmp_path, monkeypatch):
    """``llm.concurrency`` from the recipe reaches the pipeline (batches of that many rows), and since it changes
    speed only, a rerun with another value resumes the same build directory instead of starting again."""
    monkeypatch.setenv("GOAT_CACHE_DIR", str(tmp_path / "cache"))
    fake = FakeLLM(delay_s=0.0)
    lines: list[str] = []
    with fake.serve() as llm_url, serve_in_thread(demo_api([], lambda: ""), health_path="/health") as api:
        path = write_recipe(tmp_path, api, llm_url, n=12)
        fast = load_recipe(path, overrides=["llm.concurrency=12"])
        fake.phase = "first"
        first = run_build(fast, lines.append)
        slow = load_recipe(path, overrides=["llm.concurrency=1"])
        fake.phase = "second"
        second = run_build(slow, lines.append)
    executed = [r for r in read_build_log(first.build_dir) if r["step"] == "execute_chains"]
    assert [r["rows"] for r in executed] == [12]  # one batch of 12 rows: the batch is as large as the concurrency
    assert second.build_dir == first.build_dir and fake.requests("second") == []
    assert any(line.startswith("generation: reusing 12 rows") for line in lines)
