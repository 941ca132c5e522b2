"""Rendering SFT rows with a model's chat template: the check that a row is trainable as published."""

from __future__ import annotations

import json
from typing import Any, Iterable, Mapping, Sequence

from pydantic import BaseModel, Field

from goat_datasets.formats.chat_templates import ChatTemplate, get_chat_template
from goat_datasets.formats.sft import clean_messages, split_parallel_turns


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


def render_row_with(template: str | ChatTemplate, row: Mapping[str, Any], *, split_parallel: bool = False) -> str:
    """The row rendered by a registered model template (no tokenizer needed); raises if the template rejects it.

    ``split_parallel``: render the sequential form (one call per turn), what a template with
    ``max_calls_per_turn == 1`` such as Llama 3.1's takes.
    """
    messages, tools = chat_template_inputs(row)
    if split_parallel:
        messages = split_parallel_turns(messages)
    return get_chat_template(template).render(messages, tools)


class RowRejected(BaseModel):
    id: str
    reason: str


class TemplateCheck(BaseModel):
    """Which rows one model's chat template takes: the report a build records per template."""

    template: str
    model: str
    rendered: int = 0
    rejected: list[RowRejected] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.rejected


def check_rows(
    rows: Iterable[Mapping[str, Any]], templates: Sequence[str | ChatTemplate] = ("qwen2.5", "llama3.1")
) -> list[TemplateCheck]:
    """Render every row with every template; a row a template cannot take is listed with the template's own error.

    A turn with more calls than the template takes is named as such (the fix: ``parallel_calls: false`` for that
    model, or `split_parallel_turns` when training).
    """
    resolved = [get_chat_template(t) for t in templates]
    checks = [TemplateCheck(template=t.name, model=t.model) for t in resolved]
    for n, row in enumerate(rows):
        row_id = str(row.get("id") or row.get("chain_id") or f"row {n}")
        messages, tools = chat_template_inputs(row)
        widest = max((len(m.get("tool_calls") or []) for m in messages), default=0)
        for template, check in zip(resolved, checks):
            try:
                template.render(messages, tools)
            except Exception as exc:  # noqa: BLE001 - whatever the template raises is the finding
                reason = f"{type(exc).__name__}: {exc}"
                if template.max_calls_per_turn is not None and widest > template.max_calls_per_turn:
                    reason = (
                        f"{widest} tool calls in one assistant turn, {template.name} takes "
                        f"{template.max_calls_per_turn} ({reason}); build with parallel_calls: false for this model"
                    )
                check.rejected.append(RowRejected(id=row_id, reason=reason))
            else:
                check.rendered += 1
    return checks
