"""Execution check of candidate edges (GOAT §1a step 4, without the LLM judge yet).

For an edge A.field -> B.param: call A with example arguments, read the first value at ``field`` in A's response,
call B with that value as ``param`` (and example values for B's other required parameters). The edge passes when
both calls succeed and the value exists. Every call goes through an `Executor`, whose failures are values, so a dead
endpoint fails an edge with a reason instead of crashing the build.

Example arguments come from an `ArgumentSource`: by default `schema_example`, which reads a parameter's JSON Schema
(``examples``, ``example``, ``default``, first ``enum`` value). Later stages can plug in an LLM-invented scenario.
Only required parameters are filled: optional ones keep the API's own defaults, which is what a first call does.
"""

from __future__ import annotations

import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Mapping, Sequence

import networkx as nx
from pydantic import BaseModel, Field

from goat_datasets import jsonpath
from goat_datasets.execution.base import CallResult, Executor, is_empty_response
from goat_datasets.graph.model import DependencyEdge, StageResult, iter_edges, set_edge
from goat_datasets.sources.models import ApiSpec, Param

log = logging.getLogger(__name__)

MISSING = jsonpath.MISSING
ArgumentSource = Callable[[ApiSpec, Param], Any]
"""``(api, param) -> value``, or `MISSING` when it has no value for that parameter."""

STAGE = "execution_check"


def schema_example(api: ApiSpec, param: Param) -> Any:
    """The first value the parameter's schema documents: examples, example, default, enum[0], const."""
    schema = param.json_schema
    examples = schema.get("examples")
    if isinstance(examples, list) and examples:
        return examples[0]
    if isinstance(examples, dict) and examples:  # OpenAPI style: {name: {"value": ...}}
        first = next(iter(examples.values()))
        return first.get("value", MISSING) if isinstance(first, dict) else first
    for key in ("example", "default", "const"):
        if key in schema:
            return schema[key]
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return enum[0]
    return MISSING


def example_arguments(
    api: ApiSpec, source: ArgumentSource = schema_example, *, skip: Sequence[str] = ()
) -> tuple[dict[str, Any], list[str]]:
    """(arguments for the required parameters not in ``skip``, names of those without a value)."""
    arguments: dict[str, Any] = {}
    missing: list[str] = []
    for param in api.required_params:
        if param.name in skip:
            continue
        value = source(api, param)
        if value is MISSING:
            missing.append(param.name)
        else:
            arguments[param.name] = value
    return arguments, missing


class DroppedEdge(BaseModel):
    edge: str
    code: str
    reason: str


class ExecutionCheckStats(BaseModel):
    checked: int = 0
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    calls_a: int = Field(0, description="distinct example calls of source APIs")
    calls_b: int = Field(0, description="distinct calls of target APIs")
    reasons: dict[str, int] = Field(default_factory=dict, description="code -> edges (failed and skipped)")
    dropped: list[DroppedEdge] = Field(default_factory=list)
    kept_skipped: bool = True
    seconds: float = 0.0


def _call_key(api_id: str, arguments: dict[str, Any]) -> tuple[str, str]:
    return api_id, json.dumps(arguments, sort_keys=True, default=str)


def _describe_failure(result: CallResult) -> str:
    status = f"HTTP {result.status_code}" if result.status_code is not None else "no response"
    detail = (result.error or "").strip()
    return f"{status}: {detail[:200]}" if detail else status


def _short(value: Any, limit: int = 200) -> Any:
    """Keep edge details small: they end up in graph.json."""
    text = json.dumps(value, default=str)
    return value if len(text) <= limit else text[:limit] + "..."


class _CallCache:
    """Runs each distinct (api, arguments) call once, in a bounded thread pool."""

    def __init__(self, executor: Executor, apis: Mapping[str, ApiSpec], max_workers: int):
        self.executor, self.apis, self.max_workers = executor, apis, max_workers
        self.results: dict[tuple[str, str], CallResult] = {}

    def run(self, calls: list[tuple[str, dict[str, Any]]]) -> int:
        todo: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}
        for api_id, arguments in calls:
            key = _call_key(api_id, arguments)
            if key not in self.results and key not in todo:
                todo[key] = (api_id, arguments)
        if not todo:
            return 0
        with ThreadPoolExecutor(max_workers=max(1, min(self.max_workers, len(todo)))) as pool:
            futures = {key: pool.submit(self._one, api_id, args) for key, (api_id, args) in todo.items()}
            for key, future in futures.items():
                self.results[key] = future.result()
        return len(todo)

    def _one(self, api_id: str, arguments: dict[str, Any]) -> CallResult:
        try:
            return self.executor.call(self.apis[api_id], arguments)
        except Exception as exc:  # the protocol says executors never raise; one that does must not stop the build
            return CallResult(api_id=api_id, arguments=arguments, ok=False, error=f"executor raised {exc!r}", provenance="error")

    def get(self, api_id: str, arguments: dict[str, Any]) -> CallResult:
        return self.results[_call_key(api_id, arguments)]


def verify_by_execution(
    graph: nx.MultiDiGraph,
    apis: Sequence[ApiSpec] | Mapping[str, ApiSpec],
    executor: Executor,
    argument_source: ArgumentSource | None = None,
    *,
    max_workers: int = 8,
    keep_skipped: bool = True,
    drop_failed: bool = True,
    may_call: Callable[[ApiSpec], bool] | None = None,
) -> ExecutionCheckStats:
    """Record ``execution_check`` on every usable edge of ``graph`` (in place) and remove the failed ones.

    Skipped edges (no example value to call A or B with) stay in the graph unless ``keep_skipped`` is False: an
    unverifiable edge is not a wrong one, and many documents give no examples. ``may_call`` says which operations
    the check may execute (e.g. only reads against a live server: a booking made by the check changes what later
    checks see, so the graph would depend on call order); edges of the others are skipped.
    """
    started = time.perf_counter()
    source = argument_source or schema_example
    by_id = dict(apis) if isinstance(apis, Mapping) else {a.id: a for a in apis}
    stats = ExecutionCheckStats(kept_skipped=keep_skipped)
    edges = [e for e in iter_edges(graph) if e.usable]
    for e in edges:
        for api_id in (e.source_api, e.target_api):
            if api_id not in by_id:
                raise KeyError(f"graph edge {e.describe()} names API {api_id!r}, which is not among the given apis")

    verdicts: dict[str, StageResult] = {}  # edge description -> verdict, for edges decided before any call
    if may_call is not None:
        for e in edges:
            barred = [api_id for api_id in (e.source_api, e.target_api) if not may_call(by_id[api_id])]
            if barred:
                verdicts[e.describe()] = StageResult(
                    status="skipped",
                    code="not_called",
                    reason=f"the execution check does not call {', '.join(barred)} (it would change the API's state)",
                )
        edges_to_call = [e for e in edges if e.describe() not in verdicts]
    else:
        edges_to_call = edges
    a_args: dict[str, dict[str, Any]] = {}
    for api_id in sorted({e.source_api for e in edges_to_call}):
        arguments, missing = example_arguments(by_id[api_id], source)
        if missing:
            continue
        a_args[api_id] = arguments
    calls = _CallCache(executor, by_id, max_workers)
    stats.calls_a = calls.run([(api_id, args) for api_id, args in a_args.items()])

    b_calls: dict[str, tuple[str, dict[str, Any], Any]] = {}  # edge description -> (B id, arguments, value)
    for e in edges_to_call:
        verdict, planned = _plan_b_call(e, by_id, source, a_args, calls)
        if verdict is not None:
            verdicts[e.describe()] = verdict
        else:
            b_calls[e.describe()] = planned
    stats.calls_b = calls.run([(b, args) for b, args, _ in b_calls.values()])

    for e in edges:
        verdict = verdicts.get(e.describe())
        if verdict is None:
            b_id, b_arguments, value = b_calls[e.describe()]
            verdict = _judge_b_call(e, a_args[e.source_api], value, calls.get(b_id, b_arguments))
        _record(graph, e, verdict, stats, keep_skipped=keep_skipped, drop_failed=drop_failed)
    stats.seconds = time.perf_counter() - started
    log.info(
        "execution check: %d edges, %d passed, %d failed, %d skipped, %d+%d calls (%.2fs)",
        stats.checked, stats.passed, stats.failed, stats.skipped, stats.calls_a, stats.calls_b, stats.seconds,
    )  # fmt: skip
    return stats


def _plan_b_call(
    e: DependencyEdge,
    apis: Mapping[str, ApiSpec],
    source: ArgumentSource,
    a_args: dict[str, dict[str, Any]],
    calls: _CallCache,
) -> tuple[StageResult | None, Any]:
    if e.source_api not in a_args:
        _, missing = example_arguments(apis[e.source_api], source)
        return StageResult(
            status="skipped",
            code="no_example_arguments_a",
            reason=f"no example arguments for {e.source_api} (required without example: {', '.join(missing)})",
        ), None
    a_result = calls.get(e.source_api, a_args[e.source_api])
    if not a_result.ok:
        return StageResult(
            status="failed",
            code="a_failed",
            reason=f"{e.source_api} failed: {_describe_failure(a_result)}",
            details={"a_arguments": a_args[e.source_api], "a_status": a_result.status_code},
        ), None
    value = jsonpath.get_first(a_result.response, e.source_path)
    if value is MISSING or value is None:
        what = "missing from" if value is MISSING else "null in"
        return StageResult(
            status="failed",
            code="field_missing",
            reason=f"{e.source_path} is {what} the response of {e.source_api}",
            details={"a_arguments": a_args[e.source_api], "a_response": _short(a_result.response)},
        ), None
    if isinstance(value, (dict, list)) and not e.target_type.startswith(("array", "object")):
        return StageResult(
            status="failed",
            code="field_not_scalar",
            reason=f"{e.source_path} of {e.source_api} holds a {type(value).__name__}, {e.target_param} needs a scalar",
            details={"value": _short(value)},
        ), None
    b_args, missing = example_arguments(apis[e.target_api], source, skip=(e.target_param,))
    if missing:
        return StageResult(
            status="skipped",
            code="no_example_arguments_b",
            reason=f"no example arguments for {e.target_api} (required without example: {', '.join(missing)})",
            details={"value": _short(value)},
        ), None
    b_args[e.target_param] = value
    return None, (e.target_api, b_args, value)


def _judge_b_call(e: DependencyEdge, a_arguments: dict[str, Any], value: Any, b_result: CallResult) -> StageResult:
    details = {
        "a_arguments": a_arguments,
        "value": _short(value),
        "b_arguments": {k: _short(v) for k, v in b_result.arguments.items()},
        "b_status": b_result.status_code,
    }
    if not b_result.ok:
        return StageResult(
            status="failed",
            code="b_failed",
            reason=f"{e.target_api} failed with {e.target_param}={_short(value, 60)!r}: {_describe_failure(b_result)}",
            details=details,
        )
    if is_empty_response(b_result.response):
        return StageResult(
            status="failed",
            code="b_empty",
            reason=f"{e.target_api} found nothing for {e.target_param}={_short(value, 60)!r} taken from {e.source_path}",
            details=details,
        )
    return StageResult(
        status="passed",
        code="both_calls_ok",
        reason=f"{e.target_api} accepted {e.target_param}={_short(value, 60)!r} taken from {e.source_path}",
        details=details,
    )


def _record(
    graph: nx.MultiDiGraph,
    e: DependencyEdge,
    verdict: StageResult,
    stats: ExecutionCheckStats,
    *,
    keep_skipped: bool,
    drop_failed: bool,
) -> None:
    stats.checked += 1
    if verdict.status == "passed":
        stats.passed += 1
    else:
        stats.reasons[verdict.code] = stats.reasons.get(verdict.code, 0) + 1
        if verdict.status == "failed":
            stats.failed += 1
        else:
            stats.skipped += 1
    apply_verdict(graph, e, STAGE, verdict, stats.dropped, keep_skipped=keep_skipped, drop_failed=drop_failed)


def apply_verdict(
    graph: nx.MultiDiGraph,
    edge: DependencyEdge,
    stage: str,
    verdict: StageResult,
    dropped: list[DroppedEdge],
    *,
    keep_skipped: bool,
    drop_failed: bool = True,
) -> None:
    """Write a stage's verdict on its edge, or remove the edge (a failure, or a skip when ``keep_skipped`` is off)
    and list it in ``dropped``: the rule every checking stage (LLM check, execution check) applies."""
    drop = (verdict.status == "failed" and drop_failed) or (verdict.status == "skipped" and not keep_skipped)
    if drop:
        dropped.append(DroppedEdge(edge=edge.describe(), code=verdict.code, reason=verdict.reason))
        graph.remove_edge(edge.source_api, edge.target_api, key=edge.key)
    else:
        set_edge(graph, edge.with_stage(stage, verdict))
