"""Swagger 2.0 documents -> `ApiSpec`s, by conversion to the OpenAPI 3 shape and the OpenAPI parser.

Everything Swagger 2 shares with OpenAPI 3 (refs, ``allOf``, names, tags, output fields, what makes an operation
unusable) is then decided in one place. The conversion only moves things: ``in: body`` and ``formData`` parameters
become a ``requestBody`` (a form body is then treated like an OpenAPI form body: the executor sends JSON only),
parameter keywords move under ``schema``, ``responses.<code>.schema`` moves under ``content`` with the ``produces``
media type, and ``host`` + ``basePath`` + ``schemes`` give the base URL. ``definitions``, top-level ``parameters``
and ``responses`` keep their places, so ``$ref``s keep working unchanged.

Problems are reported at pointers into the *original* document: the conversion records where each moved piece came
from and the pointers of the OpenAPI parser's problems are mapped back.
"""

from __future__ import annotations

import copy
from typing import Any, Iterable
from urllib.parse import urlparse

from goat_datasets.sources.functions import document_error
from goat_datasets.sources.loading import ParseResult, SpecProblem, is_url, register_source_kind
from goat_datasets.sources.openapi import (
    HTTP_METHODS,
    Resolver,
    SkipOperation,
    check_source,
    json_pointer,
    parse_openapi,
)

# Swagger 2 parameter fields that are JSON Schema keywords (they move under the OpenAPI 3 ``schema``).
_SCHEMA_FIELDS = ("type", "format", "items", "default", "maximum", "exclusiveMaximum", "minimum",
                  "exclusiveMinimum", "maxLength", "minLength", "pattern", "maxItems", "minItems", "uniqueItems",
                  "enum", "multipleOf")  # fmt: skip
_PARAM_FIELDS = ("name", "in", "required", "description", "allowEmptyValue")
_BODY_KINDS = ("body", "formData")
_FORM_MEDIA = ("application/x-www-form-urlencoded", "multipart/form-data")


def _is_json_media(media: str) -> bool:
    base = media.split(";")[0].strip().lower()
    return base.endswith("/json") or base.endswith("+json")


def _json_media_first(media_types: list[str]) -> str:
    """The JSON media type of a ``consumes``/``produces`` list, else its first one (the parser then skips what it
    cannot send or read), else JSON (the common case of documents that leave it out)."""
    return next((m for m in media_types if _is_json_media(m)), media_types[0] if media_types else "application/json")


class _PointerMap:
    """Converted-document pointer prefixes -> original-document pointer prefixes (longest prefix wins)."""

    def __init__(self) -> None:
        self._pairs: dict[str, str] = {}

    def add(self, converted: str, original: str) -> None:
        self._pairs[converted] = original

    def original(self, pointer: str) -> str:
        best = max((c for c in self._pairs if pointer == c or pointer.startswith(c + "/")), key=len, default=None)
        return pointer if best is None else self._pairs[best] + pointer[len(best) :]


def check_swagger_version(document: Any, doc_name: str) -> None:
    """`SpecError` naming the document unless it declares ``swagger: "2.0"``."""
    if not isinstance(document, dict):
        got = type(document).__name__
        raise document_error(doc_name, "", f"not a Swagger document (expected an object, got {got})")
    if "swagger" not in document:
        hint = f"; it declares openapi: {document['openapi']!r}, use kind: openapi" if "openapi" in document else ""
        raise document_error(doc_name, "/swagger", f"not a Swagger 2.0 document (no 'swagger' version field){hint}")
    if str(document["swagger"]).strip() not in ("2.0", "2"):  # YAML reads an unquoted 2.0 as a number
        raise document_error(doc_name, "/swagger", f"Swagger version {document['swagger']!r} is not supported "
                                                   "(expected 2.0)")  # fmt: skip


def swagger_base_url(document: dict[str, Any], doc_name: str) -> str | None:
    """``scheme://host/basePath``: https when offered, host and scheme default to the document's own URL."""
    doc_url = urlparse(doc_name) if is_url(doc_name) else None
    host = document.get("host") if isinstance(document.get("host"), str) and document["host"].strip() else None
    host = host or (doc_url.netloc if doc_url else None)
    if not host:
        return None
    listed = document.get("schemes") if isinstance(document.get("schemes"), list) else []
    schemes = [s.lower() for s in listed if isinstance(s, str)]
    default_scheme = doc_url.scheme if doc_url else "https"
    scheme = "https" if "https" in schemes else "http" if "http" in schemes else default_scheme
    base_path = document.get("basePath") if isinstance(document.get("basePath"), str) else ""
    base_path = base_path.strip().strip("/")
    return f"{scheme}://{host.strip().rstrip('/')}" + (f"/{base_path}" if base_path else "")


class _Converter:
    def __init__(self, document: dict[str, Any]):
        self.document = document
        self.resolver = Resolver(document)
        self.map = _PointerMap()
        self.problems: list[SpecProblem] = []
        self.consumes = document.get("consumes") if isinstance(document.get("consumes"), list) else []
        self.produces = document.get("produces") if isinstance(document.get("produces"), list) else []

    def convert(self) -> dict[str, Any]:
        doc = self.document
        out: dict[str, Any] = {"openapi": "3.0.3", "info": doc.get("info") if isinstance(doc.get("info"), dict) else {}}
        if isinstance(doc.get("definitions"), dict):
            out["definitions"] = doc["definitions"]
        if isinstance(doc.get("parameters"), dict):
            out["parameters"] = {}
            for name, param in doc["parameters"].items():
                where = json_pointer("parameters", name)
                is_plain = isinstance(param, dict) and "$ref" not in param and param.get("in") not in _BODY_KINDS
                out["parameters"][name] = self._param(param, where, where) if is_plain else param
        if isinstance(doc.get("responses"), dict):
            out["responses"] = {}
            for name, response in doc["responses"].items():
                where = json_pointer("responses", name)
                out["responses"][name] = self._response(response, where, where, self.produces)
        paths = doc.get("paths")
        if isinstance(paths, dict):
            out["paths"] = {path: self._path_item(path, item) for path, item in paths.items()}
        return out

    # ---- parameters

    def _param(self, node: dict[str, Any], converted: str, original: str) -> dict[str, Any]:
        """A non-body Swagger parameter in OpenAPI 3 form (keywords under ``schema``)."""
        out = {k: copy.deepcopy(node[k]) for k in _PARAM_FIELDS if k in node}
        if "x-example" in node:
            out["example"] = copy.deepcopy(node["x-example"])
        out["schema"] = _items_schema(node)
        self.map.add(converted, original)
        self.map.add(f"{converted}/schema", original)
        return out

    def _split(self, raw_list: Any, pointer: str, converted: str) -> tuple[Any, dict[str, tuple[dict, str]]]:
        """(non-body parameters in OpenAPI 3 form, ``{"body"|form field name: (parameter, pointer)}``)."""
        if not isinstance(raw_list, list):
            return raw_list, {}  # the OpenAPI parser reports it
        kept: list[Any] = []
        bodies: dict[str, tuple[dict, str]] = {}
        for i, raw in enumerate(raw_list):
            where = f"{pointer}/{i}"
            try:
                node, node_pointer = self.resolver.deref_object(raw, where, "parameter")
            except SkipOperation:
                node, node_pointer = None, where  # kept as written: the OpenAPI parser reports the broken ref
            if isinstance(node, dict) and node.get("in") in _BODY_KINDS:
                key = "" if node["in"] == "body" else f"form:{node.get('name')}"
                bodies[key] = (node, node_pointer)
                continue
            target = f"{converted}/{len(kept)}"
            if isinstance(raw, dict) and "$ref" not in raw and isinstance(node, dict):
                kept.append(self._param(node, target, where))
            else:
                kept.append(raw)
                self.map.add(target, where)
        return kept, bodies

    def _request_body(self, bodies: dict[str, tuple[dict, str]], consumes: list[Any], pointer: str) -> dict | None:
        if not bodies:
            return None
        media_types = [m for m in consumes if isinstance(m, str)]
        if "" in bodies:
            node, where = bodies[""]
            media = _json_media_first(media_types)
            body: dict[str, Any] = {"required": node.get("required") is True, "content": {media: {}}}
            if "schema" in node:
                body["content"][media]["schema"] = node["schema"]
            if isinstance(node.get("description"), str):
                body["description"] = node["description"]
            self.map.add(pointer, where)
            self.map.add(f"{pointer}/content/{json_pointer(media)[1:]}", where)
            return body
        fields = list(bodies.values())
        has_file = any(node.get("type") == "file" for node, _ in fields)
        media = next((m for m in media_types if m in _FORM_MEDIA), _FORM_MEDIA[1] if has_file else _FORM_MEDIA[0])
        schema_pointer = f"{pointer}/content/{json_pointer(media)[1:]}/schema"
        properties = {}
        for node, where in fields:
            name = str(node.get("name"))
            properties[name] = _items_schema(node)
            if "description" in node:
                properties[name]["description"] = node["description"]
            self.map.add(f"{schema_pointer}/properties/{json_pointer(name)[1:]}", where)
        required = [str(node.get("name")) for node, _ in fields if node.get("required") is True]
        self.map.add(pointer, fields[0][1])
        schema = {"type": "object", "properties": properties, **({"required": required} if required else {})}
        return {"required": bool(required), "content": {media: {"schema": schema}}}

    # ---- responses

    def _response(self, node: Any, converted: str, original: str, produces: list[Any]) -> Any:
        if not isinstance(node, dict) or "$ref" in node:
            return node
        out = {k: copy.deepcopy(v) for k, v in node.items() if k not in ("schema", "examples")}
        media = _json_media_first([m for m in produces if isinstance(m, str)])
        if "schema" in node:
            content: dict[str, Any] = {"schema": node["schema"]}
            examples = node.get("examples") if isinstance(node.get("examples"), dict) else {}
            example_media = next((m for m in examples if m == media or _is_json_media(str(m))), None)
            if example_media is not None:
                content["example"] = copy.deepcopy(examples[example_media])
            out["content"] = {media: content}
            self.map.add(f"{converted}/content/{json_pointer(media)[1:]}", original)
        self.map.add(converted, original)
        return out

    # ---- paths and operations

    def _path_item(self, path: str, item: Any) -> Any:
        pointer = json_pointer("paths", path)
        if not isinstance(item, dict) or "$ref" in item:
            return item  # the OpenAPI parser reports it
        out = {k: v for k, v in item.items() if k not in HTTP_METHODS and k != "parameters"}
        where = f"{pointer}/parameters"
        shared, shared_bodies = self._split(item.get("parameters", []), where, where)
        if shared:
            out["parameters"] = shared
        for method in HTTP_METHODS:
            if method in item:
                operation = self._operation(item[method], f"{pointer}/{method}", shared_bodies)
                if operation is not None:
                    out[method] = operation
                else:
                    message = f"{method.upper()} {path}: an operation cannot have both 'in: body' and 'in: formData'"
                    self.problems.append(SpecProblem(pointer=f"{pointer}/{method}", message=message))
        return out

    def _operation(self, node: Any, pointer: str, shared_bodies: dict[str, tuple[dict, str]]) -> Any:
        """The operation in OpenAPI 3 form; None when its body parameters contradict each other."""
        if not isinstance(node, dict):
            return node  # the OpenAPI parser reports it
        out = {k: v for k, v in node.items() if k not in ("parameters", "responses", "consumes", "produces")}
        params, own_bodies = self._split(node.get("parameters", []), f"{pointer}/parameters", f"{pointer}/parameters")
        if "parameters" in node:
            out["parameters"] = params
        bodies = {**shared_bodies, **own_bodies}  # operation-level parameters override path-level ones
        if "" in bodies and len(bodies) > 1:
            return None
        consumes = node["consumes"] if isinstance(node.get("consumes"), list) else self.consumes
        body = self._request_body(bodies, consumes, f"{pointer}/requestBody")
        if body is not None:
            out["requestBody"] = body
        produces = node["produces"] if isinstance(node.get("produces"), list) else self.produces
        responses = node.get("responses")
        if isinstance(responses, dict):
            out["responses"] = {}
            for code, response in responses.items():
                where = f"{pointer}/responses/{json_pointer(str(code))[1:]}"
                out["responses"][code] = self._response(response, where, where, produces)
        elif "responses" in node:
            out["responses"] = responses
        return out


def _items_schema(node: dict[str, Any]) -> dict[str, Any]:
    """The JSON Schema of a Swagger parameter or items object (``type: file`` is a binary string)."""
    if node.get("type") == "file":
        return {"type": "string", "format": "binary"}
    if "$ref" in node:  # not allowed in Swagger 2 items objects, but seen in the wild
        return {"$ref": node["$ref"]}
    schema = {k: copy.deepcopy(node[k]) for k in _SCHEMA_FIELDS if k in node}
    if isinstance(node.get("items"), dict):
        schema["items"] = _items_schema(node["items"])
    return schema


def parse_swagger2(
    document: dict[str, Any],
    source: str,
    *,
    base_url: str | None = None,
    include: Iterable[str] = (),
    exclude: Iterable[str] = (),
    doc_name: str = "<doc>",
) -> ParseResult:
    """Every usable operation of a Swagger 2.0 document, plus the problems of those that were not."""
    check_source(source, "swagger2")
    check_swagger_version(document, doc_name)
    if "paths" in document and not isinstance(document["paths"], dict):
        raise document_error(doc_name, "/paths", f"'paths' must be an object, got {type(document['paths']).__name__}")
    converter = _Converter(document)
    converted = converter.convert()
    result = parse_openapi(
        converted,
        source,
        base_url=base_url or swagger_base_url(document, doc_name),
        include=include,
        exclude=exclude,
        doc_name=doc_name,
    )
    problems = converter.problems + [
        p.model_copy(update={"pointer": converter.map.original(p.pointer)}) for p in result.problems
    ]
    return result.model_copy(update={"problems": problems})


load_swagger2_source = register_source_kind("swagger2", parse_swagger2)
