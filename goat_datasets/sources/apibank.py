"""API-Bank API descriptions -> `ApiSpec`s.

API-Bank's APIs are Python classes whose ``description``, ``input_parameters`` and ``output_parameters`` (``{name:
{type, description}}`` with Python type names such as ``str``, ``list(str)`` or ``Union[List[dict], dict]``) are
read out into records (``api_descriptions.derived.json``: a list of them; one record or JSON Lines work too).

The benchmark calls every input parameter by keyword and each class's ``call`` takes them all, so a parameter is
required unless the record says otherwise (``required: false``) or its description marks it optional
(``[Optional] ...``, ``Only needed for ...``). The output parameters name the keys of a call's ``output`` object, so
they become the output fields. Related APIs share a back-end database (``database_name``: AddAgenda, QueryAgenda...
all use ``Agenda``), which is the natural tool grouping; an API without one is its own tool.
"""

from __future__ import annotations

import re
from typing import Any, Iterable

from goat_datasets.sources.functions import (
    Entry,
    check_source,
    document_error,
    json_type,
    parse_entries,
)
from goat_datasets.sources.loading import ParseResult, SpecProblem, register_source_kind
from goat_datasets.sources.models import ApiSpec, Param
from goat_datasets.sources.openapi import (
    Notes,
    SkipOperation,
    json_pointer,
    response_output_fields,
    sanitise_name,
    stripped_text,
)

_OPTIONAL = re.compile(r"^\s*\[optional\]|\(optional\)|\bonly needed\b", re.IGNORECASE)
_TYPE_TOKEN = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_.]*)\s*")


def python_type_schema(text: Any) -> dict[str, Any] | None:
    """JSON Schema of a Python type annotation as API-Bank writes it: ``str``, ``list(str)``, ``List[dict]``,
    ``Dict[str, int]``, ``Optional[int]``, ``Union[List[dict], dict]``; None when it is not one."""
    if not isinstance(text, str):
        return None
    try:
        schema, end = _parse_type(text, 0)
    except ValueError:
        return None
    return schema if text[end:].strip() == "" else None


def _parse_type(text: str, pos: int) -> tuple[dict[str, Any], int]:
    match = _TYPE_TOKEN.match(text, pos)
    if not match:
        raise ValueError(text)
    name, pos = match.group(1).split(".")[-1].lower(), match.end()
    args: list[dict[str, Any]] = []
    if pos < len(text) and text[pos] in "[(":
        closing = "]" if text[pos] == "[" else ")"
        pos += 1
        while True:
            arg, pos = _parse_type(text, pos)
            args.append(arg)
            if pos < len(text) and text[pos] == ",":
                pos += 1
            elif pos < len(text) and text[pos] == closing:
                pos += 1
                break
            else:
                raise ValueError(text)
        while pos < len(text) and text[pos] == " ":
            pos += 1
    if name in ("union", "optional"):
        branches = args + ([{"type": "null"}] if name == "optional" else [])
        return ({"anyOf": branches} if len(branches) > 1 else branches[0]), pos
    type_ = json_type(name)
    if type_ is None:
        if name == "any":
            return {}, pos
        raise ValueError(text)
    schema: dict[str, Any] = {"type": type_}
    if type_ == "array" and args:
        schema["items"] = args[0]
    elif type_ == "object" and len(args) == 2:
        schema["additionalProperties"] = args[1]
    return schema, pos


def _schema(spec: dict[str, Any], pointer: str, notes: Notes) -> dict[str, Any]:
    schema = python_type_schema(spec.get("type", "str"))
    if schema is None:
        notes.add(f"{pointer}/type", f"type {spec.get('type')!r} is not a Python type name; treated as any value")
        return {}
    return schema


def _params(api: dict[str, Any], pointer: str, notes: Notes) -> list[Param]:
    inputs = api.get("input_parameters") or {}
    if not isinstance(inputs, dict):
        raise SkipOperation(f"{pointer}/input_parameters", "'input_parameters' must be an object of parameters")
    params = []
    for name, spec in inputs.items():
        where = f"{pointer}/input_parameters/{json_pointer(name)[1:]}"
        if not isinstance(spec, dict):
            raise SkipOperation(where, f"parameter {name!r} is not an object with 'type' and 'description'")
        description = stripped_text(spec.get("description"))
        explicit = spec.get("required")
        required = explicit if isinstance(explicit, bool) else not _OPTIONAL.search(description)
        params.append(Param(name=name, location="body", required=required, schema=_schema(spec, where, notes),
                            description=description))  # fmt: skip
    return params


def _outputs(api: dict[str, Any], pointer: str, notes: Notes) -> dict[str, Any] | None:
    outputs = api.get("output_parameters")
    if outputs is None:
        return None
    if not isinstance(outputs, dict):
        raise SkipOperation(f"{pointer}/output_parameters", "'output_parameters' must be an object of parameters")
    properties = {}
    for name, spec in outputs.items():
        where = f"{pointer}/output_parameters/{json_pointer(name)[1:]}"
        if not isinstance(spec, dict):
            notes.add(where, f"output parameter {name!r} is not an object with 'type' and 'description'; left out")
            continue
        properties[name] = _schema(spec, where, notes)
        if stripped_text(spec.get("description")):
            properties[name]["description"] = stripped_text(spec["description"])
    return {"type": "object", "properties": properties} if properties else None


def _parse_api(entry: Entry, notes: Notes, source: str) -> ApiSpec:
    api = entry.node
    schema = _outputs(api, entry.pointer, notes)
    fields = response_output_fields(schema, f"{entry.pointer}/output_parameters", notes) if schema else []
    return ApiSpec(
        id=f"{source}.{entry.name}",
        source=source,
        tool=entry.tool,
        name=entry.name,
        method="POST",
        description=stripped_text(api.get("description")),
        params=tuple(_params(api, entry.pointer, notes)),
        output_fields=tuple(fields),
        response_schema=schema,
    )


def _entries(document: Any, doc_name: str, problems: list[SpecProblem]) -> list[Entry]:
    if isinstance(document, dict) and "name" in document:
        records = [(document, "")]
    elif isinstance(document, list):
        records = [(record, f"/{i}") for i, record in enumerate(document)]
    else:
        got = "an object without 'name'" if isinstance(document, dict) else type(document).__name__
        raise document_error(doc_name, "", f"not API-Bank API descriptions (expected a list of {{name, description, "
                                           f"input_parameters, output_parameters}} records), got {got}")  # fmt: skip
    entries = []
    for record, pointer in records:
        name = record.get("name") if isinstance(record, dict) else None
        if not isinstance(name, str) or not sanitise_name(name):
            message = f"API description has no usable 'name' (got {name!r})"
            problems.append(SpecProblem(pointer=pointer, message=message))
            continue
        tool = stripped_text(record.get("database_name")) or name.strip()
        entries.append(Entry(pointer, f"API {name!r}", sanitise_name(name), record, tool=tool))
    return entries


def parse_apibank(
    document: Any,
    source: str,
    *,
    base_url: str | None = None,
    include: Iterable[str] = (),
    exclude: Iterable[str] = (),
    doc_name: str = "<doc>",
) -> ParseResult:
    """Every usable API of a list of API-Bank API descriptions."""
    check_source(source, "apibank")
    problems: list[SpecProblem] = []
    entries = _entries(document, doc_name, problems)
    apis, parse_problems = parse_entries(entries, lambda e, n: _parse_api(e, n, source), include=include,
                                         exclude=exclude)  # fmt: skip
    return ParseResult(apis=apis, problems=problems + parse_problems, base_url=base_url)


load_apibank_source = register_source_kind("apibank", parse_apibank, records=True)
