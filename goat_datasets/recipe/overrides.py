"""``--set key.path=value`` overrides, applied to the raw recipe data before validation.

Overrides go through the same schema as the file (they are applied first, validated after), so a bad value gets the
same message it would get in the file; a path that names no field is rejected up front, naming the override.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import BaseModel

from goat_datasets.recipe.paths import FieldPathError, Loc, annotation_at, format_loc, is_model, parse_field_path


@dataclass(frozen=True)
class Override:
    text: str  # as the user wrote it, for messages
    loc: Loc
    value: Any

    @property
    def label(self) -> str:
        return f"--set {self.text}"


class OverrideError(ValueError):
    def __init__(self, text: str, message: str, loc: Loc = ()):
        self.text, self.loc = text, loc
        super().__init__(message)


def parse_override(text: str, schema: type[BaseModel]) -> Override:
    """``"sampling.n=20"`` -> Override; the value is read as YAML (``20`` int, ``true`` bool, ``[a, b]`` list)."""
    key, sep, raw = text.partition("=")
    if not sep:
        raise OverrideError(text, "an override is key.path=value, like sampling.n=20 (no '=' found)")
    try:
        loc = parse_field_path(key.strip())
        annotation_at(schema, loc)
    except FieldPathError as exc:
        raise OverrideError(text, str(exc)) from None
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as exc:
        raise OverrideError(text, f"the value is not valid YAML: {getattr(exc, 'problem', None) or exc}", loc) from None
    return Override(text=text, loc=loc, value=value)


def apply_override(data: dict[str, Any], override: Override, schema: type[BaseModel]) -> None:
    """Set the value in place, creating missing mappings on the way (``outputs.sft.split`` works with no outputs)."""
    node: Any = data
    loc = override.loc
    for depth, part in enumerate(loc[:-1]):
        here = format_loc(loc[: depth + 1])
        if isinstance(part, int):
            if not isinstance(node, list) or not -len(node) <= part < len(node):
                size = len(node) if isinstance(node, list) else 0
                raise OverrideError(override.text, f"{here} does not exist (the recipe has {size} item(s) there)", loc)
            node = node[part]
            continue
        if not isinstance(node, dict):
            raise OverrideError(override.text, f"{format_loc(loc[:depth]) or 'the recipe'} is not a mapping", loc)
        if node.get(part) is None:
            expected = annotation_at(schema, loc[: depth + 1])
            node[part] = {} if is_model(expected) or getattr(expected, "__origin__", None) is dict else []
        node = node[part]
    last = loc[-1]
    if isinstance(last, int):
        if not isinstance(node, list) or not -len(node) <= last < len(node):
            raise OverrideError(override.text, f"{format_loc(loc)} does not exist", loc)
    elif not isinstance(node, dict):
        raise OverrideError(override.text, f"{format_loc(loc[:-1]) or 'the recipe'} is not a mapping", loc)
    node[last] = override.value
