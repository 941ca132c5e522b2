"""GRPO on a published ``rl`` config with the graduated tool-orchestration reward (REFERENCE §2c).

Rows: ``prompt`` (chat messages: system + user), ``tools`` (JSON string of the candidate tools' schemas, gold and
distractors) and ``gold_steps`` (JSON: ``[{name, arguments, depends_on, ...}]``). Each prompt is rendered with *its
own* tool list by the model's chat template and handed to trl as text: trl renders conversational prompts with one
tool list for the whole run, which would hide each row's candidate tools.

Rollouts are single-turn: the model writes its ``<tool_call>`` blocks in one completion. Each call is then answered
from the recorded responses (`training.tool_cache`: the dataset's ``rl_cache`` config plus the gold steps' own
responses; a miss is ``{"error": "No results found"}``), and the reward scores the calls with those answers, so the
execution part rewards calls that hit the cache. The released setup (verl, up to 20 turns with the responses fed
back) is multi-turn; single-turn keeps dependent arguments out of reach unless the model knows them, and is what
this command does today.

Defaults are the paper's released run: learning rate 1e-6, 16 prompts per step x 16 rollouts, KL 0.001, 100 steps.
"""

from __future__ import annotations

import importlib.util
import json
import time
from pathlib import Path
from typing import Any, Callable, Literal

from pydantic import BaseModel, Field

from .data import load_split, require_columns
from .errors import TrainingInputError, did_you_mean
from .lora import LoraSettings
from .models import load_model, load_tokenizer, precision, resolve_model
from .rewards import KINDS, MODES, GoldStepsError, make_reward_func, parse_gold_steps
from .run_record import RunRecord, TrainResult, common_trainer_args, train_and_record
from .tool_cache import cache_for_dataset, replaying

__all__ = ["GRPOOptions", "RL_COLUMNS", "run_grpo", "render_prompts"]

RL_COLUMNS = ("prompt", "tools", "gold_steps")


class GRPOOptions(BaseModel):
    dataset: str
    model: str
    output_dir: Path
    config: str | None = "rl"
    split: str | None = None
    reward: str = "total"
    reward_mode: str = "default"
    max_steps: int = Field(100, ge=1)
    learning_rate: float = Field(1e-6, gt=0)
    num_generations: int = Field(16, ge=2)
    prompts_per_step: int = Field(16, ge=1)
    max_completion_length: int = Field(512, ge=1)
    temperature: float = Field(1.0, gt=0)
    beta: float = Field(0.001, ge=0)
    lora: LoraSettings = Field(default_factory=LoraSettings)
    tool_responses: Literal["replay", "none"] = "replay"
    cache_config: str = "rl_cache"
    use_vllm: bool = False
    bf16: bool | None = None
    seed: int = 0
    logging_steps: int = Field(1, ge=1)
    save_steps: int | None = Field(None, ge=1)
    limit: int | None = Field(None, ge=1)

    def check(self) -> None:
        if self.reward not in KINDS:
            raise TrainingInputError(
                f"--reward {self.reward!r}{did_you_mean(self.reward, KINDS)} (known: {', '.join(KINDS)})"
            )
        if self.reward_mode not in MODES:
            raise TrainingInputError(
                f"--reward-mode {self.reward_mode!r}{did_you_mean(self.reward_mode, MODES)} (known: {', '.join(MODES)})"
            )


def _row_name(row: dict[str, Any], index: int) -> str:
    return str(row.get("id") or f"#{index}")


def render_prompts(dataset: Any, tokenizer: Any, context: str) -> Any:
    """``prompt`` text (chat template + the row's tools + generation prompt) and ``gold_steps`` as JSON text.

    Every row is checked first: unparseable ``tools`` or ``gold_steps`` and prompts that are not message lists are
    reported with the row, never skipped.
    """
    import datasets

    from goat_datasets.formats.sft import clean_messages

    prompts: list[str] = []
    golds: list[str] = []
    for index, row in enumerate(dataset):
        name = _row_name(row, index)
        messages = row["prompt"]
        if isinstance(messages, str):
            try:
                messages = json.loads(messages)
            except ValueError:
                raise TrainingInputError(
                    f"{context}: row {name}: 'prompt' is text, not a list of chat messages"
                ) from None
        if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
            raise TrainingInputError(f"{context}: row {name}: 'prompt' must be a non-empty list of chat messages")
        try:
            tools = json.loads(row["tools"]) if isinstance(row["tools"], str) else row["tools"]
        except ValueError as exc:
            raise TrainingInputError(f"{context}: row {name}: 'tools' is not JSON: {exc}") from None
        gold = row["gold_steps"]
        try:
            parse_gold_steps(gold)
        except GoldStepsError as exc:
            raise TrainingInputError(f"{context}: row {name}: 'gold_steps': {exc}") from None
        try:
            text = tokenizer.apply_chat_template(
                clean_messages(messages), tools=tools or None, add_generation_prompt=True, tokenize=False
            )
        except Exception as exc:  # noqa: BLE001 - any template failure means this row cannot be prompted
            raise TrainingInputError(
                f"{context}: row {name} does not render with the model's chat template: {type(exc).__name__}: {exc}"
            ) from None
        prompts.append(text)
        golds.append(gold if isinstance(gold, str) else json.dumps(gold, ensure_ascii=False))
    return datasets.Dataset.from_dict({"prompt": prompts, "gold_steps": golds})


def run_grpo(options: GRPOOptions, *, log: Callable[[str], None] = print) -> TrainResult:
    options.check()
    started = time.monotonic()
    loaded = load_split(options.dataset, options.config, options.split, preferred_splits=("train",))
    log(f"dataset: {loaded.describe()}")
    context = f"rl dataset {options.dataset}"
    require_columns(loaded.dataset, RL_COLUMNS, context)
    if options.limit:
        loaded.dataset = loaded.dataset.select(range(min(options.limit, len(loaded.dataset))))
    if len(loaded.dataset) == 0:
        raise TrainingInputError(f"{context}: the split {loaded.split!r} has no rows")
    prec = precision(options.bf16)
    if options.use_vllm and prec.device != "cuda":
        raise TrainingInputError(
            "--use-vllm needs a CUDA GPU (vLLM generation); on CPU trl generates with transformers"
        )
    if options.use_vllm and importlib.util.find_spec("vllm") is None:
        raise TrainingInputError("--use-vllm: the vllm package is not installed (pip install vllm, on the GPU machine)")
    spec = resolve_model(options.model, log=log)
    log(f"model: {spec.text} ({spec.kind}: {spec.location}); device {prec.device}, {prec.dtype}")
    tokenizer = load_tokenizer(spec)
    tokenizer.padding_side = "left"
    train_dataset = render_prompts(loaded.dataset, tokenizer, context)
    cache = None
    if options.tool_responses == "replay":
        cache = cache_for_dataset(loaded, options.cache_config, "gold_steps", log)
    reward_func = replaying(make_reward_func(options.reward, options.reward_mode), cache)
    model = load_model(spec, prec.dtype)
    peft_config = None if spec.kind == "adapter" else options.lora.peft_config(model)
    output_dir = Path(options.output_dir)
    from trl import GRPOConfig, GRPOTrainer

    args = GRPOConfig(
        output_dir=str(output_dir),
        max_steps=options.max_steps,
        learning_rate=options.learning_rate,
        # one prompt's group of rollouts per micro-batch; a step accumulates prompts_per_step groups
        per_device_train_batch_size=options.num_generations,
        gradient_accumulation_steps=options.prompts_per_step,
        num_generations=options.num_generations,
        max_completion_length=options.max_completion_length,
        temperature=options.temperature,
        beta=options.beta,
        use_vllm=options.use_vllm,
        **common_trainer_args(options, prec),
    )
    record = RunRecord(output_dir, "grpo")
    record_path = record.start(
        options=options.model_dump(mode="json"),
        dataset=loaded.provenance() | {"rows_used": len(train_dataset)},
        model=spec.provenance(),
        precision=prec.model_dump() | {"dtype": prec.dtype},
        reward={"kind": options.reward, "mode": options.reward_mode, "function": reward_func.__name__,
                "tool_responses": options.tool_responses, "cached_responses": len(cache) if cache else 0,
                "cache_sources": cache.sources if cache else {}},
        trainer_args=json.loads(args.to_json_string()),
    )
    log(f"run record: {record_path}")
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=[reward_func],
        args=args,
        train_dataset=train_dataset,
        processing_class=tokenizer,
        peft_config=peft_config,
    )
    log(
        f"training: {len(train_dataset)} prompts, {options.prompts_per_step} prompts x {options.num_generations} "
        f"rollouts per step, max_steps={options.max_steps}, reward {reward_func.__name__}"
    )
    result = train_and_record(
        trainer, record, record_path, output_dir, started,
        save_tokenizer=lambda: tokenizer.save_pretrained(str(output_dir)),
    )  # fmt: skip
    rewards = result.logged("reward")
    log(f"mean reward per step: {', '.join(f'{r:.3f}' for r in rewards)}")
    log(f"saved {'LoRA adapter' if peft_config is not None or spec.kind == 'adapter' else 'model'} to {output_dir}")
    return result
