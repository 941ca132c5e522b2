"""Workflow templates: which functions a chain calls, in which order, and where each dependent argument comes from.

A template is an ordered list of steps; a step names its function, the earlier steps it ``depends_on`` and, per
dependent argument, the parent step and the JSON path into the parent's response data (``dependency_args: {arg:
{from_step, from_field}}``, e.g. ``{"id": {"from_step": 0, "from_field": "destinations[0].id"}}``; paths in the
`goat_datasets.jsonpath` dialect, read from `goat_datasets.rl.responses.payload`). Steps are listed in dependency
order, which is also what the rewards' ``gold_steps`` require.

Two file shapes load (`load_templates`):

- the graduated-reward paper's ``workflow_templates.json``: ``{"workflows": [{"id", "pattern": [functions],
  "frequency", "dependencies": {"0": {"function", "arguments", "depends_on", "dependency_args"}, ...}}]}``; the
  recorded ``arguments`` and the ``value`` beside each ``from_field`` are examples and are kept as such;
- a plain list of ``{"id", "frequency"?, "steps": [{"function", "depends_on", "dependency_args"}]}``.

Every problem of a file is reported at once, each with the file, the template's position and id, and the field.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from goat_datasets import jsonpath

__all__ = [
    "DependencyArg",
    "TemplateStep",
    "WorkflowTemplate",
    "TemplateError",
    "load_templates",
    "templates_from_document",
]


class TemplateError(ValueError):
    """A template file with problems; ``problems`` lists each one (``file: where: message``)."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        count = len(problems)
        super().__init__(f"{count} problem{'s' if count != 1 else ''} in workflow templates:\n" + "\n".join(problems))


class DependencyArg(BaseModel):
    """Argument ``arg`` of a step is the value at ``from_field`` in the response data of step ``from_step``."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    from_step: int = Field(ge=0)
    from_field: str = Field(min_length=1)

    @field_validator("from_field")
    @classmethod
    def _parses(cls, value: str) -> str:
        jsonpath.parse(value)  # JsonPathError (a ValueError) names the path and the position
        return value


class TemplateStep(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    function: str = Field(min_length=1)
    depends_on: tuple[int, ...] = ()
    dependency_args: dict[str, DependencyArg] = Field(default_factory=dict)
    example_arguments: dict[str, Any] = Field(default_factory=dict, alias="arguments")


class WorkflowTemplate(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str = Field(min_length=1)
    steps: tuple[TemplateStep, ...] = Field(min_length=1)
    frequency: int = Field(default=1, ge=0, description="How often the pattern was seen; weights template choice")

    @property
    def pattern(self) -> list[str]:
        return [step.function for step in self.steps]

    @model_validator(mode="after")
    def _dependencies_point_back(self) -> "WorkflowTemplate":
        problems = []
        for index, step in enumerate(self.steps):
            for parent in step.depends_on:
                if parent >= index:
                    problems.append(f"steps[{index}].depends_on: step {parent} does not come before step {index}")
            for arg, dep in step.dependency_args.items():
                if dep.from_step >= index:
                    problems.append(f"steps[{index}].dependency_args.{arg}.from_step: step {dep.from_step} does not "
                                    f"come before step {index}")  # fmt: skip
                elif dep.from_step not in step.depends_on:
                    problems.append(f"steps[{index}].dependency_args.{arg}.from_step: step {dep.from_step} is not in "
                                    f"depends_on {list(step.depends_on)}")  # fmt: skip
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def independent_steps(self) -> list[int]:
        return [i for i, step in enumerate(self.steps) if not step.dependency_args]


def _from_booking(workflow: dict[str, Any]) -> dict[str, Any]:
    """The paper's ``{pattern, dependencies: {"0": ...}}`` as ``{steps: [...]}``; checks they agree."""
    pattern = workflow.get("pattern")
    dependencies = workflow.get("dependencies")
    if not isinstance(pattern, list) or not isinstance(dependencies, dict):
        raise ValueError("a workflow needs 'pattern' (a list of functions) and 'dependencies' (an object by step)")
    expected = [str(i) for i in range(len(pattern))]
    if sorted(dependencies, key=lambda k: (len(k), k)) != expected:
        raise ValueError(f"dependencies: keys {sorted(dependencies)} should be the step numbers {expected}")
    steps = []
    for i, function in enumerate(pattern):
        step = dependencies[str(i)]
        if not isinstance(step, dict):
            raise ValueError(f"dependencies.{i}: must be an object")
        if step.get("function") != function:
            raise ValueError(f"dependencies.{i}.function: {step.get('function')!r} but pattern[{i}] is {function!r}")
        steps.append(step)
    return {"id": workflow.get("id"), "frequency": workflow.get("frequency", 1), "steps": steps}


def _problem(error: dict[str, Any]) -> str:
    """``steps[1].dependency_args.id.from_field: message`` from one pydantic error (checks of the whole template have
    no location; their messages name the field themselves)."""
    where = ""
    for part in error["loc"]:
        where += f"[{part}]" if isinstance(part, int) else (f".{part}" if where else str(part))
    message = error["msg"].removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


def templates_from_document(document: Any, doc_name: str = "<templates>") -> list[WorkflowTemplate]:
    """Templates from a parsed document (either shape of the module docstring); `TemplateError` lists every problem."""
    if isinstance(document, dict) and isinstance(document.get("workflows"), list):
        items, prefix = document["workflows"], "workflows"
    elif isinstance(document, list):
        items, prefix = document, ""
    else:
        got = f"an object with keys {sorted(map(str, document))[:8]}" if isinstance(document, dict) else None
        raise TemplateError([f"{doc_name}: expected {{'workflows': [...]}} or a list of templates, got "
                             f"{got or type(document).__name__}"])  # fmt: skip
    templates: list[WorkflowTemplate] = []
    problems: list[str] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        label = f"{prefix}[{index}]"
        if isinstance(item, dict) and isinstance(item.get("id"), str):
            label += f" ({item['id']})"
        try:
            if not isinstance(item, dict):
                raise ValueError(f"a template must be an object, got {type(item).__name__}")
            data = _from_booking(item) if "dependencies" in item and "steps" not in item else item
            template = WorkflowTemplate.model_validate(data)
        except ValidationError as exc:
            problems.extend(f"{doc_name}: {label}: {_problem(e)}" for e in exc.errors())
            continue
        except ValueError as exc:
            problems.append(f"{doc_name}: {label}: {exc}")
            continue
        if template.id in seen:
            problems.append(f"{doc_name}: {label}: id {template.id!r} is used by an earlier template")
            continue
        seen.add(template.id)
        templates.append(template)
    if problems:
        raise TemplateError(problems)
    if not templates:
        raise TemplateError([f"{doc_name}: no templates"])
    return templates


def load_templates(path: str | os.PathLike[str]) -> list[WorkflowTemplate]:
    """Templates from a JSON file; `TemplateError` (naming the file) for unreadable JSON and for every bad template."""
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise TemplateError([f"{path}: not JSON: {exc}"]) from None
    return templates_from_document(document, str(path))


def functions_of(templates: Iterable[WorkflowTemplate]) -> list[str]:
    """Every function the templates call, in first-use order."""
    return list(dict.fromkeys(step.function for template in templates for step in template.steps))
