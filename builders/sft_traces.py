"""The SFT-traces pipeline: sampled chains -> executed calls -> sub-instructions, query, final answer -> judge ->
SFT rows; then, over the whole build, near-duplicate queries and queries that overlap a benchmark are removed
(`filter_rows`: cheap, so it runs on every build, also when the generated rows are reused).

The graph and the chains are computed by the core library before the pipeline (they are cheap and deterministic);
the pipeline holds the expensive, resumable part: API calls and LLM calls. Its cache lives in the build directory,
which the recipe fingerprint names, so re-running an interrupted build continues where it stopped.

Resuming is done by the steps' call caches (``calls.sqlite``, ``llm.sqlite``, see `goat_builders.steps.context`),
not by distilabel's own cache: distilabel 1.5.3 does not resend a batch that was in flight when its run was killed,
so a resumed run waits forever for it (seen with SIGKILL during a step's batch). `run_pipeline` therefore starts
distilabel afresh by default, and every batch is recomputed with its API and LLM calls that already succeeded
answered from the caches (milliseconds each).
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

from goat_builders.pipeline_base import GoatPipeline  # first: it silences a distilabel warning at import
from goat_builders.steps.load import LoadRows, load_rows_step
from goat_builders.steps.context import SET_ASIDE_FILE, take_set_aside
from goat_builders.steps.traces import ExecuteChains, FormatSFT, JudgeTraces, WriteQueryAndAnswer, _BuildStep


def default_batch_size(concurrency: int) -> int:
    """Rows per batch: at least 8, and at least the concurrency, so that every worker of a step has a row."""
    return max(8, concurrency)


def build_pipeline(
    *,
    name: str,
    build_dir: Path,
    chains: list[dict[str, Any]],
    sources: list[dict[str, Any]],
    llm_config: dict[str, Any],
    system_prompt: str | None = None,
    batch_size: int | None = None,
    concurrency: int = 4,
    fingerprint: str = "",
    judge: bool = True,
    parallel_calls: bool = True,
) -> GoatPipeline:
    """``concurrency``: rows each step works on at once (its requests in flight); ``batch_size``: rows per batch
    passed between steps, by default `default_batch_size`. ``judge``: add the LLM judge step (GOAT's filter)
    between the answer and the formatting; ``parallel_calls``: independent calls share one assistant turn
    (`goat_datasets.formats.sft.build_messages`)."""
    rows = [{"chain_id": c["id"], "chain": json.dumps(c, sort_keys=True)} for c in chains]
    total = len(rows)
    batch_size = batch_size or default_batch_size(concurrency)
    if batch_size < concurrency:
        raise ValueError(f"batch_size {batch_size} < concurrency {concurrency}: the extra workers would never run")
    with GoatPipeline(name=f"goat-sft-{name}", cache_dir=str(build_dir / "distilabel")) as pipeline:
        load = load_rows_step(
            "load_chains", build_dir / "pipeline_input" / "chains.jsonl", rows, batch_size, ["chain_id", "chain"]
        )
        execute = ExecuteChains(
            name="execute_chains",
            concurrency=concurrency,
            build_dir=str(build_dir),
            llm_config=llm_config,
            sources=sources,
            fingerprint=fingerprint,
            input_batch_size=batch_size,
            total=total,
        )
        write = WriteQueryAndAnswer(
            name="write_query_and_answer",
            concurrency=concurrency,
            position=1,
            build_dir=str(build_dir),
            llm_config=llm_config,
            input_batch_size=batch_size,
            total=total,
        )
        fmt = FormatSFT(
            name="format_sft",
            build_dir=str(build_dir),
            system_prompt=system_prompt,
            parallel_calls=parallel_calls,
            input_batch_size=batch_size,
        )
        if judge:
            check = JudgeTraces(
                name="judge",
                position=2,
                build_dir=str(build_dir),
                llm_config=llm_config,
                concurrency=concurrency,
                input_batch_size=batch_size,
                total=total,
            )
            load >> execute >> write >> check >> fmt
        else:
            load >> execute >> write >> fmt
    return pipeline


class PipelineIncomplete(RuntimeError):
    """The pipeline returned fewer rows than it was given chains (it was stopped): nothing may be saved as final."""


class _OwnLinesOnly(logging.Filter):
    """INFO lines of a step logger written by our steps' code; warnings and errors from anywhere."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or record.pathname == _STEPS_FILE


_STEPS_FILE = sys.modules[ExecuteChains.__module__].__file__


def _steps(pipeline: GoatPipeline) -> list[Any]:
    from distilabel import constants

    return [pipeline.dag.get_step(name)[constants.STEP_ATTR_NAME] for name in pipeline.dag]


def run_pipeline(pipeline: GoatPipeline, *, use_cache: bool = False, quiet: bool = True) -> list[dict[str, Any]]:
    """Run and return one row per input row (ok and rejected), in input order: the last step's rows and those that
    build steps set aside on the way (`_BuildStep._pass_on`).

    ``use_cache=False`` (the default) ignores distilabel's batch cache, which cannot resume a killed run (see the
    module docstring); the steps' call caches make the rerun cheap. Raises `PipelineIncomplete` when distilabel
    returns fewer rows than chains (a stopped run), so that a partial result is never saved as the build's rows.
    """
    steps = _steps(pipeline)
    loads = [step for step in steps if isinstance(step, LoadRows)]
    if not any(step.count for step in loads):
        return []  # nothing to do: distilabel would wait forever for rows that never come
    set_aside_dirs = sorted({Path(s.build_dir) for s in steps if isinstance(s, _BuildStep)})
    for d in set_aside_dirs:  # left by a run that was killed: this run starts afresh
        (d / SET_ASIDE_FILE).unlink(missing_ok=True)
    if quiet:
        for name in ("distilabel", "distilabel.pipeline", "distilabel.step"):
            logging.getLogger(name).setLevel(logging.WARNING)
        for step in steps:  # our steps' per-batch call counts stay visible, distilabel's own step chatter does not
            if hasattr(step, "_record_batch"):
                step_logger = logging.getLogger(f"distilabel.step.{step.name}")
                step_logger.setLevel(logging.INFO)
                if not any(isinstance(f, _OwnLinesOnly) for f in step_logger.filters):
                    step_logger.addFilter(_OwnLinesOnly())
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        distiset = pipeline.run(use_cache=use_cache)
    finally:
        # distilabel leaves a handler on the root logger that feeds a queue it closes when the run ends; any later
        # log record (httpx during publish, say) would then print a "Logging error" traceback.
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    rows = distiset["default"]["train"].to_list() if distiset and "default" in distiset else []
    for d in set_aside_dirs:
        rows += take_set_aside(d)
    expected = sum(step.count for step in loads)
    if len(rows) != expected:
        raise PipelineIncomplete(f"the pipeline returned {len(rows)} rows for {expected} chains (stopped early?)")
    order = {r["chain_id"]: i for step in loads for i, r in enumerate(step.read()) if "chain_id" in r}
    rows.sort(key=lambda r: order.get(r.get("chain_id"), len(order)))  # stable: rows without a chain id keep theirs
    return rows


def _reject(row: dict[str, Any], stage: str, reason: str) -> None:
    row.update(status="rejected", stage=stage, reason=reason)


def filter_rows(
    rows: list[dict[str, Any]],
    *,
    dedup_threshold: float | None = 0.8,
    dedup_ngram: int = 2,
    references: list[Any] | None = None,
    contamination_ngram: int = 8,
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Copies of ``rows`` with near-duplicate queries (stage ``duplicate``) and queries sharing a word n-gram with a
    benchmark item (stage ``contaminated``) rejected, and the number of each.

    Only rows still "ok" take part, in chain-id order: the first of a group of near-duplicates is kept, whatever
    order the pipeline returned the rows in. Deduplication comes first, so the counts follow the card's order.
    """
    from goat_datasets.formats.dedup import NgramIndex, find_near_duplicates

    out = [dict(r) for r in rows]
    counts = {"duplicate": 0, "contaminated": 0}
    live = sorted((r for r in out if r["status"] == "ok"), key=lambda r: r["chain_id"])
    if dedup_threshold is not None and live:
        for dup in find_near_duplicates([r["query"] for r in live], threshold=dedup_threshold, ngram=dedup_ngram):
            kept = live[dup.kept_index]
            _reject(
                live[dup.index], "duplicate",
                f"near-duplicate of {kept['chain_id']} (Jaccard {dup.similarity:.2f} over word {dedup_ngram}-grams >= "
                f"{dedup_threshold}): {kept['query']!r}",
            )  # fmt: skip
            counts["duplicate"] += 1
        live = [r for r in live if r["status"] == "ok"]
    if references and live:
        for hit in NgramIndex(references, contamination_ngram).find([r["query"] for r in live]):
            _reject(
                live[hit.index], "contaminated",
                f"shares the {contamination_ngram}-word n-gram {hit.ngram!r} with {hit.source} item {hit.item_id}",
            )  # fmt: skip
            counts["contaminated"] += 1
    return out, counts


def apply_filters(rows: list[dict[str, Any]], recipe: Any, log: Any = print) -> list[dict[str, Any]]:
    """`filter_rows` with the recipe's ``filters`` settings and benchmarks (read each time: a benchmark file that
    changed is honoured without regenerating anything)."""
    from goat_datasets.formats.dedup import load_reference_items

    f = recipe.filters
    references = []
    for bench in f.decontaminate_against:
        items = load_reference_items(
            path=recipe.resolve_path(bench.path) if bench.path else None,
            dataset=bench.dataset,
            config=bench.config,
            split=bench.split,
            column=bench.column,
            id_column=bench.id_column,
            label=bench.label(),
        )
        log(f"decontamination: {len(items)} texts from {bench.label()}")
        references += items
    out, counts = filter_rows(
        rows,
        dedup_threshold=f.dedup_threshold,
        dedup_ngram=f.dedup_ngram,
        references=references,
        contamination_ngram=f.contamination_ngram,
    )
    if f.dedup_threshold is not None or references:
        log(f"filters: {counts['duplicate']} near-duplicate and {counts['contaminated']} contaminated queries removed")
    return out
