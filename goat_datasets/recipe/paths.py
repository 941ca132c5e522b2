"""Field paths of the recipe schema: ``sources[1].kind`` <-> ``("sources", 1, "kind")``, and walking the schema.

Error messages and ``--set`` overrides both speak in field paths; walking the pydantic models (rather than a
hand-written list of keys) keeps "did you mean" and override checks in step with the schema automatically.
"""

from __future__ import annotations

import difflib
import re
import types
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel

Loc = tuple[str | int, ...]

_SEGMENT_RE = re.compile(r"^(?P<key>[^.\[\]]+)?(?P<indices>(\[-?\d+\])*)$")
_PLAIN_KEY_RE = re.compile(r"^[A-Za-z0-9_-]+$")


class FieldPathError(ValueError):
    """A field path that is malformed or names no field of the schema."""


def format_loc(loc: Loc) -> str:
    """``("sources", 1, "kind")`` -> ``"sources[1].kind"``; keys that need it are quoted: ``headers['a.b']``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _PLAIN_KEY_RE.match(part):
            out += f".{part}" if out else part
        else:
            out += f"[{part!r}]"
    return out


def parse_field_path(path: str) -> Loc:
    """``"sources[0].base_url"`` or ``"sources.0.base_url"`` -> ``("sources", 0, "base_url")``."""
    if not path or path.strip() != path:
        raise FieldPathError(f"empty or padded field path {path!r}")
    loc: list[str | int] = []
    for segment in path.split("."):
        match = _SEGMENT_RE.match(segment)
        if not segment or match is None or (match.group("key") is None and not loc):
            raise FieldPathError(f"malformed field path {path!r} (write it like 'sampling.n' or 'sources[0].spec')")
        key = match.group("key")
        if key is not None:
            loc.append(int(key) if key.isdigit() else key)
        loc.extend(int(i) for i in re.findall(r"-?\d+", match.group("indices")))
    return tuple(loc)


def _unwrap_optional(annotation: Any) -> Any:
    origin = get_origin(annotation)
    if origin is Union or origin is types.UnionType:
        members = [a for a in get_args(annotation) if a is not type(None)]
        if len(members) == 1:
            return _unwrap_optional(members[0])
    return annotation


def is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def did_you_mean(name: str, candidates: list[str]) -> str:
    """'; did you mean 'x'?' when a candidate is close, else the list of allowed names."""
    close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    if close:
        return f"; did you mean {close[0]!r}?"
    return f" (allowed: {', '.join(candidates)})" if candidates else ""


def annotation_at(root: type[BaseModel], loc: Loc) -> Any:
    """The (Optional-unwrapped) type the schema expects at ``loc``; raises `FieldPathError` naming the bad step."""
    current: Any = root
    for depth, part in enumerate(loc):
        here = format_loc(loc[:depth]) or "the recipe"
        origin = get_origin(current)
        if is_model(current):
            fields = list(current.model_fields)
            if not isinstance(part, str) or part not in current.model_fields:
                raise FieldPathError(f"{here} has no field {str(part)!r}{did_you_mean(str(part), fields)}")
            current = _unwrap_optional(current.model_fields[part].annotation)
        elif origin is list:
            if not isinstance(part, int):
                raise FieldPathError(f"{here} is a list: index it with a number, like {here}[0]")
            current = _unwrap_optional(get_args(current)[0])
        elif origin is dict:
            current = _unwrap_optional(get_args(current)[1])
        else:
            raise FieldPathError(f"{here} is a single value; it has no field {str(part)!r}")
    return current


def field_names_at(root: type[BaseModel], loc: Loc) -> list[str]:
    """Names of the fields allowed at ``loc`` (empty when ``loc`` is not a model)."""
    try:
        annotation = annotation_at(root, loc)
    except FieldPathError:
        return []
    return list(annotation.model_fields) if is_model(annotation) else []
