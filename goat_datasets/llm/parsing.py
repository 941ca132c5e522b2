"""Lenient JSON extraction from small-model output.

Sub-1B models rarely answer with bare JSON: they wrap it in ```json fences or ``<tool_call>`` tags, add a sentence
before or after, write Python literals (single quotes, True/None) or leave a trailing comma. Rejecting all of that
would waste most generations, so we look for the JSON in the likely places, repair the common slips, and leave the
real judgement (is it the right content?) to JSON Schema validation and the caller's retry.
"""

from __future__ import annotations

import ast
import json
import math
import re
from typing import Any, Iterator

from goat_datasets.jsonpath import json_type

__all__ = [
    "ParseFailure", "extract_json", "extract_json_object", "extract_arguments", "extract_tool_calls", "validate_arguments"
]  # fmt: skip

_TOOL_CALL_RE = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.DOTALL)
_FENCE_RE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[ \t]*\n?(.*?)(?:```|$)", re.DOTALL)
_THINK_RE = re.compile(r"<think>.*?</think>", re.DOTALL)
_TRAILING_COMMA_RE = re.compile(r",(\s*[}\]])")
_BARE_WORDS = {"true": "True", "false": "False", "null": "None"}
_BARE_WORD_RE = re.compile(r"\b(true|false|null)\b")
# Keys small models wrap the arguments in, and the keys that may sit beside them in such a wrapper.
_WRAPPER_KEYS = ("arguments", "parameters", "args", "function")
_WRAPPER_SIBLINGS = {"name", "tool", "tool_name", "function", "type", "id", "api", "api_name"}
_MAX_REASON_CHARS = 600
_MAX_SPAN_STARTS = 64


class ParseFailure(ValueError):
    """No JSON value could be recovered; ``reason`` says what was seen, for logs and retry prompts."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


def extract_json(text: str) -> Any:
    """The first JSON value found in ``text``; raises `ParseFailure` when there is none.

    Looks, in order, inside ``<tool_call>`` tags, inside code fences, at the whole text, then at every balanced
    ``{...}``/``[...]`` span (so prose around the JSON is ignored). Each candidate is tried as strict JSON first, then
    with repairs: trailing commas removed, Python literals (single quotes, True/False/None) accepted.
    """
    if not isinstance(text, str):
        raise ParseFailure(f"expected model output as a string, got {type(text).__name__}")
    cleaned = _THINK_RE.sub("", text).strip()
    if not cleaned:
        raise ParseFailure("the output is empty")
    seen: set[str] = set()
    for candidate in _candidates(cleaned):
        if candidate in seen:
            continue
        seen.add(candidate)
        value = _parse_leniently(candidate)
        if value is not _NOTHING:
            return value
    if "{" in cleaned and _unbalanced(cleaned):
        raise ParseFailure(f"the JSON is not closed (output cut off?): {_clip(cleaned)}")
    raise ParseFailure(f"no JSON value found in the output: {_clip(cleaned)}")



def extract_json_object(text: str, what: str) -> dict[str, Any]:
    """The JSON object in ``text`` (`extract_json`; a one-element list around it, as small models write, is
    unwrapped). Raises `ParseFailure` naming ``what`` was expected ("of arguments") and what came instead."""
    value = extract_json(text)
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if not isinstance(value, dict):
        raise ParseFailure(f"expected a JSON object {what}, got {json_type(value)}: {_clip(json.dumps(value))}")
    return value

def extract_tool_calls(text: str) -> list[dict[str, Any]]:
    """Every ``{"name", "arguments"}`` call in ``text`` (Qwen/Hermes ``<tool_call>`` tags, else fences or bare JSON).

    Calls that cannot be parsed are skipped: the caller compares what it got against what it expected.
    """
    cleaned = _THINK_RE.sub("", text or "")
    blocks = [m.group(1) for m in _TOOL_CALL_RE.finditer(cleaned)]
    if not blocks:
        blocks = [m.group(2) for m in _FENCE_RE.finditer(cleaned)] or [cleaned]
    calls: list[dict[str, Any]] = []
    for block in blocks:
        try:
            value = extract_json(block)
        except ParseFailure:
            continue
        for item in value if isinstance(value, list) else [value]:
            call = _as_call(item)
            if call is not None:
                calls.append(call)
    return calls


def extract_arguments(text: str, schema: dict[str, Any], *, coerce: bool = True) -> tuple[dict[str, Any] | None, str]:
    """The call arguments in ``text``, valid against the JSON Schema ``schema``; else ``(None, reason)``.

    Also unwraps ``{"name": ..., "arguments": {...}}`` (and ``parameters``/``function`` variants, arguments given as
    a JSON string, a one-element list) when the schema itself has no such property. With ``coerce``, quoted
    top-level numbers and booleans are unquoted when the schema wants a number ("5" -> 5, "true" -> true), since
    small models often quote them; a number where a string is wanted stays an error (is 5 really the query?), so
    the retry prompt can say so. The reason is empty on success.
    """
    try:
        value = extract_json_object(text, "of arguments")
    except ParseFailure as exc:
        return None, exc.reason
    candidates = _unwrappings(value, schema)
    if coerce:
        candidates = [_coerce_scalars(c, schema) for c in candidates]
    # Innermost first: {"name": "search", "arguments": {"name": "Paris"}} must yield {"name": "Paris"} even when the
    # schema has a "name" parameter and the wrapper would validate too.
    for candidate in reversed(candidates):
        if not validate_arguments(candidate, schema):
            return candidate, ""
    problems = validate_arguments(candidates[-1], schema)
    return None, "the arguments do not match the schema: " + "; ".join(problems)


def validate_arguments(arguments: Any, schema: dict[str, Any]) -> list[str]:
    """All schema violations of ``arguments``, each as ``path: message``; empty when valid."""
    import jsonschema

    try:
        validator_cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
        validator_cls.check_schema(schema)
    except jsonschema.SchemaError as exc:
        return [f"the JSON Schema itself is invalid at {'/'.join(map(str, exc.path)) or '<root>'}: {exc.message}"]
    validator = validator_cls(schema)
    errors = sorted(validator.iter_errors(arguments), key=lambda e: [str(p) for p in e.absolute_path])
    out: list[str] = []
    for err in errors:
        where = ".".join(str(p) for p in err.absolute_path) or "<root>"
        out.append(f"{where}: {_clip(err.message, 200)}")
    return out


# ----------------------------------------------------------------------------------------------------------------


class _Nothing:
    pass


_NOTHING = _Nothing()


def _candidates(text: str) -> Iterator[str]:
    for m in _TOOL_CALL_RE.finditer(text):
        yield m.group(1).strip()
    for m in _FENCE_RE.finditer(text):
        yield m.group(2).strip()
    yield text
    for start, end in _balanced_spans(text):
        yield text[start:end]


def _balanced_spans(text: str) -> Iterator[tuple[int, int]]:
    """``(start, end)`` of each top-level bracketed span, skipping brackets inside quoted strings.

    Tries at most `_MAX_SPAN_STARTS` opening brackets: each try scans to the end in the worst case, and real model
    output never needs more.
    """
    i, n, tries = 0, len(text), 0
    while i < n and tries < _MAX_SPAN_STARTS:
        if text[i] in "{[":
            tries += 1
            end = _matching_close(text, i)
            if end is not None:
                yield i, end
                i = end
                continue
        i += 1


def _matching_close(text: str, start: int) -> int | None:
    stack: list[str] = []
    quote: str | None = None
    i = start
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 2
                continue
            if ch == quote:
                quote = None
        elif ch in "\"'":
            # An apostrophe inside prose ("don't") is not a string opener; only treat ' as one after a JSON delimiter.
            if ch == '"' or _prev_nonspace(text, i) in "{[,:":
                quote = ch
        elif ch in "{[":
            stack.append("}" if ch == "{" else "]")
        elif ch in "}]":
            if not stack or stack.pop() != ch:
                return None
            if not stack:
                return i + 1
        i += 1
    return None


def _prev_nonspace(text: str, i: int) -> str:
    j = i - 1
    while j >= 0 and text[j].isspace():
        j -= 1
    return text[j] if j >= 0 else ""


def _unbalanced(text: str) -> bool:
    start = text.find("{")
    return start >= 0 and _matching_close(text, start) is None


def _parse_leniently(candidate: str) -> Any:
    try:
        return json.loads(candidate)
    except ValueError:
        pass
    repaired = _outside_strings(candidate, lambda seg: _TRAILING_COMMA_RE.sub(r"\1", seg))
    try:
        return json.loads(repaired)
    except ValueError:
        pass
    pythonish = _outside_strings(repaired, lambda seg: _BARE_WORD_RE.sub(lambda m: _BARE_WORDS[m.group(1)], seg))
    try:
        value = ast.literal_eval(pythonish)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return _NOTHING
    return _as_json_value(value)


def _outside_strings(text: str, fn) -> str:
    """Apply ``fn`` to the parts of ``text`` that are not inside '...' or "..." literals."""
    out: list[str] = []
    buf: list[str] = []
    quote: str | None = None
    i = 0
    while i < len(text):
        ch = text[i]
        if quote:
            buf.append(ch)
            if ch == "\\" and i + 1 < len(text):
                buf.append(text[i + 1])
                i += 2
                continue
            if ch == quote:
                out.append("".join(buf))
                buf, quote = [], None
        elif ch in "\"'":
            out.append(fn("".join(buf)))
            buf, quote = [ch], ch
        else:
            buf.append(ch)
        i += 1
    out.append("".join(buf) if quote else fn("".join(buf)))
    return "".join(out)


def _as_json_value(value: Any) -> Any:
    """Python literal -> JSON-compatible value, or `_NOTHING` if it has no JSON form (sets, bytes, odd keys)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else _NOTHING
    if isinstance(value, (list, tuple)):
        items = [_as_json_value(v) for v in value]
        return _NOTHING if any(v is _NOTHING for v in items) else items
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            if not isinstance(k, str):
                return _NOTHING
            converted = _as_json_value(v)
            if converted is _NOTHING:
                return _NOTHING
            out[k] = converted
        return out
    return _NOTHING


def _as_call(item: Any) -> dict[str, Any] | None:
    if not isinstance(item, dict):
        return None
    if isinstance(item.get("function"), dict):  # OpenAI shape {"type": "function", "function": {...}}
        item = item["function"]
    name = item.get("name")
    if not isinstance(name, str) or not name:
        return None
    args = item.get("arguments", item.get("parameters", {}))
    if isinstance(args, str):
        try:
            args = extract_json(args)
        except ParseFailure:
            return None
    if not isinstance(args, dict):
        return None
    return {"name": name, "arguments": args}


def _unwrappings(value: dict[str, Any], schema: dict[str, Any]) -> list[dict[str, Any]]:
    """``value`` and each object nested in it by ``{"name": .., "arguments": {..}}``-style wrappers (3 levels at most).

    A key counts as a wrapper only when the schema has no property of that name and the keys beside it are the ones
    such wrappers carry (name, type, id...).
    """
    props = set((schema.get("properties") or {}).keys())
    out = [value]
    for _ in range(3):
        key = next((k for k in _WRAPPER_KEYS if k in value and k not in props), None)
        if key is None or not set(value) - {key} <= _WRAPPER_SIBLINGS:
            break
        inner = value[key]
        if isinstance(inner, str):
            try:
                inner = extract_json(inner)
            except ParseFailure:
                break
        if not isinstance(inner, dict):
            break
        out.append(inner)
        value = inner
    return out


def _coerce_scalars(args: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    props = schema.get("properties") or {}
    out = dict(args)
    for name, val in args.items():
        spec = props.get(name)
        if isinstance(spec, dict):
            out[name] = _coerce_one(val, spec)
    return out


def _coerce_one(val: Any, spec: dict[str, Any]) -> Any:
    types = spec.get("type")
    types = [types] if isinstance(types, str) else list(types or [])
    if not types or json_type(val) in types or (isinstance(val, int) and "number" in types):
        return val
    if isinstance(val, list) and len(val) == 1 and "array" not in types:
        # small models copy the prompt's "Example values: [...]" list shape: ["c001"] for a string parameter
        return _coerce_one(val[0], spec)
    if isinstance(val, str):
        s = val.strip()
        if "integer" in types and re.fullmatch(r"[+-]?\d+", s):
            return int(s)
        if "number" in types:
            try:
                num = float(s)
            except ValueError:
                num = None
            if num is not None and math.isfinite(num):
                return int(num) if re.fullmatch(r"[+-]?\d+", s) else num
        if "boolean" in types and s.lower() in ("true", "false"):
            return s.lower() == "true"
    if "integer" in types and isinstance(val, float) and val.is_integer():
        return int(val)
    return val





def _clip(text: str, limit: int = _MAX_REASON_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
