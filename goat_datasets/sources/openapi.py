"""OpenAPI 3.0 / 3.1 documents -> `ApiSpec`s.

Real-world documents are sloppy, so one bad operation is reported (with its JSON pointer) and skipped instead of
failing the whole source; only a document that is not OpenAPI 3.x at all raises `SpecError`. Everything later stages
need is resolved here once: ``$ref``s are inlined (recursive ones cut with a marker), ``allOf`` merged, the many ways
to say "nullable" folded into JSON Schema's ``type: [T, "null"]``, JSON request bodies flattened into parameters, and
the success response walked into JSON paths (`goat_datasets.jsonpath`) that the dependency graph connects.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import re
from dataclasses import dataclass, field
from typing import Any, Iterable
from urllib.parse import unquote, urljoin

from goat_datasets.jsonpath import WILDCARD, format_path, json_type
from goat_datasets.sources.loading import ParseResult, SpecError, SpecProblem, is_url, register_source_kind
from goat_datasets.sources.models import ApiSpec, OutputField, Param

__all__ = ["ParseResult", "SpecError", "SpecProblem", "load_openapi_source", "parse_openapi", "json_pointer"]
# Also used by the other source kinds (swagger2, toolbench, functions, apibank), so that refs, names, schemas and
# output fields mean the same whatever the document format: Resolver, Notes, SkipOperation, clean_param_schema,
# pop_description, output_fields, response_output_fields, primary_type, python_json_type, sanitise_name,
# unique_name, selected, stripped_text, SUBSCHEMA_KEYS / SUBSCHEMA_LIST_KEYS / SUBSCHEMA_MAP_KEYS.

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
PARAM_LOCATIONS = ("path", "query", "header", "cookie")
# OpenAPI: "If in is header and name is Accept, Content-Type or Authorization, the parameter SHALL be ignored."
IGNORED_HEADER_PARAMS = frozenset({"accept", "content-type", "authorization"})
MAX_NAME_LENGTH = 64  # OpenAI-style tool names allow at most 64 characters
MAX_OUTPUT_FIELDS = 200
MAX_FIELD_DEPTH = 6  # object keys along one output path
MAX_REF_DEPTH = 32  # nested $ref expansions along one branch
MAX_SCHEMA_NODES = 20_000  # expanded schema nodes per operation part; guards against blow-up in huge documents

# Markers left in schemas where resolution had to stop; later stages see them instead of a silent hole.
RECURSIVE_REF_KEY = "x-goat-recursive-ref"
UNRESOLVED_REF_KEY = "x-goat-unresolved-ref"
TRUNCATED_KEY = "x-goat-truncated"
# Set on the single parameter that stands for a whole non-object request body, so the executor sends its value as
# the body itself rather than as {"body": value} (an object body may well have a real property named "body").
WHOLE_BODY_KEY = "x-goat-whole-body"
BODY_PARAM_NAME = "body"

SUBSCHEMA_KEYS = ("items", "additionalProperties", "not", "contains", "if", "then", "else", "propertyNames",
                   "unevaluatedProperties", "unevaluatedItems", "additionalItems")  # fmt: skip
SUBSCHEMA_LIST_KEYS = ("allOf", "anyOf", "oneOf", "prefixItems")
SUBSCHEMA_MAP_KEYS = ("properties", "patternProperties", "dependentSchemas")
_DROPPED_KEYS = ("$defs", "definitions", "$schema", "$id", "$anchor", "$comment")
# Keys that document a schema for humans or serialisers but say nothing to a model filling in an argument.
_PARAM_NOISE_KEYS = frozenset({"title", "xml", "externalDocs", "discriminator", "readOnly", "writeOnly", "deprecated"})
_JSON_MEDIA = re.compile(r"^application/(.+\+)?json$|^[^/]+/[^/]*json$")


def json_pointer(*parts: str | int) -> str:
    """RFC 6901 pointer from unescaped parts: ``("paths", "/movie/{id}", "get")`` -> ``/paths/~1movie~1{id}/get``."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


class SkipOperation(Exception):
    """Raised inside one operation's parsing: the operation is unusable and is reported with this pointer."""

    def __init__(self, pointer: str, message: str):
        super().__init__(message)
        self.pointer, self.message = pointer, message


@dataclass
class _Budget:
    nodes: int = 0
    exhausted: bool = False


@dataclass
class Notes:
    """Non-fatal problems met while parsing one operation (each pointer reported once)."""

    problems: list[SpecProblem] = field(default_factory=list)
    _seen: set[tuple[str, str]] = field(default_factory=set)

    def add(self, pointer: str, message: str) -> None:
        if (pointer, message) not in self._seen:
            self._seen.add((pointer, message))
            self.problems.append(SpecProblem(pointer=pointer, message=message, skipped=False))


# --------------------------------------------------------------------------------------------------------------------
# $ref resolution and schema normalisation


class Resolver:
    """Inlines local ``$ref``s of one document and normalises schemas (allOf, nullable, 3.1 type lists)."""

    def __init__(self, document: dict[str, Any]):
        self.document = document

    def lookup(self, ref: str) -> Any:
        """The target of a local ref (``#/components/schemas/Movie``); KeyError when it points nowhere."""
        node: Any = self.document
        fragment = unquote(ref[1:])
        if fragment in ("", "/"):
            return node
        for raw in fragment.lstrip("/").split("/"):
            part = raw.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                raise KeyError(ref)
        return node

    def deref_object(self, node: Any, pointer: str, what: str) -> tuple[Any, str]:
        """Follow ``$ref`` chains of a non-schema object (parameter, response, request body...)."""
        seen: list[str] = []
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            if not isinstance(ref, str) or not ref.startswith("#"):
                raise SkipOperation(pointer, f"{what} uses an external $ref {ref!r}; only local refs are supported")
            if ref in seen:
                raise SkipOperation(pointer, f"{what} $ref chain loops: {' -> '.join(seen + [ref])}")
            seen.append(ref)
            try:
                node = self.lookup(ref)
            except KeyError:
                raise SkipOperation(pointer, f"{what} $ref {ref!r} points to nothing in the document") from None
            pointer = ref[1:]
        return node, pointer

    def schema(self, node: Any, pointer: str, notes: Notes) -> dict[str, Any]:
        """A self-contained, normalised copy of the schema at ``pointer``."""
        return self._normalise(node, pointer, (), _Budget(), notes)

    def _normalise(
        self, node: Any, pointer: str, stack: tuple[str, ...], budget: _Budget, notes: Notes
    ) -> dict[str, Any]:
        if isinstance(node, bool):  # JSON Schema boolean schemas (3.1)
            return {} if node else {"not": {}}
        if not isinstance(node, dict):
            notes.add(pointer, f"schema is a {type(node).__name__}, not an object; treated as 'any value'")
            return {}
        budget.nodes += 1
        if budget.nodes > MAX_SCHEMA_NODES:
            if not budget.exhausted:
                budget.exhausted = True
                notes.add(pointer, f"schema expands to more than {MAX_SCHEMA_NODES} nodes; the rest is cut")
            return {TRUNCATED_KEY: True}
        if "$ref" in node:
            return self._expand_ref(node, pointer, stack, budget, notes)

        out: dict[str, Any] = {}
        for key, value in node.items():
            where = f"{pointer}/{key}"
            if key in _DROPPED_KEYS:
                continue
            if key in SUBSCHEMA_MAP_KEYS and isinstance(value, dict):
                out[key] = {
                    name: self._normalise(sub, f"{where}/{json_pointer(name)[1:]}", stack, budget, notes)
                    for name, sub in value.items()
                }
            elif key in SUBSCHEMA_LIST_KEYS and isinstance(value, list):
                out[key] = [self._normalise(sub, f"{where}/{i}", stack, budget, notes) for i, sub in enumerate(value)]
            elif key in SUBSCHEMA_KEYS and isinstance(value, dict):
                out[key] = self._normalise(value, where, stack, budget, notes)
            elif key == "items" and isinstance(value, list):  # draft-4 tuple form
                out[key] = [self._normalise(sub, f"{where}/{i}", stack, budget, notes) for i, sub in enumerate(value)]
            else:
                out[key] = copy.deepcopy(value)
        if isinstance(out.get("allOf"), list):
            out = _merge_all_of(out)
        return _fold_nullable(out)

    def _expand_ref(
        self, node: dict[str, Any], pointer: str, stack: tuple[str, ...], budget: _Budget, notes: Notes
    ) -> dict[str, Any]:
        ref = node["$ref"]
        siblings = {k: v for k, v in node.items() if k != "$ref"}
        extra = self._normalise(siblings, pointer, stack, budget, notes) if siblings else {}
        if not isinstance(ref, str) or not ref.startswith("#"):
            notes.add(f"{pointer}/$ref", f"external $ref {ref!r} is not supported; left unresolved")
            return {UNRESOLVED_REF_KEY: ref, **extra}
        try:
            target = self.lookup(ref)
        except KeyError:
            notes.add(f"{pointer}/$ref", f"$ref {ref!r} points to nothing in the document; left unresolved")
            return {UNRESOLVED_REF_KEY: ref, **extra}
        if ref in stack or len(stack) >= MAX_REF_DEPTH:
            marker: dict[str, Any] = {RECURSIVE_REF_KEY: ref}
            if isinstance(target, dict):
                for key in ("type", "title", "description"):
                    if isinstance(target.get(key), (str, list)):
                        marker[key] = copy.deepcopy(target[key])
            return {**marker, **extra}
        resolved = self._normalise(target, ref[1:], stack + (ref,), budget, notes)
        return _fold_nullable({**resolved, **extra}) if extra else resolved


def _merge_all_of(schema: dict[str, Any]) -> dict[str, Any]:
    """``allOf`` branches merged into one schema: properties united, required united, the parent's own keys win."""
    own = {k: v for k, v in schema.items() if k != "allOf"}
    merged: dict[str, Any] = {}
    for part in [*(b for b in schema["allOf"] if isinstance(b, dict)), own]:
        for key, value in part.items():
            if key == "properties" and isinstance(value, dict):
                props = merged.setdefault("properties", {})
                for name, sub in value.items():
                    props[name] = {**props[name], **sub} if isinstance(props.get(name), dict) else sub
            elif key == "required" and isinstance(value, list):
                required = merged.setdefault("required", [])
                required.extend(r for r in value if r not in required)
            elif key == "type" and key in merged and part is not own:
                continue  # the first branch that says what it is decides; the parent may still override
            else:
                merged[key] = value
    return merged


def _is_null_schema(schema: Any) -> bool:
    return isinstance(schema, dict) and (schema.get("type") == "null" or schema.get("enum") == [None])


def _with_null(type_: Any) -> Any:
    if isinstance(type_, str):
        return type_ if type_ == "null" else [type_, "null"]
    if isinstance(type_, list):
        return [t for t in type_ if t != "null"] + ["null"]
    return type_


def _fold_nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """3.0 ``nullable: true``, 3.1 ``type: [T, "null"]`` and ``anyOf: [S, {type: null}]`` -> ``type: [T, "null"]``."""
    nullable = schema.pop("nullable", None) is True
    for key in ("anyOf", "oneOf"):
        branches = schema.get(key)
        if not isinstance(branches, list) or not any(_is_null_schema(b) for b in branches):
            continue
        non_null = [b for b in branches if not _is_null_schema(b)]
        if len(non_null) == 1 and isinstance(non_null[0], dict):
            rest = {k: v for k, v in schema.items() if k != key}
            schema = {**non_null[0], **rest}
            nullable = True
        elif not non_null:
            schema = {k: v for k, v in schema.items() if k != key}
            schema["type"] = "null"
    type_ = schema.get("type")
    if isinstance(type_, list):
        ordered = list(dict.fromkeys(t for t in type_ if t != "null"))
        if "null" in type_:
            nullable = True
        type_ = ordered[0] if len(ordered) == 1 else (ordered or "null")
        schema["type"] = type_
    if nullable and "type" in schema:
        schema["type"] = _with_null(schema["type"])
    return schema


def primary_type(schema: dict[str, Any]) -> str:
    """The one JSON type a schema stands for (``any`` when it says nothing or mixes kinds)."""
    type_ = schema.get("type")
    if isinstance(type_, str):
        return type_
    if isinstance(type_, list):
        non_null = [t for t in type_ if t != "null"]
        if len(non_null) == 1:
            return non_null[0]
        if set(non_null) == {"integer", "number"}:
            return "number"
        return "any" if non_null else "null"
    if "properties" in schema or isinstance(schema.get("additionalProperties"), dict):
        return "object"
    if "items" in schema:
        return "array"
    values = schema.get("enum") or ([schema["const"]] if "const" in schema else [])
    kinds = {python_json_type(v) for v in values if v is not None}
    if len(kinds) == 1:
        return kinds.pop()
    branches = [b for b in (schema.get("oneOf") or schema.get("anyOf") or []) if isinstance(b, dict)]
    branch_types = {primary_type(b) for b in branches if not _is_null_schema(b)}
    if len(branch_types) == 1:
        return branch_types.pop()
    if branch_types == {"integer", "number"}:
        return "number"
    return "any"


def python_json_type(value: Any) -> str:
    """The JSON type of an example value; anything not scalar or array (``None`` included) counts as an object."""
    kind = json_type(value)
    return kind if kind in ("boolean", "integer", "number", "string", "array") else "object"


# --------------------------------------------------------------------------------------------------------------------
# Parameter schemas and examples


def clean_param_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Drop what only humans or serialisers read (titles, xml, x- extensions), recursively; ``example`` -> ``examples``.

    Only schema positions are walked: ``default``, ``enum`` or ``examples`` values are data and stay untouched.
    """
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _PARAM_NOISE_KEYS or (key.startswith("x-") and not key.startswith("x-goat-")):
            continue
        if key in SUBSCHEMA_MAP_KEYS and isinstance(value, dict):
            out[key] = {n: clean_param_schema(s) if isinstance(s, dict) else s for n, s in value.items()}
        elif key in (*SUBSCHEMA_LIST_KEYS, "items") and isinstance(value, list):
            out[key] = [clean_param_schema(s) if isinstance(s, dict) else s for s in value]
        elif key in SUBSCHEMA_KEYS and isinstance(value, dict):
            out[key] = clean_param_schema(value)
        elif key == "example":
            out["examples"] = _unique([*out.get("examples", []), value])
        elif key == "examples":
            if isinstance(value, list):
                out["examples"] = _unique([*value, *out.get("examples", [])])
        else:
            out[key] = value
    return out


def _unique(values: Iterable[Any]) -> list[Any]:
    seen: set[str] = set()
    out = []
    for value in values:
        key = json.dumps(value, sort_keys=True, default=str)
        if key not in seen:
            seen.add(key)
            out.append(value)
    return out


def _example_values(examples: Any, resolver: Resolver) -> list[Any]:
    """Values of an OpenAPI ``examples`` map (``{name: {value: ...}}``, refs allowed; ``externalValue`` skipped)."""
    values = []
    if isinstance(examples, dict):
        for example in examples.values():
            if isinstance(example, dict) and "$ref" in example:
                try:
                    example, _ = resolver.deref_object(example, "", "example")
                except SkipOperation:
                    continue
            if isinstance(example, dict) and "value" in example:
                values.append(copy.deepcopy(example["value"]))
    elif isinstance(examples, list):  # not OpenAPI, but seen in the wild
        values.extend(copy.deepcopy(examples))
    return values


def _with_examples(schema: dict[str, Any], extra: list[Any]) -> dict[str, Any]:
    examples = _unique([*extra, *schema.get("examples", [])])
    if examples:
        schema = {**schema, "examples": examples}
    return schema


def pop_description(schema: dict[str, Any]) -> tuple[dict[str, Any], str]:
    description = schema.get("description")
    rest = {k: v for k, v in schema.items() if k != "description"}
    return rest, description.strip() if isinstance(description, str) else ""


# --------------------------------------------------------------------------------------------------------------------
# Output fields


class _FieldCollector:
    def __init__(self) -> None:
        self.fields: dict[str, OutputField] = {}
        self.capped = False
        self.depth_cut = False
        self.unnamed = False  # a property named "" cannot be addressed by a JSON path

    def emit(self, parts: list[Any], schema: dict[str, Any], description: str) -> bool:
        """Record a field; True when the path is (now or already) covered, False once the cap is reached."""
        path = format_path(parts)
        if path in self.fields:
            return True
        if len(self.fields) >= MAX_OUTPUT_FIELDS:
            self.capped = True
            return False
        self.fields[path] = OutputField(path=path, type=primary_type(schema), description=description)
        return True


def _field_description(schema: dict[str, Any], inherited: str) -> str:
    for key in ("description", "title"):
        value = schema.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return inherited


def output_fields(schema: dict[str, Any]) -> tuple[list[OutputField], _FieldCollector]:
    """JSON paths of a (resolved) response schema: leaves, arrays as ``[*]``, free-form objects as leaves."""
    collector = _FieldCollector()
    _walk_fields(schema, [], 0, "", collector)
    return list(collector.fields.values()), collector


def response_output_fields(schema: dict[str, Any], pointer: str, notes: Notes) -> list[OutputField]:
    """`output_fields` of a (resolved) response schema, with what had to be cut noted at ``pointer``."""
    fields, collector = output_fields(schema)
    if collector.capped:
        notes.add(pointer, f"more than {MAX_OUTPUT_FIELDS} output fields; kept the first ones")
    if collector.unnamed:
        notes.add(pointer, "a response property with an empty name has no output fields")
    if collector.depth_cut:
        notes.add(pointer, f"output objects nested deeper than {MAX_FIELD_DEPTH} levels kept as objects")
    return fields


def _walk_fields(schema: dict[str, Any], parts: list[Any], depth: int, inherited: str, out: _FieldCollector) -> bool:
    """Emit the fields under ``schema``; True when at least one path covers it (so no leaf is needed for it)."""
    if out.capped:
        return True
    description = _field_description(schema, inherited)
    if any(k in schema for k in (RECURSIVE_REF_KEY, UNRESOLVED_REF_KEY, TRUNCATED_KEY)):
        return out.emit(parts, schema, description)
    covered = False
    properties = schema.get("properties")
    if isinstance(properties, dict) and properties:
        if depth >= MAX_FIELD_DEPTH:
            out.depth_cut = True
            return out.emit(parts, {"type": "object"}, description)
        for name, sub in properties.items():
            if not name:
                out.unnamed = True
            elif isinstance(name, str) and isinstance(sub, dict):
                covered = _walk_fields(sub, [*parts, name], depth + 1, "", out) or covered
    elif primary_type(schema) == "array" and isinstance(schema.get("items"), dict):
        covered = _walk_fields(schema["items"], [*parts, WILDCARD], depth, description, out)
    # Alternatives that are structured (objects, arrays) contribute their fields; scalar alternatives
    # (integer | number) are one leaf whose type primary_type() already summarises.
    branches = [
        branch
        for key in ("oneOf", "anyOf")
        for branch in (schema.get(key) or [])
        if isinstance(branch, dict) and not _is_null_schema(branch)
    ]
    if any(primary_type(b) in ("object", "array") for b in branches):
        for branch in branches:
            covered = _walk_fields(branch, parts, depth, description, out) or covered
    return covered or out.emit(parts, schema, description)


# --------------------------------------------------------------------------------------------------------------------
# Operations


@dataclass
class _Operation:
    path: str
    method: str
    pointer: str
    node: dict[str, Any]
    path_item: dict[str, Any]
    path_item_pointer: str
    name: str = ""


def check_source(source: Any, kind: str) -> None:
    """Every parser's first check: ids are ``<source>.<name>``, so a source name is required."""
    if not isinstance(source, str) or not source.strip():
        raise ValueError(f"the {kind} parser needs a non-empty source name (ids are '<source>.<name>'), got {source!r}")


def sanitise_name(raw: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_]+", "_", raw)
    name = re.sub(r"_+", "_", name).strip("_")
    if name and name[0].isdigit():
        name = "op_" + name
    return name[:MAX_NAME_LENGTH]


def _fallback_name(method: str, path: str) -> str:
    slug = re.sub(r"[{}]", "", path)
    return sanitise_name(f"{method}_{slug}") or method


def unique_name(base: str, taken: set[str]) -> str:
    """``base``, or ``base_2``, ``base_3``... (cut to stay within MAX_NAME_LENGTH) when taken; adds it to ``taken``.

    Every source kind names its duplicates this way, so ids stay stable whatever the document format.
    """
    name, n = base, 1
    while name in taken:
        n += 1
        suffix = f"_{n}"
        name = base[: MAX_NAME_LENGTH - len(suffix)] + suffix
    taken.add(name)
    return name


def _assign_names(operations: list[_Operation]) -> None:
    """operationId (sanitised) or method + path slug; later duplicates get ``_2``, ``_3``... in document order."""
    taken: set[str] = set()
    for op in operations:
        raw = op.node.get("operationId")
        base = (sanitise_name(raw) if isinstance(raw, str) else "") or _fallback_name(op.method, op.path)
        op.name = unique_name(base, taken)


def _document_base_url(document: dict[str, Any], doc_name: str) -> str | None:
    servers = document.get("servers")
    if not isinstance(servers, list) or not servers or not isinstance(servers[0], dict):
        return None
    url = servers[0].get("url")
    if not isinstance(url, str) or not url.strip():
        return None
    variables = servers[0].get("variables") or {}
    for var, spec in variables.items() if isinstance(variables, dict) else ():
        if isinstance(spec, dict) and "default" in spec:
            url = url.replace("{" + str(var) + "}", str(spec["default"]))
    if url.startswith(("http://", "https://")):
        return url.rstrip("/") or url
    if is_url(doc_name):
        return urljoin(doc_name, url).rstrip("/")
    return None


class _OpenApiParser:
    def __init__(self, document: dict[str, Any], source: str, doc_name: str):
        self.document = document
        self.source = source
        self.doc_name = doc_name
        self.resolver = Resolver(document)

    def collect_operations(self, problems: list[SpecProblem]) -> list[_Operation]:
        paths = self.document.get("paths")
        if paths is None:
            return []
        if not isinstance(paths, dict):
            raise SpecError(f"{self.doc_name}: 'paths' must be an object, got {type(paths).__name__}")
        operations = []
        for path, item in paths.items():
            item_pointer = json_pointer("paths", path)
            if not isinstance(path, str) or not path.startswith("/"):
                problems.append(SpecProblem(pointer=item_pointer, message=f"path {path!r} does not start with '/'"))
                continue
            try:
                item, item_pointer = self.resolver.deref_object(item, item_pointer, "path item")
            except SkipOperation as exc:
                problems.append(SpecProblem(pointer=exc.pointer, message=exc.message))
                continue
            if not isinstance(item, dict):
                problems.append(SpecProblem(pointer=item_pointer, message="path item is not an object"))
                continue
            for method in HTTP_METHODS:
                if method not in item:
                    continue
                pointer = f"{item_pointer}/{method}"
                node = item[method]
                if not isinstance(node, dict):
                    message = f"{method.upper()} {path}: operation is not an object"
                    problems.append(SpecProblem(pointer=pointer, message=message))
                    continue
                operations.append(_Operation(path, method, pointer, node, item, item_pointer))
        return operations

    def parse_operation(self, op: _Operation, notes: Notes) -> ApiSpec:
        params = self._parameters(op, notes)
        params.extend(self._body_params(op, notes, {p.name for p in params}))
        response_schema, examples, fields = self._response(op, notes)
        tags = op.node.get("tags")
        tool = tags[0] if isinstance(tags, list) and tags and isinstance(tags[0], str) and tags[0].strip() else ""
        return ApiSpec(
            id=f"{self.source}.{op.name}",
            source=self.source,
            tool=tool.strip() or self.source,
            name=op.name,
            method=op.method.upper(),
            path=op.path,
            summary=stripped_text(op.node.get("summary")) or stripped_text(op.path_item.get("summary")),
            description=stripped_text(op.node.get("description")) or stripped_text(op.path_item.get("description")),
            params=tuple(params),
            output_fields=tuple(fields),
            response_schema=response_schema,
            response_examples=tuple(examples),
        )

    # ---- parameters

    def _parameters(self, op: _Operation, notes: Notes) -> list[Param]:
        declared: dict[tuple[str, str], tuple[dict[str, Any], str]] = {}
        for owner, owner_pointer in ((op.path_item, op.path_item_pointer), (op.node, op.pointer)):
            raw_list = owner.get("parameters", [])
            if not isinstance(raw_list, list):
                raise SkipOperation(f"{owner_pointer}/parameters", "'parameters' must be a list")
            for i, raw in enumerate(raw_list):
                pointer = f"{owner_pointer}/parameters/{i}"
                node, node_pointer = self.resolver.deref_object(raw, pointer, "parameter")
                if not isinstance(node, dict):
                    raise SkipOperation(pointer, "parameter is not an object")
                name, location = node.get("name"), node.get("in")
                if not isinstance(name, str) or not name:
                    raise SkipOperation(pointer, "parameter has no 'name'")
                if location not in PARAM_LOCATIONS:
                    raise SkipOperation(
                        pointer,
                        f"parameter {name!r} has 'in': {location!r}; expected one of {', '.join(PARAM_LOCATIONS)}",
                    )
                declared[(name, location)] = (node, node_pointer)  # operation level overrides path level

        placeholders = re.findall(r"{([^{}]+)}", op.path)
        params: list[Param] = []
        for (name, location), (node, pointer) in declared.items():
            if location == "cookie":
                if node.get("required") is True:
                    notes.add(pointer, f"required cookie parameter {name!r} is not supported and was left out")
                continue
            if location == "header" and name.lower() in IGNORED_HEADER_PARAMS:
                continue
            if location == "path" and name not in placeholders:
                notes.add(pointer, f"path parameter {name!r} does not appear in the path {op.path!r}; left out")
                continue
            params.append(self._parameter(name, location, node, pointer, notes))

        names = {p.name for p in params}
        for placeholder in placeholders:
            if placeholder not in names:
                message = f"path placeholder {{{placeholder}}} has no declared parameter; added as a string"
                notes.add(op.pointer, message)
                params.append(Param(name=placeholder, location="path", required=True, schema={"type": "string"}))
                names.add(placeholder)
        counts: dict[str, int] = {}
        for p in params:
            counts[p.name] = counts.get(p.name, 0) + 1
        clashes = sorted(n for n, c in counts.items() if c > 1)
        if clashes:
            raise SkipOperation(op.pointer, f"parameter name(s) {clashes} used in more than one location")
        return params

    def _parameter(self, name: str, location: str, node: dict[str, Any], pointer: str, notes: Notes) -> Param:
        raw_schema, schema_pointer = node.get("schema"), f"{pointer}/schema"
        if raw_schema is None and isinstance(node.get("content"), dict) and node["content"]:
            media, media_schema = next(iter(node["content"].items()))
            raw_schema = media_schema.get("schema") if isinstance(media_schema, dict) else None
            schema_pointer = f"{pointer}/content/{json_pointer(media)[1:]}/schema"
        if raw_schema is None:
            raw_schema = {"type": "string"}
        schema = self.resolver.schema(raw_schema, schema_pointer, notes)
        schema, schema_description = pop_description(clean_param_schema(schema))
        extra = ([node["example"]] if "example" in node else []) + _example_values(node.get("examples"), self.resolver)
        return Param(
            name=name,
            location=location,  # type: ignore[arg-type]
            required=location == "path" or node.get("required") is True,
            schema=_with_examples(schema, extra),
            description=stripped_text(node.get("description")) or schema_description,
        )

    # ---- request body

    def _body_params(self, op: _Operation, notes: Notes, taken: set[str]) -> list[Param]:
        if "requestBody" not in op.node:
            return []
        pointer = f"{op.pointer}/requestBody"
        body, body_pointer = self.resolver.deref_object(op.node["requestBody"], pointer, "request body")
        if not isinstance(body, dict):
            raise SkipOperation(pointer, "request body is not an object")
        required_body = body.get("required") is True
        content = body.get("content") if isinstance(body.get("content"), dict) else {}
        media_type = next((m for m in content if _JSON_MEDIA.match(m.split(";")[0].strip().lower())), None)
        if media_type is None:
            kinds = ", ".join(content) or "none"
            if required_body:
                message = f"request body media types ({kinds}) are not JSON; only JSON is supported"
                raise SkipOperation(body_pointer, message)
            notes.add(body_pointer, f"optional request body with media types ({kinds}) is not JSON; left out")
            return []
        media = content[media_type] if isinstance(content[media_type], dict) else {}
        media_pointer = f"{body_pointer}/content/{json_pointer(media_type)[1:]}"
        schema = self.resolver.schema(media.get("schema", {}), f"{media_pointer}/schema", notes)
        examples = self._media_examples(media)
        description = stripped_text(body.get("description"))

        properties = schema.get("properties")
        if primary_type(schema) != "object" or not isinstance(properties, dict) or not properties:
            whole, schema_description = pop_description(clean_param_schema(schema))
            whole = _with_examples({**whole, WHOLE_BODY_KEY: True}, examples)
            if BODY_PARAM_NAME in taken:
                raise SkipOperation(op.pointer, f"parameter name {BODY_PARAM_NAME!r} is taken; cannot name the body")
            return [
                Param(name=BODY_PARAM_NAME, location="body", required=required_body, schema=whole,
                      description=description or schema_description)  # fmt: skip
            ]

        required = set(schema.get("required") or [])
        params = []
        for name, prop in properties.items():
            if not isinstance(prop, dict) or prop.get("readOnly") is True:
                continue
            if name in taken:
                raise SkipOperation(op.pointer, f"body property {name!r} has the name of another parameter")
            prop_schema, prop_description = pop_description(clean_param_schema(prop))
            values = [e[name] for e in examples if isinstance(e, dict) and name in e]
            params.append(
                Param(name=name, location="body", required=name in required, schema=_with_examples(prop_schema, values),
                      description=prop_description)  # fmt: skip
            )
        return params

    def _media_examples(self, media: dict[str, Any]) -> list[Any]:
        """A media type's ``example`` and ``examples`` values, in that order."""
        single = [copy.deepcopy(media["example"])] if "example" in media else []
        return single + _example_values(media.get("examples"), self.resolver)

    # ---- response

    def _response(self, op: _Operation, notes: Notes) -> tuple[dict[str, Any] | None, list[Any], list[OutputField]]:
        responses = op.node.get("responses")
        if responses is None:
            return None, [], []
        if not isinstance(responses, dict):
            raise SkipOperation(f"{op.pointer}/responses", "'responses' must be an object")
        by_code = {str(code).upper(): (code, value) for code, value in responses.items()}  # YAML keys may be ints
        chosen = next((by_code[c] for c in _success_codes(by_code) if c in by_code), None)
        if chosen is None:
            return None, [], []
        code, raw = chosen
        pointer = f"{op.pointer}/responses/{json_pointer(str(code))[1:]}"
        response, response_pointer = self.resolver.deref_object(raw, pointer, "response")
        content = response.get("content") if isinstance(response, dict) else None
        if not isinstance(content, dict):
            return None, [], []
        media_type = next((m for m in content if _JSON_MEDIA.match(m.split(";")[0].strip().lower())), None)
        if media_type is None or not isinstance(content[media_type], dict):
            return None, [], []
        media = content[media_type]
        media_pointer = f"{response_pointer}/content/{json_pointer(media_type)[1:]}"
        examples = self._media_examples(media)
        if "schema" not in media:
            return None, _unique(examples), []
        schema = self.resolver.schema(media["schema"], f"{media_pointer}/schema", notes)
        if not examples:
            examples = [schema["example"]] if "example" in schema else list(schema.get("examples") or [])[:3]
        return schema, _unique(examples), response_output_fields(schema, f"{media_pointer}/schema", notes)


def _success_codes(by_code: dict[str, Any]) -> list[str]:
    """200, 201, any other explicit 2xx in order, 2XX, default."""
    others = sorted(c for c in by_code if re.fullmatch(r"2\d\d", c) and c not in ("200", "201"))
    return ["200", "201", *others, "2XX", "DEFAULT"]


def stripped_text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def selected(name: str, include: Iterable[str], exclude: Iterable[str]) -> bool:
    include, exclude = list(include or ()), list(exclude or ())
    if include and not any(fnmatch.fnmatchcase(name, p) for p in include):
        return False
    return not any(fnmatch.fnmatchcase(name, p) for p in exclude)


def check_openapi_version(document: Any, doc_name: str) -> str:
    """The ``openapi`` version string; `SpecError` naming the document when it is not OpenAPI 3.x."""
    if not isinstance(document, dict):
        raise SpecError(f"{doc_name}: not an OpenAPI document (expected an object, got {type(document).__name__})")
    if "swagger" in document:
        raise SpecError(
            f"{doc_name} is a Swagger 2.0 document (swagger: {document['swagger']!r}), not OpenAPI 3: "
            "set `kind: swagger2` on this source"
        )
    version = document.get("openapi")
    if version is None:
        raise SpecError(f"{doc_name}: not an OpenAPI document (no 'openapi' version field at the top)")
    if not isinstance(version, str) or not re.match(r"^3\.\d+(\.\d+)?", version.strip()):
        raise SpecError(f"{doc_name}: OpenAPI version {version!r} is not supported (expected 3.0.x or 3.1.x)")
    return version.strip()


def parse_openapi(
    doc: dict[str, Any],
    source: str,
    *,
    base_url: str | None = None,
    include: Iterable[str] = (),
    exclude: Iterable[str] = (),
    doc_name: str = "<doc>",
) -> ParseResult:
    """Every usable operation of an OpenAPI 3.0/3.1 document, plus the problems of those that were not."""
    check_source(source, "openapi")
    check_openapi_version(doc, doc_name)
    parser = _OpenApiParser(doc, source, doc_name)
    problems: list[SpecProblem] = []
    operations = parser.collect_operations(problems)
    _assign_names(operations)
    apis: list[ApiSpec] = []
    for op in operations:
        if not selected(op.name, include, exclude):
            continue
        notes = Notes()
        try:
            apis.append(parser.parse_operation(op, notes))
        except SkipOperation as exc:
            problems.append(SpecProblem(pointer=exc.pointer, message=f"{op.method.upper()} {op.path}: {exc.message}"))
            continue
        except (TypeError, ValueError, AttributeError, KeyError) as exc:  # malformed in a way not anticipated above
            problems.append(
                SpecProblem(pointer=op.pointer, message=f"{op.method.upper()} {op.path}: {type(exc).__name__}: {exc}")
            )
            continue
        problems.extend(
            SpecProblem(pointer=p.pointer, message=f"{op.method.upper()} {op.path}: {p.message}", skipped=False)
            for p in notes.problems
        )
    info = doc.get("info") if isinstance(doc.get("info"), dict) else {}
    return ParseResult(
        apis=apis,
        problems=problems,
        base_url=base_url or _document_base_url(doc, doc_name),
        title=stripped_text(info.get("title")),
    )


load_openapi_source = register_source_kind("openapi", parse_openapi)
