"""``goat-train``: fine-tune (sft), reinforce (grpo) and evaluate (eval) models on goat-datasets datasets.

    goat-train sft  --dataset org/goat-demo@v1.0.0 --model embedded --output-dir runs/sft
    goat-train grpo --dataset org/goat-demo@v1.0.0 --model runs/sft --output-dir runs/grpo --reward total
    goat-train eval --dataset org/goat-demo@v1.0.0 --config rl --model runs/grpo --output-dir runs/eval
    goat-train eval --dataset org/goatbench@v1.0.0 --predictions preds.jsonl

Datasets are Hub ids (``HF_ENDPOINT`` picks the Hub: ``goat hub serve`` offline) or local paths. Mistakes in the
input (an unknown repo, revision, config or split, a missing column, a model folder that is not a model) print one
clear line and exit with status 2. Heavy libraries are imported by the commands, so ``--help`` is instant.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable, Optional

import typer

app = typer.Typer(
    name="goat-train",
    help="Train and evaluate tool-use models on goat-datasets datasets (SFT, GRPO with graduated rewards, eval).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

EXIT_BAD_INPUT = 2


def _log(message: str) -> None:
    typer.echo(message)


def _guarded(run: Callable[[], Any]) -> Any:
    """Run a command; bad input becomes one line on stderr and exit status 2 (tracebacks are for bugs)."""
    from pydantic import ValidationError

    from .errors import TrainingInputError

    try:
        return run()
    except TrainingInputError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except ValidationError as exc:
        problems = "; ".join(f"--{'.'.join(map(str, e['loc'])).replace('_', '-')}: {e['msg']}" for e in exc.errors())
        typer.echo(f"error: {problems}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None


def _lora(enabled: bool, r: int, alpha: int, dropout: float, targets: list[str]):
    from .lora import LoraSettings

    return LoraSettings(enabled=enabled, r=r, alpha=alpha, dropout=dropout, target_modules=targets)


# Options shared by the commands (Typer needs them per command; the defaults live here once).
DATASET = typer.Option(
    ..., "--dataset", help="Hub id org/name or org/name@revision (tag, branch or sha), or a local path."
)
MODEL = typer.Option(
    ..., "--model", help="Local model or LoRA-adapter folder, 'embedded[:name]', a .gguf file or an HF id."
)
OUTPUT_DIR = typer.Option(..., "--output-dir", help="Where the model, training_args.json and logs go.")
SPLIT = typer.Option(None, "--split", help="Split to use (default: train).")
LORA = typer.Option(True, "--lora/--no-lora", help="Train a LoRA adapter (default) or the full model.")
LORA_R = typer.Option(8, "--lora-r")
LORA_ALPHA = typer.Option(16, "--lora-alpha")
LORA_DROPOUT = typer.Option(0.05, "--lora-dropout")
LORA_TARGET = typer.Option(["q_proj", "v_proj"], "--lora-target", help="Linear layers to adapt (repeat the flag).")
BF16 = typer.Option(
    None, "--bf16/--no-bf16", help="bf16 training (default: on a CUDA GPU that supports it; CPU: fp32)."
)
SEED = typer.Option(0, "--seed")
LIMIT = typer.Option(None, "--limit", help="Use only the first N rows.")
SAVE_STEPS = typer.Option(None, "--save-steps", help="Also save a checkpoint every N steps.")


@app.command()
def sft(
    dataset: str = DATASET,
    model: str = MODEL,
    output_dir: Path = OUTPUT_DIR,
    config: str = typer.Option("sft", "--config", help="Dataset config with messages + tools rows."),
    split: Optional[str] = SPLIT,
    max_steps: int = typer.Option(-1, "--max-steps", help="Stop after N optimizer steps (-1: run the epochs)."),
    epochs: float = typer.Option(3.0, "--epochs"),
    learning_rate: float = typer.Option(2e-4, "--learning-rate"),
    batch_size: int = typer.Option(1, "--batch-size", help="Rows per device per micro-batch."),
    grad_accum: int = typer.Option(16, "--grad-accum", help="Micro-batches per optimizer step (effective batch 16)."),
    max_length: int = typer.Option(4096, "--max-length", help="Truncate rendered conversations to N tokens."),
    assistant_only_loss: bool = typer.Option(True, "--assistant-only-loss/--no-assistant-only-loss"),
    lora: bool = LORA,
    lora_r: int = LORA_R,
    lora_alpha: int = LORA_ALPHA,
    lora_dropout: float = LORA_DROPOUT,
    lora_target: list[str] = LORA_TARGET,
    bf16: Optional[bool] = BF16,
    seed: int = SEED,
    logging_steps: int = typer.Option(10, "--logging-steps"),
    save_steps: Optional[int] = SAVE_STEPS,
    limit: Optional[int] = LIMIT,
) -> None:
    """Supervised fine-tuning (trl SFTTrainer) on a published sft config: messages + tools."""

    def run() -> None:
        from .sft import SFTOptions, run_sft

        options = SFTOptions(
            dataset=dataset, model=model, output_dir=output_dir, config=config, split=split, max_steps=max_steps,
            epochs=epochs, learning_rate=learning_rate, batch_size=batch_size, grad_accum=grad_accum,
            max_length=max_length, assistant_only_loss=assistant_only_loss,
            lora=_lora(lora, lora_r, lora_alpha, lora_dropout, lora_target), bf16=bf16, seed=seed,
            logging_steps=logging_steps, save_steps=save_steps, limit=limit,
        )
        result = run_sft(options, log=_log)
        losses = result.logged("loss")
        shown = ", ".join(f"{x:.4f}" for x in losses)
        _log(f"done: {result.global_step} steps in {result.seconds:.1f} s; loss {shown}")
        _log(f"outputs: {result.output_dir} (record: {result.record_path.name})")

    _guarded(run)


@app.command()
def grpo(
    dataset: str = DATASET,
    model: str = MODEL,
    output_dir: Path = OUTPUT_DIR,
    config: str = typer.Option("rl", "--config", help="Dataset config with prompt, tools and gold_steps columns."),
    split: Optional[str] = SPLIT,
    reward: str = typer.Option("total", "--reward", help="total | atomic | orchestration | toolrl"),
    reward_mode: str = typer.Option("default", "--reward-mode", help="default | paper (the released code, exactly)"),
    max_steps: int = typer.Option(100, "--max-steps"),
    learning_rate: float = typer.Option(1e-6, "--learning-rate"),
    num_generations: int = typer.Option(16, "--num-generations", help="Rollouts per prompt."),
    prompts_per_step: int = typer.Option(16, "--prompts-per-step"),
    max_completion_length: int = typer.Option(512, "--max-completion-length"),
    temperature: float = typer.Option(1.0, "--temperature"),
    beta: float = typer.Option(0.001, "--beta", help="KL coefficient (0: no reference model)."),
    tool_responses: str = typer.Option(
        "replay", "--tool-responses", help="replay (answer calls from the cache) | none"
    ),
    cache_config: str = typer.Option("rl_cache", "--cache-config", help="Config with the recorded responses."),
    use_vllm: bool = typer.Option(False, "--use-vllm", help="Generate with vLLM (CUDA GPU only)."),
    lora: bool = LORA,
    lora_r: int = LORA_R,
    lora_alpha: int = LORA_ALPHA,
    lora_dropout: float = LORA_DROPOUT,
    lora_target: list[str] = LORA_TARGET,
    bf16: Optional[bool] = BF16,
    seed: int = SEED,
    logging_steps: int = typer.Option(1, "--logging-steps"),
    save_steps: Optional[int] = SAVE_STEPS,
    limit: Optional[int] = LIMIT,
) -> None:
    """GRPO (trl GRPOTrainer) with the graduated tool-orchestration reward on a published rl config."""

    def run() -> None:
        from .grpo import GRPOOptions, run_grpo

        options = GRPOOptions(
            dataset=dataset, model=model, output_dir=output_dir, config=config, split=split, reward=reward,
            reward_mode=reward_mode, max_steps=max_steps, learning_rate=learning_rate,
            num_generations=num_generations, prompts_per_step=prompts_per_step,
            max_completion_length=max_completion_length, temperature=temperature, beta=beta,
            tool_responses=tool_responses, cache_config=cache_config, use_vllm=use_vllm,
            lora=_lora(lora, lora_r, lora_alpha, lora_dropout, lora_target), bf16=bf16, seed=seed,
            logging_steps=logging_steps, save_steps=save_steps, limit=limit,
        )
        result = run_grpo(options, log=_log)
        _log(f"done: {result.global_step} steps in {result.seconds:.1f} s")
        _log(f"outputs: {result.output_dir} (record: {result.record_path.name})")

    _guarded(run)


@app.command("eval")
def eval_(
    dataset: str = DATASET,
    predictions: Optional[Path] = typer.Option(None, "--predictions", help="JSONL of model outputs to score."),
    model: Optional[str] = typer.Option(None, "--model", help="Generate the predictions with this model instead."),
    output_dir: Optional[Path] = typer.Option(
        None, "--output-dir", help="Write eval_results.json (and predictions) here."
    ),
    config: Optional[str] = typer.Option(None, "--config", help="Dataset config (default: bench, else rl)."),
    split: Optional[str] = typer.Option(None, "--split", help="Split (default: test, else train)."),
    gold_column: Optional[str] = typer.Option(
        None, "--gold-column", help="Gold calls column (default: gold_steps, gold_calls or api_path)."
    ),
    judge_base_url: Optional[str] = typer.Option(
        None, "--judge-base-url", help="OpenAI-compatible endpoint of the SR judge."
    ),
    judge_model: Optional[str] = typer.Option(None, "--judge-model"),
    judge_api_key_env: Optional[str] = typer.Option(
        None, "--judge-api-key-env", help="Env var holding the judge's API key."
    ),
    max_turns: int = typer.Option(8, "--max-turns", help="Generation: model turns per row."),
    max_new_tokens: int = typer.Option(512, "--max-new-tokens"),
    tool_responses: str = typer.Option("replay", "--tool-responses", help="Generation: replay (cache) | none"),
    cache_config: str = typer.Option("rl_cache", "--cache-config"),
    bf16: Optional[bool] = BF16,
    limit: Optional[int] = LIMIT,
) -> None:
    """Score predictions (or a model's generations) with SA, IA, correct path rate, call/turn accuracy and SR."""

    def run() -> None:
        from .eval_run import EvalOptions, run_eval

        options = EvalOptions(
            dataset=dataset, predictions=predictions, model=model, output_dir=output_dir, config=config, split=split,
            gold_column=gold_column, judge_base_url=judge_base_url, judge_model=judge_model,
            judge_api_key_env=judge_api_key_env, max_turns=max_turns, max_new_tokens=max_new_tokens,
            tool_responses=tool_responses, cache_config=cache_config, bf16=bf16, limit=limit,
        )
        report, written = run_eval(options, log=_log)
        _log(report.summary())
        if written:
            _log(f"outputs: {', '.join(str(p) for p in written)}")

    _guarded(run)


def main(argv: list[str] | None = None) -> None:
    app(args=argv if argv is not None else sys.argv[1:], prog_name="goat-train")


if __name__ == "__main__":
    main()
