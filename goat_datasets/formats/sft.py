"""SFT rows in trl's conversational tool-calling format: ``messages`` + ``tools``.

Why these choices:
- ``tool_calls[].function.arguments`` is a dict (what chat templates such as Qwen2.5's and Llama 3.1's ``tojson``),
  stored with ``datasets.Json()`` so rows with different argument keys do not get their schemas merged with nulls.
- ``tools`` is a JSON string: JSON Schemas differ per row and a struct column would merge them (REFERENCE §6).
- Tool responses are serialised JSON text, cut at ``MAX_TOOL_CONTENT_CHARS`` with an explicit marker so training
  never sees a silently truncated document.
- Calls that do not depend on each other share one assistant turn (several ``tool_calls``, then one ``tool`` message
  per call in the same order), as a parallel-calling model would emit them. Only declared dependencies count
  (``depends_on``, else the ``derived`` bindings): a call with neither is treated as depending on every earlier call,
  so nothing is made parallel on a guess. Llama 3.1's template takes one call per turn: `split_parallel_turns` (or
  ``parallel_calls=False``) gives the sequential form.
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Sequence

from datasets import Features, Json, List, Value

MAX_TOOL_CONTENT_CHARS = 8000
TRUNCATION_MARKER = " …[truncated]"
PROMPT_RESPONSE_CHARS = 1024  # GOAT truncates earlier responses to 1024 characters in prompts

MESSAGE_FEATURE = {
    "role": Value("string"),
    "content": Value("string"),
    "tool_calls": List(
        {
            "id": Value("string"),
            "type": Value("string"),
            "function": {"name": Value("string"), "arguments": Json()},
        }
    ),
    "tool_call_id": Value("string"),
    "name": Value("string"),
}

SFT_FEATURES = Features(
    {
        "id": Value("string"),
        "messages": List(MESSAGE_FEATURE),
        "tools": Value("string"),
        "query": Value("string"),
        "final_answer": Value("string"),
        "api_ids": List(Value("string")),
        "num_calls": Value("int32"),
        "chain_id": Value("string"),
        "recipe_fingerprint": Value("string"),
        "generator_model": Value("string"),
        # GOAT's sub-instructions (one per call) and the judge's reason to keep the item
        "sub_instructions": List(Value("string")),
        "judge_reason": Value("string"),
    }
)

REJECTED_FEATURES = Features(
    {
        "id": Value("string"),
        "chain_id": Value("string"),
        "stage": Value("string"),
        "reason": Value("string"),
        "api_ids": List(Value("string")),
        "detail": Value("string"),
        "recipe_fingerprint": Value("string"),
        "query": Value("string"),  # what a judge, duplicate or contamination verdict is about ("" before the query)
    }
)


def tool_content(response: Any) -> str:
    text = response if isinstance(response, str) else json.dumps(response, ensure_ascii=False)
    if len(text) > MAX_TOOL_CONTENT_CHARS:
        text = text[: MAX_TOOL_CONTENT_CHARS - len(TRUNCATION_MARKER)] + TRUNCATION_MARKER
    return text


def response_text(response: Any, limit: int = PROMPT_RESPONSE_CHARS) -> str:
    """A response as it appears inside a prompt (GOAT's 1024-character cut, then "…")."""
    text = response if isinstance(response, str) else json.dumps(response, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit] + "…"


def _message(role: str, content: str, **extra: Any) -> dict[str, Any]:
    msg = {"role": role, "content": content, "tool_calls": None, "tool_call_id": None, "name": None}
    msg.update(extra)
    return msg


def call_dependencies(calls: Sequence[dict[str, Any]]) -> list[set[int]]:
    """Per call, the indices of the earlier calls whose responses it takes values from.

    ``depends_on`` (step indices) wins; else each ``derived`` value (``"<parent name>.<path>"``) names its parent, and
    a name that two earlier calls share makes the call depend on both (never parallel by mistake); a call with neither
    key depends on every earlier call.
    """
    deps: list[set[int]] = []
    for i, call in enumerate(calls):
        label = f"call {i} ({call.get('name') or call.get('api_id') or '?'})"
        if call.get("depends_on") is not None:
            found = set()
            for d in call["depends_on"]:
                if isinstance(d, bool) or not isinstance(d, int) or not 0 <= d < i:
                    raise ValueError(f"{label}: depends_on must list indices of earlier calls (0..{i - 1}), got {d!r}")
                found.add(d)
        elif isinstance(call.get("derived"), dict):
            found = set()
            for param, source in call["derived"].items():
                parents = {j for j in range(i) if str(source).startswith(f"{calls[j].get('name')}.")}
                if not parents:
                    raise ValueError(f"{label}: derived[{param!r}] = {source!r} names no earlier call")
                found |= parents
        else:
            found = set(range(i))
        deps.append(found)
    return deps


def call_turns(calls: Sequence[dict[str, Any]], parallel: bool = True) -> list[list[int]]:
    """Calls grouped into assistant turns, in execution order.

    Greedy: a call joins the current turn unless it depends on a call in that turn (its other dependencies are in
    earlier turns, whose results the model has already seen). ``parallel=False``: one call per turn.
    """
    if not parallel:
        return [[i] for i in range(len(calls))]
    turns: list[list[int]] = []
    for i, deps in enumerate(call_dependencies(calls)):
        if turns and not deps & set(turns[-1]):
            turns[-1].append(i)
        else:
            turns.append([i])
    return turns


def build_messages(
    query: str,
    calls: Sequence[dict[str, Any]],
    final_answer: str,
    system_prompt: str | None = None,
    *,
    parallel_calls: bool = True,
) -> list[dict[str, Any]]:
    """One user turn, then per turn an assistant message with its tool calls and one tool message per call, then
    the final answer.

    ``calls`` items need ``name``, ``arguments`` (dict) and ``response``; ``depends_on`` / ``derived`` decide which
    calls share a turn (see `call_turns`). Call ids are ``call_<index in the chain>``.
    """
    messages: list[dict[str, Any]] = []
    if system_prompt:
        messages.append(_message("system", system_prompt))
    messages.append(_message("user", query))
    for turn in call_turns(calls, parallel_calls):
        messages.append(
            _message(
                "assistant",
                "",
                tool_calls=[
                    {
                        "id": f"call_{i}",
                        "type": "function",
                        "function": {"name": calls[i]["name"], "arguments": dict(calls[i]["arguments"])},
                    }
                    for i in turn
                ],
            )
        )
        for i in turn:
            messages.append(
                _message("tool", tool_content(calls[i]["response"]), tool_call_id=f"call_{i}", name=calls[i]["name"])
            )
    messages.append(_message("assistant", final_answer))
    return messages


def with_chain_dependencies(calls: Sequence[dict[str, Any]], chain_steps: Iterable[dict[str, Any]]) -> list[dict]:
    """``calls`` with each chain step's ``depends_on`` copied in where the call has none (executed calls record
    ``derived`` bindings; the sampled chain states the dependencies outright)."""
    steps = list(chain_steps)
    out = []
    for i, call in enumerate(calls):
        call = dict(call)
        if call.get("depends_on") is None and i < len(steps) and steps[i].get("depends_on") is not None:
            call["depends_on"] = list(steps[i]["depends_on"])
        out.append(call)
    return out


def split_parallel_turns(messages: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The same conversation with one tool call per assistant turn, each followed by its response: the form
    templates that take a single call per turn (Llama 3.1) accept. Tool messages are matched by ``tool_call_id``."""
    out: list[dict[str, Any]] = []
    i = 0
    while i < len(messages):
        m = messages[i]
        calls = m.get("tool_calls") or []
        if m.get("role") != "assistant" or len(calls) < 2:
            out.append(m)
            i += 1
            continue
        n = len(calls)
        responses = {r.get("tool_call_id"): r for r in messages[i + 1 : i + 1 + n] if r.get("role") == "tool"}
        missing = [c.get("id") for c in calls if c.get("id") not in responses]
        if missing:
            raise ValueError(f"message {i}: no tool message follows for call id(s) {missing}")
        for j, call in enumerate(calls):
            out.append({**m, "content": m.get("content") if j == 0 else "", "tool_calls": [call]})
            out.append(responses[call.get("id")])
        i += 1 + n
    return out


def clean_messages(messages: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop the null keys the Arrow struct adds, which some chat templates treat as present."""
    out = []
    for m in messages:
        out.append({k: v for k, v in m.items() if v is not None})
    return out
