"""The publishable folder written from the pipeline's rows: typed parquet configs, card, and no empty configs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from datasets import load_dataset

from goat_builders.build import BuildResult, NothingToPublish, require_publishable, summarise, write_dataset
from goat_datasets.formats.sft import build_messages
from goat_datasets.hub.card import read_card_metadata
from goat_datasets.recipe import load_recipe

RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "demo.yaml"
CALLS = [{"name": "get_movie", "arguments": {"movie_id": "m0001"}, "response": {"title": "Dune"}}]


def _ok_row(i: int) -> dict:
    return {
        "chain_id": f"chain-{i}", "status": "ok", "stage": "", "reason": "", "query": "What is m0001?",
        "final_answer": "Dune.", "api_ids": ["demo.get_movie"], "calls": json.dumps(CALLS),
        "messages": json.dumps(build_messages("What is m0001?", CALLS, "Dune.")),
        "tools": json.dumps([{"type": "function", "function": {"name": "get_movie", "parameters": {}}}]),
        "usage": json.dumps({"calls": 2, "completion_tokens": 30, "seconds": 3.0}),
    }  # fmt: skip


def _rejected_row(i: int) -> dict:
    return {
        "chain_id": f"chain-r{i}", "status": "rejected", "stage": "execution", "reason": "get_movie failed (404)",
        "api_ids": ["demo.get_movie"], "calls": "[]", "usage": "{}", "query": "", "final_answer": "",
        "messages": None, "tools": None,
    }  # fmt: skip


def _write(tmp_path, rows):
    recipe = load_recipe(RECIPE)
    counts, by_stage, usage = summarise(rows, len(rows))
    out = write_dataset(recipe, rows, tmp_path, "f" * 64, {"llm": "m", "embedder": "e"}, counts, usage)
    return out, counts, by_stage, usage


def test_rows_become_loadable_configs_with_card(tmp_path):
    out, counts, by_stage, usage = _write(tmp_path, [_ok_row(0), _ok_row(1), _rejected_row(0)])
    assert counts == {"sampled": 3, "executed_ok": 2, "kept": 2} and by_stage == {"execution": 1}
    assert usage["request_seconds"] == 6.0 and usage["completion_tokens"] == 60
    meta = read_card_metadata((out / "README.md").read_text())
    assert {c["config_name"] for c in meta["configs"]} == {"sft", "rejected"}
    sft = load_dataset(str(out), "sft", split="train")
    assert sft.num_rows == 2 and sft[0]["messages"][1]["tool_calls"][0]["function"]["arguments"] == {"movie_id": "m0001"}
    rejected = load_dataset(str(out), "rejected", split="train")
    assert rejected[0]["stage"] == "execution" and "404" in rejected[0]["reason"]


def test_an_empty_config_is_left_out_not_published_empty(tmp_path):
    out, *_ = _write(tmp_path, [_ok_row(0)])
    meta = read_card_metadata((out / "README.md").read_text())
    assert [c["config_name"] for c in meta["configs"]] == ["sft"]
    assert not (out / "data" / "rejected").exists()
    assert load_dataset(str(out), "sft", split="train").num_rows == 1


def test_a_build_without_kept_samples_is_not_publishable(tmp_path):
    out, counts, by_stage, _ = _write(tmp_path, [_rejected_row(0), _rejected_row(1)])
    result = BuildResult(tmp_path, "f" * 64, out, counts, {"rejected_by_stage": by_stage})
    with pytest.raises(NothingToPublish, match="execution: 2"):
        require_publishable(result)
