"""HttpExecutor against a real FastAPI app on 127.0.0.1: encoding, allow-list, failures as values, concurrency."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterator
from urllib.parse import quote

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response

from goat_datasets.execution.http import HttpExecutor, encode_path_value, host_allowed
from goat_datasets.registry import executors
from goat_datasets.servers import free_port, serve_in_thread
from goat_datasets.sources.models import ApiSpec, Param
from goat_datasets.sources.openapi import WHOLE_BODY_KEY, parse_openapi


def make_app(hits: list[str]) -> FastAPI:
    app = FastAPI()

    @app.middleware("http")
    async def count(request: Request, call_next: Any) -> Any:
        hits.append(request.scope["raw_path"].decode("latin-1"))
        return await call_next(request)

    @app.api_route("/raw/{rest:path}", methods=["GET", "POST", "PUT", "DELETE"])
    async def raw(request: Request, rest: str) -> dict[str, Any]:
        body = await request.body()
        return {
            "method": request.method,
            "raw_path": request.scope["raw_path"].decode("latin-1"),
            "rest": rest,
            "query": [list(kv) for kv in request.query_params.multi_items()],
            "x_trace": request.headers.get("x-trace"),
            "x_token": request.headers.get("x-token"),
            "content_type": request.headers.get("content-type"),
            "json": (await request.json()) if body else None,
        }

    @app.get("/items/{item_id}")
    def item(item_id: int) -> dict[str, int]:
        return {"item_id": item_id}

    @app.get("/sleep")
    async def sleep() -> dict[str, bool]:
        await asyncio.sleep(1.5)
        return {"slept": True}

    @app.get("/text")
    def text() -> PlainTextResponse:
        return PlainTextResponse("plain hello")

    @app.get("/big")
    def big() -> PlainTextResponse:
        return PlainTextResponse("x" * 5000)

    @app.delete("/empty")
    def empty() -> Response:
        return Response(status_code=204)

    @app.get("/fail")
    def fail() -> PlainTextResponse:
        return PlainTextResponse("upstream exploded", status_code=503)

    @app.get("/redirect-same")
    def redirect_same() -> RedirectResponse:
        return RedirectResponse("/raw/after-redirect?from=same", status_code=307)

    @app.get("/redirect-away")
    def redirect_away(request: Request) -> RedirectResponse:
        return RedirectResponse(f"http://localhost:{request.url.port}/raw/escaped", status_code=307)

    @app.post("/redirect-see-other")
    def see_other() -> RedirectResponse:
        return RedirectResponse("/raw/seen", status_code=303)

    return app


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, list[str]]]:
    hits: list[str] = []
    with serve_in_thread(make_app(hits), health_path="/raw/health") as base_url:
        yield base_url, hits


@pytest.fixture
def base_url(server: tuple[str, list[str]]) -> str:
    return server[0]


@pytest.fixture
def hits(server: tuple[str, list[str]]) -> list[str]:
    server[1].clear()
    return server[1]


@pytest.fixture
def executor(base_url: str) -> Iterator[HttpExecutor]:
    with HttpExecutor(base_url, timeout_s=5.0) as ex:
        yield ex


def api(path: str, *params: Param, method: str = "GET") -> ApiSpec:
    return ApiSpec(id=f"test.{method.lower()}{path}", source="test", tool="test", name="op", method=method, path=path,
                   params=params)  # fmt: skip


def p(name: str, location: str, required: bool = False, **schema: Any) -> Param:
    return Param(name=name, location=location, required=required, schema=schema)  # type: ignore[arg-type]


RAW = api("/raw/{value}", p("value", "path", True))


@pytest.mark.parametrize(
    "value", ["a/b ../x", "..", ".", "café ☕/ü", "100%", "?x=1&y=#z", "plain-id_1.2~3", 42]
)
def test_path_values_are_percent_encoded_and_cannot_change_the_path(executor: HttpExecutor, value: Any) -> None:
    result = executor.call(RAW, {"value": value})
    assert result.ok, result.error
    assert result.provenance == "real" and result.status_code == 200
    expected = quote(str(value), safe="")
    if expected in (".", ".."):
        expected = expected.replace(".", "%2E")
    assert result.response["raw_path"] == f"/raw/{expected}"  # exactly one segment, as sent
    assert result.response["rest"] == str(value)  # and the server decodes it back to the value
    assert result.url == f"{executor.base_url}/raw/{expected}"
    assert result.elapsed_s > 0


def test_encode_path_value_spelling() -> None:
    assert encode_path_value("a/b ../x") == "a%2Fb%20..%2Fx"
    assert encode_path_value("..") == "%2E%2E"
    assert encode_path_value(True) == "true"
    assert encode_path_value([1, "a/b"]) == "1%2Ca%2Fb"


def test_query_header_and_body_params(executor: HttpExecutor) -> None:
    spec = api(
        "/raw/{kind}/items",
        p("kind", "path", True),
        p("tags", "query", type="array"),
        p("exact", "query", type="boolean"),
        p("page", "query", type="integer"),
        p("skip_me", "query"),
        p("X-Trace", "header"),
        p("name", "body", True),
        p("body", "body"),  # a real body property called "body"
        p("meta", "body", type="object"),
        method="POST",
    )
    args = {"kind": "books", "tags": ["a b", "c&d"], "exact": False, "page": 2, "skip_me": None, "X-Trace": "t-1",
            "name": "Ada", "body": "text", "meta": {"n": 1}}  # fmt: skip
    result = executor.call(spec, args)
    assert result.ok, result.error
    r = result.response
    assert r["method"] == "POST" and r["raw_path"] == "/raw/books/items"
    assert r["query"] == [["tags", "a b"], ["tags", "c&d"], ["exact", "false"], ["page", "2"]]
    assert r["x_trace"] == "t-1"
    assert r["content_type"] == "application/json"
    assert r["json"] == {"name": "Ada", "body": "text", "meta": {"n": 1}}
    assert result.arguments == args


def test_whole_body_param_is_sent_as_the_body_itself(executor: HttpExecutor) -> None:
    spec = api("/raw/tags", p("body", "body", True, type="array", **{WHOLE_BODY_KEY: True}), method="PUT")
    result = executor.call(spec, {"body": ["x", "y"]})
    assert result.ok and result.response["json"] == ["x", "y"]


def test_missing_and_unknown_params_fail_without_a_request(executor: HttpExecutor, hits: list[str]) -> None:
    spec = api("/raw/{id}", p("id", "path", True), p("q", "query", True), p("opt", "query"))
    missing = executor.call(spec, {"id": "1", "q": None})
    assert not missing.ok and missing.provenance == "error"
    assert missing.error == "missing required parameter(s) 'q' (query) for test.get/raw/{id}"
    unknown = executor.call(spec, {"id": "1", "q": "x", "oops": 1})
    assert not unknown.ok and "unknown parameter(s) 'oops'" in unknown.error
    not_a_dict = executor.call(spec, ["id"])  # type: ignore[arg-type]
    assert not not_a_dict.ok and "arguments must be an object" in not_a_dict.error
    assert hits == []


def test_host_allow_list_rejects_without_a_request(base_url: str, hits: list[str]) -> None:
    with HttpExecutor(base_url, allowed_hosts=["api.example.com", "*.example.org"]) as ex:
        result = ex.call(RAW, {"value": "x"})
    assert not result.ok and result.provenance == "error"
    assert result.error.startswith("host not allowed: '127.0.0.1'")
    assert result.status_code is None
    assert hits == []


def test_host_patterns() -> None:
    patterns = ("api.example.com", "*.example.org", "::1")
    assert host_allowed("API.example.com", patterns)
    assert host_allowed("a.b.example.org", patterns)
    assert not host_allowed("example.org", patterns)
    assert not host_allowed("evilexample.org", patterns)
    assert not host_allowed("api.example.com.evil.net", patterns)
    assert host_allowed("[::1]", patterns)


def test_redirects_are_followed_only_to_allowed_hosts(executor: HttpExecutor, hits: list[str]) -> None:
    same = executor.call(api("/redirect-same"), {})
    assert same.ok and same.response["raw_path"] == "/raw/after-redirect"
    assert same.response["query"] == [["from", "same"]]
    assert same.url.endswith("/raw/after-redirect?from=same")
    away = executor.call(api("/redirect-away"), {})
    assert not away.ok and away.status_code == 307
    assert away.error.startswith("host not allowed: redirect to 'http://localhost:")
    assert "/raw/escaped" not in hits
    see_other = executor.call(api("/redirect-see-other", p("x", "body"), method="POST"), {"x": 1})
    assert see_other.ok and see_other.response["method"] == "GET" and see_other.response["json"] is None


def test_timeout_is_a_value(base_url: str) -> None:
    with HttpExecutor(base_url, timeout_s=0.2) as ex:
        result = ex.call(api("/sleep"), {})
    assert not result.ok and result.provenance == "error"
    assert result.error == "timeout: no complete answer within 0.2s"
    assert 0.15 < result.elapsed_s < 1.2


def test_connection_refused_is_a_value() -> None:
    with HttpExecutor(f"http://127.0.0.1:{free_port()}", timeout_s=2) as ex:
        result = ex.call(RAW, {"value": "x"})
    assert not result.ok and result.provenance == "error"
    assert result.error.startswith("connection failed:")
    assert result.status_code is None


def test_http_error_statuses_keep_code_and_body(executor: HttpExecutor) -> None:
    not_found = executor.call(api("/nowhere"), {})
    assert (not_found.ok, not_found.status_code, not_found.response) == (False, 404, {"detail": "Not Found"})
    assert not_found.error == 'HTTP 404 Not Found: {"detail": "Not Found"}'
    invalid = executor.call(api("/items/{item_id}", p("item_id", "path", True)), {"item_id": "abc"})
    assert not invalid.ok and invalid.status_code == 422 and invalid.provenance == "error"
    assert invalid.response["detail"][0]["loc"] == ["path", "item_id"]
    assert invalid.error.startswith("HTTP 422 Unprocessable")
    unavailable = executor.call(api("/fail"), {})
    assert (unavailable.status_code, unavailable.response) == (503, "upstream exploded")
    assert unavailable.error == "HTTP 503 Service Unavailable: upstream exploded"


def test_text_empty_and_oversized_responses(base_url: str, executor: HttpExecutor) -> None:
    text = executor.call(api("/text"), {})
    assert text.ok and text.response == "plain hello"
    empty = executor.call(api("/empty", method="DELETE"), {})
    assert empty.ok and empty.status_code == 204 and empty.response is None
    ok_item = executor.call(api("/items/{item_id}", p("item_id", "path", True)), {"item_id": 7})
    assert ok_item.ok and ok_item.response == {"item_id": 7}
    with HttpExecutor(base_url, max_response_bytes=1000) as small:
        big = small.call(api("/big"), {})
    assert not big.ok and big.error == "response larger than 1000 bytes; not kept" and big.status_code == 200


def test_concurrent_calls_share_one_client(executor: HttpExecutor) -> None:
    values = [f"v{i}/{i}" for i in range(40)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda v: executor.call(RAW, {"value": v}), values))
    assert all(r.ok for r in results)
    assert [r.response["rest"] for r in results] == values


def test_registry_factory_and_default_headers(base_url: str) -> None:
    factory = executors.get("http")
    ex = factory(base_url=base_url, allowed_hosts=[], timeout_s=3.0, headers={"X-Token": "secret"})
    try:
        result = ex.call(RAW, {"value": "h"})
        assert result.ok and result.response["x_token"] == "secret"
    finally:
        ex.close()
    closed = ex.call(RAW, {"value": "h"})
    assert not closed.ok and closed.error == "executor is closed"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"base_url": ""}, "needs an http"),
        ({"base_url": "ftp://x"}, "needs an http"),
        ({"base_url": "http://h?x=1"}, "query or fragment"),
        ({"base_url": "http://h", "timeout_s": 0}, "timeout_s must be positive"),
    ],
)
def test_bad_configuration_is_a_clear_error(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        HttpExecutor(**kwargs)


def test_base_url_path_prefix_is_kept(base_url: str) -> None:
    with HttpExecutor(f"{base_url}/raw/v3/") as ex:
        result = ex.call(api("/movie/{id}", p("id", "path", True)), {"id": 5})
    assert result.ok and result.response["raw_path"] == "/raw/v3/movie/5"


def test_parsed_demo_api_operations_chain_over_http() -> None:
    """The parser's output drives real calls: FastAPI's own 3.1 document, ids flowing from one call to the next."""
    from goat_datasets.demo_api import create_app

    app = create_app()
    apis = {a.name: a for a in parse_openapi(app.openapi(), "demo").apis}
    with serve_in_thread(app, health_path="/health") as url, HttpExecutor(url) as ex:
        found = ex.call(apis["search_movies"], {"query": "the", "limit": 3})
        assert found.ok, found.error
        movie_id = found.response["results"][0]["movie_id"]
        credits = ex.call(apis["get_movie_credits"], {"movie_id": movie_id})
        assert credits.ok, credits.error
        review = ex.call(apis["post_review"], {"movie_id": movie_id, "username": "tester_1", "rating": 7,
                                               "headline": "Fine", "body": "Quite fine."})  # fmt: skip
        assert review.ok, review.error
        assert review.response["body"] == "Quite fine." and review.response["movie_id"] == movie_id
        bad = ex.call(apis["post_review"], {"movie_id": movie_id, "username": "x", "rating": 70, "headline": "h",
                                            "body": "b"})  # fmt: skip
        assert not bad.ok and bad.status_code == 422
