"""goat-train: dataset ids and errors, model specs, cache-backed tool responses, evaluation metrics, and real trl runs
(SFTTrainer and GRPOTrainer steps through the CLI) on datasets published to the local Hub.

The models are tiny Qwen2 networks built from a config (2 layers, hidden 64) with a small byte-level BPE tokenizer
trained here on the test data, carrying Qwen's special tokens and trl's copy of the Qwen2.5 chat template (see the
``tokenizer`` fixture for why not the real 152k vocabulary). The real Qwen2.5-Coder tokenizer, when the converted
embedded model is on disk, is used where only its template matters. Data: real Booking.com chains and recorded
responses from the graduated-reward paper's release (shared data).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

pytest.importorskip("trl")
pytest.importorskip("peft")

import datasets  # noqa: E402
import huggingface_hub.constants as hf_constants  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from goat_datasets.formats.rl import RL_FEATURES, rl_row  # noqa: E402
from goat_datasets.formats.sft import SFT_FEATURES, build_messages  # noqa: E402
from goat_datasets.hub.client import publish_folder  # noqa: E402
from goat_datasets.hub.endpoint import use_hub_endpoint  # noqa: E402
from goat_datasets.hub.server import running_hub  # noqa: E402
from goat_datasets.sources.functions import load_functions_source  # noqa: E402
from goat_train.cli import app  # noqa: E402
from goat_train.data import load_split, parse_dataset_ref, require_columns  # noqa: E402
from goat_train.errors import TrainingInputError  # noqa: E402
from goat_train.evaluate import (  # noqa: E402
    LLMJudge,
    Prediction,
    gold_plan,
    match_predictions,
    score_predictions,
    score_row,
    turns_of,
)
from goat_train.models import precision, resolve_model  # noqa: E402
from goat_train.rewards import make_reward_func  # noqa: E402
from goat_train.tool_cache import MISS, ToolResponseCache, replaying, with_tool_responses  # noqa: E402
from shared_data import SHARED_DATA  # noqa: E402

BOOKING = SHARED_DATA / "booking-orchestration"
ORG = "goat"
CARD = """---
configs:
{configs}
---
# goat-train test data
"""


# ----------------------------------------------------------------------------------------------------- real data


def booking_tools() -> dict[str, dict]:
    result = load_functions_source((BOOKING / "booking_api_functions.jsonl").read_bytes(), source="booking",
                                   doc_name="booking_api_functions.jsonl")
    return {api.tool_schema()["function"]["name"]: api.tool_schema() for api in result.apis}


def booking_samples(indices) -> list[dict]:
    samples = json.loads((BOOKING / "training_workflows.json").read_text())
    return [samples[i] for i in indices]


def gold_steps_of(sample: dict) -> list[dict]:
    return [
        {
            "name": step["ground_truth"]["function"],
            "arguments": step["ground_truth"]["arguments"],
            "depends_on": step["depends_on"],
            "response": step["execution_result"]["execution_result"],
        }
        for step in sample["steps"]
    ]


def rl_rows(indices) -> list[dict]:
    tools = booking_tools()
    rows = []
    for index, sample in zip(indices, booking_samples(indices)):
        gold = gold_steps_of(sample)
        names = list(dict.fromkeys([s["name"] for s in gold] + sample["steps"][0]["candidate_tools"][:3]))
        rows.append(rl_row(
            id=f"rl-{index}", query=sample["query"], tools=[tools[n] for n in names], gold_steps=gold,
            template_id=sample["workflow_id"], api_ids=[f"booking.{s['name']}" for s in gold], provenance="real",
        ))
    return rows


def _default(feature) -> object:
    if isinstance(feature, datasets.Value):
        return 0 if feature.dtype.startswith("int") else ""
    return []


def _trimmed(value, depth: int = 0):
    """A recorded response cut down to its shape (first list item, short strings) so tiny test models train fast."""
    if isinstance(value, dict):
        return {k: _trimmed(v, depth + 1) for k, v in list(value.items())[:6]} if depth < 4 else {}
    if isinstance(value, list):
        return [_trimmed(value[0], depth + 1)] if value and depth < 4 else []
    return value[:40] if isinstance(value, str) else value


def sft_rows(indices) -> list[dict]:
    tools = booking_tools()
    rows = []
    for index, sample in zip(indices, booking_samples(indices)):
        gold = [dict(step, response=_trimmed(step["response"])) for step in gold_steps_of(sample)]
        row = {name: _default(feature) for name, feature in SFT_FEATURES.items()}
        row.update(
            id=f"sft-{index}", query=sample["query"], final_answer="Here is what I found for your trip.",
            messages=build_messages(sample["query"], gold, "Here is what I found for your trip."),
            tools=json.dumps([tools[s["name"]] for s in gold]), api_ids=[s["name"] for s in gold],
            num_calls=len(gold),
        )
        rows.append(row)
    return rows


def rl_cache_rows(rows: list[dict]) -> list[dict]:
    """The recorded responses as ``rl_cache`` rows (ids with the source prefix, as the cache stores them)."""
    from goat_datasets.cache.keys import canonical_key

    out, seen = [], set()
    for row in rows:
        for api_id, step in zip(row["api_ids"], json.loads(row["gold_steps"])):
            key = canonical_key(step["arguments"])
            if (api_id, key) not in seen:
                seen.add((api_id, key))
                out.append({"api_id": api_id, "key": key, "arguments": json.dumps(step["arguments"]),
                            "response": json.dumps(step["response"]), "ok": True, "provenance": "real"})
    return out


def write_build(folder: Path, tables: dict[str, tuple[str, list[dict], datasets.Features | None]]) -> Path:
    """A publishable folder: data/<config>/<split>-00000-of-00001.parquet per table, and a card listing them."""
    lines = []
    for config, (split, rows, features) in tables.items():
        (folder / "data" / config).mkdir(parents=True, exist_ok=True)
        datasets.Dataset.from_list(rows, features=features).to_parquet(
            str(folder / "data" / config / f"{split}-00000-of-00001.parquet"))
        lines += [f"- config_name: {config}", "  data_files:", f"  - split: {split}",
                  f"    path: data/{config}/{split}-*.parquet"]
    (folder / "README.md").write_text(CARD.format(configs="\n".join(lines)), encoding="utf-8")
    return folder


# ------------------------------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    """The local Hub with the real clients pointed at it; every client cache in a temp dir."""
    root = tmp_path_factory.mktemp("hub")
    with pytest.MonkeyPatch.context() as mp, running_hub(root / "store") as url:
        mp.setattr(hf_constants, "HF_HUB_CACHE", str(root / "hf-cache"))
        mp.setattr(datasets.config, "HF_DATASETS_CACHE", root / "ds-cache")
        mp.setattr(datasets.config, "HF_MODULES_CACHE", root / "ds-modules")
        with use_hub_endpoint(url):
            yield url


@pytest.fixture(scope="module")
def published(hub, tmp_path_factory):
    """goat/tiny-sft (config sft) and goat/tiny-rl (configs rl + rl_cache), tagged v1.0.0; name -> commit sha."""
    root = tmp_path_factory.mktemp("builds")
    rl = rl_rows([0, 1, 3, 4])
    shas = {
        "tiny-sft": publish_folder(f"{ORG}/tiny-sft", write_build(root / "sft", {
            "sft": ("train", sft_rows([0, 1, 2, 3]), SFT_FEATURES)}), "1.0.0", endpoint=hub),
        "tiny-rl": publish_folder(f"{ORG}/tiny-rl", write_build(root / "rl", {
            "rl": ("train", rl, RL_FEATURES), "rl_cache": ("train", rl_cache_rows(rl), None)}), "1.0.0", endpoint=hub),
    }
    return shas


def _converted_qwen_tokenizer_dir() -> Path | None:
    """The tokenizer of the converted embedded Qwen model, found without hashing the GGUF."""
    from goat_datasets.llm.models import get_model, models_cache_dir, packaged_models

    for name in packaged_models.names():
        entry = get_model(name)
        if not name.startswith("qwen"):
            continue
        for dtype in ("bfloat16", "float32"):
            folder = models_cache_dir() / f"{entry.name}-{entry.sha256[:12]}" / f"transformers-{dtype}"
            if (folder / "tokenizer.json").is_file() and (folder / "tokenizer_config.json").is_file():
                return folder
    return None


def _small_bpe_tokenizer():
    """A byte-level BPE trained on the test data, with Qwen's special tokens and trl's Qwen2.5 chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast
    from trl.chat_template_utils import qwen2_5_chat_template

    texts = [json.dumps(r) for r in rl_rows([0, 1, 3, 4])] + [json.dumps(booking_tools())]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=8000, special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    fast.add_tokens(["<tool_call>", "</tool_call>", "<tool_response>", "</tool_response>"])
    fast.chat_template = qwen2_5_chat_template
    return fast


@pytest.fixture(scope="module")
def tokenizer():
    """The small BPE tokenizer (or, with GOAT_TEST_QWEN_TOKENIZER=1, the real Qwen2.5 one when it is on disk).

    The real vocabulary loads in ~3 s but makes every step ~50x dearer (a 152k-way softmax over 1-2k-token tool
    prompts: 2 SFT steps took 215 s and 2 GRPO steps 230 s on 2 shared cores), so the trainer tests use 3k tokens
    with Qwen's special tokens and trl's copy of the Qwen2.5 chat template.
    """
    folder = _converted_qwen_tokenizer_dir() if os.environ.get("GOAT_TEST_QWEN_TOKENIZER") else None
    if folder is None:
        return _small_bpe_tokenizer()
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(folder))


def _tiny_qwen(tokenizer, seed: int = 0):
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(seed)
    config = Qwen2Config(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=4096, tie_word_embeddings=True,
        eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"), pad_token_id=tokenizer.pad_token_id,
    )
    return Qwen2ForCausalLM(config)


@pytest.fixture(scope="module")
def tiny_model(tokenizer, tmp_path_factory) -> Path:
    """A freshly initialised tiny Qwen2 model saved with the tokenizer (a real architecture, random weights)."""
    folder = tmp_path_factory.mktemp("tiny-model")
    _tiny_qwen(tokenizer).save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return folder


def first_call_text(gold_cell: str) -> str:
    step = json.loads(gold_cell)[0]
    return "<tool_call>\n" + json.dumps({"name": step["name"], "arguments": step["arguments"]}) + "\n</tool_call>"


@pytest.fixture(scope="module")
def warm_model(tokenizer, tmp_path_factory) -> Path:
    """The tiny model taught (plain torch, 100 steps, ~30 s) to answer the first rl prompt with its first gold call.

    GRPO needs rollouts that differ in reward: a random model scores 0 everywhere and then has nothing to learn.
    After 100 steps (loss ~0.02) most sampled rollouts are the exact call and some are broken, so both occur.
    """
    import torch

    from goat_train.grpo import render_prompts

    rows = datasets.Dataset.from_list(rl_rows([0]), features=RL_FEATURES)
    prompts = render_prompts(rows, tokenizer, "warm-up")
    prompt_ids = tokenizer(prompts["prompt"][0], add_special_tokens=False)["input_ids"]
    target = tokenizer(first_call_text(prompts["gold_steps"][0]) + "<|im_end|>", add_special_tokens=False)["input_ids"]
    ids, labels = torch.tensor([prompt_ids + target]), torch.tensor(target)
    model = _tiny_qwen(tokenizer)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(100):
        logits = model(input_ids=ids, logits_to_keep=len(target) + 1).logits[0, :-1]
        loss = torch.nn.functional.cross_entropy(logits, labels)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    assert loss.item() < 0.2, f"warm-up did not converge (loss {loss.item():.3f})"
    folder = tmp_path_factory.mktemp("warm-model")
    model.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return folder


def cli(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


# ------------------------------------------------------------------------------------------------- dataset ids


def test_dataset_refs(tmp_path):
    ref = parse_dataset_ref("org/goat-demo@v1.0.0")
    assert (ref.repo_id, ref.revision, ref.is_local) == ("org/goat-demo", "v1.0.0", False)
    assert parse_dataset_ref("org/goat-demo").revision is None
    folder = tmp_path / "org" / "local-data"
    folder.mkdir(parents=True)
    assert parse_dataset_ref(str(folder)).path == str(folder.resolve())
    with pytest.raises(TrainingInputError, match="nothing after '@'"):
        parse_dataset_ref("org/name@")
    with pytest.raises(TrainingInputError, match="neither an existing local path nor a Hub id"):
        parse_dataset_ref("just-a-name")


def test_hub_loading_pins_the_commit_and_errors_list_what_exists(published):
    loaded = load_split(f"{ORG}/tiny-rl@v1.0.0", "rl", None)
    assert loaded.resolved_revision == published["tiny-rl"] and loaded.split == "train"
    assert len(loaded.dataset) == 4 and set(loaded.configs) == {"rl", "rl_cache"}
    assert loaded.provenance()["resolved_revision"] == published["tiny-rl"]
    by_sha = load_split(f"{ORG}/tiny-rl@{published['tiny-rl']}", "rl_cache", None)
    assert by_sha.resolved_revision == published["tiny-rl"] and "key" in by_sha.dataset.column_names

    with pytest.raises(TrainingInputError, match=r"not found on http://127\.0\.0\.1"):
        load_split(f"{ORG}/no-such-data@v1.0.0", "rl", None)
    with pytest.raises(TrainingInputError, match=r"no revision 'v1\.0\.1'.*did you mean 'v1\.0\.0'.*tags: v1\.0\.0"):
        load_split(f"{ORG}/tiny-rl@v1.0.1", "rl", None)
    with pytest.raises(TrainingInputError,
                       match=r"no config 'rl-cache'; did you mean 'rl_cache'.*available: rl, rl_cache"):
        load_split(f"{ORG}/tiny-rl@v1.0.0", "rl-cache", None)
    with pytest.raises(TrainingInputError, match=r"no split 'test'.*available: train"):
        load_split(f"{ORG}/tiny-rl@v1.0.0", "rl", "test")
    with pytest.raises(TrainingInputError, match=r"several configs \(rl, rl_cache\); choose one with --config"):
        load_split(f"{ORG}/tiny-rl@v1.0.0", None, None)
    with pytest.raises(TrainingInputError, match=r"missing column\(s\) 'messages'; the dataset has \["):
        require_columns(loaded.dataset, ["messages", "tools"], "sft dataset")


def test_local_dataset_folder_and_file(tmp_path):
    folder = write_build(tmp_path / "build", {"rl": ("train", rl_rows([0, 1]), RL_FEATURES)})
    loaded = load_split(str(folder), "rl", None)
    assert len(loaded.dataset) == 2 and loaded.resolved_revision.startswith("sha256:")
    again = load_split(str(folder), "rl", None)
    assert again.resolved_revision == loaded.resolved_revision  # a content hash, stable across loads
    jsonl = tmp_path / "rows.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in rl_rows([0])))
    assert load_split(str(jsonl)).dataset["id"] == ["rl-0"]
    with pytest.raises(TrainingInputError, match="no config 'sft'.*available: rl"):
        load_split(str(folder), "sft", None)


def test_cli_bad_input_exits_2_with_one_clear_line(published, tmp_path):
    out = str(tmp_path / "out")
    result = cli("sft", "--dataset", f"{ORG}/tiny-rl@v1.0.0", "--config", "rl", "--model", str(tmp_path),
                 "--output-dir", out)
    assert result.exit_code == 2 and "missing column(s) 'messages'" in result.output
    result = cli("sft", "--dataset", f"{ORG}/tiny-sft@v2.0.0", "--model", str(tmp_path), "--output-dir", out)
    assert result.exit_code == 2 and "no revision 'v2.0.0'" in result.output and "v1.0.0" in result.output
    result = cli("grpo", "--dataset", f"{ORG}/tiny-sft@v1.0.0", "--model", str(tmp_path), "--output-dir", out)
    assert result.exit_code == 2 and "no config 'rl'" in result.output and "available: sft" in result.output
    result = cli("grpo", "--dataset", f"{ORG}/tiny-rl@v1.0.0", "--model", str(tmp_path), "--output-dir", out,
                 "--reward", "totl")
    assert result.exit_code == 2 and "did you mean 'total'" in result.output
    result = cli("eval", "--dataset", f"{ORG}/tiny-rl@v1.0.0", "--config", "rl")
    assert result.exit_code == 2 and "exactly one of --predictions" in result.output
    result = cli("sft", "--dataset", f"{ORG}/tiny-sft@v1.0.0", "--model", str(tmp_path), "--output-dir", out)
    assert result.exit_code == 2 and "neither config.json" in result.output  # an empty folder is not a model


def test_console_entry_point_exit_status_and_stderr(tmp_path):
    """The real process: bad input is one line on stderr and status 2, before torch or trl is imported."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "goat_train.cli", "grpo", "--dataset", "not-an-id", "--model", "x", "--output-dir",
         str(tmp_path)], capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip() == (
        "error: dataset 'not-an-id' is neither an existing local path nor a Hub id 'org/name[@revision]'"
    )


# ------------------------------------------------------------------------------------------------------ models


def test_model_specs(tmp_path, tiny_model, monkeypatch):
    assert resolve_model(str(tiny_model)).kind == "local"
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": str(tiny_model)}))
    spec = resolve_model(str(adapter))
    assert spec.kind == "adapter" and spec.base is not None and spec.base.location == str(tiny_model)
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": str(tmp_path / "gone")}))
    with pytest.raises(TrainingInputError, match="LoRA adapter whose base model cannot be used"):
        resolve_model(str(adapter))
    with pytest.raises(TrainingInputError, match="did you mean 'embedded'"):
        resolve_model("embeded")
    with pytest.raises(TrainingInputError, match=r"unknown packaged LLM 'no-such-model'"):
        resolve_model("embedded:no-such-model")
    assert resolve_model("Qwen/Qwen2.5-0.5B-Instruct").kind == "hub"
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(TrainingInputError, match="HF_HUB_OFFLINE is set"):
        resolve_model("Qwen/Qwen2.5-0.5B-Instruct")


def test_precision_follows_the_device():
    import torch

    if torch.cuda.is_available():
        assert precision().device == "cuda" and precision().bf16 == torch.cuda.is_bf16_supported()
    else:
        assert precision().model_dump() == {"device": "cpu", "bf16": False}
        with pytest.raises(TrainingInputError, match="--bf16 needs a CUDA GPU"):
            precision(True)


@pytest.mark.skipif("not __import__('torch').cuda.is_available()", reason="needs a CUDA GPU")
def test_bf16_on_gpu():
    import torch

    assert precision(None).bf16 == torch.cuda.is_bf16_supported()


def test_assistant_only_loss_template_for_the_embedded_qwen_coder():
    """The embedded model's template is not byte-equal to any trl knows; the training copy must render the same
    text and mask exactly the assistant turns (tool calls, end-of-turn tokens, final answer)."""
    folder = _converted_qwen_tokenizer_dir()
    if folder is None:
        pytest.skip("the converted embedded Qwen model is not on disk (run any goat command that loads it once)")
    from transformers import AutoTokenizer

    from goat_train.chat_templates import training_chat_template

    qwen = AutoTokenizer.from_pretrained(str(folder))
    template = training_chat_template(qwen)
    assert template is not None and "{% generation %}" in template
    row = sft_rows([0])[0]
    from goat_datasets.formats.render import chat_template_inputs

    messages, tools = chat_template_inputs(row)
    assert qwen.apply_chat_template(messages, tools=tools, tokenize=False) == qwen.apply_chat_template(
        messages, tools=tools, tokenize=False, chat_template=template)
    rendered = qwen.apply_chat_template(messages, tools=tools, tokenize=True, return_dict=True,
                                        return_assistant_tokens_mask=True, chat_template=template)
    trained = qwen.decode([t for t, m in zip(rendered["input_ids"], rendered["assistant_masks"]) if m])
    assert trained.count("<tool_call>") == 2 and trained.count("<|im_end|>") == 3
    assert "Here is what I found for your trip." in trained and row["query"] not in trained
    small = _small_bpe_tokenizer()
    assert training_chat_template(small) is not None  # trl's own Qwen2.5 template: trl's training copy


# ------------------------------------------------------------------------------------------ cache-backed tools


def test_tool_responses_come_from_the_cache_only():
    rows = rl_rows([0])
    cache = ToolResponseCache()
    assert cache.add_gold_steps([rows[0]["gold_steps"]]) == 2
    gold = json.loads(rows[0]["gold_steps"])
    text, hit = cache.lookup("Search_Attraction_Location", {"query": "Paris", "unused": None})
    assert hit and json.loads(text) == gold[0]["response"]
    assert cache.lookup("Search_Attraction_Location", {"query": "Rome"}) == (json.dumps(MISS), False)

    fake = '<tool_response>{"status": true, "data": [1]}</tool_response>'  # written by the model: ignored
    right = first_call_text(rows[0]["gold_steps"])
    messages = with_tool_responses(right + fake, cache)
    assert [m["role"] for m in messages] == ["assistant", "tool"]
    assert json.loads(messages[1]["content"]) == gold[0]["response"]

    reward = make_reward_func("atomic")
    answered = replaying(reward, cache)
    assert answered.__name__ == "graduated_atomic"
    wrong_value = right.replace("Paris", "Rome")
    with_cache = answered(prompts=["p"] * 3, completions=[right, wrong_value, right + fake],
                          gold_steps=[rows[0]["gold_steps"]] * 3)
    assert with_cache == [1.0, pytest.approx(0.33), 1.0]  # hit: full execution credit; miss: none
    without = replaying(reward, None)(prompts=["p"], completions=[right + fake], gold_steps=[rows[0]["gold_steps"]])
    assert without == [0.5]  # no cache: nothing answers, and the model's own fake response earns nothing

    cache_rows = rl_cache_rows(rows)
    from_rows = ToolResponseCache()
    assert from_rows.add_rl_cache_rows(cache_rows) == 2
    assert from_rows.lookup("Search_Attraction_Location", {"query": "Paris"})[1]  # found by tool name
    assert from_rows.lookup("booking.Search_Attraction_Location", {"query": "Paris"})[1]


# ------------------------------------------------------------------------------------------------------ metrics


def _completion(steps: list[dict]) -> str:
    return "".join(
        "<tool_call>\n" + json.dumps({"name": s["name"], "arguments": s["arguments"]}) + "\n</tool_call>\n"
        for s in steps
    )


def test_metrics_by_hand():
    rows = datasets.Dataset.from_list(rl_rows([0, 1, 2, 3]), features=RL_FEATURES)
    gold = [json.loads(g) for g in rows["gold_steps"]]
    plan = gold_plan(rows[3], "gold_steps")
    assert turns_of(plan) == [[0], [1], [2]]
    wrong = [gold[1][0], dict(gold[1][1], arguments={"id": "nope"})]
    predictions = [
        Prediction(index=0, completion=_completion(gold[0])),
        Prediction(index=1, completion=_completion(wrong)),
        Prediction(index=2, completion=_completion(gold[2][::-1])),
        None,
    ]
    assert score_row(_completion(gold[0]), gold_plan(rows[0], "gold_steps"))["sa"] == 1.0
    report = score_predictions(rows, predictions, gold_column="gold_steps", missing_ids=["rl-3"])
    m = report.metrics
    assert m["SA"] == pytest.approx(3 / 4)
    assert m["IA"] == pytest.approx((1 + 1 / 3 + 1 + 0) / 4)
    assert m["correct_path_rate"] == pytest.approx(2 / 4)  # reversed order is not the gold path
    assert m["call_accuracy"] == pytest.approx(5 / 9)
    assert m["turn_accuracy"] == pytest.approx(5 / 9)
    assert m["SR"] is None and not report.sr_computed and "not computed" in report.sr_note
    assert report.missing_predictions == 1 and report.scores[3].missing_prediction
    # numbers given as strings are the same argument (canonical key); None means absent
    loose = [dict(s, arguments={**s["arguments"], "extra": None}) for s in gold[0]]
    assert score_row(_completion(loose), gold_plan(rows[0], "gold_steps"))["ia"] == 1.0


def test_predictions_matching_and_errors(tmp_path):
    rows = datasets.Dataset.from_list(rl_rows([0, 1]), features=RL_FEATURES)
    by_row, missing = match_predictions(rows, [{"id": "rl-1", "completion": "x", "_line": 1}], "p.jsonl")
    assert by_row[0] is None and by_row[1].completion == "x" and missing == ["rl-0"]
    with pytest.raises(TrainingInputError, match="not in the dataset"):
        match_predictions(rows, [{"id": "rl-9", "completion": "x", "_line": 1}], "p.jsonl")
    with pytest.raises(TrainingInputError, match="p.jsonl:2: a second prediction for row rl-0"):
        twice = [{"id": "rl-0", "completion": "", "_line": 1}, {"id": "rl-0", "completion": "", "_line": 2}]
        match_predictions(rows, twice, "p.jsonl")
    with pytest.raises(TrainingInputError, match="1 predictions without 'id' or 'index' for 2 dataset rows"):
        match_predictions(rows, [{"completion": "", "_line": 1}], "p.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "rl-0", "completion": ""}\n{oops\n')
    result = cli("eval", "--dataset", str(write_build(tmp_path / "b", {"rl": ("train", rl_rows([0, 1]), RL_FEATURES)})),
                 "--predictions", str(bad))
    assert result.exit_code == 2 and f"{bad}:2: not JSON" in result.output


def test_eval_cli_scores_a_predictions_file_with_a_judge(published, tmp_path):
    from fake_llm import FakeLLM

    rows = rl_rows([0, 1, 3, 4])
    gold = [json.loads(r["gold_steps"]) for r in rows]
    predictions = tmp_path / "predictions.jsonl"
    lines = [
        {"id": "rl-0", "completion": _completion(gold[0]), "final_answer": "Top sights in Paris: ..."},
        {"id": "rl-1", "completion": _completion(gold[1][:1]), "final_answer": "I could not finish."},
        {"id": "rl-3", "completion": [{"role": "assistant", "content": _completion(gold[2])}], "final_answer": "??"},
    ]
    predictions.write_text("".join(json.dumps(x) + "\n" for x in lines))

    def respond(prompt: str) -> str:
        if "Top sights in Paris" in prompt:
            return '{"solved": true, "reason": "lists the attractions"}'
        if "could not finish" in prompt:
            return '{"solved": false, "reason": "no answer"}'
        return "no idea"  # no verdict: counted as a judge failure, excluded from SR

    out = tmp_path / "eval"
    with FakeLLM(delay_s=0.0, respond=respond).serve() as base_url:
        result = cli("eval", "--dataset", f"{ORG}/tiny-rl@v1.0.0", "--config", "rl", "--predictions", str(predictions),
                     "--output-dir", str(out), "--judge-base-url", base_url, "--judge-model", "fake-judge")
    assert result.exit_code == 0, result.output
    saved = json.loads((out / "eval_results.json").read_text())
    assert saved["dataset"]["resolved_revision"] == published["tiny-rl"] and saved["gold_column"] == "gold_steps"
    assert saved["missing_predictions"] == 1 and saved["missing_ids"] == ["rl-4"]
    # rl-4 (missing) scores 0 and counts as not solved; rl-3's judge answer had no verdict
    assert saved["metrics"]["SR"] == pytest.approx(1 / 3) and saved["judged"] == 3 and saved["judge_failures"] == 1
    assert saved["metrics"]["SA"] == pytest.approx((1 + 1 / 2 + 1 + 0) / 4)
    assert saved["metrics"]["call_accuracy"] == pytest.approx((2 + 1 + 3 + 0) / (2 + 2 + 3 + 3))
    assert len((out / "eval_rows.jsonl").read_text().splitlines()) == 4
    assert "SR: 0.333 by judge fake-judge" in result.output

    no_judge = cli("eval", "--dataset", f"{ORG}/tiny-rl@v1.0.0", "--config", "rl", "--predictions", str(predictions))
    assert no_judge.exit_code == 0 and "SR: not computed (no LLM judge configured" in no_judge.output


def test_judge_failure_is_reported_not_faked():
    class Down:
        def generate(self, messages, max_new_tokens=None):
            from goat_datasets.llm.generation import Generation

            return Generation(error="connection refused")

    rows = datasets.Dataset.from_list(rl_rows([0]), features=RL_FEATURES)
    report = score_predictions(rows, [Prediction(index=0, completion="")], gold_column="gold_steps",
                               judge=LLMJudge(Down(), name="down"))
    assert report.metrics["SR"] is None and report.judge_failures == 1
    assert "the judge gave no verdict for any row" in report.sr_note
    assert report.scores[0].judge_error == "judge call failed: connection refused"


# ------------------------------------------------------------------------------------------ real trainer runs


def _lora_b_norm(folder: Path) -> float:
    from safetensors.torch import load_file

    tensors = load_file(str(folder / "adapter_model.safetensors"))
    b = [t for name, t in tensors.items() if "lora_B" in name]
    assert b, f"no lora_B tensors in {sorted(tensors)[:5]}"
    return float(sum(t.abs().sum() for t in b))


@pytest.mark.slow
def test_sft_two_steps_from_the_hub(published, tiny_model, tmp_path):
    out = tmp_path / "sft"
    result = cli("sft", "--dataset", f"{ORG}/tiny-sft@v1.0.0", "--model", str(tiny_model), "--output-dir", str(out),
                 "--max-steps", "2", "--batch-size", "2", "--grad-accum", "1", "--learning-rate", "1e-3",
                 "--logging-steps", "1", "--max-length", "2048")
    assert result.exit_code == 0, result.output
    record = json.loads((out / "training_args.json").read_text())
    assert record["status"] == "finished" and record["global_step"] == 2
    assert record["dataset"]["resolved_revision"] == published["tiny-sft"]
    assert record["dataset"]["requested_revision"] == "v1.0.0" and record["dataset"]["config"] == "sft"
    assert record["trainer_args"]["assistant_only_loss"] is True and record["options"]["lora"]["r"] == 8
    losses = [e["loss"] for e in record["log_history"] if "loss" in e]
    assert len(losses) == 2 and all(loss > 0 for loss in losses)
    assert (out / "adapter_config.json").is_file() and _lora_b_norm(out) > 0  # LoRA B starts at zero
    assert f"outputs: {out}" in result.output

    # the adapter folder is a model spec: evaluating it loads base + adapter
    spec = resolve_model(str(out))
    assert spec.kind == "adapter" and spec.base.location == str(tiny_model)


@pytest.mark.slow
def test_grpo_real_steps_with_graduated_reward(published, warm_model, tmp_path):
    out = tmp_path / "grpo"
    result = cli("grpo", "--dataset", f"{ORG}/tiny-rl@v1.0.0", "--model", str(warm_model), "--output-dir", str(out),
                 "--limit", "1", "--max-steps", "2", "--num-generations", "4", "--prompts-per-step", "1",
                 "--max-completion-length", "48", "--learning-rate", "1e-3", "--beta", "0.001", "--reward", "total")
    assert result.exit_code == 0, result.output
    record = json.loads((out / "training_args.json").read_text())
    assert record["status"] == "finished" and record["global_step"] == 2
    assert record["dataset"]["resolved_revision"] == published["tiny-rl"]
    assert record["reward"]["function"] == "graduated_total" and record["reward"]["cached_responses"] >= 2
    assert record["reward"]["cache_sources"]["rl_cache"] >= 2
    steps = [e for e in record["log_history"] if "reward" in e]
    assert len(steps) == 2 and all("loss" in e for e in steps)
    assert all("graduated_total/execution" in e for e in steps)
    assert max(e["reward"] for e in steps) > 0  # the warm model's first call hits the cache
    assert max(e["reward_std"] for e in steps) > 0  # rollouts differ, so GRPO has an advantage to follow
    assert _lora_b_norm(out) > 0
    assert "mean reward per step" in result.output and f"outputs: {out}" in result.output


@pytest.mark.slow
def test_eval_generates_with_a_model(published, warm_model, tmp_path):
    out = tmp_path / "eval-gen"
    result = cli("eval", "--dataset", f"{ORG}/tiny-rl@v1.0.0", "--config", "rl", "--model", str(warm_model),
                 "--output-dir", str(out), "--limit", "2", "--max-turns", "2", "--max-new-tokens", "40")
    assert result.exit_code == 0, result.output
    predictions = [json.loads(x) for x in (out / "predictions.jsonl").read_text().splitlines()]
    assert [p["id"] for p in predictions] == ["rl-0", "rl-1"]
    first = predictions[0]["completion"]
    assert first[0]["role"] == "assistant" and first[1]["role"] == "tool"  # the call was answered from the cache
    saved = json.loads((out / "eval_results.json").read_text())
    assert saved["model"]["location"] == str(warm_model) and saved["metrics"]["SR"] is None
    assert 0 < saved["metrics"]["SA"] <= 1  # the warm model calls the right first tool
