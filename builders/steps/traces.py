"""distilabel steps for SFT traces: thin adapters over `goat_builders.traces`.

Rows carry ``status`` ("ok" or "rejected") with ``stage`` and ``reason``: a failed call never becomes an empty row,
and rejected rows flow to the end of the pipeline so they can be published in the ``rejected`` config.
"""


import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from distilabel.mixins.runtime_parameters import RuntimeParameter
from distilabel.steps import Step, StepInput
from pydantic import Field, PrivateAttr

from goat_builders.prompting import template_hash
from goat_builders.steps.context import load_apis, make_llm
from goat_builders.traces import LLMUsage, execute_chain, write_final_answer, write_query
from goat_datasets.execution.router import make_router
from goat_datasets.formats.sft import build_messages


def _merge_usage(row: dict[str, Any], usage: LLMUsage) -> None:
    prev = json.loads(row.get("usage") or "{}")
    merged = usage.as_dict()
    for k, v in prev.items():
        merged[k] = merged.get(k, 0) + v
    row["usage"] = json.dumps(merged)


class _BuildStep(Step):
    build_dir: str
    llm_config: dict[str, Any] = Field(default_factory=dict)
    concurrency: RuntimeParameter[int] = Field(default=4, description="rows processed at once in a batch")

    _apis: dict = PrivateAttr(default_factory=dict)
    _llm: Any = PrivateAttr(default=None)

    def load(self) -> None:
        super().load()
        self._apis = load_apis(self.build_dir)
        if self.llm_config:
            self._llm = make_llm(self.llm_config)

    def _map(self, fn, rows: list[dict[str, Any]]) -> None:
        workers = max(1, min(int(self.concurrency or 1), len(rows)))
        if workers == 1:
            for row in rows:
                fn(row)
            return
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(fn, rows))


class ExecuteChains(_BuildStep):
    """Fill arguments (edge values from parents' responses, the rest by the LLM) and execute each call in order."""

    sources: list[dict[str, Any]] = Field(default_factory=list)
    template_hash: str = Field(default_factory=lambda: template_hash("fill_arguments"))

    _router: Any = PrivateAttr(default=None)

    @property
    def inputs(self) -> list[str]:
        return ["chain_id", "chain"]

    @property
    def outputs(self) -> list[str]:
        return ["calls", "status", "stage", "reason", "usage"]

    def load(self) -> None:
        super().load()
        self._router = make_router(self.sources)

    def unload(self) -> None:
        if self._router is not None:
            self._router.close()
        super().unload()

    def _one(self, row: dict[str, Any]) -> None:
        steps = json.loads(row["chain"])["steps"]
        run = execute_chain(steps, self._apis, self._router, self._llm)
        row["calls"] = json.dumps([c.as_dict() for c in run.calls], ensure_ascii=False)
        row["status"] = "ok" if run.ok else "rejected"
        row["stage"] = "" if run.ok else run.failure.stage
        row["reason"] = "" if run.ok else run.failure.reason
        _merge_usage(row, run.usage)

    def process(self, inputs: StepInput):  # type: ignore[override]
        self._map(self._one, inputs)
        ok = sum(r["status"] == "ok" for r in inputs)
        self._logger.info(f"executed {len(inputs)} chains: {ok} ok, {len(inputs) - ok} rejected")
        yield inputs


class WriteQueryAndAnswer(_BuildStep):
    """From the real results, write the goal-oriented user query and then the final answer."""

    template_hash: str = Field(default_factory=lambda: template_hash("user_query", "final_answer"))

    @property
    def inputs(self) -> list[str]:
        return ["calls", "status"]

    @property
    def outputs(self) -> list[str]:
        return ["query", "final_answer", "status", "stage", "reason", "usage"]

    def _one(self, row: dict[str, Any]) -> None:
        row.setdefault("query", "")
        row.setdefault("final_answer", "")
        if row["status"] != "ok":
            row["query"], row["final_answer"] = "", ""
            return
        calls = json.loads(row["calls"])
        usage = LLMUsage()
        query, reason = write_query(calls, self._apis, self._llm, usage)
        if query is None:
            row.update(status="rejected", stage="query", reason=reason, query="", final_answer="")
        else:
            answer, reason = write_final_answer(query, calls, self._llm, usage)
            row["query"] = query
            row["final_answer"] = answer or ""
            if answer is None:
                row.update(status="rejected", stage="answer", reason=reason)
        _merge_usage(row, usage)

    def process(self, inputs: StepInput):  # type: ignore[override]
        self._map(self._one, inputs)
        yield inputs


class FormatSFT(Step):
    """messages + tools (JSON string) in trl's conversational format; the tools offered are every operation of
    the services the chain touches, so the model must still choose among them."""

    build_dir: str
    system_prompt: str | None = None

    _apis: dict = PrivateAttr(default_factory=dict)

    @property
    def inputs(self) -> list[str]:
        return ["calls", "query", "final_answer", "status"]

    @property
    def outputs(self) -> list[str]:
        return ["messages", "tools", "api_ids"]

    def load(self) -> None:
        super().load()
        self._apis = load_apis(self.build_dir)

    def process(self, inputs: StepInput):  # type: ignore[override]
        for row in inputs:
            calls = json.loads(row["calls"])
            row["api_ids"] = [c["api_id"] for c in calls]
            if row["status"] != "ok":
                row["messages"], row["tools"] = None, None
                continue
            tools = sorted({self._apis[c["api_id"]].tool for c in calls})
            offered = [a for a in self._apis.values() if a.tool in tools]
            row["tools"] = json.dumps([a.tool_schema() for a in offered], ensure_ascii=False)
            row["messages"] = json.dumps(
                build_messages(row["query"], calls, row["final_answer"], self.system_prompt), ensure_ascii=False
            )
        yield inputs
