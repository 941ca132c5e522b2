"""SFT rows in trl's conversational tool-calling format: ``messages`` + ``tools``.

Why these choices:
- ``tool_calls[].function.arguments`` is a dict (what chat templates such as Qwen2.5's and Llama 3.1's ``tojson``),
  stored with ``datasets.Json()`` so rows with different argument keys do not get their schemas merged with nulls.
- ``tools`` is a JSON string: JSON Schemas differ per row and a struct column would merge them (REFERENCE §6).
- Tool responses are serialised JSON text, cut at ``MAX_TOOL_CONTENT_CHARS`` with an explicit marker so training
  never sees a silently truncated document.
"""

from __future__ import annotations

import json
from typing import Any, Sequence

from datasets import Features, Json, List, Value

MAX_TOOL_CONTENT_CHARS = 8000
TRUNCATION_MARKER = " …[truncated]"

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
    }
)


def tool_content(response: Any) -> str:
    text = response if isinstance(response, str) else json.dumps(response, ensure_ascii=False)
    if len(text) > MAX_TOOL_CONTENT_CHARS:
        text = text[: MAX_TOOL_CONTENT_CHARS - len(TRUNCATION_MARKER)] + TRUNCATION_MARKER
    return text


def _message(role: str, content: str, **extra: Any) -> dict[str, Any]:
    msg = {"role": role, "content": content, "tool_calls": None, "tool_call_id": None, "name": None}
    msg.update(extra)
    return msg


def build_messages(
    query: str,
    calls: Sequence[dict[str, Any]],
    final_answer: str,
    system_prompt: str | None = None,
) -> list[dict[str, Any]]:
    """One user turn, then per call an assistant tool call and its tool response, then the final answer.

    ``calls`` items need ``name``, ``arguments`` (dict) and ``response``.
    """
    messages: list[dict[str, Any]] = []
    if system_prompt:
        messages.append(_message("system", system_prompt))
    messages.append(_message("user", query))
    for i, call in enumerate(calls):
        call_id = f"call_{i}"
        messages.append(
            _message(
                "assistant",
                "",
                tool_calls=[
                    {
                        "id": call_id,
                        "type": "function",
                        "function": {"name": call["name"], "arguments": dict(call["arguments"])},
                    }
                ],
            )
        )
        messages.append(_message("tool", tool_content(call["response"]), tool_call_id=call_id, name=call["name"]))
    messages.append(_message("assistant", final_answer))
    return messages


def clean_messages(messages: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop the null keys the Arrow struct adds, which some chat templates treat as present."""
    out = []
    for m in messages:
        out.append({k: v for k, v in m.items() if v is not None})
    return out
