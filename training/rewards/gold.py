"""Gold steps: the reference call chain a rollout is scored against.

A dataset row stores them in a ``gold_steps`` column, as a JSON string or a list of
``{"name", "arguments", "depends_on"}`` objects (``"function"`` is accepted for ``"name"``, as in the released data).
``depends_on`` lists indices of *earlier* steps whose results this step consumes; steps are kept in dependency order,
which is what the orchestration reward walks through.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["GoldStep", "GoldPlan", "GoldStepsError", "parse_gold_steps", "as_plan"]


class GoldStepsError(ValueError):
    """The gold steps of a row are malformed (says which step and what is wrong)."""


@dataclass(eq=True)
class GoldStep:
    """One reference call. ``arguments=None`` is allowed and means "no arguments"."""

    name: str
    arguments: dict[str, Any] | None = None
    depends_on: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise GoldStepsError(f"gold step name must be a non-empty string, got {self.name!r}")
        if self.arguments is not None and not isinstance(self.arguments, dict):
            raise GoldStepsError(
                f"gold step {self.name!r}: arguments must be an object or null, got {type(self.arguments).__name__}"
            )
        depends_on = list(self.depends_on or ())
        for dep in depends_on:
            if type(dep) is not int or dep < 0:
                raise GoldStepsError(f"gold step {self.name!r}: depends_on must hold step indices (>= 0), got {dep!r}")
        self.depends_on = depends_on

    @property
    def given_arguments(self) -> dict[str, Any]:
        """Arguments with ``None`` values dropped (``None`` means "not given", as in the cache key)."""
        cached = self.__dict__.get("_given")
        if cached is None:
            cached = {k: v for k, v in (self.arguments or {}).items() if v is not None}
            self.__dict__["_given"] = cached
        return cached


class GoldPlan:
    """Validated gold steps plus the indexes the rewards need (built once per row, reused for every rollout)."""

    __slots__ = ("steps", "indices_by_name", "_cache")

    def __init__(self, steps: Iterable[GoldStep]):
        self.steps: tuple[GoldStep, ...] = tuple(steps)
        self.indices_by_name: dict[str, list[int]] = {}
        for index, step in enumerate(self.steps):
            if not isinstance(step, GoldStep):
                raise GoldStepsError(f"gold step {index} is {type(step).__name__}, expected GoldStep")
            for dep in step.depends_on:
                if dep >= index:
                    raise GoldStepsError(
                        f"gold step {index} ({step.name}) depends on step {dep}, which does not come before it; "
                        "list gold steps in dependency order"
                    )
            self.indices_by_name.setdefault(step.name, []).append(index)
        self._cache: dict[str, Any] = {}

    def __len__(self) -> int:
        return len(self.steps)

    def __iter__(self):
        return iter(self.steps)

    def __getitem__(self, index: int) -> GoldStep:
        return self.steps[index]

    def __repr__(self) -> str:
        return f"GoldPlan({[step.name for step in self.steps]})"


def _step_from_obj(index: int, item: Any) -> GoldStep:
    if isinstance(item, GoldStep):
        return item
    if not isinstance(item, dict):
        raise GoldStepsError(f"gold_steps[{index}] must be an object, got {type(item).__name__}: {item!r:.80}")
    name = item.get("name", item.get("function"))
    arguments = item.get("arguments")
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except ValueError as exc:
            raise GoldStepsError(f"gold_steps[{index}].arguments is a string that is not JSON: {exc}") from None
    try:
        return GoldStep(name=name, arguments=arguments, depends_on=item.get("depends_on") or [])
    except GoldStepsError as exc:
        raise GoldStepsError(f"gold_steps[{index}]: {exc}") from None


_parsed_text: dict[str, GoldPlan] = {}


def parse_gold_steps(value: Any) -> GoldPlan:
    """A :class:`GoldPlan` from a ``gold_steps`` cell: JSON text, a list of objects or GoldSteps, or a plan.

    JSON text is memoised (every prompt is rolled out many times with the same cell).
    """
    if isinstance(value, GoldPlan):
        return value
    if isinstance(value, str):
        plan = _parsed_text.get(value)
        if plan is not None:
            return plan
        try:
            items = json.loads(value)
        except ValueError as exc:
            raise GoldStepsError(f"gold_steps is a string that is not JSON: {exc}") from None
        plan = parse_gold_steps(items)
        if len(_parsed_text) >= 4096:
            _parsed_text.clear()
        _parsed_text[value] = plan
        return plan
    if isinstance(value, dict) and "steps" in value:
        value = value["steps"]
    if not isinstance(value, (list, tuple)):
        raise GoldStepsError(f"gold_steps must be a list of steps or its JSON text, got {type(value).__name__}")
    return GoldPlan(_step_from_obj(index, item) for index, item in enumerate(value))


def as_plan(gold: GoldPlan | Sequence[GoldStep] | Any) -> GoldPlan:
    """Accept what the plain reward functions are given: a plan, a list of GoldSteps, or a ``gold_steps`` cell."""
    if isinstance(gold, GoldPlan):
        return gold
    return parse_gold_steps(gold)
