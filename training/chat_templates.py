"""The assistant-only loss needs a chat template with ``{% generation %}`` markers; trl ships training versions of
the templates it recognises, by exact text.

The embedded model's template (Qwen2.5-Coder, as stored in its GGUF) differs from trl's Qwen2.5 template in one
place: its tool instructions print ``{{"name": ...}}`` with doubled braces. trl therefore refuses to patch it. We
recognise exactly that variant and apply the same one-line difference to trl's Qwen2.5 training template, so the
model is trained on the text it will see at inference, with only the assistant turns in the loss.
"""

from __future__ import annotations

from typing import Any

__all__ = ["training_chat_template"]

_TRL_LINE = '{\\"name\\": <function-name>, \\"arguments\\": <args-json-object>}'
_CODER_LINE = '{{\\"name\\": <function-name>, \\"arguments\\": <args-json-object>}}'


def training_chat_template(tokenizer: Any) -> str | None:
    """A training version of the tokenizer's chat template (with generation markers), or None when neither trl nor
    this module knows one. trl's own answer comes first."""
    template = getattr(tokenizer, "chat_template", None)
    if not isinstance(template, str) or not template:
        return None
    from trl.chat_template_utils import (
        get_training_chat_template,
        has_generation_markers,
        qwen2_5_chat_template,
        qwen2_5_training_chat_template,
    )

    if has_generation_markers(template):
        return template

    try:
        patched = get_training_chat_template(tokenizer)
    except ValueError:
        patched = None
    if patched:
        return patched
    if (
        template.count(_CODER_LINE) == 1
        and template.replace(_CODER_LINE, _TRL_LINE) == qwen2_5_chat_template
        and qwen2_5_training_chat_template.count(_TRL_LINE) == 1
    ):
        return qwen2_5_training_chat_template.replace(_TRL_LINE, _CODER_LINE)
    return None
