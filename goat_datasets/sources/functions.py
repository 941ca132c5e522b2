"""JSON-schema function lists -> `ApiSpec`s: OpenAI ``tools``, bare ``{name, description, parameters}`` lists
(ComplexFuncBench, BFCL) and JSON Lines of either.

A function list says nothing about HTTP, so every argument is a ``body`` parameter and there is no path. It rarely
says what a call returns: a function carrying a ``returns``/``response``/``responses`` schema gets output fields from
it (the dependency graph needs them); any other function has none.

API-Bank and ToolBench documents are lists of loosely typed records as well, so the record helpers live here and serve
those kinds too: loose type names (``dict``, ``float``, ``STRING``) -> JSON Schema types, and the name / select / skip
loop that mirrors the OpenAPI parser's. (Text -> records is `loading.parse_records_text`.)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from goat_datasets.sources.loading import ParseResult, SpecError, SpecProblem, register_source_kind
from goat_datasets.sources.models import ApiSpec, Param
from goat_datasets.sources.openapi import (
    SUBSCHEMA_KEYS,
    SUBSCHEMA_LIST_KEYS,
    SUBSCHEMA_MAP_KEYS,
    Notes,
    Resolver,
    SkipOperation,
    check_source,
    clean_param_schema,
    json_pointer,
    pop_description,
    primary_type,
    response_output_fields,
    sanitise_name,
    selected,
    stripped_text,
    unique_name,
)

RESPONSE_KEYS = ("returns", "response", "responses")  # where a function may declare what it returns
# Type names seen in function lists, ToolBench and API-Bank documents (lower-cased, before any "(" or space).
_TYPE_ALIASES = {
    **dict.fromkeys(("string", "str", "text", "enum", "date", "time", "datetime", "geopoint", "file", "binary",
                     "credentials"), "string"),  # fmt: skip
    **dict.fromkeys(("integer", "int", "long"), "integer"),
    **dict.fromkeys(("number", "float", "double", "decimal"), "number"),
    **dict.fromkeys(("boolean", "bool"), "boolean"),
    **dict.fromkeys(("array", "list", "tuple", "set"), "array"),
    **dict.fromkeys(("object", "dict", "json", "map", "mapping"), "object"),
    **dict.fromkeys(("null", "none", "nonetype"), "null"),
}
_SCHEMA_MAPS = (*SUBSCHEMA_MAP_KEYS, "$defs", "definitions")


# --------------------------------------------------------------------------------------------------------------------
# Record helpers shared with the toolbench and apibank kinds


def document_error(doc_name: str, pointer: str, message: str) -> SpecError:
    """A whole-document `SpecError` located the way build logs locate problems: ``doc#/pointer: message``."""
    return SpecError(f"{doc_name}#{pointer or '/'}: {message}")


def json_type(name: Any) -> str | None:
    """The JSON Schema type a loose type name stands for (``STRING``, ``float``, ``dict``, ``DATE (YYYY-MM-DD)``...);
    None when it names none (including ``any``)."""
    if not isinstance(name, str):
        return None
    key = name.strip().lower()
    return _TYPE_ALIASES.get(key) or _TYPE_ALIASES.get(key.split("(", 1)[0].split(" ", 1)[0].strip())


def fix_type_names(schema: Any, pointer: str, notes: Notes) -> Any:
    """A copy of a JSON Schema with loose type names (BFCL's ``dict``, ``float``, ``tuple``, ``any``) made standard.

    Unknown names are dropped with a note, so the schema stays valid JSON Schema (an unknown type fails validation).
    """
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        where = f"{pointer}/{json_pointer(key)[1:]}"
        if key == "type":
            names = value if isinstance(value, list) else [value]
            fixed = [json_type(n) for n in names]
            unknown = [n for n, f in zip(names, fixed) if f is None and str(n).strip().lower() != "any"]
            if unknown:
                notes.add(where, f"unknown type name(s) {unknown}; left out of the schema")
            kept = list(dict.fromkeys(f for f in fixed if f))
            if kept:
                out[key] = kept if isinstance(value, list) else kept[0]
        elif key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {n: fix_type_names(s, f"{where}/{json_pointer(n)[1:]}", notes) for n, s in value.items()}
        elif key in (*SUBSCHEMA_LIST_KEYS, "items") and isinstance(value, list):
            out[key] = [fix_type_names(s, f"{where}/{i}", notes) for i, s in enumerate(value)]
        elif key in SUBSCHEMA_KEYS and isinstance(value, dict):
            out[key] = fix_type_names(value, where, notes)
        else:
            out[key] = value
    return out


def resolve_schema(schema: Any, pointer: str, notes: Notes) -> dict[str, Any]:
    """A self-contained JSON Schema: type names fixed, ``$ref``s into the schema's own ``$defs`` inlined, nullable
    forms folded (the OpenAPI parser's `Resolver`). Refs are relative to ``schema`` itself, so notes about their
    targets are re-anchored under ``pointer``."""
    fixed = fix_type_names(schema, pointer, notes)
    inner = Notes()
    resolved = Resolver(fixed if isinstance(fixed, dict) else {}).schema(fixed, pointer, inner)
    for problem in inner.problems:
        where = problem.pointer if problem.pointer.startswith(pointer) else pointer + problem.pointer
        notes.add(where, problem.message)
    return resolved


def object_params(schema: dict[str, Any], pointer: str, notes: Notes) -> list[Param]:
    """One ``body`` parameter per property of a (resolved) object schema, ``required`` from its ``required`` list."""
    if primary_type(schema) not in ("object", "any"):
        raise SkipOperation(pointer, f"parameters must be an object schema, got type {schema.get('type')!r}")
    properties = schema.get("properties") or {}
    required = schema.get("required") or []
    if not isinstance(properties, dict):
        raise SkipOperation(f"{pointer}/properties", "'properties' must be an object")
    if not isinstance(required, list):
        raise SkipOperation(f"{pointer}/required", "'required' must be a list of property names")
    undeclared = [r for r in required if r not in properties]
    if undeclared:
        notes.add(f"{pointer}/required", f"required name(s) {undeclared} are not declared properties; ignored")
    params = []
    for name, prop in properties.items():
        prop_schema, description = pop_description(clean_param_schema(prop))
        params.append(
            Param(name=name, location="body", required=name in required, schema=prop_schema, description=description)
        )
    return params


@dataclass
class Entry:
    """One operation-to-be of a record-style document, before it is named and parsed."""

    pointer: str
    label: str  # how messages name it, e.g. "function 'get_weather'"
    base_name: str  # sanitised; made unique in document order
    node: dict[str, Any]
    tool: str = ""
    name: str = ""


def parse_entries(
    entries: list[Entry],
    parse: Callable[[Entry, Notes], ApiSpec],
    *,
    include: Iterable[str] = (),
    exclude: Iterable[str] = (),
) -> tuple[list[ApiSpec], list[SpecProblem]]:
    """Name every entry (duplicates get ``_2``, ``_3``... like OpenAPI operations), then parse the selected ones.

    An entry that cannot be used is reported (with its pointer) and skipped; the others survive.
    """
    taken: set[str] = set()
    for entry in entries:
        entry.name = unique_name(entry.base_name, taken)
    apis: list[ApiSpec] = []
    problems: list[SpecProblem] = []
    for entry in entries:
        if not selected(entry.name, include, exclude):
            continue
        notes = Notes()
        try:
            apis.append(parse(entry, notes))
        except SkipOperation as exc:
            problems.append(SpecProblem(pointer=exc.pointer, message=f"{entry.label}: {exc.message}"))
            continue
        except (TypeError, ValueError, AttributeError, KeyError) as exc:  # malformed in a way not anticipated
            problems.append(SpecProblem(pointer=entry.pointer, message=f"{entry.label}: {type(exc).__name__}: {exc}"))
            continue
        problems.extend(
            SpecProblem(pointer=p.pointer, message=f"{entry.label}: {p.message}", skipped=False) for p in notes.problems
        )
    return apis, problems


# --------------------------------------------------------------------------------------------------------------------
# Function lists


def _collect(node: Any, pointer: str, entries: list[Entry], problems: list[SpecProblem], seen: set[str]) -> None:
    """Functions under ``node``: lists, ``{"tools"|"functions": [...]}``, OpenAI tool wrappers, function objects."""
    if isinstance(node, list):
        for i, item in enumerate(node):
            _collect(item, f"{pointer}/{i}", entries, problems, seen)
        return
    if not isinstance(node, dict):
        problems.append(SpecProblem(pointer=pointer, message=f"expected a function object, got {type(node).__name__}"))
        return
    if "name" not in node:
        for key in ("tools", "functions"):
            if isinstance(node.get(key), list):
                _collect(node[key], f"{pointer}/{key}", entries, problems, seen)
                return
        if "type" in node and node["type"] != "function":
            problems.append(SpecProblem(pointer=pointer, message=f"tool of type {node['type']!r} is not a function"))
            return
        if isinstance(node.get("function"), dict):
            node, pointer = node["function"], f"{pointer}/function"
    name = node.get("name")
    if not isinstance(name, str) or not sanitise_name(name):
        problems.append(SpecProblem(pointer=pointer, message=f"function has no usable 'name' (got {name!r})"))
        return
    key = json.dumps(node, sort_keys=True, default=str)
    if key in seen:
        return  # the same function listed again (e.g. every ComplexFuncBench record repeats its functions)
    seen.add(key)
    tool = next((stripped_text(node.get(k)) for k in ("tool", "category") if stripped_text(node.get(k))), "")
    entries.append(Entry(pointer, f"function {name!r}", sanitise_name(name), node, tool=tool))


def _is_function_document(document: Any) -> bool:
    if isinstance(document, list):
        return True
    if not isinstance(document, dict):
        return False
    wrapped = isinstance(document.get("function"), dict) or any(isinstance(document.get(k), list) for k in
                                                                ("tools", "functions"))  # fmt: skip
    return "name" in document or wrapped


def _parse_function(entry: Entry, notes: Notes, source: str) -> ApiSpec:
    node = entry.node
    raw_params = node.get("parameters", {})
    params: list[Param] = []
    if raw_params is not None:
        if not isinstance(raw_params, dict):
            raise SkipOperation(f"{entry.pointer}/parameters", "'parameters' must be a JSON Schema object")
        pointer = f"{entry.pointer}/parameters"
        params = object_params(resolve_schema(raw_params, pointer, notes), pointer, notes)
    response_schema, fields = None, []
    key = next((k for k in RESPONSE_KEYS if isinstance(node.get(k), dict)), None)
    if key is not None:
        pointer = f"{entry.pointer}/{key}"
        response_schema = resolve_schema(node[key], pointer, notes)
        fields = response_output_fields(response_schema, pointer, notes)
    return ApiSpec(
        id=f"{source}.{entry.name}",
        source=source,
        tool=entry.tool or source,
        name=entry.name,
        method="POST",
        description=stripped_text(node.get("description")),
        params=tuple(params),
        output_fields=tuple(fields),
        response_schema=response_schema,
    )


def parse_functions(
    document: Any,
    source: str,
    *,
    base_url: str | None = None,
    include: Iterable[str] = (),
    exclude: Iterable[str] = (),
    doc_name: str = "<doc>",
) -> ParseResult:
    """Every usable function of a function list (see the module docstring for the accepted shapes)."""
    check_source(source, "functions")
    if not _is_function_document(document):
        got = f"an object with keys {sorted(map(str, document))[:8]}" if isinstance(document, dict) else None
        raise document_error(
            doc_name, "", "not a function list: expected a list of functions or OpenAI tools, an object with 'tools' "
            f"or 'functions', or one function; got {got or type(document).__name__}",
        )
    entries: list[Entry] = []
    problems: list[SpecProblem] = []
    _collect(document, "", entries, problems, set())
    apis, parse_problems = parse_entries(
        entries, lambda e, n: _parse_function(e, n, source), include=include, exclude=exclude
    )
    return ParseResult(apis=apis, problems=problems + parse_problems, base_url=base_url)


load_functions_source = register_source_kind("functions", parse_functions, records=True)
