"""A deliberately small JSON path dialect shared by output fields, graph edges and gold calls.

Grammar: ``$`` (the whole value), keys separated by dots, ``[N]`` for an array index and ``[*]`` for every element,
e.g. ``results[*].id`` or ``hotels[0].property.latitude`` (the form the graduated-reward paper's ``from_field`` uses).
A leading ``$.`` is optional. Keys containing dots or brackets are written ``['a.b']``.
"""

from __future__ import annotations

import re
from typing import Any, Iterator

WILDCARD = object()
_TOKEN = re.compile(r"""\.?([^.\[\]]+)|\[(\*|-?\d+)\]|\[['"](.+?)['"]\]""")


class JsonPathError(ValueError):
    pass


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Any = _Missing()


def parse(path: str) -> list[Any]:
    """Split a path into keys (str), indices (int) and `WILDCARD`s."""
    text = path.strip()
    if text in ("", "$"):
        return []
    if text.startswith("$"):
        text = text[1:]
    parts: list[Any] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise JsonPathError(f"cannot parse JSON path {path!r} at position {pos}")
        key, index, quoted = m.groups()
        if key is not None:
            parts.append(key)
        elif quoted is not None:
            parts.append(quoted)
        elif index == "*":
            parts.append(WILDCARD)
        else:
            parts.append(int(index))
        pos = m.end()
    return parts


def format_path(parts: list[Any]) -> str:
    out = ""
    for p in parts:
        if p is WILDCARD:
            out += "[*]"
        elif isinstance(p, int):
            out += f"[{p}]"
        elif re.fullmatch(r"[^.\[\]'\"]+", p):
            out += f".{p}" if out else p
        else:
            out += f"['{p}']"
    return out or "$"


def _walk(value: Any, parts: list[Any]) -> Iterator[Any]:
    if not parts:
        yield value
        return
    head, rest = parts[0], parts[1:]
    if head is WILDCARD:
        if isinstance(value, list):
            for item in value:
                yield from _walk(item, rest)
    elif isinstance(head, int):
        if isinstance(value, list) and -len(value) <= head < len(value):
            yield from _walk(value[head], rest)
    elif isinstance(value, dict) and head in value:
        yield from _walk(value[head], rest)


def get_all(value: Any, path: str) -> list[Any]:
    """Every value the path reaches (wildcards expand); an empty list when nothing matches."""
    return list(_walk(value, parse(path)))


def get_first(value: Any, path: str) -> Any:
    """The first value the path reaches, or `MISSING`."""
    return next(_walk(value, parse(path)), MISSING)


def concretize(path: str, index: int = 0) -> str:
    """Replace every ``[*]`` by ``[index]``: the path of one concrete value, as stored on gold calls."""
    return format_path([index if p is WILDCARD else p for p in parse(path)])


def is_prefix(prefix: str, path: str) -> bool:
    a, b = parse(prefix), parse(path)
    return len(a) <= len(b) and all(x is y or x == y for x, y in zip(a, b))


_JSON_TYPES = ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"), (list, "array"), (dict, "object"))


def json_type(value: Any) -> str:
    """The JSON Schema type name of a Python value from parsed JSON (``bool`` before ``int``: it is one in Python);
    other Python types give their class name."""
    if value is None:
        return "null"
    for cls, name in _JSON_TYPES:
        if isinstance(value, cls):
            return name
    return type(value).__name__
