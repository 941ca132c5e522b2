"""Supervised fine-tuning on a published ``sft`` config: trl's SFTTrainer on ``messages`` + ``tools``, LoRA by default.

The rows are trained as published: trl renders each conversation with the model's chat template and the row's own
tool list (the ``tools`` JSON string), exactly what `goat_datasets.formats.render.render_row` shows, and that
function is run on the first rows before training so a template that rejects the data fails in seconds with the
row's id rather than inside the trainer. Defaults follow GOAT's agent training (REFERENCE §1c): LoRA r=8, alpha=16,
dropout 0.05 on q/v, learning rate 2e-4, 3 epochs, effective batch 16 (1 x 16 accumulation steps). The loss is on
the assistant turns only (`training.chat_templates` finds the training version of the model's template).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable

from pydantic import BaseModel, Field

from .chat_templates import training_chat_template
from .data import load_split, require_columns
from .errors import TrainingInputError
from .lora import LoraSettings
from .models import load_model, load_tokenizer, precision, resolve_model
from .run_record import RunRecord, TrainResult, common_trainer_args, train_and_record

__all__ = ["SFTOptions", "run_sft", "SFT_COLUMNS"]

SFT_COLUMNS = ("messages", "tools")
_RENDER_CHECK_ROWS = 8


class SFTOptions(BaseModel):
    dataset: str
    model: str
    output_dir: Path
    config: str | None = "sft"
    split: str | None = None
    max_steps: int = -1
    epochs: float = Field(3.0, gt=0)
    learning_rate: float = Field(2e-4, gt=0)
    batch_size: int = Field(1, ge=1)
    grad_accum: int = Field(16, ge=1)
    max_length: int | None = Field(4096, ge=16)
    assistant_only_loss: bool = True
    lora: LoraSettings = Field(default_factory=LoraSettings)
    bf16: bool | None = None
    seed: int = 0
    logging_steps: int = Field(10, ge=1)
    save_steps: int | None = Field(None, ge=1)
    limit: int | None = Field(None, ge=1)


def check_rows_render(dataset: Any, tokenizer: Any, rows: int = _RENDER_CHECK_ROWS) -> None:
    """Render the first rows with the chat template; a failure names the row (its ``id`` when there is one)."""
    from goat_datasets.formats.render import render_row

    for index in range(min(rows, len(dataset))):
        row = dataset[index]
        try:
            render_row(tokenizer, row)
        except Exception as exc:  # noqa: BLE001 - jinja, JSON and template errors all mean "this row does not render"
            name = row.get("id") or f"#{index}"
            raise TrainingInputError(
                f"sft row {name} does not render with the model's chat template: {type(exc).__name__}: {exc}"
            ) from None


def run_sft(options: SFTOptions, *, log: Callable[[str], None] = print) -> TrainResult:
    started = time.monotonic()
    loaded = load_split(options.dataset, options.config, options.split, preferred_splits=("train",))
    log(f"dataset: {loaded.describe()}")
    require_columns(loaded.dataset, SFT_COLUMNS, f"sft dataset {options.dataset}")
    dataset = loaded.dataset
    if options.limit:
        dataset = dataset.select(range(min(options.limit, len(dataset))))
    if len(dataset) == 0:
        raise TrainingInputError(f"sft dataset {options.dataset}: the split {loaded.split!r} has no rows")
    prec = precision(options.bf16)
    spec = resolve_model(options.model, log=log)
    log(f"model: {spec.text} ({spec.kind}: {spec.location}); device {prec.device}, {prec.dtype}")
    tokenizer = load_tokenizer(spec)
    check_rows_render(dataset, tokenizer)
    original_template = tokenizer.chat_template
    if options.assistant_only_loss:
        patched = training_chat_template(tokenizer)
        if patched is None:
            raise TrainingInputError(
                "assistant-only loss needs a chat template with {% generation %} markers and neither trl nor "
                "goat-train knows a training version of this model's template; train on whole conversations with "
                "--no-assistant-only-loss"
            )
        tokenizer.chat_template = patched
    model = load_model(spec, prec.dtype)
    peft_config = None
    if spec.kind == "adapter":
        if not options.lora.enabled:
            model = model.merge_and_unload()  # full fine-tune of base + adapter
        log(f"continuing to train the LoRA adapter {spec.location}" if options.lora.enabled
            else "merged the LoRA adapter into its base model (full fine-tune)")
    else:
        peft_config = options.lora.peft_config(model)
    output_dir = Path(options.output_dir)
    from trl import SFTConfig, SFTTrainer

    args = SFTConfig(
        output_dir=str(output_dir),
        max_steps=options.max_steps,
        num_train_epochs=options.epochs,
        learning_rate=options.learning_rate,
        per_device_train_batch_size=options.batch_size,
        gradient_accumulation_steps=options.grad_accum,
        max_length=options.max_length,
        assistant_only_loss=options.assistant_only_loss,
        **common_trainer_args(options, prec),
    )
    record = RunRecord(output_dir, "sft")
    record_path = record.start(
        options=options.model_dump(mode="json"),
        dataset=loaded.provenance() | {"rows_used": len(dataset)},
        model=spec.provenance(),
        precision=prec.model_dump() | {"dtype": prec.dtype},
        trainer_args=json.loads(args.to_json_string()),
    )
    log(f"run record: {record_path}")
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=dataset.select_columns(list(SFT_COLUMNS)),
        processing_class=tokenizer,
        peft_config=peft_config,
    )
    log(f"training: {len(dataset)} rows, max_steps={options.max_steps}, epochs={options.epochs}")

    def save_tokenizer() -> None:
        tokenizer.chat_template = original_template  # the model is used with its own template, not the training copy
        tokenizer.save_pretrained(str(output_dir))

    result = train_and_record(trainer, record, record_path, output_dir, started, save_tokenizer=save_tokenizer)
    log(f"saved {'LoRA adapter' if peft_config is not None or spec.kind == 'adapter' else 'model'} to {output_dir}")
    return result
