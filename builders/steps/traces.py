"""distilabel steps for SFT traces: thin adapters over `goat_builders.traces`.

Rows carry ``status`` ("ok" or "rejected") with ``stage`` and ``reason``: a failed call never becomes an empty row,
and rejected rows flow to the end of the pipeline so they can be published in the ``rejected`` config.

Progress: a step given ``total`` (the rows it will see) logs after each batch how far it is, its rate and the time
left ("execute_chains: 16/48 chains (33%), 2.1 s/chain, ~1m07s left, 3 rejected"), measured in its own process.

Resuming: the steps answer API calls from ``calls.sqlite`` and LLM calls from ``llm.sqlite`` in the build directory,
so a build killed in the middle of a batch redoes no call that already succeeded, and each batch is logged (step
logger and ``build_log.jsonl``) with its live and cached calls.

distilabel's own cache (used only with ``run_pipeline(use_cache=True)``; see `goat_builders.sft_traces` for why
builds do not) keys a step by a hash of its attributes only, so the steps carry ``template_hash`` (their prompt
templates) and ``code_hash`` (the code they run) as attributes: editing either invalidates the step and the ones
after it. In practice a code or template edit also changes the build fingerprint and so starts a fresh build
directory; the per-step hashes are what keeps distilabel's cache honest inside one build directory.
"""


import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from distilabel.mixins.runtime_parameters import RuntimeParameter
from distilabel.steps import Step, StepInput
from pydantic import Field, PrivateAttr

from goat_builders.prompting import template_hash
from goat_builders.steps.context import (
    CALLS_CACHE_FILE,
    SetAsideCounter,
    append_build_log,
    code_hash,
    load_apis,
    make_cached_llm,
    set_aside,
)
from goat_builders.traces import (
    LLMUsage,
    execute_chain,
    judge_item,
    merge_usage,
    write_final_answer,
    write_query,
    write_sub_instructions,
)
from goat_datasets.cache.store import ResponseCache
from goat_datasets.execution.replay import CachingExecutor
from goat_datasets.execution.router import make_router
from goat_datasets.formats.sft import build_messages, with_chain_dependencies

# The code a step's output depends on: its hash is a step attribute, so distilabel's signature follows code edits.
STEP_CODE_MODULES = ("goat_builders.traces", __name__, "goat_datasets.formats.sft")


def _code_hash() -> str:
    return code_hash(*STEP_CODE_MODULES)


def _merge_usage(row: dict[str, Any], usage: LLMUsage) -> None:
    row["usage"] = json.dumps(merge_usage(json.loads(row.get("usage") or "{}"), usage.as_dict()))


def format_duration(seconds: float) -> str:
    """``42s``, ``1m07s``, ``2h05m``: short enough for a progress line."""
    s = max(0, int(round(seconds)))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def progress_line(step: str, done: int, total: int, elapsed_s: float, rejected: int, what: str = "rows") -> str:
    """``"execute_chains: 16/48 chains (33%), 2.1 s/chain, ~1m07s left, 3 rejected"``; without a known total,
    just the count and the rate."""
    unit = what[:-1] if what.endswith("s") else what
    rate = elapsed_s / done if done else 0.0
    if total > 0:
        head = f"{step}: {done}/{total} {what} ({100 * done // total}%), {rate:.1f} s/{unit}"
        left = f"~{format_duration(rate * (total - done))} left" if done < total else "done"
        return f"{head}, {left}, {rejected} rejected"
    return f"{step}: {done} {what}, {rate:.1f} s/{unit}, {rejected} rejected"


class _BuildStep(Step):
    build_dir: str
    llm_config: dict[str, Any] = Field(default_factory=dict)
    concurrency: RuntimeParameter[int] = Field(default=4, description="rows processed at once in a batch")
    total: int = Field(default=0, description="rows the pipeline started with, for progress lines (0: unknown)")
    position: int = Field(default=0, description="the step's place in the pipeline: 0 for the first build step")
    code_hash: str = Field(default_factory=_code_hash)

    _apis: dict = PrivateAttr(default_factory=dict)
    _progress: dict = PrivateAttr(default_factory=dict)  # started (monotonic s), done, rejected: across batches
    _llm: Any = PrivateAttr(default=None)
    _calls: Any = PrivateAttr(default=None)  # the CachingExecutor of steps that call APIs
    _pool: Any = PrivateAttr(default=None)  # the step's workers, kept across batches
    _set_aside_before: Any = PrivateAttr(default=None)  # rows that earlier steps set aside (never reach this one)

    def load(self) -> None:
        super().load()
        self._apis = load_apis(self.build_dir)
        self._set_aside_before = SetAsideCounter(self.build_dir, before=self.position)
        if self.llm_config:
            self._llm = make_cached_llm(self.llm_config, self.build_dir)

    def unload(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        if self._llm is not None:
            self._llm.close()
            self._llm = None
        super().unload()

    def _call_counts(self) -> dict[str, int]:
        api = dict(self._calls.counts) if self._calls is not None else {}
        llm = self._llm.snapshot() if self._llm is not None else {}
        return {
            "api_live": api.get("live", 0),
            "api_cached": api.get("hits", 0),
            "llm_live": llm.get("live", 0),
            "llm_cached": llm.get("hits", 0),
            "llm_failed": llm.get("failed", 0),
        }

    def _record_batch(self, rows: list[dict[str, Any]], before: dict[str, int], what: str = "rows") -> None:
        """Logs the step's progress and the batch's calls (step logger) and appends them to ``build_log.jsonl``."""
        now = self._call_counts()
        delta = {k: now[k] - before.get(k, 0) for k in now}  # the counts only (before also holds batch timing)
        ok = sum(r.get("status") == "ok" for r in rows)
        progress = self._progress
        progress["done"] = progress.get("done", 0) + len(rows)
        progress["rejected"] = progress.get("rejected", 0) + len(rows) - ok - before.get("arrived_rejected", 0)
        elapsed = time.monotonic() - progress.get("started", time.monotonic())
        api = f"API calls: {delta['api_live']} live, {delta['api_cached']} cached; " if self._calls is not None else ""
        expected = max(progress["done"], self.total - self._set_aside_before()) if self.total else 0
        self._logger.info(
            progress_line(self.name, progress["done"], expected, elapsed, progress["rejected"], what)
            + f"; {api}LLM calls: {delta['llm_live']} live, {delta['llm_cached']} cached"
            + (f" ({delta['llm_failed']} failed)" if delta["llm_failed"] else "")
        )
        record = {"step": self.name, "rows": len(rows), "ok": ok, "done": progress["done"], "total": expected}
        record["batch_s"] = round(time.monotonic() - before.get("batch_started", time.monotonic()), 4)
        append_build_log(self.build_dir, {**record, **delta})

    def _start_batch(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        """The call counts before a batch, its start time and its rows that arrived rejected (a whole batch that an
        earlier step rejected: not this step's rejections); the first batch starts the step's clock."""
        now = time.monotonic()
        self._progress.setdefault("started", now)
        arrived_rejected = sum(r.get("status", "ok") != "ok" for r in rows)
        return {**self._call_counts(), "batch_started": now, "arrived_rejected": arrived_rejected}

    def _pass_on(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The rows still ok, for the next step; the rejected ones are set aside (`set_aside`) rather than passed
        along, so that the next steps' batches hold only rows with work to do and no worker idles beside a row
        that needs none. `goat_builders.sft_traces.run_pipeline` puts them back with the pipeline's output.

        A batch with no row left is passed on whole: distilabel 1.5.3 waits forever for a step that never receives
        a row (seen when every API call of a build failed); the later steps skip rejected rows, so it costs nothing.
        """
        rejected = [r for r in rows if r.get("status") != "ok"]
        if len(rejected) == len(rows):
            return rows
        for row in rejected:
            row.setdefault("api_ids", [c["api_id"] for c in json.loads(row.get("calls") or "[]")])
        set_aside(self.build_dir, rejected, self.position)
        return [r for r in rows if r.get("status") == "ok"]

    def _map(self, fn, rows: list[dict[str, Any]]) -> None:
        workers = max(1, int(self.concurrency or 1))
        if workers == 1 or len(rows) == 1:
            for row in rows:
                fn(row)
            return
        if self._pool is None:  # one pool for the step's life: its threads keep their HTTP and SQLite connections
            self._pool = ThreadPoolExecutor(workers, thread_name_prefix=self.name)
        list(self._pool.map(fn, rows))


class ExecuteChains(_BuildStep):
    """Fill arguments (edge values from parents' responses, the rest by the LLM) and execute each call in order."""

    sources: list[dict[str, Any]] = Field(default_factory=list)
    fingerprint: str = ""  # recorded with each call in calls.sqlite
    template_hash: str = Field(default_factory=lambda: template_hash("fill_arguments"))

    _cache: Any = PrivateAttr(default=None)

    @property
    def inputs(self) -> list[str]:
        return ["chain_id", "chain"]

    @property
    def outputs(self) -> list[str]:
        return ["calls", "status", "stage", "reason", "usage"]

    def load(self) -> None:
        super().load()
        self._cache = ResponseCache(Path(self.build_dir) / CALLS_CACHE_FILE)
        self._calls = CachingExecutor(make_router(self.sources), self._cache, self.fingerprint)

    def unload(self) -> None:
        if self._calls is not None:
            self._calls.close()
            self._calls = None
        if self._cache is not None:
            self._cache.close()
            self._cache = None
        super().unload()

    def _one(self, row: dict[str, Any]) -> None:
        steps = json.loads(row["chain"])["steps"]
        run = execute_chain(steps, self._apis, self._calls, self._llm)
        row["calls"] = json.dumps([c.as_dict() for c in run.calls], ensure_ascii=False)
        row["status"] = "ok" if run.ok else "rejected"
        row["stage"] = "" if run.ok else run.failure.stage
        row["reason"] = "" if run.ok else run.failure.reason
        _merge_usage(row, run.usage)

    def process(self, inputs: StepInput):  # type: ignore[override]
        before = self._start_batch(inputs)
        self._map(self._one, inputs)
        self._record_batch(inputs, before, "chains")
        yield self._pass_on(inputs)


class WriteQueryAndAnswer(_BuildStep):
    """From the real results: one sub-instruction per call, the user query merged from them, then the final answer.

    The three are one step because each needs the one before, row by row; ``sub_instructions`` is a JSON list.
    """

    template_hash: str = Field(
        default_factory=lambda: template_hash("sub_instructions", "user_query", "final_answer")
    )

    @property
    def inputs(self) -> list[str]:
        return ["calls", "status"]

    @property
    def outputs(self) -> list[str]:
        return ["sub_instructions", "query", "final_answer", "status", "stage", "reason", "usage"]

    def _one(self, row: dict[str, Any]) -> None:
        row.update(sub_instructions="[]", query="", final_answer="")
        if row["status"] != "ok":
            return
        calls = json.loads(row["calls"])
        usage = LLMUsage()
        try:
            instructions, reason = write_sub_instructions(calls, self._apis, self._llm, usage)
            if instructions is None:
                row.update(status="rejected", stage="sub_instructions", reason=reason)
                return
            row["sub_instructions"] = json.dumps(instructions, ensure_ascii=False)
            query, reason = write_query(instructions, calls, self._llm, usage)
            if query is None:
                row.update(status="rejected", stage="query", reason=reason)
                return
            row["query"] = query
            answer, reason = write_final_answer(query, calls, self._llm, usage)
            row["final_answer"] = answer or ""
            if answer is None:
                row.update(status="rejected", stage="answer", reason=reason)
        finally:
            _merge_usage(row, usage)

    def process(self, inputs: StepInput):  # type: ignore[override]
        before = self._start_batch(inputs)
        self._map(self._one, inputs)
        self._record_batch(inputs, before)
        yield self._pass_on(inputs)


class JudgeTraces(_BuildStep):
    """GOAT's filter: an LLM judge keeps an item only if every sub-instruction follows from the query and the answer
    fits the query. A "no" and a verdict that cannot be read are both rejections (stage "judge") with the reason."""

    template_hash: str = Field(default_factory=lambda: template_hash("judge"))

    @property
    def inputs(self) -> list[str]:
        return ["calls", "sub_instructions", "query", "final_answer", "status"]

    @property
    def outputs(self) -> list[str]:
        return ["judge_reason", "status", "stage", "reason", "usage"]

    def _one(self, row: dict[str, Any]) -> None:
        row["judge_reason"] = ""
        if row["status"] != "ok":
            return
        usage = LLMUsage()
        verdict, reason = judge_item(
            row["query"], json.loads(row["sub_instructions"]), row["final_answer"], json.loads(row["calls"]),
            self._llm, usage,
        )  # fmt: skip
        _merge_usage(row, usage)
        if verdict is None:
            row.update(status="rejected", stage="judge", reason=reason)
        elif not verdict.keep:
            row.update(status="rejected", stage="judge", reason=f"the judge said no: {verdict.reason or '(no reason)'}")
            row["judge_reason"] = verdict.reason
        else:
            row["judge_reason"] = verdict.reason

    def process(self, inputs: StepInput):  # type: ignore[override]
        before = self._start_batch(inputs)
        self._map(self._one, inputs)
        self._record_batch(inputs, before)
        yield self._pass_on(inputs)


class FormatSFT(Step):
    """messages + tools (JSON string) in trl's conversational format; the tools offered are every operation of
    the services the chain touches, so the model must still choose among them."""

    build_dir: str
    system_prompt: str | None = None
    parallel_calls: bool = True  # independent calls share one assistant turn (False: one call per turn, Llama 3.1)
    code_hash: str = Field(default_factory=_code_hash)

    _apis: dict = PrivateAttr(default_factory=dict)

    @property
    def inputs(self) -> list[str]:
        return ["calls", "query", "final_answer", "status"]  # and "chain" when present: its steps' depends_on

    @property
    def outputs(self) -> list[str]:
        return ["messages", "tools", "api_ids", "status", "stage", "reason"]

    def load(self) -> None:
        super().load()
        self._apis = load_apis(self.build_dir)

    def process(self, inputs: StepInput):  # type: ignore[override]
        for row in inputs:
            calls = json.loads(row["calls"])
            if row.get("chain"):
                calls = with_chain_dependencies(calls, json.loads(row["chain"]).get("steps", []))
            row["api_ids"] = [c["api_id"] for c in calls]
            if row["status"] != "ok":
                row["messages"], row["tools"] = None, None
                continue
            tools = sorted({self._apis[c["api_id"]].tool for c in calls})
            offered = [a for a in self._apis.values() if a.tool in tools]
            row["tools"] = json.dumps([a.tool_schema() for a in offered], ensure_ascii=False)
            try:
                messages = build_messages(
                    row["query"], calls, row["final_answer"], self.system_prompt, parallel_calls=self.parallel_calls
                )
            except ValueError as exc:  # inconsistent dependencies: recorded, not published
                row.update(status="rejected", stage="format", reason=str(exc), messages=None, tools=None)
                continue
            row["messages"] = json.dumps(messages, ensure_ascii=False)
        yield inputs
