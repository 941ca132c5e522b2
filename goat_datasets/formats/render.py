"""Rendering SFT rows with a model's chat template: the check that a row is trainable as published."""

from __future__ import annotations

import json
from typing import Any, Mapping

from goat_datasets.formats.sft import clean_messages


def chat_template_inputs(row: Mapping[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``(messages, tools)`` of an SFT row as loaded from the Hub, ready for ``apply_chat_template``.

    Arrow gives every message all struct keys (``None`` where absent) and stores arguments as JSON text; templates
    expect absent keys and argument objects.
    """
    messages = clean_messages(row["messages"])
    for message in messages:
        for call in message.get("tool_calls") or []:
            fn = call.get("function", {})
            if isinstance(fn.get("arguments"), str):
                fn["arguments"] = json.loads(fn["arguments"])
    tools = json.loads(row["tools"]) if isinstance(row["tools"], str) else list(row["tools"])
    return messages, tools


def render_row(tokenizer: Any, row: Mapping[str, Any]) -> str:
    """The row as the model sees it in training; raises if the template rejects it."""
    messages, tools = chat_template_inputs(row)
    return tokenizer.apply_chat_template(messages, tools=tools, tokenize=False)


def conversation_part(rendered: str, tools: list[dict[str, Any]]) -> str:
    """The rendered text after the system block that lists the tools (for printing: the tool list is long)."""
    marker = "<|im_start|>user"
    cut = rendered.find(marker)
    return rendered[cut:] if cut > 0 and tools else rendered
