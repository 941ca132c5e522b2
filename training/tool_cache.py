"""Cache-backed tool responses for rollouts: the model's calls are answered from recorded responses, never live.

The graduated reward's execution part asks whether each call got a non-error response (REFERENCE §2a/§2c). Rollouts
are answered the way the paper's environment answers them: an exact lookup of (tool name, canonical arguments) in a
cache of recorded responses, and a miss is the error object ``{"error": "No results found"}``. The cache is filled
from the ``rl_cache`` config of the dataset (every recorded response) and from the responses stored with the gold
steps of the ``rl`` rows. Keys come from `goat_datasets.cache.keys.canonical_key`, the project's one definition.

A single-turn completion is text with ``<tool_call>`` blocks. Anything the model wrote that looks like a tool
response is ignored: the completion becomes one assistant message followed by one ``tool`` message per call, in call
order, so each call is paired with the cache's answer to it and nothing else.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from goat_datasets.cache.keys import canonical_key

from .data import LoadedDataset, load_split, require_columns
from .rewards.parsing import parse_rollout

__all__ = ["MISS", "ToolResponseCache", "with_tool_responses", "replaying", "cache_for_dataset"]

MISS = {"error": "No results found"}
_MISS_TEXT = json.dumps(MISS)


def _as_text(response: Any) -> str:
    return response if isinstance(response, str) else json.dumps(response, ensure_ascii=False)


class ToolResponseCache:
    """``(tool name, canonical key) -> response text``; `lookup` answers a miss with `MISS`."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], str] = {}
        self._aliases: dict[str, str] = {}  # tool name -> the API id its cache rows are stored under
        self.sources: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, name: str, arguments: Mapping[str, Any] | None, response: Any, *, source: str = "") -> bool:
        """Store one response; the first one stored for a call wins (returns False for a duplicate)."""
        return self.add_key(name, canonical_key(arguments or {}), response, source=source)

    def add_key(self, name: str, key: str, response: Any, *, source: str = "") -> bool:
        """Store under an already canonical key (the ``key`` column of ``rl_cache`` rows)."""
        if (name, key) in self._entries or (self._aliases.get(name), key) in self._entries:
            return False
        self._entries[(name, key)] = _as_text(response)
        if source:
            self.sources[source] = self.sources.get(source, 0) + 1
        return True

    def lookup(self, name: str | None, arguments: Any) -> tuple[str, bool]:
        """``(response text, hit)``; unknown tools and unusable arguments are misses, never exceptions."""
        if not isinstance(name, str) or not isinstance(arguments, Mapping):
            return _MISS_TEXT, False
        try:
            key = canonical_key(arguments)
        except (TypeError, ValueError):
            return _MISS_TEXT, False
        text = self._entries.get((name, key))
        if text is None and name in self._aliases:
            text = self._entries.get((self._aliases[name], key))
        return (text, True) if text is not None else (_MISS_TEXT, False)

    def add_gold_steps(self, cells: Iterable[Any]) -> int:
        """Responses recorded with gold calls: ``response`` of each ``gold_steps``/``gold_calls`` step, or
        ``server_response`` of each step of GOAT's ``api_path`` (``docid`` + ``llm_generation``)."""
        added = 0
        for cell in cells:
            steps = json.loads(cell) if isinstance(cell, str) else cell
            if isinstance(steps, Mapping):
                steps = steps.get("steps", [])
            for step in steps or []:
                if not isinstance(step, Mapping):
                    continue
                response = step.get("response", step.get("server_response"))
                if response is None:
                    continue
                name = step.get("name", step.get("function", step.get("docid")))
                arguments = step.get("arguments", step.get("llm_generation"))
                if isinstance(arguments, str):
                    arguments = json.loads(arguments)
                if isinstance(name, str) and (arguments is None or isinstance(arguments, Mapping)):
                    added += self.add(name, arguments, response, source="gold")
        return added

    def add_rl_cache_rows(self, rows: Iterable[Mapping[str, Any]], names: Mapping[str, str] | None = None) -> int:
        """Rows of the ``rl_cache`` config (api_id, key, response, ok, error); failed calls replay as errors.

        Cache rows name APIs by their id (``<source>.<name>``) while the model calls tools by name, so each row is
        stored under the tool name too: ``names[api_id]`` when given (from the ``rl`` rows' ``api_ids`` next to their
        gold step names), else the id without its source prefix.
        """
        added = 0
        names = names or {}
        for row in rows:
            response = row.get("response")
            if not row.get("ok", True):
                response = {"error": row.get("error") or "recorded call failed"}
            response = response if response is not None else MISS
            api_id, key = str(row["api_id"]), str(row["key"])
            added += self.add_key(api_id, key, response, source="rl_cache")
            name = names.get(api_id) or api_id.split(".", 1)[-1]
            if name != api_id:
                self._aliases.setdefault(name, api_id)
        return added

    @staticmethod
    def tool_names(rows: Iterable[Mapping[str, Any]], gold_column: str = "gold_steps") -> dict[str, str]:
        """``api_id -> tool name`` from rows that carry ``api_ids`` beside their gold steps (the ``rl`` config)."""
        names: dict[str, str] = {}
        for row in rows:
            api_ids, cell = row.get("api_ids"), row.get(gold_column)
            if not api_ids or cell is None:
                continue
            steps = json.loads(cell) if isinstance(cell, str) else cell
            if isinstance(steps, list) and len(steps) == len(api_ids):
                for api_id, step in zip(api_ids, steps):
                    if isinstance(step, Mapping) and isinstance(step.get("name"), str):
                        names.setdefault(str(api_id), step["name"])
        return names


def with_tool_responses(completion: Any, cache: ToolResponseCache | None) -> list[dict[str, Any]]:
    """A single-turn completion as trl chat messages with the cache's answers (no answers without a cache)."""
    if isinstance(completion, str):
        messages = [{"role": "assistant", "content": completion}]
    elif isinstance(completion, list):
        if any(isinstance(m, dict) and m.get("role") == "tool" for m in completion):
            return list(completion)  # a multi-turn rollout already answered by its environment
        messages = [m for m in completion if isinstance(m, dict) and m.get("role") == "assistant"]
    else:
        messages = [{"role": "assistant", "content": "" if completion is None else str(completion)}]
    if cache is None:
        return messages
    out = list(messages)
    for call in parse_rollout(messages):
        if call.parse_error is not None:
            out.append({"role": "tool", "content": json.dumps({"error": f"invalid tool call: {call.parse_error}"})})
            continue
        text, _ = cache.lookup(call.name, call.arguments if call.arguments_error is None else None)
        out.append({"role": "tool", "content": text})
    return out


def replaying(reward_func: Callable[..., list[float]], cache: ToolResponseCache | None) -> Callable[..., list[float]]:
    """``reward_func`` scoring each completion with the tool responses the cache gives its calls."""

    def wrapped(prompts: list | None = None, completions: list | None = None, **columns: Any) -> list[float]:
        answered = [with_tool_responses(c, cache) for c in (completions or [])]
        return reward_func(prompts=prompts, completions=answered, **columns)

    wrapped.__name__ = getattr(reward_func, "__name__", "reward")
    wrapped.__qualname__ = wrapped.__name__
    wrapped.__doc__ = getattr(reward_func, "__doc__", None)
    return wrapped


def cache_for_dataset(
    loaded: LoadedDataset, cache_config: str, gold_column: str, log: Callable[[str], None] = print
) -> ToolResponseCache:
    """Responses of the dataset's ``rl_cache`` config (same repo and commit, or same local folder) plus those stored
    with the gold calls of the loaded rows."""
    cache = ToolResponseCache()
    target = loaded.ref.text if loaded.ref.is_local else f"{loaded.ref.repo_id}@{loaded.resolved_revision}"
    if cache_config in loaded.configs:
        rows = load_split(target, cache_config, None, preferred_splits=("train",))
        require_columns(rows.dataset, ("api_id", "key", "response"), f"{cache_config} config of {loaded.ref.text}")
        has_ids = "api_ids" in loaded.dataset.column_names
        names = ToolResponseCache.tool_names(loaded.dataset, gold_column) if has_ids else {}
        added = cache.add_rl_cache_rows(rows.dataset, names)
        log(f"tool responses: {added} from the {cache_config!r} config ({rows.describe()})")
    else:
        log(f"tool responses: no {cache_config!r} config in {loaded.ref.text}; using the gold calls' responses only")
    if gold_column in loaded.dataset.column_names:
        added = cache.add_gold_steps(loaded.dataset[gold_column])
        log(f"tool responses: {added} more from {gold_column!r}; {len(cache)} in all "
            "(a miss answers 'No results found')")
    return cache
