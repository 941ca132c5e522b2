"""ToolBench / StableToolBench tool documents -> `ApiSpec`s.

A tool document (``toolenv/tools/<Category>/<tool>.json``) is ``{tool_name, tool_description, host, api_list}``;
each API has ``name``, ``url``, ``method``, ``description`` and ``required_parameters`` / ``optional_parameters``
(``{name, type, description, default}`` with RapidAPI type names: STRING, NUMBER, BOOLEAN, ENUM, ARRAY...). Lists of
tool documents, and StableToolBench query files (whose ``api_list`` entries carry ``tool_name``, ``api_name``,
``api_description`` and ``template_response``), are read too.

Names follow ToolBench's own convention, ``<api>_for_<tool>`` (standardised, at most 64 characters, the *last* ones
kept), so that names in ToolBench queries, answers and StableToolBench caches match ours. A ``default`` becomes a
schema example (it is what RapidAPI pre-fills, not what the API assumes when the argument is left out).

ToolBench has no response schemas. Output fields come from a response template (``schema`` of a response-examples
file or of the API itself, StableToolBench's ``template_response``: values are type names such as ``"str"`` and
arrays hold one element with a ``_list_length``), or, failing that, from the recorded ``test_endpoint`` response
when it is not an error message. Paths use ``[*]`` for arrays, like every other source kind.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Iterable
from urllib.parse import urlparse

from goat_datasets.sources.functions import (
    Entry,
    check_source,
    document_error,
    json_type,
    parse_entries,
    resolve_schema,
)
from goat_datasets.sources.loading import ParseResult, SpecProblem, register_source_kind
from goat_datasets.sources.models import ApiSpec, Param
from goat_datasets.sources.openapi import (
    MAX_NAME_LENGTH,
    Notes,
    SkipOperation,
    python_json_type,
    response_output_fields,
    sanitise_name,
    stripped_text,
)

# ToolBench renames API names that are Python keywords or clash with its own arguments (toolbench/utils.py).
_RENAMED = frozenset({"from", "class", "return", "false", "true", "id", "and"})
_QUERY_METHODS = frozenset({"GET", "DELETE", "HEAD", "OPTIONS"})
_HTTP_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
# Value strings of ToolBench response templates and the JSON Schema they stand for.
_TEMPLATE_TYPES = {"str": {"type": "string"}, "int": {"type": "integer"}, "float": {"type": "number"},
                   "bool": {"type": "boolean"}, "NoneType": {"type": "null"}, "empty list": {"type": "array"},
                   "list": {"type": "array"}, "dict": {"type": "object"}, "empty dict": {"type": "object"}}  # fmt: skip
_LIST_LENGTH_KEY = "_list_length"
_ERROR_KEYS = frozenset({"message", "messages", "error", "errors", "detail"})
_JSON_SCHEMA_TYPES = frozenset({"object", "array", "string", "integer", "number", "boolean", "null"})


def standardize(name: str) -> str:
    """ToolBench's ``standardize``: lower case, runs of other characters -> ``_``, a leading digit gets ``get_``."""
    text = re.sub(r"_+", "_", re.sub(r"[^\u4e00-\u9fa5a-zA-Z0-9_]", "_", name)).lower().strip("_")
    return f"get_{text}" if text[:1].isdigit() else text


def toolbench_name(api_name: str, tool_name: str) -> str:
    """The function name ToolBench shows a model: ``<api>_for_<tool>``, cut to its last 64 characters."""
    api = standardize(api_name)
    api = f"is_{api}" if api in _RENAMED else api
    tool = standardize(tool_name)
    full = f"{api}_for_{tool}" if tool else api
    return sanitise_name(full[-MAX_NAME_LENGTH:])


# --------------------------------------------------------------------------------------------------------------------
# Response templates and examples -> JSON Schema


def schema_from_example(value: Any, *, template: bool) -> dict[str, Any]:
    """The JSON Schema a response example (``template=False``) or a ToolBench type template implies."""
    if isinstance(value, dict):
        properties = {str(k): schema_from_example(v, template=template) for k, v in value.items()
                      if not (template and k == _LIST_LENGTH_KEY)}  # fmt: skip
        return {"type": "object", "properties": properties} if properties else {"type": "object"}
    if isinstance(value, list):
        items = [schema_from_example(v, template=template) for v in value]
        merged = _merge_items(items)
        return {"type": "array", "items": merged} if merged else {"type": "array"}
    if template and isinstance(value, str) and value in _TEMPLATE_TYPES:
        return dict(_TEMPLATE_TYPES[value])
    if value is None:
        return {"type": "null"}
    return {"type": python_json_type(value)}


def _merge_items(items: list[dict[str, Any]]) -> dict[str, Any] | None:
    """One schema for the elements of an example array: objects' properties united, else the first element's."""
    if not items:
        return None
    objects = [i for i in items if i.get("type") == "object"]
    if len(objects) < 2:
        return items[0]
    properties: dict[str, Any] = {}
    for item in objects:
        for name, sub in item.get("properties", {}).items():
            properties.setdefault(name, sub)
    return {"type": "object", "properties": properties} if properties else {"type": "object"}


def _decoded(value: Any) -> Any:
    """Templates are sometimes stored as JSON text."""
    if isinstance(value, str) and value.strip()[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _is_json_schema(value: Any) -> bool:
    """RapidAPI's JSON Schema (``{"type": "object", ...}``) rather than a template (``{"type": "str", ...}``)."""
    if not isinstance(value, dict):
        return False
    properties = value.get("properties")
    if isinstance(properties, dict) and all(isinstance(v, dict) for v in properties.values()):
        return True
    return isinstance(value.get("type"), str) and value["type"] in _JSON_SCHEMA_TYPES


def _looks_like_error(value: Any) -> bool:
    """A recorded test call that failed: empty, plain text, or an object holding only an error message."""
    if isinstance(value, dict):
        return not value or set(value) <= _ERROR_KEYS
    return not isinstance(value, list) or not value


def merge_response_examples(tool_doc: dict[str, Any], response_examples: dict[str, Any]) -> dict[str, Any]:
    """A copy of a tool document whose APIs carry the templates of a response-examples file (matched by API name)."""
    examples = {a.get("name"): a.get("schema") for a in response_examples.get("api_list") or [] if isinstance(a, dict)}
    api_list = []
    for api in tool_doc.get("api_list") or []:
        if isinstance(api, dict) and examples.get(api.get("name")) not in (None, "", {}):
            api = {**api, "schema": examples[api.get("name")]}
        api_list.append(api)
    return {**tool_doc, "api_list": api_list}


# --------------------------------------------------------------------------------------------------------------------
# Parameters


def _param_schema(raw: dict[str, Any], pointer: str, notes: Notes) -> dict[str, Any]:
    type_name = raw.get("type", "STRING")
    type_ = json_type(type_name)
    if type_ is None or type_ == "null":
        notes.add(f"{pointer}/type", f"unknown parameter type {type_name!r}; treated as a string")
        type_ = "string"
    schema: dict[str, Any] = {"type": type_}
    if isinstance(type_name, str) and type_name.strip().upper().startswith("DATE"):
        schema["format"] = "date"
    default = raw.get("default")
    if default is not None and default != "":
        example = _coerce(default, type_)
        if example is None:
            notes.add(f"{pointer}/default", f"default {default!r} is not a {type_}; not used as an example")
        else:
            schema["examples"] = [example]
    return schema


def _coerce(value: Any, type_: str) -> Any:
    """``value`` as a ``type_`` (RapidAPI stores most defaults as text), or None when it is not one."""
    if type_ == "string":
        return value if isinstance(value, str) else json.dumps(value)
    if isinstance(value, str):
        value = _decoded(value.strip()) if type_ in ("array", "object") else value.strip()
        if type_ in ("integer", "number"):
            try:
                number = float(value)
            except ValueError:
                return None
            if not math.isfinite(number):
                return None
            return int(number) if number.is_integer() and (type_ == "integer" or "." not in value) else number
        if type_ == "boolean":
            return {"true": True, "false": False}.get(value.lower())
    expected = {"integer": int, "number": (int, float), "boolean": bool, "array": list, "object": dict}[type_]
    if isinstance(value, bool) and type_ != "boolean":
        return None
    return value if isinstance(value, expected) else None


def _params(api: dict[str, Any], pointer: str, method: str, path: str, notes: Notes) -> list[Param]:
    params: dict[str, Param] = {}
    for key, required in (("required_parameters", True), ("optional_parameters", False)):
        raw_list = api.get(key) or []
        if not isinstance(raw_list, list):
            raise SkipOperation(f"{pointer}/{key}", f"'{key}' must be a list")
        for i, raw in enumerate(raw_list):
            where = f"{pointer}/{key}/{i}"
            if not isinstance(raw, dict) or not isinstance(raw.get("name"), str) or not raw["name"].strip():
                raise SkipOperation(where, "parameter has no 'name'")
            name = raw["name"].strip()
            if name in params:
                notes.add(where, f"parameter {name!r} is listed again; the first listing is kept")
                continue
            location = "path" if f"{{{name}}}" in path else "query" if method in _QUERY_METHODS else "body"
            schema = _param_schema(raw, where, notes)
            description = stripped_text(raw.get("description"))
            params[name] = Param(
                name=name, location=location, required=required or location == "path",  # type: ignore[arg-type]
                schema=schema, description=description,
            )
    return list(params.values())


# --------------------------------------------------------------------------------------------------------------------
# Operations


def _response(api: dict[str, Any], pointer: str, notes: Notes) -> tuple[dict[str, Any] | None, list[Any], list]:
    """(response schema, response examples, output fields) of one API."""
    recorded = _decoded(api.get("test_endpoint"))
    examples = [] if recorded is None or _looks_like_error(recorded) else [recorded]
    for key in ("schema", "template_response"):
        value, where = _decoded(api.get(key)), f"{pointer}/{key}"
        if isinstance(value, str) and value.strip()[:1] in ("{", "["):
            notes.add(where, f"'{key}' is not valid JSON (cut short?); no output fields from it")
        elif isinstance(value, (dict, list)) and value:
            is_schema = _is_json_schema(value)
            schema = resolve_schema(value, where, notes) if is_schema else schema_from_example(value, template=True)
            break
    else:
        if not examples:
            return None, [], []
        schema, where = schema_from_example(examples[0], template=False), f"{pointer}/test_endpoint"
    return schema, examples, response_output_fields(schema, where, notes)


def _parse_api(entry: Entry, notes: Notes, source: str) -> ApiSpec:
    api = entry.node
    method = stripped_text(api.get("method")).upper() or "GET"
    if method not in _HTTP_METHODS:
        raise SkipOperation(f"{entry.pointer}/method", f"method {api.get('method')!r} is not an HTTP method")
    url = stripped_text(api.get("url"))
    path = urlparse(url).path if url else ""
    schema, examples, fields = _response(api, entry.pointer, notes)
    return ApiSpec(
        id=f"{source}.{entry.name}",
        source=source,
        tool=entry.tool or source,
        name=entry.name,
        method=method,
        path=path,
        summary=stripped_text(api.get("name") or api.get("api_name")),
        description=stripped_text(api.get("description") or api.get("api_description")),
        params=tuple(_params(api, entry.pointer, method, path, notes)),
        output_fields=tuple(fields),
        response_schema=schema,
        response_examples=tuple(examples),
    )


def _tool_documents(document: Any, doc_name: str) -> list[tuple[dict[str, Any], str]]:
    """(tool document, pointer) pairs: the document itself, or each element of a list of them."""
    if isinstance(document, dict):
        if "api_list" not in document:
            raise document_error(doc_name, "/api_list", "missing: not a ToolBench tool document (expected "
                                                        "'tool_name' and 'api_list')")  # fmt: skip
        if not isinstance(document["api_list"], list):
            got = type(document["api_list"]).__name__
            raise document_error(doc_name, "/api_list", f"'api_list' must be a list, got {got}")
        return [(document, "")]
    if isinstance(document, list):
        return [(tool, f"/{i}") for i, tool in enumerate(document)]
    raise document_error(doc_name, "", f"not a ToolBench document (expected an object or a list, got "
                                       f"{type(document).__name__})")  # fmt: skip


def _entries(document: Any, doc_name: str, problems: list[SpecProblem]) -> list[Entry]:
    entries = []
    for tool_doc, tool_pointer in _tool_documents(document, doc_name):
        if not isinstance(tool_doc, dict) or not isinstance(tool_doc.get("api_list"), list):
            problems.append(SpecProblem(pointer=tool_pointer, message="not a tool document: no 'api_list' list"))
            continue
        tool_name = stripped_text(tool_doc.get("tool_name") or tool_doc.get("name") or tool_doc.get("title"))
        for i, api in enumerate(tool_doc["api_list"]):
            pointer = f"{tool_pointer}/api_list/{i}"
            if not isinstance(api, dict):
                problems.append(SpecProblem(pointer=pointer, message=f"API is a {type(api).__name__}, not an object"))
                continue
            api_name = stripped_text(api.get("name") or api.get("api_name"))
            tool = stripped_text(api.get("tool_name")) or tool_name
            base = toolbench_name(api_name, tool) if api_name else ""
            if not base:
                problems.append(SpecProblem(pointer=pointer, message=f"API has no usable 'name' (got {api_name!r})"))
                continue
            entries.append(Entry(pointer, f"API {api_name!r} of {tool!r}", base, api, tool=tool))
    return entries


def _base_url(document: Any, entries: list[Entry]) -> str | None:
    """The one origin every API's ``url`` shares (else the tool's ``host``); None when they differ."""
    origins = set()
    for entry in entries:
        url = urlparse(stripped_text(entry.node.get("url")))
        if url.scheme in ("http", "https") and url.netloc:
            origins.add(f"{url.scheme}://{url.netloc}")
    if not origins and isinstance(document, dict) and stripped_text(document.get("host")):
        origins.add(f"https://{stripped_text(document['host'])}")
    return origins.pop() if len(origins) == 1 else None


def parse_toolbench(
    document: Any,
    source: str,
    *,
    base_url: str | None = None,
    include: Iterable[str] = (),
    exclude: Iterable[str] = (),
    doc_name: str = "<doc>",
    response_examples: dict[str, Any] | None = None,
) -> ParseResult:
    """Every usable API of a ToolBench tool document (or a list of them); ``response_examples`` is the matching
    ``toolenv/response_examples`` file, when there is one."""
    check_source(source, "toolbench")
    if response_examples is not None and isinstance(document, dict):
        document = merge_response_examples(document, response_examples)
    problems: list[SpecProblem] = []
    entries = _entries(document, doc_name, problems)
    apis, parse_problems = parse_entries(entries, lambda e, n: _parse_api(e, n, source), include=include,
                                         exclude=exclude)  # fmt: skip
    title = stripped_text(document.get("title") or document.get("tool_name")) if isinstance(document, dict) else ""
    return ParseResult(apis=apis, problems=problems + parse_problems,
                       base_url=base_url or _base_url(document, entries), title=title)  # fmt: skip


load_toolbench_source = register_source_kind("toolbench", parse_toolbench, records=True)
