"""The graduated-reward paper's synthesized samples (``training_workflows.json``): 101 chains whose gold calls carry
the real recorded Booking.com responses.

A sample reads ``{workflow_id, steps: [{step, ground_truth: {function, arguments}, execution_result:
{execution_result: <response>, success}}]}``. The response is kept as recorded: some carry the API's
``{status, message, data}`` wrapper, others the data alone (`goat_datasets.rl.responses.payload` reads both). A step
recorded with ``success: false`` is a recorded failure.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

from goat_datasets.cache.importers.base import RecordedCall, Skipped, iter_json_records, register_importer


def _read_step(file: str, where: str, step: Any) -> RecordedCall | Skipped:
    if not isinstance(step, dict):
        return Skipped(file, where, f"a step must be an object, got {type(step).__name__}")
    gold = step.get("ground_truth")
    executed = step.get("execution_result")
    if not isinstance(gold, dict) or not isinstance(gold.get("function"), str) or not gold["function"].strip():
        return Skipped(file, where, "'ground_truth' must be an object with a non-empty 'function'")
    arguments = gold.get("arguments")
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, dict):
        return Skipped(file, where, f"{gold['function']}: 'ground_truth.arguments' must be an object")
    if not isinstance(executed, dict) or "execution_result" not in executed:
        return Skipped(file, where, f"{gold['function']}: no 'execution_result' (the recorded response)")
    exception = "recorded with success: false" if executed.get("success") is False else None
    return RecordedCall(gold["function"], arguments, executed["execution_result"], where, exception)


@register_importer(
    "booking",
    default_source="booking",
    suffixes=(".json",),
    description="booking-orchestration training_workflows.json: gold steps with their recorded responses",
)
def read_booking(path: Path) -> Iterator[RecordedCall | Skipped]:
    file = str(path)
    for item in iter_json_records(path):
        if isinstance(item, Skipped):
            yield item
            continue
        where, sample = item
        if not isinstance(sample, dict) or not isinstance(sample.get("steps"), list):
            yield Skipped(file, where, "a sample must be an object with a 'steps' list")
            continue
        label = f"{where} ({sample['workflow_id']})" if isinstance(sample.get("workflow_id"), str) else where
        for index, step in enumerate(sample["steps"]):
            yield _read_step(file, f"{label} step {index}", step)
