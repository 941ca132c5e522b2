"""ComplexFuncBench records: each ``function_call`` paired with the observation content at the same position.

A record reads ``{id, conversations: [user, assistant{function_call: [{name, arguments}, ...]},
observation{content: [response, ...]}, ..., assistant{content}], functions: [...]}``. An assistant turn may call
several functions at once; the observation that follows lists their responses in the same order. Responses are the
benchmark's trimmed recordings of the Booking.com API (wrapper removed, empty values dropped, lists cut to 10); they
are imported as recorded. Arguments or responses given as JSON text are decoded. A turn whose calls and responses do
not line up is skipped whole (which response belongs to which call is then unknown), with its record id and turn.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

from goat_datasets.cache.importers.base import RecordedCall, Skipped, iter_json_records, register_importer


def _decoded(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _calls_of(turn: dict[str, Any]) -> list[Any] | None:
    calls = turn.get("function_call")
    if calls is None:
        return None
    calls = _decoded(calls)
    return calls if isinstance(calls, list) else [calls]


def _responses_of(turn: dict[str, Any]) -> list[Any] | None:
    content = _decoded(turn.get("content"))
    if not isinstance(content, list):
        return None
    return [_decoded(item) for item in content]


def _read_record(file: str, where: str, record: Any) -> Iterator[RecordedCall | Skipped]:
    if not isinstance(record, dict):
        yield Skipped(file, where, f"a record must be an object, got {type(record).__name__}")
        return
    label = f"{where} (id {record['id']})" if isinstance(record.get("id"), (str, int)) else where
    conversations = record.get("conversations")
    if not isinstance(conversations, list):
        yield Skipped(file, label, "'conversations' must be a list of turns")
        return
    for position, turn in enumerate(conversations):
        if not isinstance(turn, dict) or turn.get("role") != "assistant":
            continue
        calls = _calls_of(turn)
        if not calls:
            continue
        turn_where = f"{label} turn {position}"
        following = conversations[position + 1] if position + 1 < len(conversations) else None
        if not isinstance(following, dict) or following.get("role") != "observation":
            yield Skipped(file, turn_where, f"{len(calls)} function call(s) without an observation turn after them")
            continue
        responses = _responses_of(following)
        if responses is None:
            yield Skipped(file, turn_where, "the observation's 'content' must be a list of responses")
            continue
        if len(responses) != len(calls):
            yield Skipped(file, turn_where, f"{len(calls)} function call(s) but {len(responses)} response(s) in the "
                                            "observation; cannot pair them")  # fmt: skip
            continue
        for index, (call, response) in enumerate(zip(calls, responses)):
            call_where = f"{turn_where} call {index}"
            if not isinstance(call, dict) or not isinstance(call.get("name"), str) or not call["name"].strip():
                yield Skipped(file, call_where, "a function call must be an object with a non-empty 'name'")
                continue
            arguments = _decoded(call.get("arguments"))
            if arguments is None:
                arguments = {}
            if not isinstance(arguments, dict):
                yield Skipped(file, call_where, f"{call['name']}: 'arguments' must be an object (or its JSON text), "
                                                f"got {type(arguments).__name__}")  # fmt: skip
                continue
            yield RecordedCall(name=call["name"], arguments=arguments, response=response, where=call_where)


@register_importer(
    "complexfuncbench",
    default_source="booking",
    suffixes=(".jsonl", ".json"),
    description="ComplexFuncBench records: assistant function_call lists paired with the next observation's content",
)
def read_complexfuncbench(path: Path) -> Iterator[RecordedCall | Skipped]:
    file = str(path)
    for item in iter_json_records(path):
        if isinstance(item, Skipped):
            yield item
            continue
        yield from _read_record(file, *item)
