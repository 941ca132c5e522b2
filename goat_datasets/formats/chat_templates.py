"""Model chat templates the SFT rows are checked against, read from an installed package and verified by sha256.

Why from a package: nothing can be fetched from the Hugging Face Hub here, and a template typed from memory would
check nothing. trl (the training extra) ships the original templates of the models it supports, byte for byte, to
recognise them (``trl/chat_templates/README.md``: "Original Llama 3.1 / 3.2 chat templates", "Original Qwen2.5 chat
template"); its weekly CI compares them with the models' Hub repositories. We read the file from the installed
distribution without importing trl and refuse it unless its sha256 is the one recorded here, so a trl release that
changed the file is reported instead of silently checking against something else. Nothing is copied into this
repository (the Llama text is Meta's, under the Llama 3.1 Community License; trl is Apache-2.0).

Rendering goes through transformers' own chat-template machinery (``render_jinja_template``, what
``tokenizer.apply_chat_template`` calls), so a row that renders here renders for the model.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata as md
from dataclasses import dataclass, field
from typing import Any, Sequence

from goat_datasets.registry import Registry


class ChatTemplateUnavailable(RuntimeError):
    """The package that ships a template is not installed, or its file is not the recorded one."""


@dataclass(frozen=True)
class ChatTemplate:
    name: str
    model: str  # the model family whose tokenizer_config.json carries this template
    package: str  # the distribution that ships the file
    path: str  # the file inside that distribution
    sha256: str
    checked_with: str  # the package version the hash was recorded from
    max_calls_per_turn: int | None = None  # None: any number of tool calls in one assistant turn
    variables: dict[str, Any] = field(default_factory=dict)  # special tokens the tokenizer would pass

    def text(self) -> str:
        return _load_text(self.package, self.path, self.sha256, self.checked_with)

    def render(self, messages: Sequence[dict[str, Any]], tools: Sequence[dict[str, Any]] | None = None) -> str:
        """The conversation as the model's tokenizer would render it; raises what the template raises."""
        from transformers.utils.chat_template_utils import render_jinja_template

        rendered, _ = render_jinja_template(
            conversations=[list(messages)], tools=list(tools) if tools else None, chat_template=self.text(),
            **self.variables,
        )  # fmt: skip
        return rendered[0]


@functools.lru_cache(maxsize=None)
def _load_text(package: str, path: str, sha256: str, checked_with: str) -> str:
    try:
        dist = md.distribution(package)
    except md.PackageNotFoundError:
        raise ChatTemplateUnavailable(
            f"{path} comes from the {package!r} package, which is not installed "
            f"(pip install 'goat-datasets[train]', or {package}=={checked_with})"
        ) from None
    file = dist.locate_file(path)
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise ChatTemplateUnavailable(f"{package} {dist.version} has no {path}: {exc}") from None
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        raise ChatTemplateUnavailable(
            f"{file} ({package} {dist.version}) has sha256 {actual}, expected {sha256} (recorded from {package} "
            f"{checked_with}): the template changed, check it and record the new hash"
        )
    return data.decode("utf-8")


chat_templates: Registry[ChatTemplate] = Registry("chat template")


def _register(template: ChatTemplate) -> ChatTemplate:
    return chat_templates.register(template.name)(template)


QWEN2_5 = _register(
    ChatTemplate(
        name="qwen2.5",
        model="Qwen2.5 Instruct (Qwen/Qwen2.5-*-Instruct)",
        package="trl",
        path="trl/chat_templates/qwen2_5.jinja",
        sha256="cd8e9439f0570856fd70470bf8889ebd8b5d1107207f67a5efb46e342330527f",
        checked_with="1.16.0",
    )
)

LLAMA3_1 = _register(
    ChatTemplate(
        name="llama3.1",
        model="Llama 3.1 Instruct (meta-llama/Llama-3.1-*-Instruct)",
        package="trl",
        path="trl/chat_templates/llama3_1.jinja",
        sha256="e10ca381b1ccc5cf9db52e371f3b6651576caee0a630b452e2816b2d404d4b65",
        checked_with="1.16.0",
        max_calls_per_turn=1,  # the template raises "This model only supports single tool-calls at once!"
        variables={"bos_token": "<|begin_of_text|>"},
    )
)


def get_chat_template(name: str | ChatTemplate) -> ChatTemplate:
    """A registered template by name (unknown names get the known ones and a did-you-mean)."""
    return name if isinstance(name, ChatTemplate) else chat_templates.get(name)
