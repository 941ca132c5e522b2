"""Cheap argument checks before a live call, from the parameters' JSON Schemas.

A live call costs time, rate limit and sometimes money, and its failure teaches nothing; an LLM's arguments are often
wrong in ways the document already rules out. `validate_arguments` returns every problem at once, each message
starting with the parameter's name (``"date: '2024-13-01' is not a 'date'"``); `ValidatingExecutor` turns problems
into a failed `CallResult` instead of calling.

Rules, in the order they are reported:

1. unknown parameter names; 2. required parameters missing (``None`` counts as not given, as everywhere);
3. a required string that is empty or blank (the released graduated-reward code rejects empty strings too);
4. the parameter's JSON Schema, checked by ``jsonschema`` (the validator its ``$schema`` names, else Draft 2020-12):
   ``type``, ``enum``, ``minimum``/``maximum`` (and exclusive), ``minLength``/``maxLength``, ``pattern``, array
   ``items``, ... with format checking. ``date`` must be a real calendar date ``YYYY-MM-DD``; ``date-time`` a real
   ``YYYY-MM-DDTHH:MM[:SS[.frac]]`` with an optional ``Z``/``±HH:MM`` offset (RFC 3339 wants seconds and the offset;
   APIs that declare date-time commonly accept local times, so only impossible values are refused). These two are
   checked here because jsonschema checks ``date-time`` only when the optional ``rfc3339-validator`` is installed.

Path, query and header values travel as text, so there a number-like string is accepted for a number parameter
(``"3"`` for ``integer``; an integer parameter needs an integer literal, so ``"2.5"`` and ``"1e3"`` are refused),
``"true"``/``"false"`` for a boolean, and a number for a string parameter (checked as the text the http executor
sends). Body values are JSON and are checked as they are. A schema that jsonschema cannot evaluate (a parser
leftover such as OpenAPI 3.0's boolean ``exclusiveMinimum``) checks nothing rather than rejecting good calls.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from datetime import date, datetime, timedelta, timezone
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.validators import validator_for

from goat_datasets.cache.keys import number_from_string
from goat_datasets.execution.base import CallResult, Executor, call_result
from goat_datasets.sources.models import ApiSpec, Param

__all__ = ["validate_arguments", "ValidatingExecutor", "FORMAT_CHECKER"]

_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_DATE_TIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(\.[0-9]+)?)?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})?"
)
_INT_LITERAL = re.compile(r"[+-]?[0-9]+")
_TEXT_LOCATIONS = ("path", "query", "header")
MAX_MESSAGE_CHARS = 200
_MAX_VALIDATORS = 4096
_VALIDATORS: dict[str, Any] = {}
_UNSEEN = object()

FORMAT_CHECKER = FormatChecker()


@FORMAT_CHECKER.checks("date")
def _is_date(value: object) -> bool:
    if not isinstance(value, str):
        return True  # formats constrain strings only; the type keyword judges the rest
    match = _DATE.fullmatch(value)
    if not match:
        return False
    try:
        date(*map(int, match.groups()))
    except ValueError:
        return False
    return True


@FORMAT_CHECKER.checks("date-time")
def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    match = _DATE_TIME.fullmatch(value)
    if not match:
        return False
    year, month, day, hour, minute, second, _fraction, offset = match.groups()
    try:
        tz = None
        if offset and offset not in ("Z", "z"):
            hours, minutes = int(offset[1:3]), int(offset[4:6])
            if minutes > 59:
                return False
            tz = timezone((-1 if offset[0] == "-" else 1) * timedelta(hours=hours, minutes=minutes))
        datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0), tzinfo=tz)
    except ValueError:  # month 13, hour 24, an offset of a day or more...
        return False
    return True


def _types(schema: Mapping[str, Any]) -> set[str]:
    declared = schema.get("type")
    if isinstance(declared, str):
        return {declared}
    if isinstance(declared, list):
        return {t for t in declared if isinstance(t, str)}
    return set()


def as_received(schema: Mapping[str, Any], value: Any) -> Any:
    """The value a server reads from a path, query or header parameter (see the module docstring)."""
    types = _types(schema)
    if isinstance(value, str):
        if "string" in types:
            return value
        if types & {"integer", "number"}:
            number = number_from_string(value)
            if number is not None and ("number" in types or _INT_LITERAL.fullmatch(value)):
                return number
        if "boolean" in types and value in ("true", "false"):
            return value == "true"
        return value
    if isinstance(value, list):
        items = schema.get("items")
        return [as_received(items, v) for v in value] if isinstance(items, Mapping) else value
    if type(value) in (int, float) and "string" in types and not types & {"integer", "number"}:
        return str(value)
    return value


def _short(message: str) -> str:
    """jsonschema quotes the whole value; a 2,000-character body should not become a 2,000-character reason."""
    return message if len(message) <= MAX_MESSAGE_CHARS else message[: MAX_MESSAGE_CHARS - 1] + "…"


def _where(name: str, path: Any) -> str:
    return name + "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path)


def received_arguments(api: ApiSpec, arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The non-null arguments as a server reads them: path/query/header text turned into the declared types."""
    params = {p.name: p for p in api.params}
    out: dict[str, Any] = {}
    for name, value in arguments.items():
        if value is None:
            continue
        param = params.get(name)
        out[name] = as_received(param.json_schema, value) if param and param.location in _TEXT_LOCATIONS else value
    return out


def _schema_problems(param: Param, value: Any) -> list[str]:
    schema = param.json_schema
    if not schema:
        return []
    if param.location in _TEXT_LOCATIONS:
        value = as_received(schema, value)
    validator = _validator(schema)
    if validator is None:
        return []
    try:
        errors = list(validator.iter_errors(value))  # in schema-keyword and array order: deterministic
    except Exception:  # a schema the validator cannot evaluate is the document's problem, not the arguments'
        return []
    return [f"{_where(param.name, error.absolute_path)}: {_short(error.message)}" for error in errors]


def _validator(schema: Mapping[str, Any]) -> Any:
    """A format-checking validator for ``schema``, or None when the schema itself is invalid for its draft (e.g.
    OpenAPI 3.0's ``exclusiveMinimum: true``, which Draft 2020-12 would read as the number 1). Memoised by the
    schema's JSON text: schemas are few and checking one against its meta-schema costs more than a validation."""
    try:
        text = json.dumps(schema, sort_keys=True, default=repr)
    except (TypeError, ValueError):
        return None
    cached = _VALIDATORS.get(text, _UNSEEN)
    if cached is not _UNSEEN:
        return cached
    try:
        cls = validator_for(schema, default=Draft202012Validator)
        cls.check_schema(schema)
        validator = cls(schema, format_checker=FORMAT_CHECKER)
    except Exception:
        validator = None
    if len(_VALIDATORS) >= _MAX_VALIDATORS:
        _VALIDATORS.clear()
    _VALIDATORS[text] = validator
    return validator


def validate_arguments(api: ApiSpec, arguments: Mapping[str, Any] | None) -> list[str]:
    """Every problem of ``arguments`` for ``api`` (empty when the call may go out); never raises."""
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, Mapping):
        return [f"arguments must be an object of parameter name to value, got {type(arguments).__name__}"]
    params = {p.name: p for p in api.params}
    problems = [
        f"{name}: unknown parameter of {api.id} (known: {', '.join(params) or 'none'})"
        for name in arguments
        if name not in params
    ]
    for param in api.params:
        value = arguments.get(param.name)
        if value is None:
            if param.required:
                problems.append(f"{param.name}: required parameter missing")
            continue
        if param.required and isinstance(value, str) and not value.strip():
            if value not in (param.json_schema.get("enum") or ()):
                problems.append(f"{param.name}: required parameter is an empty string")
                continue
        problems.extend(_schema_problems(param, value))
    return problems


class ValidatingExecutor:
    """Calls ``inner`` only with valid arguments; otherwise returns ``CallResult(ok=False, provenance="error",
    status_code=None, error="invalid arguments: <problem>; <problem>")``. ``rejected`` counts refused calls."""

    def __init__(self, inner: Executor):
        self.inner = inner
        self.rejected = 0

    def call(self, api: ApiSpec, arguments: dict[str, Any]) -> CallResult:
        started = time.perf_counter()
        problems = validate_arguments(api, arguments)
        if problems:
            self.rejected += 1
            return call_result(
                api, arguments, started, ok=False, status_code=None, provenance="error",
                error="invalid arguments: " + "; ".join(problems),
            )  # fmt: skip
        return self.inner.call(api, arguments)

    def close(self) -> None:
        self.inner.close()

    def __enter__(self) -> "ValidatingExecutor":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
