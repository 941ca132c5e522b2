"""GOAT's "calls first" trace generation as plain functions (the distilabel steps in builders/steps only adapt them).

A sampled chain is executed step by step: parameters on graph edges are taken from the parent's real response by
JSON path (never invented), the remaining required parameters are written by the LLM, and each call is executed
before the next is planned. Only then does the LLM write one sub-instruction per call, merge them into the user
query, and write the final answer from the real results; an LLM judge then decides whether the item is kept (GOAT's
filter). Every way this can fail ends in a `TraceFailure` value or a ``(None, reason)`` pair naming the reason.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence

from goat_datasets import jsonpath
from goat_datasets.execution.base import Executor, is_empty_response
from goat_datasets.execution.validate import validate_arguments
from goat_datasets.formats.sft import PROMPT_RESPONSE_CHARS, response_text  # noqa: F401  (GOAT's 1024-char cut)
from goat_datasets.sources.models import ApiSpec, Param
from goat_builders.prompting import render

MAX_QUERY_CHARS = 800


class TextLLM(Protocol):
    def generate(self, messages: list[dict[str, Any]], max_new_tokens: int | None = None) -> Any: ...


# What each LLM call is for; the card reports tokens per kind ("tokens per step").
USAGE_KINDS = ("arguments", "sub_instructions", "query", "answer", "judge")
_KIND_FIELDS = ("calls", "failed_calls", "prompt_tokens", "completion_tokens")


@dataclass
class LLMUsage:
    """Totals of LLM calls, and the same per kind of call (``by_step``: arguments, sub_instructions, ...)."""

    calls: int = 0
    failed_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    by_step: dict[str, dict[str, int]] = field(default_factory=dict)

    def add(self, gen: Any, kind: str = "other") -> None:
        delta = {
            "calls": 1,
            "failed_calls": 1 if getattr(gen, "error", None) else 0,
            "prompt_tokens": int(getattr(gen, "prompt_tokens", 0) or 0),
            "completion_tokens": int(getattr(gen, "completion_tokens", 0) or 0),
        }
        step = self.by_step.setdefault(kind, dict.fromkeys(_KIND_FIELDS, 0))
        for k, v in delta.items():
            setattr(self, k, getattr(self, k) + v)
            step[k] += v
        self.seconds += float(getattr(gen, "seconds", 0.0) or 0.0)

    def as_dict(self) -> dict[str, Any]:
        totals = {k: v for k, v in self.__dict__.items() if k != "by_step"}
        return {**totals, "by_step": {k: dict(v) for k, v in self.by_step.items()}}


def merge_usage(total: dict[str, Any], more: dict[str, Any]) -> dict[str, Any]:
    """``total`` plus ``more`` (two `LLMUsage.as_dict` values, or sums of them), nested ``by_step`` included."""
    out = dict(total)
    for k, v in more.items():
        if isinstance(v, dict):
            out[k] = merge_usage(out.get(k) or {}, v)
        else:
            out[k] = out.get(k, 0) + v
    return out


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
    stage: str  # "binding" | "arguments" | "execution" | "empty_response" (later: "sub_instructions", "query", ...)
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
        usage.add(gen, "arguments")
        if getattr(gen, "error", None):
            error = f"LLM call failed: {gen.error}"
            continue
        args, error = read_llm_arguments(api, gen.text, schema, fixed, {p.name for p in params})
        if args is not None:
            return args, ""
    return None, f"arguments for {api.name} not valid after {attempts} attempts: {error}"


def read_llm_arguments(
    api: ApiSpec, text: str, schema: dict[str, Any], fixed: dict[str, Any], wanted: set[str]
) -> tuple[dict[str, Any] | None, str]:
    """The LLM's values for the ``wanted`` parameters of ``api`` (``schema``: `_arguments_schema` of them), or
    ``(None, reason)`` to send back on a retry.

    Parsed leniently, restricted to ``wanted``, then checked by the rules a call is checked by before it goes out
    (formats such as date, text-typed path/query values) together with the ``fixed`` values: stricter than the
    prompt's schema check, and the model can still fix its own values on a retry.
    """
    from goat_datasets.llm.parsing import extract_arguments

    args, reason = extract_arguments(text, schema)
    if args is None:
        return None, reason
    args = {k: v for k, v in args.items() if k in wanted}
    problems = problems_of(validate_arguments(api, {**fixed, **args}), wanted)
    if problems:
        return None, "the arguments do not match the schema: " + "; ".join(problems)
    return args, ""


def problems_of(problems: Sequence[str], names: set[str] | Sequence[str]) -> list[str]:
    """The problems (from `validate_arguments`, each starting with its parameter's name) about ``names``."""
    return [p for p in problems if re.match(r"([^.\[:]+)", p).group(1) in set(names)]


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
        problems = validate_arguments(api, args)
        if problems:  # a schema-invalid call is never made: it would fail, or worse, succeed on wrong input
            bound = sorted(problems_of(problems, derived))
            return fail(
                "arguments",
                f"arguments for {api.name} violate its parameters' JSON Schemas: {'; '.join(problems)}"
                + (f" (taken from earlier responses: {', '.join(sorted(derived))})" if bound else ""),
                step=i,
                api=api.id,
                arguments=args,
            )
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

    Lets the sub-instructions prompt say where a value came from without showing the value (the user does not
    know it).
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


def _step_views(calls: Sequence[dict[str, Any]], apis: dict[str, ApiSpec]) -> list[dict[str, Any]]:
    """Each call as a plain action: what it does, the values the user gave, and where the other values came from."""
    views = []
    for i, c in enumerate(calls):
        api = apis[c["api_id"]]
        views.append(
            {
                "name": c["name"],
                "description": (api.summary or api.description or api.name).strip().rstrip("."),
                "fixed": [f"{k}: {_plain(v)}" for k, v in c["arguments"].items() if k not in c["derived"]],
                "derived": [
                    f"{param.replace('_', ' ')} = {describe_source(src, calls, i)}"
                    for param, src in sorted(c["derived"].items())
                ],
            }
        )
    return views


def _fixed_values(calls: Sequence[dict[str, Any]]) -> list[str]:
    return [f"{k}: {_plain(v)}" for c in calls for k, v in c["arguments"].items() if k not in c["derived"]]


def _mentions(text: str, value: Any) -> bool:
    """Whether ``value`` is written in ``text`` as a whole word or phrase (case-insensitive)."""
    word = _plain(value).strip()
    return bool(word) and re.search(rf"(?<!\w){re.escape(word)}(?!\w)", text, re.IGNORECASE) is not None


def sub_instruction_problems(instructions: Sequence[str], calls: Sequence[dict[str, Any]]) -> list[str]:
    """GOAT's rules for sub-instructions that a program can check: one non-empty text per call; every value the user
    gave (strings and integers) stated; no value found in an earlier response written out (it must be described by
    how it was chosen; values of 1-2 characters are left out of this check, they match too much by accident)."""
    if len(instructions) != len(calls):
        return [f"expected {len(calls)} sub-instructions (one per step), got {len(instructions)}"]
    problems = []
    for i, (text, call) in enumerate(zip(instructions, calls), start=1):
        if not text.strip():
            problems.append(f"sub-instruction {i} is empty")
            continue
        fixed = {k: v for k, v in call["arguments"].items() if k not in call["derived"]}
        for k, v in fixed.items():
            if isinstance(v, (str, int)) and not isinstance(v, bool) and not _mentions(text, v):
                problems.append(f"sub-instruction {i} must state the given value {k} = {_plain(v)}")
        for k in call["derived"]:
            v = call["arguments"].get(k)
            if isinstance(v, (str, int)) and not isinstance(v, bool) and len(_plain(v)) >= 3 and _mentions(text, v):
                if not any(_plain(v) == _plain(f) for f in fixed.values()):
                    problems.append(
                        f"sub-instruction {i} writes out {_plain(v)!r}, a value found in an earlier result: say how "
                        f"it was chosen instead"
                    )
    return problems


def write_sub_instructions(
    calls: Sequence[dict[str, Any]], apis: dict[str, ApiSpec], llm: TextLLM, usage: LLMUsage, *, attempts: int = 3
) -> tuple[list[str] | None, str]:
    """One sub-instruction per executed call (GOAT 1b.3), checked by `sub_instruction_problems` and retried with
    the problems named; ``(None, reason)`` after ``attempts``."""
    from goat_datasets.llm.parsing import ParseFailure, extract_json

    steps = _step_views(calls, apis)
    error = ""
    for _ in range(attempts):
        gen = llm.generate([{"role": "user", "content": render("sub_instructions", steps=steps, error=error)}])
        usage.add(gen, "sub_instructions")
        if getattr(gen, "error", None):
            error = f"LLM call failed: {gen.error}"
            continue
        try:
            value = extract_json(gen.text)
        except ParseFailure as exc:
            error = exc.reason
            continue
        if isinstance(value, dict) and len(value) == 1:  # {"sub_instructions": [...]}
            value = next(iter(value.values()))
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            error = f"expected a JSON list of {len(calls)} strings, got {json.dumps(value, ensure_ascii=False)[:200]}"
            continue
        instructions = [clean_text(v) for v in value]
        problems = sub_instruction_problems(instructions, calls)
        if not problems:
            return instructions, ""
        error = "; ".join(problems)
    return None, f"sub-instructions not valid after {attempts} attempts: {error}"


def write_query(
    sub_instructions: Sequence[str], calls: Sequence[dict[str, Any]], llm: TextLLM, usage: LLMUsage
) -> tuple[str | None, str]:
    """Merge the sub-instructions into one goal-oriented request (GOAT 1b.4): every concrete detail of the first
    step kept, later steps linked through context."""
    final_result = response_text(calls[-1]["response"], 300) if calls else ""
    prompt = render(
        "user_query",
        sub_instructions=list(sub_instructions),
        fixed_values=_fixed_values(calls),
        final_result=final_result,
    )
    gen = llm.generate([{"role": "user", "content": prompt}])
    usage.add(gen, "query")
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
    usage.add(gen, "answer")
    if getattr(gen, "error", None):
        return None, f"LLM call failed: {gen.error}"
    answer = clean_text(gen.text)
    if not answer:
        return None, "the LLM wrote an empty final answer"
    return answer, ""


@dataclass
class Verdict:
    keep: bool
    reason: str


def parse_verdict(text: str) -> tuple[Verdict | None, str]:
    """The judge's ``{"keep": bool, "reason": str}``, read leniently (fences, prose around it, Python literals,
    "yes"/"no" for the boolean); ``(None, why)`` when there is no such verdict in ``text``."""
    from goat_datasets.llm.parsing import ParseFailure, extract_json_object

    try:
        value = extract_json_object(text, 'with "keep" and "reason"')
    except ParseFailure as exc:
        return None, exc.reason
    if "keep" not in value:
        seen = json.dumps(value, ensure_ascii=False)[:200]
        return None, f'expected a JSON object with "keep" and "reason", got {seen}'
    keep = value["keep"]
    if isinstance(keep, str) and keep.strip().lower() in _YES | _NO:
        keep = keep.strip().lower() in _YES
    elif isinstance(keep, int) and not isinstance(keep, bool) and keep in (0, 1):
        keep = bool(keep)
    if not isinstance(keep, bool):
        return None, f'"keep" must be true or false, got {json.dumps(keep, ensure_ascii=False)[:100]}'
    reason = value.get("reason", "")
    reason = reason if isinstance(reason, str) else json.dumps(reason, ensure_ascii=False)
    return Verdict(keep, reason.strip()), ""


_YES = {"true", "yes", "y", "keep"}
_NO = {"false", "no", "n", "reject", "drop"}


def judge_item(
    query: str,
    sub_instructions: Sequence[str],
    final_answer: str,
    calls: Sequence[dict[str, Any]],
    llm: TextLLM,
    usage: LLMUsage,
    *,
    attempts: int = 3,
) -> tuple[Verdict | None, str]:
    """GOAT's filter (1b.6): keep the item only if every sub-instruction follows from the query and the answer fits
    the query. ``(None, reason)`` when no verdict could be read after ``attempts``: the caller rejects the item then,
    never keeps it silently."""
    results = [{"name": c["name"], "response_text": response_text(c["response"], 300)} for c in calls]
    error = ""
    for _ in range(attempts):
        prompt = render(
            "judge", query=query, sub_instructions=list(sub_instructions), final_answer=final_answer, calls=results,
            error=error,
        )  # fmt: skip
        gen = llm.generate([{"role": "user", "content": prompt}])
        usage.add(gen, "judge")
        if getattr(gen, "error", None):
            error = f"LLM call failed: {gen.error}"
            continue
        verdict, error = parse_verdict(gen.text)
        if verdict is not None:
            return verdict, ""
    return None, f"no readable verdict from the judge after {attempts} attempts: {error}"
