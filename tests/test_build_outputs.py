"""The sft output's options and the goat_tasks output, end to end: `goat build` on the demo API (real HTTP, real
distilabel pipeline) with the fake OpenAI-compatible LLM, sampling fan-out subgraphs so that independent calls exist.

Checked: independent calls become one assistant turn with several tool calls (and separate turns with
``parallel_calls: false``); every sft row is rendered with the Qwen2.5 and Llama 3.1 templates at build time, and the
report lists exactly the rows Llama 3.1 cannot take (several calls in one turn); goat_tasks holds the planning,
arguments and final-answer rows of every kept sample.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml
from demo_builds import demo_api, finish, only_build_dir, start_build, write_recipe
from fake_llm import FakeLLM

from goat_datasets.servers import serve_in_thread

pytest.importorskip("trl", reason="the chat templates come from trl (the train extra)")


def _build(tmp_path: Path, parallel: bool) -> Path:
    fake = FakeLLM(delay_s=0.0)
    with fake.serve() as llm_url, serve_in_thread(demo_api([], lambda: ""), health_path="/health") as api:
        path = write_recipe(tmp_path, api, llm_url, n=6)
        recipe = yaml.safe_load(path.read_text())
        recipe["sampling"].update(shapes={"fan_out": 1.0}, min_calls=3, max_calls=3, coverage_k=0)
        recipe["filters"] = {"judge": False}
        recipe["outputs"] = {"sft": {"parallel_calls": parallel}, "goat_tasks": {"max_candidates": 4}}
        path.write_text(yaml.safe_dump(recipe, sort_keys=False))
        proc = start_build(path, tmp_path / "cache", tmp_path / "build.log")
        out = finish(proc, tmp_path / "build.log")
    assert proc.returncode == 0, out[-4000:]
    return only_build_dir(tmp_path / "cache")


def _table(build_dir: Path, config: str) -> list[dict]:
    return pq.read_table(next((build_dir / "dataset" / "data" / config).glob("*.parquet"))).to_pylist()


@pytest.mark.slow
@pytest.mark.parametrize("parallel", [True, False])
def test_parallel_calls_template_checks_and_goat_tasks(tmp_path: Path, parallel: bool):
    build_dir = _build(tmp_path, parallel)
    sft = _table(build_dir, "sft")
    assert sft, "no sample was kept"
    widest = {
        r["id"]: max(len(m["tool_calls"] or []) for m in r["messages"] if m["role"] == "assistant") for r in sft
    }
    for row in sft:  # a fan-out of 3: the root, then its two children (independent of each other) together
        calls = [c for m in row["messages"] if m["role"] == "assistant" for c in (m["tool_calls"] or [])]
        tool_messages = [m for m in row["messages"] if m["role"] == "tool"]
        assert len(calls) == len(tool_messages) == row["num_calls"] == 3
        assert [m["tool_call_id"] for m in tool_messages] == [c["id"] for c in calls]
    assert set(widest.values()) == ({2} if parallel else {1})

    report = json.loads((build_dir / "build_report.json").read_text())
    checks = report["chat_templates"]["templates"]
    assert checks["qwen2.5"]["rendered"] == len(sft) and checks["qwen2.5"]["rejected"] == 0
    llama = checks["llama3.1"]
    assert llama["rejected"] == (len(sft) if parallel else 0) and llama["rendered"] + llama["rejected"] == len(sft)
    if parallel:
        assert "parallel_calls: false" in llama["examples"][0]["reason"]
    card = (build_dir / "dataset" / "README.md").read_text()
    assert f"| llama3.1 | {llama['model']} | {llama['rendered']} | {llama['rejected']} |" in card

    tasks = _table(build_dir, "goat_tasks")
    by_item: dict[str, list[dict]] = {}
    for row in tasks:
        by_item.setdefault(row["item_id"], []).append(row)
    assert set(by_item) == {r["chain_id"] for r in sft}
    for item_id, rows in by_item.items():
        kinds = [r["task"] for r in rows]
        assert kinds == ["planning", "arguments", "arguments", "arguments", "final_answer"]
        plan = rows[0]
        assert len(plan["candidate_api_ids"]) == 4
        gold = next(r for r in sft if r["chain_id"] == item_id)
        assert set(gold["api_ids"]) <= set(plan["candidate_api_ids"])
        assert rows[-1]["messages"][-1]["content"] == gold["final_answer"]


RECIPE = """\
name: r
version: 1.0.0
hub: {repo_id: org/r}
sources:
  - {name: demo, spec: "http://127.0.0.1:1/openapi.json", base_url: "http://127.0.0.1:1"}
outputs:
"""


def test_output_settings_are_checked_where_they_are_written():
    from goat_datasets.formats.sft import PROMPT_RESPONSE_CHARS
    from goat_datasets.recipe import RecipeError, parse_recipe
    from goat_datasets.recipe.schema import ThreeTaskOptions

    ok = parse_recipe(RECIPE + "  sft: {parallel_calls: false}\n  goat_tasks: {seed: 3}\n", file="r.yaml")
    assert ok.outputs.sft.parallel_calls is False and ok.outputs.sft.check_templates == ["qwen2.5", "llama3.1"]
    assert ok.outputs.goat_tasks.seed == 3 and ok.outputs.goat_tasks.max_candidates == 6
    assert ThreeTaskOptions().response_chars == PROMPT_RESPONSE_CHARS  # the trace prompts' cut, the paper's 1024

    with pytest.raises(RecipeError) as err:
        parse_recipe(RECIPE + "  sft: {check_templates: [qwen2.5, lama3.1]}\n", file="r.yaml")
    assert "r.yaml:7" in str(err.value) and "did you mean 'llama3.1'" in str(err.value)
    with pytest.raises(RecipeError) as err:
        parse_recipe(RECIPE + "  sft: null\n  goat_tasks: {}\n", file="r.yaml")
    assert "r.yaml:8" in str(err.value) and "goat_tasks are made from the sft samples" in str(err.value)
