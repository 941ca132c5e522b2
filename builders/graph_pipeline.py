"""The graph stage's LLM work as distilabel pipelines: API descriptions before the candidates, the edge check after.

`goat_datasets.graph.build.build_graph` takes both as hooks (it never imports the builders); `describe_hook` and
`llm_check_hook` make them for one build, given the LLM config `goat_builders.build.llm_endpoint` yields::

    with llm_endpoint(recipe, log) as llm_cfg:
        graph, stats = build_graph(apis, ..., describe=describe_hook(llm_cfg, build_dir, "fill"),
                                   llm_check=llm_check_hook(llm_cfg, build_dir))

Each call runs one small pipeline (``LoadRows >> Task``) whose Task asks the one
shared endpoint through `CachedEndpointLLM`, so every generation lands in ``llm.sqlite`` and a rerun makes no
request. Like the trace pipeline, it runs without distilabel's batch cache (`goat_builders.sft_traces.run_pipeline`).
The descriptions written are saved as ``descriptions.json`` in the build directory, for inspection.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from goat_builders.pipeline_base import GoatPipeline  # first: it silences a distilabel warning at import
from goat_builders.llm_adapter import CachedEndpointLLM
from goat_builders.sft_traces import run_pipeline
from goat_builders.steps.load import load_rows_step
from goat_builders.steps.graph_tasks import CheckEdges, DescribeApis, _GraphTask, answer_from_json
from goat_datasets.graph.descriptions import (
    MAX_ITEMS_PER_REQUEST,
    DescriptionStats,
    apply_answers,
    plan_requests,
)
from goat_datasets.graph.llm_check import (
    DEFAULT_ATTEMPTS,
    LlmCheckStats,
    count_verdicts,
    edge_context,
    verdict_result,
)
from goat_datasets.graph.model import DependencyEdge, StageResult
from goat_datasets.sources.models import ApiSpec

DESCRIPTIONS_FILE = "descriptions.json"
Log = Callable[[str], None]
_TASKS_FILE = sys.modules[_GraphTask.__module__].__file__


class _TaskLinesOnly(logging.Filter):
    """INFO lines written by the graph Tasks' own code (progress); warnings and errors from anywhere."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or record.pathname == _TASKS_FILE


def _run_task(
    task_cls: type[_GraphTask],
    name: str,
    requests: list[dict[str, Any]],
    llm_config: dict[str, Any],
    build_dir: Path,
    *,
    batch_size: int,
    concurrency: int,
    attempts: int,
    quiet: bool = True,
    **task_kwargs: Any,
) -> list[Any]:
    """Run ``LoadRows >> task_cls`` over ``requests``; one `Answer` per request, in order. A batch holds at least
    ``concurrency`` requests, so that every request slot has one."""
    batch_size = max(batch_size, concurrency)
    rows = [{"index": i, "request": json.dumps(r, ensure_ascii=False, sort_keys=True)} for i, r in enumerate(requests)]
    llm = CachedEndpointLLM(llm_config=llm_config, build_dir=str(build_dir), concurrency=concurrency)
    with GoatPipeline(name=f"goat-graph-{name}", cache_dir=str(Path(build_dir) / "distilabel")) as pipeline:
        load = load_rows_step(
            f"load_{name}", Path(build_dir) / "pipeline_input" / f"{name}.jsonl", rows, batch_size, ["index", "request"]
        )
        task = task_cls(
            name=name, llm=llm, build_dir=str(build_dir), attempts=attempts, total=len(rows),
            input_batch_size=batch_size, add_raw_output=False, add_raw_input=False, **task_kwargs,
        )  # fmt: skip
        load >> task
    step_logger = logging.getLogger(f"distilabel.step.{name}")
    if quiet:  # the per-batch progress lines stay visible, distilabel's own chatter does not
        step_logger.setLevel(logging.INFO)
        if not any(isinstance(f, _TaskLinesOnly) for f in step_logger.filters):
            step_logger.addFilter(_TaskLinesOnly())
    out = run_pipeline(pipeline, quiet=quiet)
    by_index = {int(row["index"]): answer_from_json(row["answer"]) for row in out}
    missing = [i for i in range(len(rows)) if i not in by_index]
    if missing:
        raise RuntimeError(f"the {name} pipeline returned no answer for {len(missing)} of {len(rows)} requests")
    return [by_index[i] for i in range(len(rows))]


def describe_apis(
    apis: Sequence[ApiSpec],
    llm_config: dict[str, Any],
    build_dir: str | Path,
    mode: str,
    *,
    attempts: int = DEFAULT_ATTEMPTS,
    batch_size: int = 8,
    concurrency: int = 4,
    max_items: int = MAX_ITEMS_PER_REQUEST,
    log: Log | None = None,
) -> tuple[list[ApiSpec], DescriptionStats]:
    """Copies of ``apis`` with the texts ``mode`` asks the LLM for (``document``: none, no pipeline)."""
    started = time.perf_counter()
    build_dir = Path(build_dir)
    requests, stats = plan_requests(apis, mode, max_items=max_items)
    written: dict[str, dict[str, str]] = {}
    out = list(apis)
    if requests:
        if log:
            log(f"graph: describing {stats.asked} of {stats.items} texts of {stats.apis_asked} APIs ({mode}) ...")
        answers = _run_task(
            DescribeApis, "describe_apis", requests, llm_config, build_dir,
            batch_size=batch_size, concurrency=concurrency, attempts=attempts, max_items=max_items,
        )  # fmt: skip
        out, written = apply_answers(apis, requests, answers, stats)
    stats.seconds = time.perf_counter() - started
    build_dir.mkdir(parents=True, exist_ok=True)
    (build_dir / DESCRIPTIONS_FILE).write_text(
        json.dumps({"stats": stats.model_dump(mode="json"), "written": written}, indent=1, ensure_ascii=False)
    )
    if log:
        log(
            f"graph: descriptions ({mode}): {stats.written} written, {stats.fallback} fell back to the document, "
            f"{stats.from_document} from the document ({stats.seconds:.1f}s)"
        )
    return out, stats


def check_edges(
    edges: Sequence[DependencyEdge],
    apis: Mapping[str, ApiSpec] | Sequence[ApiSpec],
    llm_config: dict[str, Any],
    build_dir: str | Path,
    *,
    attempts: int = DEFAULT_ATTEMPTS,
    batch_size: int = 16,
    concurrency: int = 4,
    log: Log | None = None,
) -> tuple[list[StageResult], LlmCheckStats]:
    """One ``llm_check`` verdict per edge, in order, and their counts (``dropped`` is filled by `apply_llm_check`)."""
    started = time.perf_counter()
    by_id = dict(apis) if isinstance(apis, Mapping) else {a.id: a for a in apis}
    contexts = [edge_context(e, by_id) for e in edges]
    results: list[StageResult] = []
    if contexts:
        if log:
            log(f"graph: LLM check of {len(contexts)} candidate edges ...")
        answers = _run_task(
            CheckEdges, "check_edges", contexts, llm_config, Path(build_dir),
            batch_size=batch_size, concurrency=concurrency, attempts=attempts,
        )  # fmt: skip
        results = [verdict_result(a) for a in answers]
    stats = count_verdicts(results)
    stats.seconds = time.perf_counter() - started
    if log:
        log(
            f"graph: LLM check: {stats.connectable} connectable, {stats.not_connectable} not, "
            f"{stats.unparseable} unparseable, {stats.llm_failures} LLM failures ({stats.seconds:.1f}s)"
        )
    return results, stats


def describe_hook(
    llm_config: dict[str, Any], build_dir: str | Path, mode: str, *, log: Log | None = None, **options: Any
) -> Callable[[list[ApiSpec]], tuple[list[ApiSpec], DescriptionStats]] | None:
    """`build_graph`'s ``describe`` for ``mode``; None for ``document`` (nothing to ask)."""
    plan_requests([], mode)  # an unknown mode fails here, before any model starts
    if mode == "document":
        return None
    return lambda apis: describe_apis(apis, llm_config, build_dir, mode, log=log, **options)


def llm_check_hook(
    llm_config: dict[str, Any], build_dir: str | Path, *, log: Log | None = None, **options: Any
) -> Callable[[list[DependencyEdge], dict[str, ApiSpec]], list[StageResult]]:
    """`build_graph`'s ``llm_check``: the verdicts only (build_graph counts and applies them)."""
    return lambda edges, apis: check_edges(edges, apis, llm_config, build_dir, log=log, **options)[0]
