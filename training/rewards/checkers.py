"""Argument checks behind the structure and values parts of the atomic reward.

``paper_*``: what the released code computes. Its values check is BFCL's ``simple_function_checker`` (Python
language) fed with a function description *inferred from the gold values* (every gold parameter required, type names
from the Python types, list item type from the first element, an empty list meaning a list of strings) and the gold
values as the only possible answers. Reproduced here, including its corners:

* a string matches after :func:`standardize` (lower-case, `` ,./-_*^`` removed, ``'`` -> ``"``);
* an ``int`` is accepted for a ``float`` parameter, nothing else converts (``True`` is not an ``int``, ``1.0`` is not an
  ``int``, an ``int`` inside a list of floats is a type error);
* list items must have the type of the gold list's first item (or of its first item that is not ``""``); lists compare
  with ``==`` after standardising string items; a list of objects is compared object by object;
* an object parameter goes through BFCL's ``dict_checker``, which treats each gold nested value as a *list of
  alternatives*: a string gold value matches only a one-character standardised value, a list gold value matches when
  the model value is one of its items, a missing nested key is tolerated when the gold value is a string;
* where the released code raises (a ``None`` gold value that the model also sends, a gold list starting with ``None``,
  a nested gold value that is a number), the check fails instead of crashing.

``default_*``: the clean version: ``None`` means "not given" on both sides, numbers compare by value across
``int``/``float`` (never ``bool``), strings after :func:`standardize`, lists item by item, objects key by key.
"""

from __future__ import annotations

from typing import Any

from .gold import GoldStep

__all__ = [
    "standardize",
    "paper_types_compatible",
    "paper_values_valid",
    "default_same_kind",
    "default_values_equal",
    "default_values_valid",
]

_REMOVE = str.maketrans("", "", " ,./-_*^")


def standardize(text: str) -> str:
    """BFCL's string normalisation: drop spaces and ``,./-_*^``, lower-case, turn ``'`` into ``"``."""
    return text.translate(_REMOVE).lower().replace("'", '"')


# ---------------------------------------------------------------------------------------------------- paper mode


def paper_types_compatible(model_value: Any, gold_value: Any) -> bool:
    """The released structure check: any two ``int``/``float`` (``bool`` included, via isinstance) are compatible,
    otherwise the exact types must be equal."""
    if isinstance(model_value, (int, float)) and isinstance(gold_value, (int, float)):
        return True
    return type(model_value) == type(gold_value)


# Python type of a gold value -> the type the inferred BFCL description asks for (None: the released code raises).
_EXPECTED = {str: str, int: int, bool: bool, dict: dict, float: float, list: list}


class _PaperParam:
    __slots__ = ("gold", "expected", "nested", "item_alternative", "gold_std")

    def __init__(self, gold: Any):
        self.gold = gold
        self.expected = _EXPECTED.get(type(gold))
        self.nested = None
        self.item_alternative = None
        self.gold_std = None
        if self.expected is list:
            # items type from the first element; an empty gold list describes a list of strings
            self.nested = _EXPECTED.get(type(gold[0])) if gold else str
            if self.nested is None:
                self.expected = None  # KeyError in BFCL's type table: the released code crashes
            first_non_empty = next((item for item in gold if item != ""), _NOTHING)
            self.item_alternative = None if first_non_empty is _NOTHING else type(first_non_empty)
            if self.nested is not dict:
                self.gold_std = [standardize(item) if type(item) is str else item for item in gold]
        elif self.expected is str:
            self.gold_std = standardize(gold)


_NOTHING = object()


def _paper_specs(step: GoldStep) -> dict[str, _PaperParam]:
    specs = step.__dict__.get("_paper_specs")
    if specs is None:
        specs = {name: _PaperParam(value) for name, value in (step.arguments or {}).items()}
        step.__dict__["_paper_specs"] = specs
    return specs


def _alternatives(gold_nested: Any) -> list | None:
    """BFCL indexes a nested gold value as a list of possible answers; None where that raises."""
    if isinstance(gold_nested, str):
        return [standardize(char) for char in gold_nested]
    if isinstance(gold_nested, list):
        return [standardize(item) if type(item) is str else item for item in gold_nested]
    if isinstance(gold_nested, dict) and not gold_nested:
        return []
    return None


def _paper_dict_ok(model_value: dict, gold: Any) -> bool:
    if type(gold) is not dict:
        return False  # "" is skipped (left invalid); any other non-object raises in the released code
    for key, value in model_value.items():
        if key not in gold:
            return False
        alternatives = _alternatives(gold[key])
        if alternatives is None:
            return False
        candidate = standardize(value) if type(value) is str else value
        if not any(option is candidate or option == candidate for option in alternatives):
            return False
    for key, value in gold.items():
        if key in model_value or isinstance(value, str):  # "" is "in" every string: never reported missing
            continue
        if isinstance(value, (list, dict)):
            if "" not in value:
                return False
        else:
            return False  # `"" in <number>` raises in the released code
    return True


def _paper_param_ok(spec: _PaperParam, value: Any) -> bool:
    expected = spec.expected
    if expected is None:
        return False
    if expected is float and type(value) is int:
        value = float(value)
    if type(value) is not expected:
        return False
    if expected is list:
        nested, alternative = spec.nested, spec.item_alternative
        for item in value:
            kind = type(item)
            if kind is not nested and kind is not alternative:
                return False
        if nested is dict:
            gold = spec.gold
            if len(value) != len(gold):
                return False
            return all(type(m) is dict and _paper_dict_ok(m, g) for m, g in zip(value, gold))
        return [standardize(item) if type(item) is str else item for item in value] == spec.gold_std
    if expected is str:
        return standardize(value) == spec.gold_std
    if expected is dict:
        return _paper_dict_ok(value, spec.gold)
    gold = spec.gold
    return value is gold or value == gold


def paper_values_valid(model_arguments: dict, step: GoldStep) -> bool:
    """BFCL ``simple_function_checker`` against the gold values, as the released code calls it."""
    specs = _paper_specs(step)
    if len(model_arguments) < len(specs):
        return False
    for name in specs:
        if name not in model_arguments:
            return False  # missing required parameter
    for name, value in model_arguments.items():
        spec = specs.get(name)
        if spec is None:
            return False  # unexpected parameter
        kind = type(value)
        if kind is type(spec.gold) and kind in _SCALARS and value == spec.gold:
            continue  # same scalar type and equal: every BFCL check passes
        if not _paper_param_ok(spec, value):
            return False  # wrong type or wrong value
    return True


_SCALARS = frozenset((str, int, float, bool))


# -------------------------------------------------------------------------------------------------- default mode


def _is_number(value: Any) -> bool:
    kind = type(value)
    return kind is int or kind is float


def default_same_kind(model_value: Any, gold_value: Any) -> bool:
    """Type check of the default mode: ``int`` and ``float`` are interchangeable, ``bool`` is not a number."""
    kind = type(model_value)
    if kind is type(gold_value):
        return True
    return _is_number(model_value) and _is_number(gold_value)


def default_values_equal(model_value: Any, gold_value: Any) -> bool:
    """Equality under normalisation: standardised strings, numbers by value, lists item-wise, objects key-wise."""
    gold_kind = type(gold_value)
    if gold_kind is str:
        return type(model_value) is str and (
            model_value == gold_value or standardize(model_value) == standardize(gold_value)
        )
    if gold_kind is int or gold_kind is float:
        return _is_number(model_value) and model_value == gold_value
    if gold_kind is bool:
        return type(model_value) is bool and model_value == gold_value
    if gold_kind is list or gold_kind is tuple:
        if type(model_value) not in (list, tuple) or len(model_value) != len(gold_value):
            return False
        return all(default_values_equal(m, g) for m, g in zip(model_value, gold_value))
    if gold_kind is dict:
        if type(model_value) is not dict:
            return False
        model_given = {k: v for k, v in model_value.items() if v is not None}
        gold_given = {k: v for k, v in gold_value.items() if v is not None}
        if model_given.keys() != gold_given.keys():
            return False
        return all(default_values_equal(model_given[k], gold_given[k]) for k in gold_given)
    if gold_value is None:
        return model_value is None
    return model_value == gold_value


def default_values_valid(model_given: dict, gold_given: dict) -> bool:
    """No unexpected and no missing parameter (``None`` already dropped on both sides), every value equal."""
    if len(model_given) != len(gold_given):
        return False
    for name, gold_value in gold_given.items():
        if name not in model_given:
            return False
        value = model_given[name]
        if type(value) is type(gold_value) and type(value) in _SCALARS and value == gold_value:
            continue
        if not default_values_equal(value, gold_value):
            return False
    return True
