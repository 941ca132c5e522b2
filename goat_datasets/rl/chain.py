"""A sampled chain: one cache entry per template step, with the values that flowed between them.

`Chain.gold_steps` is the ``gold_steps`` cell of an ``rl`` row: ``[{name, arguments, depends_on, dependency_args,
response}]`` in step order. ``name`` is the function as the model sees it in ``tools`` (`ApiSpec.name`);
``arguments`` are the chosen entry's recorded arguments, so replaying the gold call is an exact cache hit;
``dependency_args`` says which argument came from which parent field. The rewards (``goat_train.rewards``) read
``name``, ``arguments`` and ``depends_on`` and ignore the rest.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ChainStep", "Chain"]


@dataclass(frozen=True)
class ChainStep:
    index: int
    function: str  # as the template names it
    name: str  # as the model sees it (ApiSpec.name)
    api_id: str
    key: str  # the cache key of ``arguments``
    arguments: dict[str, Any]
    depends_on: tuple[int, ...]
    dependency_args: dict[str, dict[str, Any]]  # arg -> {from_step, from_field}
    derived: dict[str, Any]  # arg -> the value read from the parent's response (before any rounding match)
    response: Any
    provenance: str

    def gold(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "arguments": self.arguments,
            "depends_on": list(self.depends_on),
            "dependency_args": self.dependency_args,
            "response": self.response,
        }


@dataclass(frozen=True)
class Chain:
    template_id: str
    steps: tuple[ChainStep, ...]
    tries: int = 1  # sampling passes it took (constrained sampling retries from scratch)
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def signature(self) -> tuple[tuple[str, str], ...]:
        """The chain's identity: the (API id, cache key) of every step. Equal signatures are duplicate samples."""
        return tuple((step.api_id, step.key) for step in self.steps)

    @property
    def chain_id(self) -> str:
        text = json.dumps([self.template_id, self.signature], ensure_ascii=False)
        return f"{self.template_id}-{hashlib.sha256(text.encode()).hexdigest()[:12]}"

    @property
    def api_ids(self) -> list[str]:
        return [step.api_id for step in self.steps]

    @property
    def provenance(self) -> str:
        """``real`` when every gold response was recorded from a live API, ``simulated`` when none was, else
        ``mixed``."""
        kinds = {step.provenance for step in self.steps}
        return kinds.pop() if len(kinds) == 1 else "mixed"

    def gold_steps(self) -> list[dict[str, Any]]:
        return [step.gold() for step in self.steps]
