"""GOAT's agent training format (REFERENCE §1c): every item becomes three kinds of supervised rows.

- ``planning``: the query and a shuffled list of candidate API documents (the item's gold APIs plus negatives, up to
  ``max_candidates`` in all) -> the JSON list of the API names to call, in execution order.
- ``arguments`` (one row per call): the query, that call's API document and the earlier calls' results (cut as in
  the trace prompts, `response_text`) -> the call's arguments as a JSON object.
- ``final_answer``: the query and every call's result -> the answer.

Why this shape: it is the one the GOAT agent is trained on (planner, argument filler and answerer share a model,
each with its own instruction), so a retriever-plus-planner pipeline can be trained from the same build as the
end-to-end ``sft`` traces. Rows are plain system/user/assistant conversations (trl's conversational format), no tool
calling template needed. The instructions below are ours, written for the same inputs and outputs as the paper
code; its per-domain one-shot example is left out (our domains are whatever the sources cover).

Negatives are drawn with a generator seeded by ``(seed, item id)``: the same item gets the same candidates whatever
the row order or the other items. By default (``negatives="any"``, the paper's choice) they come uniformly from all
other APIs of the build; ``"same_tool_first"`` takes other operations of the gold APIs' tools first, harder to tell
apart. A negative never shares a name with a gold API or another candidate, so the target list is unambiguous.

Masking argument *values* out of the loss (the paper code does; off by default in REFERENCE §1c) is a training
option: the values are the JSON object in the assistant message of ``arguments`` rows, so the trainer can find
them without another column.
"""

from __future__ import annotations

import json
import random
from typing import Any, Mapping, Sequence

from datasets import Features, List, Value

from goat_datasets.formats.sft import response_text
from goat_datasets.recipe.schema import ThreeTaskOptions  # the recipe's `outputs.goat_tasks` settings, one place
from goat_datasets.sources.models import ApiSpec

__all__ = ["THREE_TASK_FEATURES", "TASKS", "ThreeTaskOptions", "three_task_rows", "planning_candidates", "api_document"]

PLANNING, ARGUMENTS, FINAL_ANSWER = "planning", "arguments", "final_answer"
TASKS = (PLANNING, ARGUMENTS, FINAL_ANSWER)

PLANNING_SYSTEM = (
    "You plan API calls. Given a user request and the documents of the available APIs, decide which APIs to call "
    "and in which order, so that each call can use the results of the calls before it. Use only APIs from the "
    "list. Answer with a JSON list of API names in call order, nothing else.\n\nAvailable APIs:\n{documents}"
)
ARGUMENTS_SYSTEM = (
    "You fill in the arguments of the next API call. Read the API document for the parameters and their types, "
    "take the values from the user request and from the results of the earlier calls, and answer with a JSON "
    "object mapping each parameter name to its value, nothing else."
)
ARGUMENTS_USER = "User request: {query}\n\nAPI document: {document}\n\nResults of the earlier calls:\n{results}"
FINAL_SYSTEM = (
    "You answer the user's request from the results of the API calls made for it. Answer directly and concisely, "
    "using only what the results say."
)
FINAL_USER = "User request: {query}\n\nResults of the API calls:\n{results}"
NO_RESULTS = "(none: this is the first call)"

THREE_TASK_FEATURES = Features(
    {
        "id": Value("string"),  # "<item id>/<task>[/<step>]"
        "item_id": Value("string"),
        "task": Value("string"),  # one of TASKS
        "step": Value("int32"),  # the call's index for "arguments" rows, null otherwise
        "api_id": Value("string"),  # the call's API for "arguments" rows, null otherwise
        "candidate_api_ids": List(Value("string")),  # in the order shown, for "planning" rows; empty otherwise
        "messages": List({"role": Value("string"), "content": Value("string")}),
        "recipe_fingerprint": Value("string"),
    }
)


def api_document(api: ApiSpec) -> str:
    """What the model reads about one API: its name, tool, description and parameters (JSON Schema)."""
    fn = api.tool_schema()["function"]
    return json.dumps(
        {"name": fn["name"], "tool": api.tool, "description": fn["description"], "parameters": fn["parameters"]},
        ensure_ascii=False,
    )


def _chat(system: str, user: str, assistant: str) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": system},
        {"role": "user", "content": user},
        {"role": "assistant", "content": assistant},
    ]


def _item_fields(item: Mapping[str, Any], apis: Mapping[str, ApiSpec]) -> tuple[str, str, str, list[dict[str, Any]]]:
    """``(item id, query, final answer, calls)`` of an ``sft``-like row, with a clear error for what is missing."""
    item_id = item.get("id") or item.get("chain_id")
    if not item_id:
        raise ValueError("three-task item has neither 'id' nor 'chain_id'")
    for key in ("query", "final_answer", "calls"):
        if not item.get(key):
            raise ValueError(f"three-task item {item_id!r}: field {key!r} is missing or empty")
    calls = item["calls"]
    if isinstance(calls, str):
        try:
            calls = json.loads(calls)
        except json.JSONDecodeError as exc:
            raise ValueError(f"three-task item {item_id!r}: field 'calls' is not JSON ({exc})") from None
    for i, call in enumerate(calls):
        for key in ("api_id", "arguments", "response"):
            if key not in call:
                raise ValueError(f"three-task item {item_id!r}: calls[{i}] has no {key!r}")
        if call["api_id"] not in apis:
            raise ValueError(f"three-task item {item_id!r}: calls[{i}].api_id {call['api_id']!r} is not a known API")
        if not isinstance(call["arguments"], dict):
            raise ValueError(f"three-task item {item_id!r}: calls[{i}].arguments must be an object")
    return str(item_id), item["query"], item["final_answer"], list(calls)


def planning_candidates(
    gold: Sequence[str], apis: Mapping[str, ApiSpec], rng: random.Random, options: ThreeTaskOptions
) -> list[str]:
    """Gold API ids plus negatives (never gold, never a name already shown), up to ``max_candidates``, shuffled.

    Gold APIs are all kept even when there are more than ``max_candidates`` of them.
    """
    gold_ids = list(dict.fromkeys(gold))
    names = {apis[a].name for a in gold_ids}
    gold_tools = {apis[a].tool for a in gold_ids}
    others = sorted(a for a in apis if a not in gold_ids)  # sorted: independent of the mapping's order
    if options.negatives == "same_tool_first":
        near = [a for a in others if apis[a].tool in gold_tools]
        far = [a for a in others if apis[a].tool not in gold_tools]
        rng.shuffle(near)
        rng.shuffle(far)
        pool = near + far
    else:
        pool = others[:]
        rng.shuffle(pool)
    negatives: list[str] = []
    for api_id in pool:
        if len(gold_ids) + len(negatives) >= options.max_candidates:
            break
        if apis[api_id].name in names:
            continue
        names.add(apis[api_id].name)
        negatives.append(api_id)
    candidates = gold_ids + negatives
    rng.shuffle(candidates)
    return candidates


def _results(calls: Sequence[dict[str, Any]], apis: Mapping[str, ApiSpec], limit: int) -> str:
    return "\n".join(
        f"[{i + 1}] {apis[c['api_id']].name}: {response_text(c['response'], limit)}" for i, c in enumerate(calls)
    )


def three_task_rows(
    item: Mapping[str, Any],
    apis: Mapping[str, ApiSpec],
    seed: int,
    options: ThreeTaskOptions | None = None,
    *,
    fingerprint: str = "",
) -> list[dict[str, Any]]:
    """The planning, per-call arguments and final-answer rows of one kept item (columns: `THREE_TASK_FEATURES`).

    ``item``: an ``sft``-like row with ``id`` (or ``chain_id``), ``query``, ``final_answer`` and ``calls`` (a list or
    its JSON text) of ``{api_id, arguments, response}`` in execution order, as the trace pipeline's rows hold them.
    ``apis``: every API of the build by id (the pool negatives come from). Same ``seed`` and item, same rows.
    """
    opts = options or ThreeTaskOptions()
    item_id, query, answer, calls = _item_fields(item, apis)
    rng = random.Random(f"{seed}:{item_id}")
    candidates = planning_candidates([c["api_id"] for c in calls], apis, rng, opts)
    plan = json.dumps([apis[c["api_id"]].name for c in calls], ensure_ascii=False)
    documents = "\n".join(api_document(apis[a]) for a in candidates)

    def row(task: str, messages: list[dict[str, str]], step: int | None = None, **extra: Any) -> dict[str, Any]:
        return {
            "id": f"{item_id}/{task}" + (f"/{step}" if step is not None else ""),
            "item_id": item_id,
            "task": task,
            "step": step,
            "api_id": extra.get("api_id"),
            "candidate_api_ids": extra.get("candidate_api_ids", []),
            "messages": messages,
            "recipe_fingerprint": fingerprint,
        }

    rows = [
        row(PLANNING, _chat(PLANNING_SYSTEM.format(documents=documents), query, plan), candidate_api_ids=candidates)
    ]
    for i, call in enumerate(calls):
        user = ARGUMENTS_USER.format(
            query=query,
            document=api_document(apis[call["api_id"]]),
            results=_results(calls[:i], apis, opts.response_chars) or NO_RESULTS,
        )
        arguments = json.dumps(call["arguments"], ensure_ascii=False)
        rows.append(row(ARGUMENTS, _chat(ARGUMENTS_SYSTEM, user, arguments), step=i, api_id=call["api_id"]))
    user = FINAL_USER.format(query=query, results=_results(calls, apis, opts.response_chars))
    rows.append(row(FINAL_ANSWER, _chat(FINAL_SYSTEM, user, answer)))
    return rows
