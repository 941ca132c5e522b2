"""GOAT's "calls first" trace generation as plain functions (the distilabel steps in builders/steps only adapt them).

A sampled chain is executed step by step: parameters on graph edges are taken from the parent's real response by
JSON path (never invented), the remaining required parameters are written by the LLM, and each call is executed
before the next is planned. Only then does the LLM write the user query and the final answer from the real
results. Every way this can fail ends in a `TraceFailure` value naming the stage and the reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence

from goat_datasets import jsonpath
from goat_datasets.execution.base import Executor, is_empty_response
from goat_datasets.sources.models import ApiSpec, Param
from goat_builders.prompting import render

PROMPT_RESPONSE_CHARS = 1024  # GOAT truncates parents' responses to 1024 characters in prompts
MAX_QUERY_CHARS = 800


class TextLLM(Protocol):
    def generate(self, messages: list[dict[str, Any]], max_new_tokens: int | None = None) -> Any: ...


@dataclass
class LLMUsage:
    calls: int = 0
    failed_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0

    def add(self, gen: Any) -> None:
        self.calls += 1
        self.prompt_tokens += int(getattr(gen, "prompt_tokens", 0) or 0)
        self.completion_tokens += int(getattr(gen, "completion_tokens", 0) or 0)
        self.seconds += float(getattr(gen, "seconds", 0.0) or 0.0)
        if getattr(gen, "error", None):
            self.failed_calls += 1

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class ExecutedCall:
    step: int
    api_id: str
    name: str
    arguments: dict[str, Any]
    derived: dict[str, str]  # param -> "<parent name>.<json path>" it was taken from
    ok: bool
    status_code: int | None
    response: Any
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class TraceFailure:
    stage: str  # "binding" | "arguments" | "execution" | "empty_response" | "query" | "answer"
    reason: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class ChainRun:
    calls: list[ExecutedCall]
    failure: TraceFailure | None
    usage: LLMUsage

    @property
    def ok(self) -> bool:
        return self.failure is None


def response_text(response: Any, limit: int = PROMPT_RESPONSE_CHARS) -> str:
    text = response if isinstance(response, str) else json.dumps(response, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit] + "…"


def coerce_to_param(value: Any, param: Param) -> Any:
    """A value taken from a response, shaped for the parameter's declared type (ids are often int vs string)."""
    t = param.type
    if t == "string" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if t == "integer" and isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    if t == "number" and isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _param_view(p: Param) -> dict[str, Any]:
    examples = p.json_schema.get("examples") or ([p.json_schema["example"]] if "example" in p.json_schema else [])
    return {
        "name": p.name,
        "type": p.type,
        "description": p.description or p.json_schema.get("description", ""),
        "json_schema": p.json_schema,
        "examples": list(examples)[:5],
    }


def _arguments_schema(params: Sequence[Param]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {p.name: {k: v for k, v in p.json_schema.items() if k not in ("examples", "example")} for p in params},
        "required": [p.name for p in params],
    }


def fill_arguments_with_llm(
    api: ApiSpec,
    params: Sequence[Param],
    fixed: dict[str, Any],
    previous: Sequence[ExecutedCall],
    llm: TextLLM,
    usage: LLMUsage,
    *,
    attempts: int = 3,
) -> tuple[dict[str, Any] | None, str]:
    from goat_datasets.llm.parsing import extract_arguments

    schema = _arguments_schema(params)
    prev_view = [
        {"name": c.name, "arguments": c.arguments, "response_text": response_text(c.response)} for c in previous
    ]
    error = ""
    for _ in range(attempts):
        prompt = render(
            "fill_arguments",
            api=api,
            params=[_param_view(p) for p in params],
            fixed_arguments=fixed,
            previous_calls=prev_view,
            error=error,
        )
        gen = llm.generate([{"role": "user", "content": prompt}])
        usage.add(gen)
        if getattr(gen, "error", None):
            error = f"LLM call failed: {gen.error}"
            continue
        wanted = {p.name for p in params}
        args, reason = extract_arguments(gen.text, schema)
        if args is not None:
            return {k: v for k, v in args.items() if k in wanted}, ""
        error = reason
    return None, f"arguments for {api.name} not valid after {attempts} attempts: {error}"


def execute_chain(
    chain_steps: Sequence[dict[str, Any]],
    apis: dict[str, ApiSpec],
    executor: Executor,
    llm: TextLLM,
) -> ChainRun:
    """Run one sampled chain. ``chain_steps``: ``[{api_id, bindings: [{param, from_step, source_path}]}]``."""
    usage = LLMUsage()
    calls: list[ExecutedCall] = []

    def fail(stage: str, reason: str, **detail: Any) -> ChainRun:
        return ChainRun(calls, TraceFailure(stage, reason, detail), usage)

    for i, step in enumerate(chain_steps):
        api = apis.get(step["api_id"])
        if api is None:
            return fail("binding", f"unknown API {step['api_id']!r} in chain")
        args: dict[str, Any] = {}
        derived: dict[str, str] = {}
        for b in step.get("bindings", []):
            parent = calls[b["from_step"]]
            value = jsonpath.get_first(parent.response, b["source_path"])
            if value is jsonpath.MISSING or value is None or isinstance(value, (dict, list)):
                return fail(
                    "binding",
                    f"{b['source_path']} has no usable value in the response of {parent.name} (needed for "
                    f"{api.name}.{b['param']})",
                    step=i,
                )
            try:
                param = api.param(b["param"])
            except KeyError as exc:
                return fail("binding", str(exc), step=i)
            args[b["param"]] = coerce_to_param(value, param)
            derived[b["param"]] = f"{parent.name}.{jsonpath.concretize(b['source_path'])}"
        missing = [p for p in api.params if p.required and p.name not in args]
        if missing:
            filled, reason = fill_arguments_with_llm(api, missing, args, calls, llm, usage)
            if filled is None:
                return fail("arguments", reason, step=i, api=api.id)
            args.update(filled)
        result = executor.call(api, args)
        calls.append(
            ExecutedCall(i, api.id, api.name, args, derived, result.ok, result.status_code, result.response, result.error)
        )
        if not result.ok:
            return fail(
                "execution",
                f"{api.name} failed (status {result.status_code}): {result.error or response_text(result.response, 300)}",
                step=i,
            )
        if is_empty_response(result.response):
            return fail("empty_response", f"{api.name} returned no data for {json.dumps(args)}", step=i)
    return ChainRun(calls, None, usage)


def clean_text(text: str) -> str:
    t = text.strip()
    if t.startswith("```"):
        t = t.strip("`").split("\n", 1)[-1] if "\n" in t else t.strip("`")
    for prefix in ("User request:", "Request:", "User:", "Answer:", "Final answer:", "Assistant:"):
        if t.lower().startswith(prefix.lower()):
            t = t[len(prefix):].strip()
    if len(t) >= 2 and t[0] == t[-1] and t[0] in "\"'":
        t = t[1:-1].strip()
    return t


_ORDINALS = ["first", "second", "third", "fourth", "fifth"]


def describe_source(derived: str, calls: Sequence[dict[str, Any]], before: int) -> str:
    """``"list_showtimes.results[0].movie_id"`` -> ``"the movie id of the first of the results of step 1"``.

    Lets the query prompt say where a value came from without showing the value (the user does not know it).
    """
    name, _, path = derived.partition(".")
    step = next((i + 1 for i, c in enumerate(calls[:before]) if c["name"] == name), None)
    parts = jsonpath.parse(path) if path else []
    words: list[str] = []
    for j in range(len(parts) - 1, -1, -1):
        part = parts[j]
        if isinstance(part, str):
            if j + 1 < len(parts) and isinstance(parts[j + 1], int):
                continue  # said with its index below
            words.append(f"the {part.replace('_', ' ')}")
        elif isinstance(part, int) and j > 0 and isinstance(parts[j - 1], str):
            ordinal = _ORDINALS[part] if 0 <= part < len(_ORDINALS) else f"item {part + 1}"
            words.append(f"the {ordinal} of the {parts[j - 1].replace('_', ' ')}")
    where = f"step {step}" if step else name
    return " of ".join(words + [where]) if words else where


def write_query(
    calls: Sequence[dict[str, Any]], apis: dict[str, ApiSpec], llm: TextLLM, usage: LLMUsage
) -> tuple[str | None, str]:
    views = []
    fixed_values: list[str] = []
    for i, c in enumerate(calls):
        api = apis[c["api_id"]]
        fixed = [f"{k}: {_plain(v)}" for k, v in c["arguments"].items() if k not in c["derived"]]
        views.append(
            {
                "name": c["name"],
                "description": (api.summary or api.description or api.name).strip().rstrip("."),
                "fixed": fixed,
                "derived": [
                    f"{param.replace('_', ' ')} = {describe_source(src, calls, i)}"
                    for param, src in sorted(c["derived"].items())
                ],
            }
        )
        fixed_values += fixed
    final_result = response_text(calls[-1]["response"], 300) if calls else ""
    prompt = render("user_query", calls=views, fixed_values=fixed_values, final_result=final_result)
    gen = llm.generate([{"role": "user", "content": prompt}])
    usage.add(gen)
    if getattr(gen, "error", None):
        return None, f"LLM call failed: {gen.error}"
    query = clean_text(gen.text)
    if not query:
        return None, "the LLM wrote an empty query"
    if len(query) > MAX_QUERY_CHARS:
        return None, f"query too long ({len(query)} characters)"
    return query, ""


def _plain(value: Any) -> str:
    """A value as a person would write it in a sentence (strings unquoted)."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def write_final_answer(
    query: str, calls: Sequence[dict[str, Any]], llm: TextLLM, usage: LLMUsage
) -> tuple[str | None, str]:
    views = [{"name": c["name"], "response_text": response_text(c["response"])} for c in calls]
    gen = llm.generate([{"role": "user", "content": render("final_answer", query=query, calls=views)}])
    usage.add(gen)
    if getattr(gen, "error", None):
        return None, f"LLM call failed: {gen.error}"
    answer = clean_text(gen.text)
    if not answer:
        return None, "the LLM wrote an empty final answer"
    return answer, ""
