"""The ``rl`` config: prompts for GRPO with the gold chain they are scored against.

    Dataset.from_list(rows, features=RL_FEATURES)       # rows from goat_datasets.rl.synthesis.synthesize

Why these columns and types:
- ``prompt`` is trl's conversational prompt (``[{role, content}]``: a system message, then the user's query); trl's
  GRPOTrainer reads a column of that name and passes every other column to the reward functions.
- ``gold_steps`` is JSON text of ``[{name, arguments, depends_on, dependency_args, response}]``: what
  ``goat_train.rewards.make_reward_func`` reads (it uses name, arguments and depends_on; the response and the
  ``from_field`` of each dependent argument are kept for environments and analysis). Arguments and responses differ
  per API, so a struct column would merge their shapes with nulls (REFERENCE §6).
- ``tools`` is JSON text of the offered tool schemas (gold functions and distractors, shuffled), like ``sft``'s.
- ``provenance`` says where the gold responses come from: ``real``, ``simulated`` or ``mixed``.
Rejected chains go to the ``rejected`` table (`goat_datasets.formats.sft.REJECTED_FEATURES`) with a stage and reason.
"""

from __future__ import annotations

import json
from typing import Any, Sequence

from datasets import Features, List, Value

__all__ = ["RL_FEATURES", "RL_COLUMNS", "DEFAULT_RL_SYSTEM_PROMPT", "rl_row"]

DEFAULT_RL_SYSTEM_PROMPT = (
    "You are a helpful assistant with access to tools. Call the tools you need, one call at a time, using values "
    "from the user's request and from earlier tool results, then answer the user."
)

RL_FEATURES = Features(
    {
        "id": Value("string"),
        "prompt": List({"role": Value("string"), "content": Value("string")}),
        "tools": Value("string"),
        "gold_steps": Value("string"),
        "query": Value("string"),
        "template_id": Value("string"),
        "num_steps": Value("int32"),
        "api_ids": List(Value("string")),
        "provenance": Value("string"),
        "recipe_fingerprint": Value("string"),
        "generator_model": Value("string"),
    }
)

RL_COLUMNS = tuple(RL_FEATURES)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def rl_row(
    *,
    id: str,
    query: str,
    tools: Sequence[dict[str, Any]],
    gold_steps: Sequence[dict[str, Any]],
    template_id: str,
    api_ids: Sequence[str],
    provenance: str,
    system_prompt: str | None = DEFAULT_RL_SYSTEM_PROMPT,
    recipe_fingerprint: str = "",
    generator_model: str = "",
) -> dict[str, Any]:
    """One row with exactly the `RL_FEATURES` columns."""
    prompt = ([{"role": "system", "content": system_prompt}] if system_prompt else []) + [
        {"role": "user", "content": query}
    ]
    return {
        "id": id,
        "prompt": prompt,
        "tools": _json(list(tools)),
        "gold_steps": _json(list(gold_steps)),
        "query": query,
        "template_id": template_id,
        "num_steps": len(gold_steps),
        "api_ids": list(api_ids),
        "provenance": provenance,
        "recipe_fingerprint": recipe_fingerprint,
        "generator_model": generator_model,
    }
