"""distilabel Tasks of the graph stage: API descriptions (GOAT §1a step 1) and the LLM check of edges (step 3).

Thin adapters over `goat_datasets.graph.descriptions` and `goat_datasets.graph.llm_check`: a row carries one request
as a JSON string (what the prompt shows), the Task renders it with its template, asks its `LLM`, reads the answer
leniently and re-asks the unreadable ones with the reason (``attempts`` in all), then writes the outcome as JSON
columns. The LLM is any distilabel `LLM`; builds use `goat_builders.llm_adapter.CachedEndpointLLM` (the build's one
endpoint, behind ``llm.sqlite``), so a rerun answers from the cache.

Each batch is logged (``<step>: n/total ...``, the progress of a slow local model) and appended to
``build_log.jsonl`` with its live and cached LLM calls. ``template_hash`` and ``code_hash`` are attributes so that
distilabel's step signature follows edits of the prompt or the code (it hashes attributes only).
"""

import json  # no `from __future__ import annotations`: distilabel reads the StepInput hint of process() at runtime
from typing import Any

from distilabel.steps import StepInput
from distilabel.steps.tasks import Task
from pydantic import Field, PrivateAttr

from goat_builders.prompting import render, template_hash
from goat_builders.steps.context import append_build_log, code_hash
from goat_datasets.graph.descriptions import (
    description_max_new_tokens,
    expected_keys,
    parse_descriptions,
)
from goat_datasets.graph.llm_check import (
    CHECK_MAX_NEW_TOKENS,
    DEFAULT_ATTEMPTS,
    Answer,
    ask_until_parsed,
    parse_verdict,
    verdict_result,
)
from goat_datasets.llm.generation import Generation
from goat_datasets.llm.parsing import ParseFailure

STEP_CODE_MODULES = (__name__, "goat_datasets.graph.descriptions", "goat_datasets.graph.llm_check")
DESCRIBE_TEMPLATE, CHECK_TEMPLATE = "describe_api", "check_edge"


def describe_messages(request: dict[str, Any], error: str = "") -> list[dict[str, Any]]:
    shape = json.dumps(expected_keys(request), ensure_ascii=False)  # in the order listed (tojson would sort the keys)
    return [{"role": "user", "content": render(DESCRIBE_TEMPLATE, request=request, shape=shape, error=error)}]


def check_messages(context: dict[str, Any], error: str = "") -> list[dict[str, Any]]:
    return [{"role": "user", "content": render(CHECK_TEMPLATE, a=context["a"], b=context["b"], error=error)}]


def answer_to_json(answer: Answer[Any]) -> str:
    return json.dumps(
        {"status": answer.status, "value": answer.value, "reason": answer.reason, "attempts": answer.attempts,
         "text": answer.text[:400]},
        ensure_ascii=False,
    )  # fmt: skip


def answer_from_json(text: str) -> Answer[Any]:
    data = json.loads(text)
    value = data.get("value")
    if isinstance(value, list):  # JSON has no tuples: a verdict comes back as [connectable, reason]
        value = tuple(value)
    return Answer(data["status"], value, data.get("reason", ""), int(data.get("attempts", 0)), data.get("text", ""))


class _GraphTask(Task):
    """One request per row (column ``request``, JSON); one answer per row (column ``answer``, JSON)."""

    build_dir: str
    attempts: int = Field(default=DEFAULT_ATTEMPTS, ge=1, description="tries per request while unreadable")
    total: int = Field(default=0, description="rows in this run, for the progress lines")
    code_hash: str = Field(default_factory=lambda: code_hash(*STEP_CODE_MODULES))

    _done: int = PrivateAttr(default=0)
    _ok: int = PrivateAttr(default=0)

    @property
    def inputs(self) -> list[str]:
        return ["request"]

    @property
    def outputs(self) -> list[str]:
        return ["answer", "model_name"]

    # subclasses: how to phrase a request, how to read an answer, how many tokens an answer needs
    def messages(self, request: dict[str, Any], error: str) -> list[dict[str, Any]]:
        raise NotImplementedError

    def parse(self, text: str, request: dict[str, Any]) -> Any:
        raise NotImplementedError

    def max_new_tokens(self) -> int:
        raise NotImplementedError

    def summary(self, answers: list[Answer[Any]]) -> str:
        return ""

    def format_input(self, input: dict[str, Any]) -> list[dict[str, Any]]:
        return self.messages(json.loads(input["request"]), "")

    def format_output(self, output: str | None, input: dict[str, Any] | None = None) -> dict[str, Any]:
        """One answer read as a first attempt (distilabel's default path; `process` adds the retries)."""
        if output is None:
            answer: Answer[Any] = Answer("llm_failed", reason="the LLM returned no generation", attempts=1)
        else:
            request = json.loads(input["request"]) if input else {}
            try:
                answer = Answer("ok", self.parse(output, request), attempts=1, text=output)
            except ParseFailure as exc:
                answer = Answer("unparseable", reason=exc.reason, attempts=1, text=output)
        return {"answer": answer_to_json(answer)}

    def _generate_batch(self, batch: list[list[dict[str, Any]]]) -> list[Generation]:
        kwargs = {**(self.llm.get_generation_kwargs() or {}), "max_new_tokens": self.max_new_tokens()}
        outputs = self.llm.generate_outputs(inputs=batch, num_generations=1, **kwargs)
        gens = []
        for out in outputs:
            text = (out.get("generations") or [None])[0]
            error = (out.get("errors") or [None])[0]
            stats = out.get("statistics") or {}
            if text is None:
                gens.append(Generation(error=error or "the LLM returned no generation"))
            else:
                gens.append(
                    Generation(
                        text=text,
                        prompt_tokens=int((stats.get("input_tokens") or [0])[0] or 0),
                        completion_tokens=int((stats.get("output_tokens") or [0])[0] or 0),
                    )
                )
        return gens

    def _cache_counts(self) -> dict[str, int]:
        counts = getattr(self.llm, "counts", None)
        return counts() if callable(counts) else {}

    def process(self, inputs: StepInput):  # type: ignore[override]
        before = self._cache_counts()
        requests = [json.loads(row["request"]) for row in inputs]
        answers = ask_until_parsed(requests, self.messages, self.parse, self._generate_batch, self.attempts)
        rows = [
            {**row, "answer": answer_to_json(answer), "model_name": self.llm.model_name}
            for row, answer in zip(inputs, answers)
        ]
        now = self._cache_counts()
        delta = {k: now.get(k, 0) - before.get(k, 0) for k in ("live", "hits", "failed")}
        ok = sum(a.status == "ok" for a in answers)
        self._done += len(rows)
        self._ok += ok
        of_total = f"/{self.total}" if self.total else ""
        self._logger.info(
            f"{self.name}: {self._done}{of_total} done ({self.summary(answers)}); "
            f"LLM calls: {delta['live']} live, {delta['hits']} cached"
            + (f" ({delta['failed']} failed)" if delta["failed"] else "")
        )
        append_build_log(
            self.build_dir,
            {"step": self.name, "rows": len(rows), "ok": ok, "llm_live": delta["live"], "llm_cached": delta["hits"],
             "llm_failed": delta["failed"]},
        )  # fmt: skip
        yield rows


class DescribeApis(_GraphTask):
    """A short meaning for each input and output of one API (``request``: `descriptions.plan_requests`' items)."""

    max_items: int = Field(default=30, ge=1, description="the most texts one request asks for (sets the token cap)")
    template_hash: str = Field(default_factory=lambda: template_hash(DESCRIBE_TEMPLATE))

    def messages(self, request: dict[str, Any], error: str) -> list[dict[str, Any]]:
        return describe_messages(request, error)

    def parse(self, text: str, request: dict[str, Any]) -> Any:
        return parse_descriptions(text, request)

    def max_new_tokens(self) -> int:
        return description_max_new_tokens(self.max_items)

    def summary(self, answers: list[Answer[Any]]) -> str:
        written = sum(len(a.value or {}) for a in answers if a.status == "ok")
        failed = sum(a.status != "ok" for a in answers)
        return f"{written} texts written" + (f", {failed} requests without a usable answer" if failed else "")


class CheckEdges(_GraphTask):
    """Is A's output field a valid value of B's parameter (``request``: `llm_check.edge_context`)?"""

    template_hash: str = Field(default_factory=lambda: template_hash(CHECK_TEMPLATE))

    def messages(self, request: dict[str, Any], error: str) -> list[dict[str, Any]]:
        return check_messages(request, error)

    def parse(self, text: str, request: dict[str, Any]) -> Any:
        return parse_verdict(text, request)

    def max_new_tokens(self) -> int:
        return CHECK_MAX_NEW_TOKENS

    def summary(self, answers: list[Answer[Any]]) -> str:
        results = [verdict_result(a) for a in answers]
        yes = sum(r.status == "passed" for r in results)
        no = sum(r.status == "failed" for r in results)
        unread = sum(r.code == "unparseable" for r in results)
        failed = len(results) - yes - no - unread
        return f"{yes} connectable, {no} not, {unread} unparseable" + (f", {failed} LLM failures" if failed else "")
