"""The one cache-key definition of the project: ``canonical_key(arguments) -> str``.

A response cache only helps if two calls that mean the same thing get the same key. Models (and humans) write the
same argument as ``-1456928``, ``"-1456928"`` or ``-1456928.0``, drop optional arguments or send them as ``null``, and
emit keys in any order. The key folds those spellings together and nothing else, so a lookup stays an exact,
deterministic dictionary hit (no fuzzy fallback).

Normalisation rules (exactly these, applied recursively):

1. The top level must be a mapping (``None`` counts as ``{}``); anything else raises ``TypeError``.
2. In every mapping, entries whose value is ``None`` are dropped (``None`` means "not given"); keys become ``str``.
   Inside lists ``None`` is kept, because there it holds a position.
3. A string is *number-like* when it matches ``[+-]?(digits[.digits?] | .digits)([eE][+-]?digits)?`` with ASCII
   digits only and no surrounding whitespace (``"42"``, ``"-7"``, ``"+3"``, ``"007"``, ``"1."``, ``".5"``,
   ``"2.50"``, ``"1e5"``). Number-like strings become numbers: without ``.``/exponent an ``int`` (so ``"007"`` -> 7),
   otherwise a ``float``. Strings such as ``" 42"``, ``"1_000"``, ``"0x1F"``, ``"nan"``, ``"inf"``, ``"1,5"``, dates
   and times stay strings. A number-like string whose float overflows (``"1e999"``) stays a string.
4. A finite ``float`` with an integral value and magnitude at most 2**53 becomes an ``int`` (``2.0`` -> ``2``), so
   ``2``, ``2.0``, ``"2"`` and ``"2.0"`` share one key. ``bool`` is never a number (``True`` stays ``true``).
5. Tuples are lists. Any other non-JSON value raises ``TypeError`` naming its path.
6. The key is compact JSON (``,`` and ``:`` separators, no spaces) with keys sorted at every level and non-ASCII
   characters kept as they are (``ensure_ascii=False``).

Differences from the released reward code's key function (``BookingAPI._args_to_hash_key``), on purpose: that
function decides "number-like" by trying ``int()``/``float()`` and catching the exception (slow, and it also accepts
``" 42 "``, ``"1_000"``, non-ASCII digits and ``"nan"`` when a dot is present), never drops ``None``, keeps ``1`` and
``1.0`` apart, and treats ``"1e5"`` as a string. The fast path here is a first-character test and one precompiled
regular expression, so ordinary strings never reach ``int()``/``float()``.

Users: `goat_datasets.cache.store.ResponseCache` (the ``key`` column), the replay and caching executors,
`goat_datasets.execution.validate` (rule 3 decides which strings may stand for numbers in a URL), and
``goat_train.rewards`` (re-exported there as ``goat_train.rewards.canonical``). This module imports only the standard
library, so the reward workers stay light.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["canonical_key", "canonical_arguments", "is_number_like", "number_from_string"]

_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_NUMBER_FIRST_CHARS = frozenset("+-.0123456789")
_INT_ONLY = re.compile(r"[+-]?[0-9]+")
_MAX_EXACT_INT = 2**53

_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=True)


def is_number_like(text: str) -> bool:
    """True when rule 3 of the module docstring turns ``text`` into a number."""
    return isinstance(text, str) and type(_normalise(text, "")) is not str


def number_from_string(text: str) -> int | float | None:
    """The number rule 3 reads in ``text`` (``"007"`` -> 7, ``"2.50"`` -> 2.5), or None if it is not number-like."""
    if type(text) is str and text and text[0] in _NUMBER_FIRST_CHARS and _NUMBER.fullmatch(text):
        number = _string_to_number(text)
        return None if type(number) is str else number
    return None


def _string_to_number(text: str) -> int | float | str:
    if _INT_ONLY.fullmatch(text):
        return int(text)
    number = float(text)
    if not math.isfinite(number):
        return text  # "1e999": keep the spelling rather than invent an infinity
    return _float_to_number(number)


def _float_to_number(number: float) -> int | float:
    if number.is_integer() and -_MAX_EXACT_INT <= number <= _MAX_EXACT_INT:
        return int(number)
    return number


def _normalise(value: Any, path: str) -> Any:
    kind = type(value)
    if kind is str:
        if value and value[0] in _NUMBER_FIRST_CHARS and _NUMBER.fullmatch(value):
            return _string_to_number(value)
        return value
    if kind is dict:
        return _normalise_mapping(value, path)
    if kind is float:
        return _float_to_number(value) if math.isfinite(value) else value
    if kind is int or kind is bool or value is None:
        return value
    if kind is list or kind is tuple:
        return [_normalise(item, f"{path}[{index}]") for index, item in enumerate(value)]
    if isinstance(value, Mapping):
        return _normalise_mapping(value, path)
    # Subclasses of the JSON scalars (str-based enums, IntEnum, numpy.float64) are keyed by their plain value.
    for base in (bool, str, int, float):
        if isinstance(value, base):
            return _normalise(base(value), path)
    raise TypeError(
        f"canonical_key: the value at {path or 'the top level'} has type {kind.__name__}, which is not JSON "
        "(allowed: dict, list, tuple, str, int, float, bool, None)"
    )


def _normalise_mapping(mapping: Mapping, path: str) -> dict:
    out = {}
    for key, item in mapping.items():
        if item is None:
            continue
        key = key if type(key) is str else str(key)
        out[key] = _normalise(item, f"{path}.{key}" if path else key)
    return out


def canonical_arguments(arguments: Mapping[str, Any] | None) -> dict[str, Any]:
    """The normalised argument mapping behind :func:`canonical_key` (rules 1-5), for storing next to the key."""
    if arguments is None:
        return {}
    if not isinstance(arguments, Mapping):
        raise TypeError(
            f"canonical_key: arguments must be a mapping of parameter name to value (or None), got "
            f"{type(arguments).__name__}: {arguments!r:.80}"
        )
    return _normalise_mapping(arguments, "")


def canonical_key(arguments: Mapping[str, Any] | None) -> str:
    """Cache key of one call's arguments; see the module docstring for the exact rules."""
    if type(arguments) is dict:
        # Hot path: one pass, inline the common leaf types.
        out = {}
        for key, value in arguments.items():
            kind = type(value)
            if kind is str:
                if value and value[0] in _NUMBER_FIRST_CHARS and _NUMBER.fullmatch(value):
                    value = _string_to_number(value)
            elif value is None:
                continue
            elif kind is not int and kind is not bool:
                value = _normalise(value, key if type(key) is str else str(key))
            out[key if type(key) is str else str(key)] = value
        return _ENCODER.encode(out)
    return _ENCODER.encode(canonical_arguments(arguments))
