"""OpenAPI 3.0/3.1 -> ApiSpec: the real TMDB document, FastAPI's own 3.1 output, and small handwritten documents."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

from goat_datasets import jsonpath
from goat_datasets.registry import source_kinds
from goat_datasets.servers import free_port, serve_in_thread
from goat_datasets.sources.loading import load_spec_document, parse_spec_text
from goat_datasets.sources.openapi import (
    MAX_FIELD_DEPTH,
    MAX_OUTPUT_FIELDS,
    RECURSIVE_REF_KEY,
    UNRESOLVED_REF_KEY,
    WHOLE_BODY_KEY,
    ParseResult,
    SpecError,
    json_pointer,
    load_openapi_source,
    parse_openapi,
)
from goat_datasets.sources.models import ApiSpec

from shared_data import SHARED_DATA  # noqa: E402

DATA = SHARED_DATA
TMDB = DATA / "restbench-tmdb" / "tmdb_oas.json"


def doc(paths: dict[str, Any], schemas: dict[str, Any] | None = None, version: str = "3.0.3", **extra: Any) -> dict:
    document = {"openapi": version, "info": {"title": "t", "version": "1"}, "paths": paths, **extra}
    if schemas is not None:
        document.setdefault("components", {})["schemas"] = schemas
    return document


def ok_json(schema: dict[str, Any], **media: Any) -> dict[str, Any]:
    return {"200": {"description": "ok", "content": {"application/json": {"schema": schema, **media}}}}


def only(result: ParseResult) -> ApiSpec:
    assert len(result.apis) == 1, result
    return result.apis[0]


def paths_of(api: ApiSpec) -> dict[str, str]:
    return {f.path: f.type for f in api.output_fields}


# --------------------------------------------------------------------------------------------------------------------
# The real TMDB document (RestBench)


@pytest.fixture(scope="module")
def tmdb() -> ParseResult:
    if not TMDB.is_file():
        pytest.skip(f"shared test data not found at {TMDB}")
    document, raw = load_spec_document("restbench-tmdb/tmdb_oas.json", DATA)
    assert raw == TMDB.read_bytes()
    return parse_openapi(document, "tmdb", doc_name=str(TMDB))


def by_path(result: ParseResult, method: str, path: str) -> ApiSpec:
    return next(a for a in result.apis if a.method == method and a.path == path)


def test_tmdb_all_54_operations_parse_without_skipping_any(tmdb: ParseResult) -> None:
    assert len(tmdb.apis) == 54
    # the document's one flaw: /trending names its results property "" (it cannot be a JSON path)
    assert [(p.pointer, p.skipped) for p in tmdb.problems] == [
        ("/paths/~1trending~1{media_type}~1{time_window}/get/responses/200/content/application~1json/schema", False)
    ]
    assert "empty name" in tmdb.problems[0].message
    assert {a.method for a in tmdb.apis} == {"GET"}
    assert len({a.id for a in tmdb.apis}) == 54
    assert all(a.id == f"tmdb.{a.name}" and a.source == "tmdb" and a.tool == "tmdb" for a in tmdb.apis)
    assert tmdb.base_url == "https://api.themoviedb.org/3"
    assert all(a.output_fields and a.response_schema for a in tmdb.apis)
    assert sum(bool(a.response_examples) for a in tmdb.apis) >= 50


def test_tmdb_search_person_outputs_and_params(tmdb: ParseResult) -> None:
    api = by_path(tmdb, "GET", "/search/person")
    assert api.name == "GET_search_person"
    assert api.summary == "Search People"
    fields = paths_of(api)
    assert fields["results[*].id"] == "integer"
    assert fields["results[*].name"] == "string"
    assert fields["total_pages"] == "integer"
    # oneOf branches (movie | tv) both contribute their fields; scalar arrays end in [*]
    assert fields["results[*].known_for[*].title"] == "string"
    assert fields["results[*].known_for[*].name"] == "string"
    assert fields["results[*].known_for[*].genre_ids[*]"] == "integer"
    assert "results[*].known_for[*].genre_ids" not in fields
    query = api.param("query")
    assert (query.location, query.required, query.type) == ("query", True, "string")
    assert api.param("page").json_schema == {"type": "integer", "default": 1}
    # the paths agree with the document's own example response
    example = api.response_examples[0]
    assert jsonpath.get_all(example, "results[*].id")
    assert all(isinstance(v, int) for v in jsonpath.get_all(example, "results[*].id"))


def test_tmdb_movie_credits_has_required_person_id(tmdb: ParseResult) -> None:
    api = by_path(tmdb, "GET", "/person/{person_id}/movie_credits")
    person_id = api.param("person_id")
    assert (person_id.location, person_id.required, person_id.type) == ("path", True, "integer")
    fields = paths_of(api)
    assert fields["cast[*].id"] == "integer"
    assert fields["cast[*].vote_average"] == "number"  # oneOf [integer, number]
    assert fields["cast[*].poster_path"] == "string"  # via $ref image-path, nullable
    poster = api.response_schema["properties"]["cast"]["items"]["properties"]["poster_path"]
    assert poster["type"] == ["string", "null"] and "nullable" not in poster


def test_tmdb_output_paths_match_the_example_responses(tmdb: ParseResult) -> None:
    """Most documented fields appear in the documented examples under the very paths the parser produced."""
    found = total = 0
    for api in tmdb.apis:
        for example in api.response_examples:
            for f in api.output_fields:
                total += 1
                found += bool(jsonpath.get_all(example, f.path))
    assert total > 500
    assert found / total > 0.8, (found, total)


def test_tmdb_include_exclude_globs_over_operation_names(tmdb: ParseResult) -> None:
    document = json.loads(TMDB.read_text())
    result = parse_openapi(document, "tmdb", include=["GET_search_*"], exclude=["*_tv"])
    names = sorted(a.name for a in result.apis)
    assert names and all(n.startswith("GET_search_") and not n.endswith("_tv") for n in names)
    assert "GET_search_person" in names
    assert len(names) == len([a for a in tmdb.apis if a.name.startswith("GET_search_") and not a.name.endswith("_tv")])


def test_registered_source_kind_takes_a_dict_or_text(tmdb: ParseResult) -> None:
    parse = source_kinds.get("openapi")
    assert parse is load_openapi_source
    text = TMDB.read_text()
    from_text = parse(text, source="tmdb", base_url="http://127.0.0.1:9", include=(), exclude=(), doc_name="tmdb.json")
    from_dict = parse(json.loads(text), source="tmdb", base_url=None, include=(), exclude=(), doc_name="tmdb.json")
    assert [a.id for a in from_text.apis] == [a.id for a in from_dict.apis] == [a.id for a in tmdb.apis]
    assert from_text.base_url == "http://127.0.0.1:9"


# --------------------------------------------------------------------------------------------------------------------
# FastAPI's 3.1 output (the bundled demo API)


def test_fastapi_demo_document_parses_completely() -> None:
    from goat_datasets.demo_api import create_app

    result = parse_openapi(create_app().openapi(), "demo")
    assert not [p for p in result.problems if p.skipped]
    assert {a.tool for a in result.apis} == {"movies", "cinemas", "reviews", "weather"}
    book = next(a for a in result.apis if a.name == "book_tickets")
    assert {(p.name, p.location, p.required) for p in book.params} == {
        ("showtime_id", "body", True), ("seats", "body", True), ("customer_name", "body", True)
    }  # fmt: skip
    assert book.param("seats").json_schema["examples"] == [2]
    assert paths_of(book)["status"] == "string"  # $ref to an enum with a sibling description
    review = next(a for a in result.apis if a.name == "post_review")
    body_property = review.param("body")  # a real property called "body", not the whole body
    assert body_property.location == "body" and WHOLE_BODY_KEY not in body_property.json_schema


# --------------------------------------------------------------------------------------------------------------------
# $ref resolution


def test_nested_local_refs_for_parameters_schemas_and_responses() -> None:
    document = doc(
        {
            "/movies/{movie_id}": {
                "parameters": [{"$ref": "#/components/parameters/MovieId"}],
                "get": {"operationId": "getMovie", "responses": {"200": {"$ref": "#/components/responses/MovieOk"}}},
            }
        },
        schemas={
            "Id": {"$ref": "#/components/schemas/IdString"},
            "IdString": {"type": "string", "pattern": "^m[0-9]+$", "title": "Id", "description": "A movie id"},
            "Movie": {"type": "object", "properties": {"id": {"$ref": "#/components/schemas/Id"},
                                                       "cast": {"type": "array", "items": {"$ref": "#/components/schemas/Person"}}}},
            "Person": {"type": "object", "properties": {"person_id": {"type": "string", "description": "Person id"}}},
        },  # fmt: skip
    )
    document["components"]["parameters"] = {
        "MovieId": {"name": "movie_id", "in": "path", "required": True, "schema": {"$ref": "#/components/schemas/Id"}}
    }
    document["components"]["responses"] = {"MovieOk": {"description": "ok", "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/Movie"}}}}}  # fmt: skip
    result = parse_openapi(document, "films")
    api = only(result)
    assert result.problems == []
    movie_id = api.param("movie_id")
    assert movie_id.json_schema == {"type": "string", "pattern": "^m[0-9]+$"}  # title dropped, description moved
    assert movie_id.description == "A movie id"
    assert paths_of(api) == {"id": "string", "cast[*].person_id": "string"}
    assert {f.path: f.description for f in api.output_fields} == {"id": "A movie id", "cast[*].person_id": "Person id"}
    assert "$ref" not in json.dumps(api.response_schema)


def test_recursive_refs_are_cut_with_a_marker() -> None:
    document = doc(
        {"/tree": {"get": {"operationId": "tree", "responses": ok_json({"$ref": "#/components/schemas/Node"})}}},
        schemas={
            "Node": {"type": "object", "properties": {"name": {"type": "string"},
                                                      "children": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}},
                                                      "owner": {"$ref": "#/components/schemas/User"}}},
            "User": {"type": "object", "properties": {"login": {"type": "string"}, "home": {"$ref": "#/components/schemas/Node"}}},
        },  # fmt: skip
    )
    result = parse_openapi(document, "t")
    api = only(result)
    schema = api.response_schema
    child = schema["properties"]["children"]["items"]
    assert child == {RECURSIVE_REF_KEY: "#/components/schemas/Node", "type": "object"}
    assert schema["properties"]["owner"]["properties"]["home"][RECURSIVE_REF_KEY] == "#/components/schemas/Node"
    assert paths_of(api) == {"name": "string", "children[*]": "object", "owner.login": "string", "owner.home": "object"}
    json.dumps(schema)  # finite


def test_external_and_dangling_refs_are_problems_not_crashes() -> None:
    document = doc(
        {
            "/a": {"get": {"operationId": "a", "responses": ok_json({"type": "object", "properties": {
                "x": {"$ref": "other.yaml#/components/schemas/X"}, "y": {"$ref": "#/components/schemas/Nope"}}})}},
            "/b": {"get": {"operationId": "b", "parameters": [{"$ref": "common.yaml#/parameters/P"}],
                           "responses": ok_json({"type": "string"})}},
        }  # fmt: skip
    )
    result = parse_openapi(document, "t")
    api = only(result)
    assert api.name == "a"
    assert api.response_schema["properties"]["x"] == {UNRESOLVED_REF_KEY: "other.yaml#/components/schemas/X"}
    kept = [p for p in result.problems if not p.skipped]
    assert {p.pointer for p in kept} == {
        "/paths/~1a/get/responses/200/content/application~1json/schema/properties/x/$ref",
        "/paths/~1a/get/responses/200/content/application~1json/schema/properties/y/$ref",
    }
    skipped = [p for p in result.problems if p.skipped]
    assert [p.pointer for p in skipped] == ["/paths/~1b/get/parameters/0"]
    assert "external $ref" in skipped[0].message and "GET /b" in skipped[0].message


# --------------------------------------------------------------------------------------------------------------------
# allOf, oneOf/anyOf, nullable


def test_all_of_is_merged_and_flattened_into_body_params() -> None:
    document = doc(
        {"/pets": {"post": {"operationId": "addPet",
                            "requestBody": {"required": True, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/NewPet"}}}},
                            "responses": {"201": {"description": "made", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}}}}}}},
        schemas={
            "Base": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string", "description": "Pet name"}}},
            "NewPet": {"allOf": [{"$ref": "#/components/schemas/Base"},
                                 {"type": "object", "required": ["kind"], "properties": {"kind": {"type": "string", "enum": ["cat", "dog"]},
                                                                                        "id": {"type": "integer", "readOnly": True}}}]},
            "Pet": {"allOf": [{"$ref": "#/components/schemas/NewPet"}, {"properties": {"id": {"type": "integer", "readOnly": True}}, "required": ["id"]}]},
        },  # fmt: skip
    )
    api = only(parse_openapi(document, "zoo"))
    assert api.method == "POST"
    assert [(p.name, p.location, p.required) for p in api.params] == [("name", "body", True), ("kind", "body", True)]
    assert api.param("name").description == "Pet name"
    assert api.param("kind").json_schema == {"type": "string", "enum": ["cat", "dog"]}
    assert api.response_schema["required"] == ["name", "kind", "id"]
    assert "allOf" not in api.response_schema
    assert paths_of(api) == {"name": "string", "kind": "string", "id": "integer"}


def test_nullable_forms_fold_into_a_type_list() -> None:
    schemas = {"Title": {"type": "string", "maxLength": 9}}
    response = {"type": "object", "properties": {
        "a": {"type": "string", "nullable": True},  # 3.0
        "b": {"type": ["integer", "null"]},  # 3.1
        "c": {"anyOf": [{"$ref": "#/components/schemas/Title"}, {"type": "null"}], "description": "Folded"},  # FastAPI
        "d": {"type": ["null", "number"]},
        "e": {"oneOf": [{"type": "string"}, {"type": "integer"}]},  # kept
    }}  # fmt: skip
    params = [{"name": "q", "in": "query", "schema": {"anyOf": [{"type": "string"}, {"type": "null"}], "title": "Q"}}]
    document = doc({"/x": {"get": {"operationId": "x", "parameters": params, "responses": ok_json(response)}}},
                   schemas=schemas, version="3.1.0")  # fmt: skip
    api = only(parse_openapi(document, "t"))
    props = api.response_schema["properties"]
    assert props["a"] == {"type": ["string", "null"]}
    assert props["b"] == {"type": ["integer", "null"]}
    assert props["c"] == {"type": ["string", "null"], "maxLength": 9, "description": "Folded"}
    assert props["d"] == {"type": ["number", "null"]}
    assert props["e"] == {"oneOf": [{"type": "string"}, {"type": "integer"}]}
    assert paths_of(api) == {"a": "string", "b": "integer", "c": "string", "d": "number", "e": "any"}
    q = api.param("q")
    assert q.json_schema == {"type": ["string", "null"]} and q.type == "string" and not q.required


def test_nested_arrays_and_scalar_roots() -> None:
    nested = {"type": "object", "properties": {"a": {"type": "array", "items": {"type": "object", "properties": {
        "b": {"type": "array", "items": {"type": "object", "properties": {"c": {"type": "integer"}}}}}}}}}  # fmt: skip
    document = doc(
        {
            "/nested": {"get": {"operationId": "nested", "responses": ok_json(nested)}},
            "/count": {"get": {"operationId": "count", "responses": ok_json({"type": "integer", "description": "How many"})}},
            "/ids": {"get": {"operationId": "ids", "responses": ok_json({"type": "array", "items": {"type": "string"}})}},
            "/rows": {"get": {"operationId": "rows", "responses": ok_json(
                {"type": "array", "items": {"type": "object", "properties": {"id": {"type": "string"}}}})}},
            "/free": {"get": {"operationId": "free", "responses": ok_json({"type": "object", "additionalProperties": True})}},
        }  # fmt: skip
    )
    apis = {a.name: a for a in parse_openapi(document, "t").apis}
    assert paths_of(apis["nested"]) == {"a[*].b[*].c": "integer"}
    assert [(f.path, f.type, f.description) for f in apis["count"].output_fields] == [("$", "integer", "How many")]
    assert paths_of(apis["ids"]) == {"[*]": "string"}
    assert paths_of(apis["rows"]) == {"[*].id": "string"}
    assert paths_of(apis["free"]) == {"$": "object"}
    value = {"a": [{"b": [{"c": 1}, {"c": 2}]}, {"b": [{"c": 3}]}]}
    assert jsonpath.get_all(value, apis["nested"].output_fields[0].path) == [1, 2, 3]
    assert jsonpath.get_all([{"id": "x"}], "[*].id") == ["x"]


def test_output_field_cap_and_depth_limit_are_reported() -> None:
    wide = {"type": "object", "properties": {f"f{i:03d}": {"type": "string"} for i in range(MAX_OUTPUT_FIELDS + 50)}}
    deep: dict[str, Any] = {"type": "string"}
    for level in range(MAX_FIELD_DEPTH + 3):
        deep = {"type": "object", "properties": {f"k{level}": deep}}
    document = doc({"/wide": {"get": {"operationId": "wide", "responses": ok_json(wide)}},
                    "/deep": {"get": {"operationId": "deep", "responses": ok_json(deep)}}})  # fmt: skip
    result = parse_openapi(document, "t")
    apis = {a.name: a for a in result.apis}
    assert len(apis["wide"].output_fields) == MAX_OUTPUT_FIELDS
    assert apis["wide"].output_fields[-1].path == f"f{MAX_OUTPUT_FIELDS - 1:03d}"
    (deep_field,) = apis["deep"].output_fields
    assert deep_field.type == "object" and deep_field.path.count(".") == MAX_FIELD_DEPTH - 1
    messages = {p.pointer.split("/")[2]: p.message for p in result.problems}
    assert not any(p.skipped for p in result.problems)
    assert f"more than {MAX_OUTPUT_FIELDS} output fields" in messages["~1wide"]
    assert f"deeper than {MAX_FIELD_DEPTH}" in messages["~1deep"]


# --------------------------------------------------------------------------------------------------------------------
# Parameters and bodies


def test_path_level_params_are_overridden_by_operation_params_and_cookies_skipped() -> None:
    document = doc({"/items/{id}": {
        "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}, "description": "old"},
                       {"name": "lang", "in": "query", "schema": {"type": "string"}}],
        "get": {"operationId": "getItem",
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}, "description": "new"},
                               {"name": "session", "in": "cookie", "schema": {"type": "string"}},
                               {"name": "Accept", "in": "header", "schema": {"type": "string"}},
                               {"name": "X-Trace", "in": "header", "schema": {"type": "string"}, "example": "t-1"},
                               {"name": "limit", "in": "query", "schema": {"type": "integer", "example": 5},
                                "examples": {"small": {"value": 2}, "big": {"value": 50}, "far": {"externalValue": "http://x"}}}],
                "responses": ok_json({"type": "object", "properties": {"id": {"type": "integer"}}})}}})  # fmt: skip
    api = only(parse_openapi(document, "shop"))
    assert [(p.name, p.location) for p in api.params] == [("id", "path"), ("lang", "query"), ("X-Trace", "header"),
                                                          ("limit", "query")]  # fmt: skip
    assert api.param("id").type == "integer" and api.param("id").description == "new"
    assert api.param("X-Trace").json_schema["examples"] == ["t-1"]
    assert api.param("limit").json_schema == {"type": "integer", "examples": [2, 50, 5]}
    tool = api.tool_schema()["function"]
    assert tool["name"] == "getItem" and tool["parameters"]["required"] == ["id"]


def test_non_object_body_becomes_one_body_param_and_body_examples_feed_properties() -> None:
    document = doc({
        "/tags": {"put": {"operationId": "setTags", "requestBody": {"required": True, "description": "All tags", "content": {
            "application/json": {"schema": {"type": "array", "items": {"type": "string"}}, "example": ["a", "b"]}}},
            "responses": {"204": {"description": "done"}}}},
        "/notes": {"post": {"operationId": "addNote", "requestBody": {"content": {"application/json; charset=utf-8": {
            "schema": {"type": "object", "required": ["text"], "properties": {"text": {"type": "string"}, "pinned": {"type": "boolean"}}},
            "examples": {"one": {"value": {"text": "buy milk", "pinned": True}}}}}},
            "responses": ok_json({"type": "object", "properties": {"note_id": {"type": "string"}}})}},
        "/upload": {"post": {"operationId": "upload", "requestBody": {"required": True, "content": {
            "multipart/form-data": {"schema": {"type": "object"}}}}, "responses": {"200": {"description": "ok"}}}},
    })  # fmt: skip
    result = parse_openapi(document, "t")
    apis = {a.name: a for a in result.apis}
    (body,) = apis["setTags"].params
    assert (body.name, body.location, body.required, body.description) == ("body", "body", True, "All tags")
    assert body.json_schema == {"type": "array", "items": {"type": "string"}, WHOLE_BODY_KEY: True, "examples": [["a", "b"]]}
    assert apis["setTags"].output_fields == () and apis["setTags"].response_schema is None
    note = apis["addNote"]
    assert [(p.name, p.required) for p in note.params] == [("text", True), ("pinned", False)]
    assert note.param("text").json_schema["examples"] == ["buy milk"]
    assert "upload" not in apis
    (problem,) = result.problems
    assert problem.skipped and problem.pointer == "/paths/~1upload/post/requestBody"
    assert "multipart/form-data" in problem.message


def test_broken_operation_is_skipped_with_its_pointer_and_others_survive() -> None:
    document = doc({
        "/movie/{id}": {
            "get": {"operationId": "getMovie", "parameters": [{"name": "id", "schema": {"type": "string"}}],
                    "responses": ok_json({"type": "string"})},
            "delete": {"operationId": "deleteMovie", "parameters": [{"name": "id", "in": "path", "required": True}],
                       "responses": {"204": {"description": "gone"}}},
            "put": "not an operation",
        },
        "/clash/{id}": {"post": {"operationId": "clash", "parameters": [{"name": "id", "in": "path", "required": True}],
                                  "requestBody": {"content": {"application/json": {"schema": {"type": "object", "properties": {"id": {"type": "string"}}}}}},
                                  "responses": {}}},
        "/twice": {"get": {"parameters": [{"name": "v", "in": "query"}, {"name": "v", "in": "header"}], "responses": {}}},
    })  # fmt: skip
    result = parse_openapi(document, "films")
    assert [a.name for a in result.apis] == ["deleteMovie"]
    assert result.apis[0].param("id").json_schema == {"type": "string"}
    skipped = {p.pointer: p.message for p in result.problems if p.skipped}
    assert set(skipped) == {"/paths/~1movie~1{id}/get/parameters/0", "/paths/~1movie~1{id}/put",
                            "/paths/~1clash~1{id}/post", "/paths/~1twice/get"}  # fmt: skip
    assert "parameter name(s) ['v'] used in more than one location" in skipped["/paths/~1twice/get"]
    assert "GET /movie/{id}" in skipped["/paths/~1movie~1{id}/get/parameters/0"]
    assert "'in'" in skipped["/paths/~1movie~1{id}/get/parameters/0"]
    assert "body property 'id' has the name of another parameter" in skipped["/paths/~1clash~1{id}/post"]
    assert skipped["/paths/~1movie~1{id}/put"] == "PUT /movie/{id}: operation is not an object"
    assert json_pointer("paths", "/movie/{id}", "get") == "/paths/~1movie~1{id}/get"


def test_undeclared_path_placeholder_is_added_and_reported() -> None:
    document = doc({"/users/{user}/posts": {"get": {"operationId": "posts", "responses": ok_json({"type": "string"})}}})
    result = parse_openapi(document, "t")
    param = only(result).param("user")
    assert (param.location, param.required, param.type) == ("path", True, "string")
    assert [(p.pointer, p.skipped) for p in result.problems] == [("/paths/~1users~1{user}~1posts/get", False)]


# --------------------------------------------------------------------------------------------------------------------
# Names


def test_names_are_sanitised_unique_and_fall_back_to_method_and_path() -> None:
    responses = ok_json({"type": "string"})
    document = doc({
        "/a": {"get": {"operationId": "get-movie", "responses": responses},
               "post": {"operationId": "get movie", "responses": responses}},
        "/b": {"get": {"operationId": "get_movie", "responses": responses, "tags": ["Movies", "Other"]}},
        "/movies/{movie_id}/credits": {"get": {"responses": responses}},
        "/c": {"get": {"operationId": "1st.op", "responses": responses}},
        "/d": {"get": {"operationId": "x" * 100, "responses": responses}, "put": {"operationId": "x" * 100, "responses": responses}},
    })  # fmt: skip
    apis = parse_openapi(document, "src").apis
    names = [a.name for a in apis]
    assert names[:5] == ["get_movie", "get_movie_2", "get_movie_3", "get_movies_movie_id_credits", "op_1st_op"]
    assert names[5] == "x" * 64 and names[6] == "x" * 62 + "_2"
    assert apis[2].tool == "Movies" and apis[0].tool == "src"
    assert [a.id for a in apis][:2] == ["src.get_movie", "src.get_movie_2"]


# --------------------------------------------------------------------------------------------------------------------
# Whole-document errors and loading


def test_swagger_2_and_non_openapi_documents_raise_spec_error_naming_the_document() -> None:
    with pytest.raises(SpecError, match=r"^petstore.json is a Swagger 2.0 document .*kind: swagger2"):
        parse_openapi({"swagger": "2.0", "paths": {}}, "p", doc_name="petstore.json")
    with pytest.raises(SpecError, match=r"notes.yaml: not an OpenAPI document"):
        parse_openapi({"title": "just some yaml"}, "p", doc_name="notes.yaml")
    with pytest.raises(SpecError, match=r"x.json: OpenAPI version '2.5'"):
        parse_openapi({"openapi": "2.5", "paths": {}}, "p", doc_name="x.json")
    with pytest.raises(SpecError, match=r"list.json: not an OpenAPI document"):
        parse_openapi([1, 2], "p", doc_name="list.json")  # type: ignore[arg-type]
    with pytest.raises(SpecError, match=r"bad.json: 'paths' must be an object"):
        parse_openapi({"openapi": "3.0.0", "paths": []}, "p", doc_name="bad.json")
    with pytest.raises(ValueError, match="source name"):
        parse_openapi(doc({}), "")
    assert parse_openapi({"openapi": "3.1.0", "info": {}}, "p").apis == []  # 3.1: paths are optional


def test_servers_give_the_base_url_with_variables_and_relative_urls() -> None:
    servers = [{"url": "https://{region}.api.test/v{ver}/", "variables": {"region": {"default": "eu"}, "ver": {"default": "2"}}}]
    assert parse_openapi(doc({}, servers=servers), "p").base_url == "https://eu.api.test/v2"
    relative = doc({}, servers=[{"url": "/api/v3"}])
    assert parse_openapi(relative, "p", doc_name="https://host.test/spec/openapi.json").base_url == "https://host.test/api/v3"
    assert parse_openapi(relative, "p", doc_name="openapi.json").base_url is None
    assert parse_openapi(relative, "p", base_url="http://127.0.0.1:1").base_url == "http://127.0.0.1:1"


YAML_SPEC = """\
openapi: 3.0.3
info: {title: yaml api, version: "1"}
paths:
  /days/{day}:
    get:
      operationId: getDay
      parameters:
        - {name: day, in: path, required: true, schema: {type: string, example: 2024-01-31}}
      responses:
        200:
          description: ok
          content:
            application/json:
              schema: {type: object, properties: {date: {type: string}}}
              example: {date: 2024-01-31}
"""


def test_yaml_file_with_integer_status_keys_and_dates(tmp_path: Path) -> None:
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "days.yaml").write_text(YAML_SPEC)
    document, raw = load_spec_document("specs/days.yaml", tmp_path)
    assert raw == YAML_SPEC.encode()
    api = only(parse_openapi(document, "cal"))
    assert api.param("day").json_schema["examples"] == ["2024-01-31"]  # stays a string, not a datetime.date
    assert api.response_examples == ({"date": "2024-01-31"},)
    assert paths_of(api) == {"date": "string"}
    json.dumps(api.model_dump())


def test_load_errors_name_the_document(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"API document missing.json: .*missing.json does not exist"):
        load_spec_document("missing.json", tmp_path)
    (tmp_path / "bad.json").write_text('{"openapi": "3.0.0",\n  "paths": {,}}')
    with pytest.raises(SpecError, match=r"API document bad.json: invalid JSON at line 2, column 13"):
        load_spec_document("bad.json", tmp_path)
    (tmp_path / "bad.yaml").write_text("openapi: 3.0.0\npaths: [unclosed\n")
    with pytest.raises(SpecError, match=r"API document bad.yaml: invalid YAML at line 3"):
        load_spec_document("bad.yaml", tmp_path)
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    with pytest.raises(SpecError, match=r"list.yaml: expected a JSON/YAML object at the top, got list"):
        load_spec_document("list.yaml", tmp_path)
    with pytest.raises(SpecError, match=r"is a directory"):
        load_spec_document(".", tmp_path)
    assert parse_spec_text(b'{"openapi": "3.1.0"}', "no-suffix") == {"openapi": "3.1.0"}
    assert parse_spec_text("openapi: 3.1.0\n", "no-suffix") == {"openapi": "3.1.0"}


def test_documents_are_fetched_over_http_and_failures_name_the_url() -> None:
    app = FastAPI()
    text = json.dumps(doc({"/ping": {"get": {"operationId": "ping", "responses": ok_json({"type": "string"})}}},
                          servers=[{"url": "/v1"}]))  # fmt: skip

    @app.get("/specs/openapi.json")
    def spec() -> PlainTextResponse:
        return PlainTextResponse(text, media_type="application/json")

    with serve_in_thread(app) as base:
        url = f"{base}/specs/openapi.json"
        document, raw = load_spec_document(url, Path("/nonexistent"))
        assert raw == text.encode()
        result = load_openapi_source(document, source="remote", doc_name=url)
        assert [a.id for a in result.apis] == ["remote.ping"]
        assert result.base_url == f"{base}/v1"
        with pytest.raises(SpecError, match=rf"API document {base}/nope.json: the server answered HTTP 404"):
            load_spec_document(f"{base}/nope.json", Path("."))
        with pytest.raises(SpecError, match="larger than the 10-byte limit"):
            load_spec_document(url, Path("."), max_bytes=10)
    dead = f"http://127.0.0.1:{free_port()}/openapi.json"
    with pytest.raises(SpecError, match=rf"API document {dead}: download failed: ConnectError"):
        load_spec_document(dead, Path("."), timeout_s=2)


def test_parsing_does_not_mutate_the_input_document() -> None:
    if not TMDB.is_file():
        pytest.skip(f"shared test data not found at {TMDB}")
    document = json.loads(TMDB.read_text())
    before = copy.deepcopy(document)
    parse_openapi(document, "tmdb")
    assert document == before
