"""Swagger 2.0, ToolBench, JSON-schema function lists and API-Bank -> ApiSpec: handwritten documents in each format,
malformed ones, and the real files under shared/data."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from goat_datasets import jsonpath
from goat_datasets.recipe import parse_recipe
from goat_datasets.registry import source_kinds
from goat_datasets.sources.apibank import load_apibank_source, parse_apibank, python_type_schema
from goat_datasets.sources.functions import load_functions_source, parse_functions
from goat_datasets.sources.loading import ParseResult, SpecError
from goat_datasets.sources.models import ApiSpec
from goat_datasets.sources.swagger2 import load_swagger2_source, parse_swagger2
from goat_datasets.sources.toolbench import load_toolbench_source, parse_toolbench, standardize, toolbench_name

from shared_data import SHARED_DATA  # noqa: E402

TOOLBENCH = SHARED_DATA / "toolbench-examples"
OLATO = TOOLBENCH / "tools_Social_olato_quotes.json"
OLATO_EXAMPLES = TOOLBENCH / "response_examples_Social_olato_quotes.json"
DICE_EXAMPLES = TOOLBENCH / "response_examples_Gaming_dice_roll_simulator.json"
G1_QUERIES = TOOLBENCH / "stabletoolbench_solvable_queries_example_G1_instruction.json"
BOOKING = SHARED_DATA / "booking-orchestration" / "booking_api_functions.jsonl"
APIBANK = SHARED_DATA / "api-bank" / "api_descriptions.derived.json"
APIBANK_LEVEL3 = SHARED_DATA / "api-bank" / "test-data" / "level-3.json"


def shared(path: Path) -> Path:
    if not path.is_file():
        pytest.skip(f"shared test data not found at {path}")
    return path


def by_name(result: ParseResult) -> dict[str, ApiSpec]:
    return {a.name: a for a in result.apis}


def fields_of(api: ApiSpec) -> dict[str, str]:
    return {f.path: f.type for f in api.output_fields}


def params_of(api: ApiSpec) -> list[tuple[str, str, bool]]:
    return [(p.name, p.location, p.required) for p in api.params]


def problems_of(result: ParseResult, skipped: bool) -> dict[str, str]:
    return {p.pointer: p.message for p in result.problems if p.skipped is skipped}


def assert_valid_tool_schemas(apis: list[ApiSpec]) -> None:
    assert apis
    for api in apis:
        tool = api.tool_schema()
        assert tool["function"]["name"] == api.name and len(api.name) <= 64
        jsonschema.Draft202012Validator.check_schema(tool["function"]["parameters"])
        if api.response_schema is not None:
            jsonschema.Draft202012Validator.check_schema(api.response_schema)
        json.dumps(api.model_dump())


# --------------------------------------------------------------------------------------------------------------------
# Swagger 2.0

PET_ID = {"name": "petId", "in": "path", "description": "ID of pet", "required": True, "type": "integer", "format": "int64"}
PETSTORE: dict[str, Any] = {
    "swagger": "2.0",
    "info": {"title": "Swagger Petstore", "version": "1.0.7"},
    "host": "petstore.swagger.io",
    "basePath": "/v2",
    "schemes": ["http", "https"],
    "consumes": ["application/json"],
    "produces": ["application/json"],
    "paths": {
        "/pet": {"post": {
            "tags": ["pet"], "summary": "Add a new pet to the store", "operationId": "addPet",
            "consumes": ["application/json", "application/xml"], "produces": ["application/xml", "application/json"],
            "parameters": [{"in": "body", "name": "body", "description": "Pet object to add", "required": True,
                            "schema": {"$ref": "#/definitions/Pet"}}],
            "responses": {"200": {"description": "successful operation", "schema": {"$ref": "#/definitions/Pet"}},
                          "405": {"description": "Invalid input"}}}},
        "/pet/findByStatus": {"get": {
            "tags": ["pet"], "summary": "Finds Pets by status", "operationId": "findPetsByStatus",
            "parameters": [{"name": "status", "in": "query", "description": "Status values to filter by",
                            "required": True, "type": "array", "collectionFormat": "multi",
                            "items": {"type": "string", "enum": ["available", "pending", "sold"], "default": "available"}}],
            "responses": {"200": {"description": "successful operation",
                                  "schema": {"type": "array", "items": {"$ref": "#/definitions/Pet"}}},
                          "400": {"description": "Invalid status value"}}}},
        "/pet/{petId}": {
            "get": {"tags": ["pet"], "summary": "Find pet by ID", "operationId": "getPetById",
                    "parameters": [PET_ID, {"$ref": "#/parameters/traceId"}],
                    "responses": {"200": {"description": "ok", "schema": {"$ref": "#/definitions/Pet"},
                                          "examples": {"application/json": {"id": 7, "name": "doggie", "photoUrls": []}}},
                                  "404": {"description": "Pet not found"}}},
            "post": {"tags": ["pet"], "summary": "Updates a pet with form data", "operationId": "updatePetWithForm",
                     "consumes": ["application/x-www-form-urlencoded"],
                     "parameters": [PET_ID, {"name": "name", "in": "formData", "type": "string"},
                                    {"name": "status", "in": "formData", "type": "string"}],
                     "responses": {"405": {"description": "Invalid input"}}},
            "delete": {"tags": ["pet"], "operationId": "deletePet",
                       "parameters": [{"name": "api_key", "in": "header", "type": "string"}, PET_ID],
                       "responses": {"400": {"description": "Invalid ID supplied"}}},
        },
        "/pet/{petId}/uploadImage": {"post": {
            "tags": ["pet"], "operationId": "uploadFile", "consumes": ["multipart/form-data"],
            "parameters": [PET_ID, {"name": "file", "in": "formData", "required": True, "type": "file"}],
            "responses": {"200": {"description": "ok", "schema": {"$ref": "#/definitions/ApiResponse"}}}}},
        "/store/inventory": {"get": {
            "tags": ["store"], "operationId": "getInventory",
            "responses": {"200": {"description": "ok", "schema": {"type": "object",
                                                                  "additionalProperties": {"type": "integer"}}}}}},
    },
    "parameters": {"traceId": {"name": "X-Trace-Id", "in": "header", "type": "string", "x-example": "trace-1"}},
    "definitions": {
        "Category": {"type": "object", "properties": {"id": {"type": "integer", "format": "int64"}, "name": {"type": "string"}}},
        "Tag": {"type": "object", "properties": {"id": {"type": "integer", "format": "int64"}, "name": {"type": "string"}}},
        "Pet": {"type": "object", "required": ["name", "photoUrls"], "properties": {
            "id": {"type": "integer", "format": "int64"},
            "category": {"$ref": "#/definitions/Category"},
            "name": {"type": "string", "example": "doggie"},
            "photoUrls": {"type": "array", "items": {"type": "string"}},
            "tags": {"type": "array", "items": {"$ref": "#/definitions/Tag"}},
            "status": {"type": "string", "description": "pet status in the store", "enum": ["available", "pending", "sold"]}}},
        "ApiResponse": {"type": "object", "properties": {"code": {"type": "integer"}, "message": {"type": "string"}}},
    },
}  # fmt: skip
PET_FIELDS = {"id": "integer", "category.id": "integer", "category.name": "string", "name": "string",
              "photoUrls[*]": "string", "tags[*].id": "integer", "tags[*].name": "string", "status": "string"}  # fmt: skip


def test_swagger2_petstore_becomes_api_specs() -> None:
    before = copy.deepcopy(PETSTORE)
    result = parse_swagger2(PETSTORE, "pets", doc_name="petstore.json")
    assert PETSTORE == before  # the input document is not modified
    assert (result.base_url, result.title) == ("https://petstore.swagger.io/v2", "Swagger Petstore")
    apis = by_name(result)
    assert list(apis) == ["addPet", "findPetsByStatus", "getPetById", "updatePetWithForm", "deletePet", "getInventory"]
    assert {a.tool for a in result.apis} == {"pet", "store"}
    assert all(a.id == f"pets.{a.name}" and a.source == "pets" for a in result.apis)

    add = apis["addPet"]  # the $ref body is flattened into body parameters
    assert (add.method, add.path, add.summary) == ("POST", "/pet", "Add a new pet to the store")
    assert params_of(add) == [("id", "body", False), ("category", "body", False), ("name", "body", True),
                              ("photoUrls", "body", True), ("tags", "body", False), ("status", "body", False)]  # fmt: skip
    assert add.param("name").json_schema == {"type": "string", "examples": ["doggie"]}
    assert add.param("status").description == "pet status in the store"
    assert add.param("tags").json_schema["items"]["properties"]["name"] == {"type": "string"}
    assert fields_of(add) == PET_FIELDS

    find = apis["findPetsByStatus"]  # query array parameter; array response of refs
    status = find.param("status")
    assert (status.location, status.required, status.description) == ("query", True, "Status values to filter by")
    assert status.json_schema == {"type": "array", "items": {"type": "string", "enum": ["available", "pending", "sold"],
                                                             "default": "available"}}  # fmt: skip
    assert fields_of(find) == {f"[*].{path}": t for path, t in PET_FIELDS.items()}

    get = apis["getPetById"]  # path parameter; $ref to a top-level header parameter; response example
    assert params_of(get) == [("petId", "path", True), ("X-Trace-Id", "header", False)]
    assert get.param("petId").json_schema == {"type": "integer", "format": "int64"}
    assert get.param("X-Trace-Id").json_schema == {"type": "string", "examples": ["trace-1"]}
    assert get.response_examples == ({"id": 7, "name": "doggie", "photoUrls": []},)
    assert jsonpath.get_first(get.response_examples[0], "name") == "doggie"
    assert params_of(apis["deletePet"]) == [("api_key", "header", False), ("petId", "path", True)]
    assert fields_of(apis["deletePet"]) == {} and apis["deletePet"].response_schema is None
    assert fields_of(apis["getInventory"]) == {"$": "object"}
    assert_valid_tool_schemas(result.apis)


def test_swagger2_form_bodies_follow_the_openapi_rule_with_pointers_to_the_form_parameters() -> None:
    result = parse_swagger2(PETSTORE, "pets", doc_name="petstore.json")
    # an optional form body is left out (the executor sends JSON only), a required one makes the operation unusable
    assert params_of(by_name(result)["updatePetWithForm"]) == [("petId", "path", True)]
    kept = problems_of(result, skipped=False)
    assert list(kept) == ["/paths/~1pet~1{petId}/post/parameters/1"]
    assert "application/x-www-form-urlencoded" in kept["/paths/~1pet~1{petId}/post/parameters/1"]
    skipped = problems_of(result, skipped=True)
    assert list(skipped) == ["/paths/~1pet~1{petId}~1uploadImage/post/parameters/1"]
    assert skipped["/paths/~1pet~1{petId}~1uploadImage/post/parameters/1"].startswith("POST /pet/{petId}/uploadImage: ")
    assert "multipart/form-data" in skipped["/paths/~1pet~1{petId}~1uploadImage/post/parameters/1"]


def test_swagger2_problems_point_into_the_original_document() -> None:
    document = {
        "swagger": "2.0", "info": {"title": "t", "version": "1"}, "paths": {
            # the parameter without 'in' is the second one here, the first one once the body moved out
            "/notes": {"post": {"operationId": "addNote", "parameters": [
                {"in": "body", "name": "note", "schema": {"type": "object"}}, {"name": "lang", "type": "string"}],
                "responses": {"201": {"description": "made"}}}},
            "/owners/{id}": {
                "parameters": [{"name": "id", "in": "path", "required": True, "type": "string"},
                               {"$ref": "#/parameters/NoteBody"}],
                "get": {"operationId": "getOwner", "parameters": [{"name": "id", "in": "path", "required": True, "type": "integer"}],
                        "responses": {"200": {"description": "ok", "schema": {"type": "object", "properties": {
                            "owner": {"$ref": "#/definitions/Missing"}, "name": {"type": "string"}}}}}},
                "put": {"operationId": "getOwner", "parameters": [{"name": "x", "in": "formData", "type": "string"}],
                        "responses": {}},
                "patch": {"operationId": "getOwner", "responses": {"204": {"description": "done"}}},
            },
        },
        "parameters": {"NoteBody": {"in": "body", "name": "body", "required": True,
                                    "schema": {"type": "array", "items": {"type": "string"}}}},
    }  # fmt: skip
    result = parse_swagger2(document, "n", doc_name="notes.yaml")
    skipped = problems_of(result, skipped=True)
    assert set(skipped) == {"/paths/~1notes/post/parameters/1", "/paths/~1owners~1{id}/put"}
    assert "'in'" in skipped["/paths/~1notes/post/parameters/1"]
    assert "both 'in: body' and 'in: formData'" in skipped["/paths/~1owners~1{id}/put"]
    assert problems_of(result, skipped=False) == {
        "/paths/~1owners~1{id}/get/responses/200/schema/properties/owner/$ref":
            "GET /owners/{id}: $ref '#/definitions/Missing' points to nothing in the document; left unresolved"
    }  # fmt: skip
    apis = by_name(result)
    assert list(apis) == ["getOwner", "getOwner_2"]  # duplicate operationIds made unique like OpenAPI's
    owner = apis["getOwner"]  # operation-level path parameter overrides the path-level one; path-level body applies
    assert params_of(owner) == [("id", "path", True), ("body", "body", True)]
    assert owner.param("id").type == "integer"
    assert owner.param("body").json_schema["items"] == {"type": "string"}
    assert fields_of(owner) == {"owner": "any", "name": "string"}
    assert params_of(apis["getOwner_2"]) == [("id", "path", True), ("body", "body", True)]


def test_swagger2_malformed_documents_raise_spec_error_naming_document_and_pointer() -> None:
    with pytest.raises(SpecError, match=r"^api.json#/swagger: not a Swagger 2.0 document .*use kind: openapi"):
        parse_swagger2({"openapi": "3.0.0", "paths": {}}, "p", doc_name="api.json")
    with pytest.raises(SpecError, match=r"^old.json#/swagger: Swagger version '1.2' is not supported"):
        parse_swagger2({"swagger": "1.2", "paths": {}}, "p", doc_name="old.json")
    with pytest.raises(SpecError, match=r"^bad.json#/paths: 'paths' must be an object, got list"):
        parse_swagger2({"swagger": "2.0", "paths": []}, "p", doc_name="bad.json")
    with pytest.raises(SpecError, match=r"^list.json#/: not a Swagger document \(expected an object, got list\)"):
        parse_swagger2([], "p", doc_name="list.json")  # type: ignore[arg-type]
    with pytest.raises(SpecError, match=r"API document broken.json: invalid JSON at line 1"):
        load_swagger2_source('{"swagger": ', source="p", doc_name="broken.json")


def test_swagger2_base_url_yaml_text_and_selection() -> None:
    def base(doc_name: str = "s.json", **fields: Any) -> str | None:
        return parse_swagger2({"swagger": "2.0", "paths": {}, **fields}, "p", doc_name=doc_name).base_url

    assert base(host="api.test", schemes=["http"]) == "http://api.test"
    assert base(host="api.test", basePath="/") == "https://api.test"
    assert base(basePath="/v1", doc_name="http://docs.test:8080/spec/swagger.json") == "http://docs.test:8080/v1"
    assert base(basePath="/v1") is None
    text = yaml.safe_dump(PETSTORE, sort_keys=False).replace("swagger: '2.0'", "swagger: 2.0")
    assert "swagger: 2.0\n" in text  # unquoted: YAML reads a number
    result = load_swagger2_source(text.encode(), source="pets", base_url="http://127.0.0.1:9", doc_name="pets.yaml",
                                  include=["*Pet*"], exclude=["deletePet"])  # fmt: skip
    assert result.base_url == "http://127.0.0.1:9"
    assert [a.name for a in result.apis] == ["addPet", "findPetsByStatus", "getPetById", "updatePetWithForm"]


# --------------------------------------------------------------------------------------------------------------------
# ToolBench

WEATHER_TOOL: dict[str, Any] = {
    "tool_name": "Weather Hub", "tool_description": "Forecasts and observations.", "title": "Weather Hub",
    "host": "weather-hub.p.rapidapi.com", "standardized_name": "weather_hub",
    "api_list": [
        {"name": "Forecast by City", "url": "https://weather-hub.p.rapidapi.com/forecast/{city}", "method": "GET",
         "description": "Daily forecast for a city.",
         "required_parameters": [{"name": "city", "type": "STRING", "description": "City name", "default": "Paris"},
                                 {"name": "days", "type": "NUMBER", "description": "How many days", "default": "3"}],
         "optional_parameters": [{"name": "units", "type": "ENUM", "description": "metric or imperial", "default": "metric"},
                                 {"name": "alerts", "type": "BOOLEAN", "description": "", "default": "true"},
                                 {"name": "start", "type": "DATE (YYYY-MM-DD)", "description": "", "default": "2023-05-01"},
                                 {"name": "days", "type": "NUMBER", "description": "listed twice", "default": ""}],
         "test_endpoint": {"city": "Paris", "days": [{"date": "2023-05-01", "max": 21.5, "rain": False},
                                                     {"date": "2023-05-02", "max": 19, "rain": True, "note": None}]}},
        {"name": "Report", "url": "https://weather-hub.p.rapidapi.com/report", "method": "POST",
         "description": "Send an observation.",
         "required_parameters": [{"name": "station_ids", "type": "ARRAY", "description": "", "default": "[1, 2]"}],
         "optional_parameters": [{"name": "level", "type": "NUMBER", "description": "", "default": "high"},
                                 {"name": "payload", "type": "GEOPOINT (latitude, longitude)", "description": ""},
                                 {"name": "mood", "type": "COLOUR", "description": ""}],
         "test_endpoint": {"message": "You are not subscribed to this API."},
         "schema": {"type": "object", "properties": {"accepted": {"type": "boolean"},
                                                     "ids": {"type": "array", "items": {"type": "integer"}}}}},
        {"name": "forecast by city", "url": "https://weather-hub.p.rapidapi.com/v2/forecast", "method": "GET",
         "required_parameters": [], "optional_parameters": [], "test_endpoint": ""},
        {"name": "Broken", "url": "https://weather-hub.p.rapidapi.com/broken", "method": "GET",
         "required_parameters": [{"type": "STRING", "description": "no name"}], "optional_parameters": []},
        {"name": "Id", "method": "FETCH", "url": "https://weather-hub.p.rapidapi.com/id"},
    ],
}  # fmt: skip


def test_toolbench_tool_document_becomes_api_specs() -> None:
    result = parse_toolbench(WEATHER_TOOL, "weather", doc_name="weather_hub.json")
    assert (result.base_url, result.title) == ("https://weather-hub.p.rapidapi.com", "Weather Hub")
    apis = by_name(result)
    assert list(apis) == ["forecast_by_city_for_weather_hub", "report_for_weather_hub",
                          "forecast_by_city_for_weather_hub_2"]  # fmt: skip
    assert {a.tool for a in result.apis} == {"Weather Hub"}
    forecast = apis["forecast_by_city_for_weather_hub"]
    assert (forecast.id, forecast.method, forecast.path) == ("weather.forecast_by_city_for_weather_hub", "GET",
                                                             "/forecast/{city}")  # fmt: skip
    assert (forecast.summary, forecast.description) == ("Forecast by City", "Daily forecast for a city.")
    assert params_of(forecast) == [("city", "path", True), ("days", "query", True), ("units", "query", False),
                                   ("alerts", "query", False), ("start", "query", False)]  # fmt: skip
    schemas = {p.name: p.json_schema for p in forecast.params}
    assert schemas == {
        "city": {"type": "string", "examples": ["Paris"]},
        "days": {"type": "number", "examples": [3]},  # RapidAPI keeps defaults as text
        "units": {"type": "string", "examples": ["metric"]},
        "alerts": {"type": "boolean", "examples": [True]},
        "start": {"type": "string", "format": "date", "examples": ["2023-05-01"]},
    }
    assert forecast.param("city").description == "City name"
    # no response schema in ToolBench: the recorded test call gives the output fields
    assert fields_of(forecast) == {"city": "string", "days[*].date": "string", "days[*].max": "number",
                                   "days[*].rain": "boolean", "days[*].note": "null"}  # fmt: skip
    assert forecast.response_examples == (WEATHER_TOOL["api_list"][0]["test_endpoint"],)
    for field in forecast.output_fields:
        assert jsonpath.get_all(forecast.response_examples[0], field.path)

    report = apis["report_for_weather_hub"]  # POST: body parameters; RapidAPI's JSON Schema beats the error record
    assert params_of(report) == [("station_ids", "body", True), ("level", "body", False), ("payload", "body", False),
                                 ("mood", "body", False)]  # fmt: skip
    assert report.param("station_ids").json_schema == {"type": "array", "examples": [[1, 2]]}
    assert report.param("level").json_schema == {"type": "number"}
    assert report.param("mood").json_schema == {"type": "string"}
    assert fields_of(report) == {"accepted": "boolean", "ids[*]": "integer"}
    assert report.response_examples == ()  # "You are not subscribed" is not an example of the API's answer
    assert fields_of(apis["forecast_by_city_for_weather_hub_2"]) == {}

    skipped = problems_of(result, skipped=True)
    assert skipped == {"/api_list/3/required_parameters/0": "API 'Broken' of 'Weather Hub': parameter has no 'name'",
                       "/api_list/4/method": "API 'Id' of 'Weather Hub': method 'FETCH' is not an HTTP method"}  # fmt: skip
    kept = problems_of(result, skipped=False)
    assert set(kept) == {"/api_list/0/optional_parameters/3", "/api_list/1/optional_parameters/0/default",
                         "/api_list/1/optional_parameters/2/type"}  # fmt: skip
    assert "listed again" in kept["/api_list/0/optional_parameters/3"]
    assert "'high' is not a number" in kept["/api_list/1/optional_parameters/0/default"]
    assert "unknown parameter type 'COLOUR'" in kept["/api_list/1/optional_parameters/2/type"]
    assert_valid_tool_schemas(result.apis)


def test_toolbench_names_follow_toolbench_convention() -> None:
    assert standardize("Love Quote") == "love_quote"
    assert standardize("  Get -- Channel (v2) ") == "get_channel_v2"
    assert standardize("24h Stats") == "get_24h_stats"
    assert toolbench_name("Love Quote", "Olato Quotes") == "love_quote_for_olato_quotes"
    assert toolbench_name("ID", "Finance") == "is_id_for_finance"
    long = toolbench_name("a" * 40, "Tool With A Rather Long Name")
    assert len(long) == 64 and long.endswith("_for_tool_with_a_rather_long_name")  # ToolBench keeps the end


def test_toolbench_malformed_documents_raise_spec_error_with_pointer() -> None:
    with pytest.raises(SpecError, match=r"^tool.json#/api_list: missing: not a ToolBench tool document"):
        parse_toolbench({"tool_name": "x"}, "t", doc_name="tool.json")
    with pytest.raises(SpecError, match=r"^tool.json#/api_list: 'api_list' must be a list, got dict"):
        parse_toolbench({"tool_name": "x", "api_list": {}}, "t", doc_name="tool.json")
    with pytest.raises(SpecError, match=r"^tool.json#/: not a ToolBench document"):
        parse_toolbench("text", "t", doc_name="tool.json")
    with pytest.raises(SpecError, match=r"API document tools.jsonl: invalid JSON on line 2"):
        load_toolbench_source(b'{"tool_name": "a", "api_list": []}\n{oops}\n', source="t", doc_name="tools.jsonl")
    # in a list of tool documents, a bad one is skipped and the others survive
    result = parse_toolbench([{"tool_name": "x"}, WEATHER_TOOL, ["no"], {"tool_name": "y", "api_list": [7]}], "t")
    assert len(result.apis) == 3
    assert problems_of(result, skipped=True) == {"/0": "not a tool document: no 'api_list' list",
                                                 "/2": "not a tool document: no 'api_list' list",
                                                 "/3/api_list/0": "API is a int, not an object",
                                                 "/1/api_list/3/required_parameters/0":
                                                     "API 'Broken' of 'Weather Hub': parameter has no 'name'",
                                                 "/1/api_list/4/method":
                                                     "API 'Id' of 'Weather Hub': method 'FETCH' is not an HTTP method"}  # fmt: skip


def test_toolbench_real_tool_with_its_response_examples() -> None:
    tool = json.loads(shared(OLATO).read_text())
    examples = json.loads(shared(OLATO_EXAMPLES).read_text())
    result = load_toolbench_source(OLATO.read_bytes(), source="quotes", doc_name=OLATO.name, response_examples=examples)
    assert result.problems == []
    assert (result.base_url, result.title) == ("https://olato-quotes.p.rapidapi.com", "Olato Quotes")
    assert [a.name for a in result.apis] == ["love_quote_for_olato_quotes", "success_quote_for_olato_quotes",
                                             "motivation_quote_for_olato_quotes"]  # fmt: skip
    success = result.apis[1]
    assert (success.tool, success.method, success.path) == ("Olato Quotes", "GET", "/success")
    assert params_of(success) == [("quotes", "query", False)]
    assert success.param("quotes").json_schema == {"type": "string", "examples": ["random quotes"]}
    assert success.response_schema == {"type": "object", "properties": {"quote": {"type": "string"}}}  # the template
    assert all(fields_of(a) == {"quote": "string"} for a in result.apis)  # Love Quote: from its test_endpoint
    assert [len(a.response_examples) for a in result.apis] == [1, 1, 1]
    without = parse_toolbench(tool, "quotes")
    assert [a.id for a in without.apis] == [a.id for a in result.apis]
    assert_valid_tool_schemas(result.apis)

    dice = json.loads(shared(DICE_EXAMPLES).read_text())
    doc = {"tool_name": "Dice Roll Simulator", "api_list": [{"name": n, "method": "GET"} for n in
                                                             ("Regular dice rolls", "Custom dice rolls")]}  # fmt: skip
    rolls = parse_toolbench(doc, "dice", response_examples=dice).apis[0]
    assert fields_of(rolls) == {"result[*].roll": "array", "result[*].subtotal": "integer", "total": "integer"}


def test_toolbench_stabletoolbench_query_file_apis() -> None:
    queries = json.loads(shared(G1_QUERIES).read_text())
    result = load_toolbench_source(queries, source="g1", doc_name=G1_QUERIES.name)
    assert len(result.apis) == 23
    assert {a.tool: sum(b.tool == a.tool for b in result.apis) for a in result.apis} == {
        "TheClique": 10, "Kick.com API | Kick API": 10, "Keyword Analysis": 3}  # fmt: skip
    assert result.base_url is None  # query files carry no URLs
    search = by_name(result)["transfermarkt_search_for_theclique"]
    assert (search.summary, params_of(search)) == ("Transfermarkt search", [("name", "query", True)])
    assert search.param("name").json_schema == {"type": "string", "examples": ["messi"]}
    assert fields_of(search)["Players[*].slug"] == "string"
    assert fields_of(by_name(result)["popularsitesforquery_for_keyword_analysis"]) == {"name": "string",
                                                                                      "score": "number"}  # fmt: skip
    # StableToolBench cuts long templates at 1,000 characters: noted, no fields, the API is kept
    kept = problems_of(result, skipped=False)
    assert "not valid JSON" in kept["/0/api_list/5/template_response"]
    assert fields_of(by_name(result)["get_artist_overview_for_theclique"]) == {}
    assert not problems_of(result, skipped=True)
    assert_valid_tool_schemas(result.apis)


# --------------------------------------------------------------------------------------------------------------------
# JSON-schema function lists

WEATHER_FUNCTION = {
    "name": "get_weather",
    "description": "Current weather for a place.",
    "category": "Weather",
    "parameters": {
        "type": "object",
        "$defs": {"Unit": {"type": "string", "enum": ["c", "f"], "description": "Temperature unit"}},
        "properties": {
            "location": {"type": "string", "description": "City and country", "title": "Location"},
            "unit": {"$ref": "#/$defs/Unit"},
            "days": {"anyOf": [{"type": "integer"}, {"type": "null"}], "default": None},
        },
        "required": ["location"],
    },
    "returns": {"type": "object", "properties": {
        "temperature": {"type": "number", "description": "Degrees"},
        "hourly": {"type": "array", "items": {"type": "object", "properties": {"hour": {"type": "integer"}}}}}},
}  # fmt: skip
BFCL_FUNCTION = {
    "name": "Search_Hotels",
    "description": "Search hotels.",
    "parameters": {"type": "dict", "properties": {
        "dest_id": {"type": "float", "description": "Destination id"},
        "filters": {"type": "dict", "properties": {"stars": {"type": "tuple", "items": {"type": "int"}}}},
        "anything": {"type": "any"}},
        "required": ["dest_id"]},
    "response": {"type": "dict", "properties": {"status": {"type": "boolean"}, "data": {"type": "dict"}}},
}  # fmt: skip


def test_openai_tools_list_becomes_api_specs() -> None:
    tools = [{"type": "function", "function": WEATHER_FUNCTION},
             {"type": "function", "function": {"name": "ping", "description": "Is it up?"}}]  # fmt: skip
    result = load_functions_source(tools, source="assistant", doc_name="tools.json")
    assert result.problems == [] and result.base_url is None
    weather, ping = result.apis
    assert (weather.id, weather.tool, weather.method, weather.path) == ("assistant.get_weather", "Weather", "POST", "")
    assert ping.tool == "assistant"  # no tool/category field: the recipe's source name
    assert params_of(weather) == [("location", "body", True), ("unit", "body", False), ("days", "body", False)]
    assert weather.param("location").json_schema == {"type": "string"}
    assert weather.param("location").description == "City and country"
    assert weather.param("unit").json_schema == {"type": "string", "enum": ["c", "f"]}  # $defs ref inlined
    assert weather.param("unit").description == "Temperature unit"
    assert weather.param("days").json_schema == {"type": ["integer", "null"], "default": None}
    assert fields_of(weather) == {"temperature": "number", "hourly[*].hour": "integer"}
    assert weather.output_fields[0].description == "Degrees"
    assert params_of(ping) == [] and fields_of(ping) == {}
    tool = weather.tool_schema()["function"]
    assert tool["name"] == "get_weather" and tool["parameters"]["required"] == ["location"]
    assert_valid_tool_schemas(result.apis)


def test_bare_function_lists_wrappers_and_json_lines() -> None:
    bare = parse_functions([BFCL_FUNCTION], "booking")
    (hotels,) = bare.apis
    assert hotels.name == "Search_Hotels" and bare.problems == []
    assert hotels.param("dest_id").json_schema == {"type": "number"}  # BFCL type names made standard
    assert hotels.param("filters").json_schema == {"type": "object", "properties": {
        "stars": {"type": "array", "items": {"type": "integer"}}}}  # fmt: skip
    assert hotels.param("anything").json_schema == {}
    assert fields_of(hotels) == {"status": "boolean", "data": "object"}
    wrapped = parse_functions({"functions": [BFCL_FUNCTION]}, "booking")
    assert [a.model_dump() for a in wrapped.apis] == [a.model_dump() for a in bare.apis]
    # JSON Lines: one function or one OpenAI tool per line; the same function repeated is one function,
    # a different function with the same name is renamed like a duplicate operationId
    renamed = {**BFCL_FUNCTION, "description": "Another search."}
    lines = [json.dumps(BFCL_FUNCTION), "", json.dumps({"type": "function", "function": WEATHER_FUNCTION}),
             json.dumps(BFCL_FUNCTION), json.dumps(renamed)]  # fmt: skip
    result = load_functions_source("\n".join(lines).encode(), source="mix", doc_name="functions.jsonl",
                                   exclude=["get_*"])  # fmt: skip
    assert [a.name for a in result.apis] == ["Search_Hotels", "Search_Hotels_2"]
    assert result.apis[1].description == "Another search."
    unnamed = load_functions_source("\n".join(lines[:1] * 2 + lines[2:3]), source="mix", doc_name="f")  # sniffed
    assert [a.name for a in unnamed.apis] == ["Search_Hotels", "get_weather"]


def test_bad_functions_are_skipped_and_malformed_lists_raise_spec_error() -> None:
    functions = [
        {"name": "ok", "parameters": {"type": "object", "properties": {"q": {"type": "str"}}, "required": ["q", "x"]}},
        {"name": "flat", "parameters": {"type": "string"}},
        {"name": "listy", "parameters": ["q"]},
        {"description": "no name"},
        {"type": "code_interpreter"},
        {"name": "odd", "parameters": {"type": "object", "properties": {"v": {"type": "decimalish"}}}},
        42,
    ]
    result = parse_functions({"tools": functions}, "f", doc_name="f.json")
    assert [a.name for a in result.apis] == ["ok", "odd"]
    assert problems_of(result, skipped=True) == {
        "/tools/1/parameters": "function 'flat': parameters must be an object schema, got type 'string'",
        "/tools/2/parameters": "function 'listy': 'parameters' must be a JSON Schema object",
        "/tools/3": "function has no usable 'name' (got None)",
        "/tools/4": "tool of type 'code_interpreter' is not a function",
        "/tools/6": "expected a function object, got int",
    }
    assert problems_of(result, skipped=False) == {
        "/tools/0/parameters/required": "function 'ok': required name(s) ['x'] are not declared properties; ignored",
        "/tools/5/parameters/properties/v/type": "function 'odd': unknown type name(s) ['decimalish']; left out of "
                                                 "the schema",
    }  # fmt: skip
    assert by_name(result)["odd"].param("v").json_schema == {}
    with pytest.raises(SpecError, match=r"^f.json#/: not a function list: .*got an object with keys \['openapi'\]"):
        parse_functions({"openapi": "3.0.0"}, "f", doc_name="f.json")
    with pytest.raises(SpecError, match=r"^f.json#/: not a function list: .*got str"):
        parse_functions("get_weather", "f", doc_name="f.json")
    with pytest.raises(SpecError, match=r"API document f.jsonl: invalid JSON on line 3, column 1"):
        load_functions_source('{"name": "a"}\n\n]\n', source="f", doc_name="f.jsonl")
    with pytest.raises(SpecError, match=r"API document f.json: invalid JSON at line 1"):
        load_functions_source('[{"name": "a"}', source="f", doc_name="f.json")
    with pytest.raises(ValueError, match="non-empty source name"):
        parse_functions([], "")


def test_booking_function_schemas_from_the_orchestration_paper() -> None:
    result = load_functions_source(shared(BOOKING).read_bytes(), source="booking", doc_name=BOOKING.name)
    assert len(result.apis) == 40 and result.problems == []
    assert all(a.tool == "booking" and a.id == f"booking.{a.name}" for a in result.apis)
    hotels = by_name(result)["Search_Hotels"]
    dest_id = hotels.param("dest_id")
    assert (dest_id.location, dest_id.required, dest_id.json_schema) == ("body", True, {"type": "number"})
    assert "searchDestination" in dest_id.description
    assert fields_of(hotels) == {"status": "boolean", "message": "string", "data": "object"}
    assert {p.type for a in result.apis for p in a.params} == {"string", "number", "array"}
    assert_valid_tool_schemas(result.apis)


# --------------------------------------------------------------------------------------------------------------------
# API-Bank

APIBANK_RECORDS: list[Any] = [
    {"name": "AddAgenda", "description": "Add an agenda item.", "database_name": "Agenda",
     "input_parameters": {"token": {"type": "str", "description": "User's token."},
                          "content": {"type": "str", "description": "The content of the agenda."},
                          "time": {"type": "str", "description": "Format: %Y-%m-%d %H:%M:%S"}},
     "output_parameters": {"status": {"type": "str", "description": "success or failed"}}},
    {"name": "Translate", "description": "Translate the text.",
     "input_parameters": {"src": {"type": "str", "description": "The text to be translated."},
                          "tgt_lang": {"type": "str", "description": "[Optional] The target language."},
                          "attendees": {"type": "list(str)", "description": "Who reads it."}},
     "output_parameters": {"translated_text": {"type": "str", "description": "The translated text."},
                           "matches": {"type": "Union[List[dict], dict]", "description": "Alternatives."},
                           "score": {"type": "Fraction", "description": "How sure."}}},
    {"name": "Broken", "description": "x", "input_parameters": ["token"], "output_parameters": {}},
    {"description": "no name", "input_parameters": {}, "output_parameters": {}},
    {"name": "AddAgenda", "description": "again", "input_parameters": {}, "output_parameters": {},
     "database_name": "Agenda"},
]  # fmt: skip


def test_apibank_descriptions_become_api_specs() -> None:
    result = parse_apibank(APIBANK_RECORDS, "bank", doc_name="apis.json")
    apis = by_name(result)
    assert list(apis) == ["AddAgenda", "Translate", "AddAgenda_2"]
    add = apis["AddAgenda"]
    assert (add.id, add.tool, add.description) == ("bank.AddAgenda", "Agenda", "Add an agenda item.")
    assert params_of(add) == [("token", "body", True), ("content", "body", True), ("time", "body", True)]
    assert add.param("time").json_schema == {"type": "string"}
    assert add.param("time").description == "Format: %Y-%m-%d %H:%M:%S"
    assert fields_of(add) == {"status": "string"} and add.output_fields[0].description == "success or failed"
    translate = apis["Translate"]
    assert translate.tool == "Translate"  # no database: its own tool
    assert params_of(translate) == [("src", "body", True), ("tgt_lang", "body", False), ("attendees", "body", True)]
    assert translate.param("attendees").json_schema == {"type": "array", "items": {"type": "string"}}
    assert fields_of(translate) == {"translated_text": "string", "matches[*]": "object", "matches": "object",
                                    "score": "any"}  # fmt: skip
    assert apis["AddAgenda_2"].tool == "Agenda"
    assert problems_of(result, skipped=True) == {
        "/2/input_parameters": "API 'Broken': 'input_parameters' must be an object of parameters",
        "/3": "API description has no usable 'name' (got None)",
    }
    assert problems_of(result, skipped=False) == {
        "/1/output_parameters/score/type": "API 'Translate': type 'Fraction' is not a Python type name; treated as "
                                           "any value"}  # fmt: skip
    assert_valid_tool_schemas(result.apis)
    assert python_type_schema("Optional[Dict[str, int]]") == {
        "anyOf": [{"type": "object", "additionalProperties": {"type": "integer"}}, {"type": "null"}]}  # fmt: skip
    assert python_type_schema("List[") is None and python_type_schema("str]") is None
    with pytest.raises(SpecError, match=r"^apis.json#/: not API-Bank API descriptions .*got an object without 'name'"):
        parse_apibank({"apis": []}, "bank", doc_name="apis.json")
    with pytest.raises(SpecError, match=r"API document apis.json: invalid JSON at line 1"):
        load_apibank_source(b"[{", source="bank", doc_name="apis.json")


def test_apibank_real_descriptions() -> None:
    result = load_apibank_source(shared(APIBANK).read_bytes(), source="apibank", doc_name=APIBANK.name)
    assert len(result.apis) == 71 and result.problems == []
    tools = {a.tool for a in result.apis}
    assert len(tools) == 47 and {"Agenda", "Account", "ToolSearcher"} <= tools
    add = by_name(result)["AddAgenda"]
    assert add.tool == "Agenda"
    assert params_of(add) == [(n, "body", True) for n in ("token", "content", "time", "location")]
    assert fields_of(add) == {"status": "string"}
    forgot = by_name(result)["ForgotPassword"]  # "Only needed for the first/second call"
    assert [p.name for p in forgot.params if p.required] == ["status"]
    assert [p.name for p in by_name(result)["Translate"].params if not p.required] == ["src_lang", "tgt_lang"]
    attendees = by_name(result)["AddMeeting"].param("attendees")
    assert attendees.json_schema == {"type": "array", "items": {"type": "string"}}
    assert_valid_tool_schemas(result.apis)
    some = load_apibank_source(json.loads(APIBANK.read_text()), source="apibank", include=["Add*"], exclude=["*Meeting"])
    assert [a.name for a in some.apis] == [a.name for a in result.apis if a.name.startswith("Add") and
                                           not a.name.endswith("Meeting")] and len(some.apis) >= 4  # fmt: skip
    # the output fields are the keys of the outputs the benchmark recorded
    tasks = json.loads(shared(APIBANK_LEVEL3).read_text())
    weather = by_name(result)["GetWeatherForCoordinates"]
    calls = [c for t in tasks for c in t["apis"] if c["api_name"] == weather.name]
    assert calls and all(jsonpath.get_all(c["output"]["output"], f.path) for c in calls for f in weather.output_fields)


# --------------------------------------------------------------------------------------------------------------------
# Registration


@pytest.mark.parametrize(
    ("kind", "loader"),
    [("swagger2", load_swagger2_source), ("toolbench", load_toolbench_source), ("functions", load_functions_source),
     ("apibank", load_apibank_source)],
)  # fmt: skip
def test_kinds_are_registered_and_accepted_by_recipes(kind: str, loader: Any) -> None:
    assert source_kinds.get(kind) is loader
    text = "name: films\nversion: 1.0.0\nhub: {repo_id: org/films}\nsources:\n"
    recipe = parse_recipe(text + f"  - {{name: src, kind: {kind}, spec: x.json}}\n")
    assert recipe.sources[0].kind == kind
