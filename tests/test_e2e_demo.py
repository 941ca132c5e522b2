"""End to end with the real parts: `goat demo` (demo API + local Hub + embedded LLM + distilabel pipeline), then the
published version loaded back with `datasets.load_dataset` and every row rendered with the Qwen2.5 chat template.

Slow (a few minutes: the 1.5B model writes the text of 2 samples on the CPU). Builds go to a temporary
GOAT_CACHE_DIR; the assembled model is shared with the user's cache so it is converted only once per machine.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from goat_datasets.hub.card import FINGERPRINT_KEY, read_card_metadata
from goat_datasets.llm.models import models_cache_dir
from goat_datasets.servers import free_port

pytestmark = pytest.mark.slow

SAMPLES = 2


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """Run `goat demo --samples 2` once, as a user would, in a private cache directory."""
    shared_models = models_cache_dir()
    shared_models.mkdir(parents=True, exist_ok=True)
    cache = tmp_path_factory.mktemp("goat-cache")
    (cache / "models").symlink_to(shared_models, target_is_directory=True)
    env = {**os.environ, "GOAT_CACHE_DIR": str(cache), "HF_HOME": str(cache / "hf-home")}
    env.pop("HF_ENDPOINT", None)
    goat = Path(sys.executable).with_name("goat")
    proc = subprocess.run(
        [str(goat), "demo", "--samples", str(SAMPLES), "--api-port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    return proc, cache


def test_goat_demo_builds_publishes_loads_and_prints_a_sample(demo_run):
    proc, cache = demo_run
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    out = proc.stdout
    assert "Hub id: org/goat-demo@v1.0.0" in out
    assert 'load_dataset("org/goat-demo", "sft", revision="v1.0.0")' in out
    assert "loaded " in out and "<|im_start|>user" in out  # the sample, rendered with the chat template
    report = json.loads(next((cache / "builds").glob("goat-demo-*/build_report.json")).read_text())
    assert report["counts"]["sampled"] == SAMPLES
    assert report["llm_usage"]["completion_tokens"] > 0


def test_published_rows_load_back_and_render_with_the_qwen_template(demo_run, tmp_path):
    from datasets import load_dataset

    from goat_datasets.formats.render import chat_template_inputs, render_row
    from goat_datasets.hub.client import VersionExistsError, publish_build
    from goat_datasets.hub.endpoint import use_hub_endpoint
    from goat_datasets.hub.server import running_hub
    from goat_datasets.llm.loading import load_tokenizer

    proc, cache = demo_run
    assert proc.returncode == 0, proc.stderr[-4000:]
    build_dir = next((cache / "builds").glob("goat-demo-*"))
    with running_hub(cache / "demo-hub") as url, use_hub_endpoint(url):
        kwargs = dict(revision="v1.0.0", split="train", cache_dir=str(tmp_path / "datasets"))
        configs = {c["config_name"] for c in read_card_metadata((build_dir / "dataset" / "README.md").read_text())["configs"]}
        sft = load_dataset("org/goat-demo", "sft", **kwargs)
        # an empty config is not published (load_dataset cannot load an empty split)
        rejected = load_dataset("org/goat-demo", "rejected", **kwargs).to_list() if "rejected" in configs else []

        # every sampled chain is accounted for: kept, or rejected with its stage and reason
        assert sft.num_rows + len(rejected) == SAMPLES
        assert sft.num_rows >= 1, f"no sample kept; rejected: {rejected}"
        for row in rejected:
            assert row["stage"] and row["reason"]

        tokenizer = load_tokenizer("default")
        for row in sft:
            messages, tools = chat_template_inputs(row)
            text = render_row(tokenizer, row)
            assert row["query"] and row["query"] in text
            assert text.count("<tool_call>") - text.count("</tool_call>") == 0
            assert text.count("<tool_call>") >= row["num_calls"] + 1  # the template's instructions mention it once
            names = {t["function"]["name"] for t in tools}
            called = [c["function"]["name"] for m in messages for c in m.get("tool_calls") or []]
            assert called and set(called) <= names and len(called) == row["num_calls"]
            assert messages[-1]["role"] == "assistant" and messages[-1]["content"] == row["final_answer"]

        # publishing the same build again is a no-op; other data under the same version is refused
        fingerprint = read_card_metadata((build_dir / "dataset" / "README.md").read_text())[FINGERPRINT_KEY]
        assert publish_build("org/goat-demo", build_dir / "dataset", "1.0.0", fingerprint, endpoint=url) == (
            "v1.0.0",
            False,
        )
        with pytest.raises(VersionExistsError, match="different build"):
            publish_build("org/goat-demo", build_dir / "dataset", "1.0.0", "0" * 64, endpoint=url)
        again = load_dataset("org/goat-demo", "sft", revision="v1.0.0", split="train",
                             cache_dir=str(tmp_path / "again"))  # fmt: skip
        assert again.to_list() == sft.to_list()


def test_rejected_config_and_card_are_published(demo_run):
    proc, cache = demo_run
    assert proc.returncode == 0, proc.stderr[-4000:]
    dataset = next((cache / "builds").glob("goat-demo-*/dataset"))
    card = (dataset / "README.md").read_text()
    meta = read_card_metadata(card)
    report = json.loads((dataset.parent / "build_report.json").read_text())
    expected = {"sft"} | ({"rejected"} if report["rejected_by_stage"] else set())
    assert {c["config_name"] for c in meta["configs"]} == expected
    assert (dataset / "data" / "rejected").exists() == ("rejected" in expected)
    assert len(meta[FINGERPRINT_KEY]) == 64
    assert "name: goat-demo" in card  # the verbatim recipe
    assert (dataset / "recipe.yaml").read_text().startswith("# goat demo")
    shutil.rmtree(cache / "builds", ignore_errors=True)
