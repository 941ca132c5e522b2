"""The ``goat-train eval`` command: load the dataset, get predictions (a file, or a model's generations), score them
with `training.evaluate`, and write the results next to the provenance of what was scored."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable, Literal

from pydantic import BaseModel, Field

from .data import load_split
from .errors import TrainingInputError
from .evaluate import (
    EvalReport,
    LLMJudge,
    find_gold_column,
    generate_predictions,
    match_predictions,
    read_predictions,
    score_predictions,
)
from .run_record import library_versions

__all__ = ["EvalOptions", "run_eval", "RESULTS_NAME", "ROWS_NAME", "PREDICTIONS_NAME"]

RESULTS_NAME = "eval_results.json"
ROWS_NAME = "eval_rows.jsonl"
PREDICTIONS_NAME = "predictions.jsonl"


class EvalOptions(BaseModel):
    dataset: str
    predictions: Path | None = None
    model: str | None = None
    output_dir: Path | None = None
    config: str | None = None
    split: str | None = None
    gold_column: str | None = None
    judge_base_url: str | None = None
    judge_model: str | None = None
    judge_api_key_env: str | None = None
    max_turns: int = Field(8, ge=1)
    max_new_tokens: int = Field(512, ge=1)
    tool_responses: Literal["replay", "none"] = "replay"
    cache_config: str = "rl_cache"
    bf16: bool | None = None
    limit: int | None = Field(None, ge=1)

    def check(self) -> None:
        if (self.predictions is None) == (self.model is None):
            raise TrainingInputError(
                "give exactly one of --predictions FILE (score outputs) or --model M (generate them)"
            )
        if self.model is not None and self.output_dir is None:
            raise TrainingInputError("--model needs --output-dir (the generated predictions are written there)")
        if (self.judge_base_url is None) != (self.judge_model is None):
            raise TrainingInputError("the SR judge needs both --judge-base-url and --judge-model")


def _judge(options: EvalOptions) -> LLMJudge | None:
    if options.judge_base_url is None:
        return None
    from goat_datasets.llm.generation import OpenAICompatibleLLM

    try:
        llm = OpenAICompatibleLLM(
            options.judge_base_url, options.judge_model or "", api_key_env=options.judge_api_key_env,
            max_new_tokens=256, temperature=0.0,
        )
    except ValueError as exc:
        raise TrainingInputError(f"judge: {exc}") from None
    return LLMJudge(llm, name=f"{options.judge_model} at {options.judge_base_url}")


def run_eval(options: EvalOptions, *, log: Callable[[str], None] = print) -> tuple[EvalReport, list[Path]]:
    options.check()
    started = time.monotonic()
    loaded = load_split(
        options.dataset, options.config, options.split, preferred_configs=("bench", "rl"),
        preferred_splits=("test", "train"),
    )
    log(f"dataset: {loaded.describe()}")
    context = f"eval dataset {options.dataset}"
    gold_column = find_gold_column(loaded.dataset, options.gold_column, context)
    dataset = loaded.dataset
    if options.limit:
        dataset = dataset.select(range(min(options.limit, len(dataset))))
    judge = _judge(options)
    written: list[Path] = []
    source: dict = {}
    if options.predictions is not None:
        items = read_predictions(options.predictions)
        source = {"predictions": str(options.predictions), "lines": len(items)}
        by_row, missing = match_predictions(dataset, items, str(options.predictions))
    else:
        from .models import load_model, load_tokenizer, precision, resolve_model
        from .tool_cache import cache_for_dataset

        prec = precision(options.bf16)
        spec = resolve_model(options.model or "", log=log)
        log(f"model: {spec.text} ({spec.kind}: {spec.location}); device {prec.device}, {prec.dtype}")
        tokenizer = load_tokenizer(spec)
        model = load_model(spec, prec.dtype, trainable_adapter=False)
        if prec.device == "cuda":
            model = model.to("cuda")
        loaded.dataset = dataset
        cache = None
        if options.tool_responses == "replay":
            cache = cache_for_dataset(loaded, options.cache_config, gold_column, log)
        items = generate_predictions(
            dataset, model, tokenizer, cache=cache, max_turns=options.max_turns,
            max_new_tokens=options.max_new_tokens, context=context, log=log,
        )
        out_dir = Path(options.output_dir)  # type: ignore[arg-type]
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / PREDICTIONS_NAME
        path.write_text("".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items), encoding="utf-8")
        written.append(path)
        log(f"predictions: {path}")
        source = {"model": spec.provenance(), "predictions": str(path), "max_turns": options.max_turns,
                  "max_new_tokens": options.max_new_tokens, "tool_responses": options.tool_responses}
        for number, item in enumerate(items, 1):
            item["_line"] = number
        by_row, missing = match_predictions(dataset, items, str(path))
    if missing:
        log(f"warning: {len(missing)} row(s) have no prediction and score as empty, e.g. {missing[:5]}")
    report = score_predictions(
        dataset, by_row, gold_column=gold_column, judge=judge, missing_ids=missing, context=context
    )
    if options.output_dir is not None:
        out_dir = Path(options.output_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        results = {
            "command": "eval",
            "dataset": loaded.provenance() | {"rows_scored": len(dataset)},
            "gold_column": gold_column,
            **source,
            "judge": judge.name if judge else None,
            "metrics": report.metrics,
            "sr_note": report.sr_note,
            "judged": report.judged,
            "judge_failures": report.judge_failures,
            "missing_predictions": report.missing_predictions,
            "missing_ids": report.missing_ids,
            "by_group": report.by_group,
            "versions": library_versions(),
            "seconds": round(time.monotonic() - started, 3),
        }
        results_path = out_dir / RESULTS_NAME
        results_path.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
        rows_path = out_dir / ROWS_NAME
        rows_path.write_text("".join(s.model_dump_json() + "\n" for s in report.scores), encoding="utf-8")
        written += [results_path, rows_path]
    return report, written
