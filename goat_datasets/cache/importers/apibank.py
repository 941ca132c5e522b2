"""API-Bank level-1/2 dialogues (``lv1-lv2-samples/*/*.jsonl``): every ``API`` turn is one recorded call.

A turn reads ``{"role": "API", "api_name", "param_dict", "result": {"input", "output", "exception"}}``. The
arguments are taken from ``result.input``, what the API received: ``param_dict`` spells lists and booleans as Python
literals inside strings (``"['Lucas Wang']"``, ``"True"``), ``input`` holds the values themselves. A call without
``input`` (``GetToday``) falls back to ``param_dict``. A non-null ``exception`` is a recorded failure.

The answers come from the benchmark's own back-end simulators; they are recorded answers of the APIs the dialogues
use, so they are imported as ``real``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from goat_datasets.cache.importers.base import RecordedCall, Skipped, iter_json_records, register_importer


@register_importer(
    "apibank",
    default_source="apibank",
    suffixes=(".jsonl",),
    description="API-Bank level-1/2 dialogues: API turns with api_name, param_dict and the recorded result",
)
def read_apibank(path: Path) -> Iterator[RecordedCall | Skipped]:
    file = str(path)
    for item in iter_json_records(path):
        if isinstance(item, Skipped):
            yield item
            continue
        where, turn = item
        if not isinstance(turn, dict):
            yield Skipped(file, where, f"a dialogue turn must be an object, got {type(turn).__name__}")
            continue
        if turn.get("role") != "API":
            continue
        name = turn.get("api_name")
        result = turn.get("result")
        if not isinstance(name, str) or not name.strip():
            yield Skipped(file, where, f"API turn without a usable 'api_name' (got {name!r})")
            continue
        if not isinstance(result, dict) or "output" not in result:
            yield Skipped(file, where, f"API turn {name}: 'result' must be an object with 'output'")
            continue
        arguments = result.get("input")
        if arguments is None:
            arguments = turn.get("param_dict")
        if arguments is None:
            arguments = {}
        if not isinstance(arguments, dict):
            yield Skipped(file, where, f"API turn {name}: arguments (result.input / param_dict) must be an object, "
                                       f"got {type(arguments).__name__}")  # fmt: skip
            continue
        exception = result.get("exception")
        yield RecordedCall(name=name, arguments=arguments, response=result["output"], where=where,
                           exception=None if exception in (None, "") else str(exception))  # fmt: skip
