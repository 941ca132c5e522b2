"""The bundled demo API over real HTTP on 127.0.0.1: determinism, id chains across tools, errors, OpenAPI quality."""

from __future__ import annotations

import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterator

import httpx
import pytest

from goat_datasets.demo_api import create_app, serve
from goat_datasets.demo_api.db import DemoDatabase
from goat_datasets.demo_api.world import build_world
from goat_datasets.servers import free_port, serve_in_thread, wait_until_up

SNAKE_CASE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    """A fresh app per test, so bookings and reviews made by one test never leak into another."""
    with serve_in_thread(create_app(), health_path="/health") as base_url:
        with httpx.Client(base_url=base_url, timeout=10) as http:
            yield http


def ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, f"{response.request.method} {response.request.url}: {response.text}"
    return response.json()


def detail(response: httpx.Response, status: int) -> Any:
    assert response.status_code == status, f"{response.request.url}: {response.status_code} {response.text}"
    return response.json()["detail"]


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method, path, op) for path, item in document["paths"].items()
            for method, op in item.items() if method in METHODS]


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def property_names(document: dict[str, Any], schema: dict[str, Any], seen: set[str] | None = None) -> set[str]:
    """Every property name anywhere in a (possibly nested, $ref'd) response schema."""
    seen = seen if seen is not None else set()
    ref = schema.get("$ref")
    if ref:
        if ref in seen:
            return set()
        seen.add(ref)
    schema = resolve(document, schema)
    names: set[str] = set()
    for sub in schema.get("anyOf", []):
        names |= property_names(document, sub, seen)
    if "items" in schema:
        names |= property_names(document, schema["items"], seen)
    for name, prop in schema.get("properties", {}).items():
        names.add(name)
        names |= property_names(document, prop, seen)
    return names


def success_schema(op: dict[str, Any]) -> dict[str, Any]:
    return op["responses"]["200"]["content"]["application/json"]["schema"]


def test_world_builds_and_is_referentially_consistent() -> None:
    world = build_world(0)
    DemoDatabase(world).close()

    movies = {m.movie_id for m in world.movies}
    people = {p.person_id for p in world.people}
    cities = {c.city for c in world.cities}
    assert len(movies) == 60 and len(people) == 100 and len(cities) == 8 and len(world.cinemas) == 16
    assert len({m.title for m in world.movies}) == len(movies), "titles must be unique"
    assert {c.movie_id for c in world.credits} == movies and {c.person_id for c in world.credits} == people
    assert {c.city for c in world.cinemas} == cities
    assert all(s.movie_id in movies and 0 <= s.seats_left <= s.capacity for s in world.showtimes)
    assert any(s.seats_left == 0 for s in world.showtimes), "some screenings must be sold out (409 cases)"
    assert {r.movie_id for r in world.reviews} == movies
    assert build_world(0) == world and build_world(1) != world


def test_same_seed_gives_byte_identical_responses_and_another_seed_differs() -> None:
    def transcript(seed: int) -> list[bytes]:
        app = create_app(seed)
        with serve_in_thread(app, health_path="/health") as base_url, httpx.Client(base_url=base_url) as http:
            showtime = next(s for s in ok(http.get("/showtimes", params={"cinema_id": "c001"}))["results"]
                            if s["seats_left"] >= 2)
            requests = [
                http.get("/openapi.json"),
                http.get("/movies/search", params={"query": "the"}),
                http.get("/movies/m0001/credits"),
                http.get("/people/p0030/movies"),
                http.get("/cities"),
                http.get("/showtimes", params={"cinema_id": "c003", "date": "2025-06-04"}),
                http.get("/movies/m0005/reviews", params={"sort": "most_helpful"}),
                http.post("/bookings", json={"showtime_id": showtime["showtime_id"], "seats": 2,
                                             "customer_name": "Ada"}),
                http.get("/bookings/b0001"),
                http.post("/movies/m0002/reviews", json={"username": "tester_1", "rating": 7, "headline": "Fine",
                                                         "body": "Enjoyed it."}),
                http.get("/weather/weekly", params={"city": ok(http.get("/cities"))["results"][0]["city"]}),
            ]
            return [r.content for r in requests]

    first, again, other = transcript(0), transcript(0), transcript(1)
    assert first == again
    assert first[1] != other[1] and first[4] != other[4], "the seed must change the generated world"


def test_chain_across_tools_passes_ids_from_response_to_request(client: httpx.Client) -> None:
    # cinemas tool: city -> cinema_id -> showtime_id
    city = ok(client.get("/cities"))["results"][0]["city"]
    cinema_id = ok(client.get("/cinemas/search", params={"city": city.upper()}))["results"][0]["cinema_id"]
    showtimes = ok(client.get("/showtimes", params={"cinema_id": cinema_id}))["results"]
    assert showtimes and all(s["cinema_id"] == cinema_id and s["city"] == city for s in showtimes)
    showtime = next(s for s in showtimes if s["seats_left"] >= 3)

    # movies tool: the screened movie_id -> cast person_id -> that person's filmography contains the movie
    credits = ok(client.get(f"/movies/{showtime['movie_id']}/credits"))
    assert credits["title"] == showtime["movie_title"]
    lead = credits["cast"][0]["person_id"]
    filmography = ok(client.get(f"/people/{lead}/movies"))
    assert showtime["movie_id"] in [m["movie_id"] for m in filmography["results"]]

    # back in cinemas: showtime_id -> booking_id -> get_booking, with seats taken and released again
    booking = ok(client.post("/bookings", json={"showtime_id": showtime["showtime_id"], "seats": 2,
                                                "customer_name": "Ada Lindqvist"}))
    assert booking["status"] == "confirmed" and booking["movie_id"] == showtime["movie_id"]
    assert booking["total_price"] == pytest.approx(2 * showtime["price"])
    assert ok(client.get(f"/bookings/{booking['booking_id']}")) == booking
    after = ok(client.get(f"/showtimes/{showtime['showtime_id']}"))
    assert after["seats_left"] == showtime["seats_left"] - 2
    assert ok(client.delete(f"/bookings/{booking['booking_id']}"))["status"] == "cancelled"
    assert ok(client.get(f"/showtimes/{showtime['showtime_id']}"))["seats_left"] == showtime["seats_left"]

    # weather tool: the cinema's city -> forecast
    cinema = ok(client.get(f"/cinemas/{cinema_id}"))
    forecast = ok(client.get("/weather/forecast", params={"city": cinema["city"], "date": showtime["date"]}))
    assert forecast["city"] == city and forecast["date"] == showtime["date"]

    # reviews tool: a reviewer's username -> their other reviews point back into the movies tool
    review = ok(client.get(f"/movies/{showtime['movie_id']}/reviews"))["results"][0]
    mine = ok(client.get(f"/users/{review['username']}/reviews"))["results"]
    assert review["review_id"] in [r["review_id"] for r in mine]
    assert ok(client.get(f"/movies/{mine[-1]['movie_id']}"))["movie_id"] == mine[-1]["movie_id"]


def test_searches_filter_and_return_empty_lists_when_nothing_matches(client: httpx.Client) -> None:
    movie = ok(client.get("/movies/m0001"))
    word = max(movie["title"].split(), key=len)
    found = ok(client.get("/movies/search", params={"query": word.lower()}))
    assert movie["movie_id"] in [m["movie_id"] for m in found["results"]]
    assert all(word.lower() in m["title"].lower() for m in found["results"])
    assert found["total"] == len(found["results"])
    assert ok(client.get("/movies/search", params={"query": "qwertyuiop"})) == {"results": [], "total": 0}
    assert ok(client.get("/cinemas/search", params={"city": "Atlantis"})) == {"results": [], "total": 0}

    page = ok(client.get("/movies/discover", params={"genre": "Drama", "limit": 2, "offset": 1}))
    assert len(page["results"]) == 2 and page["total"] > 2
    assert all("Drama" in m["genres"] for m in page["results"])
    ratings = [m["rating"] for m in ok(client.get("/movies/discover", params={"genre": "Drama"}))["results"]]
    assert ratings == sorted(ratings, reverse=True)
    showing = ok(client.get("/movies/discover", params={"genre": "Drama", "now_showing": "true"}))["results"]
    assert showing and all(m["now_showing"] for m in showing)
    directors = ok(client.get("/people/search", params={"query": "a", "known_for": "directing", "limit": 50}))
    assert directors["total"] == len(directors["results"]) > 0
    assert all(p["known_for"] == "directing" for p in directors["results"])


def test_unknown_ids_are_404_with_a_helpful_detail(client: httpx.Client) -> None:
    for url in ("/movies/m9999", "/movies/p0001", "/movies/m9999/credits", "/movies/m9999/reviews",
                "/movies/m9999/showtimes", "/people/p9999", "/people/m0001/movies", "/cinemas/c999",
                "/showtimes/s99999", "/bookings/b0001", "/reviews/r99999", "/users/nobody_here/reviews"):
        message = detail(client.get(url), 404)
        assert isinstance(message, str) and "not found" in message, url
    assert "search_movies" in detail(client.get("/movies/p0001"), 404)
    assert "Atlantis" in detail(client.get("/weather/forecast", params={"city": "Atlantis"}), 404)
    assert detail(client.get("/showtimes", params={"cinema_id": "c001", "movie_id": "m9999"}), 404)
    assert detail(client.post("/bookings", json={"showtime_id": "s99999", "seats": 1, "customer_name": "A"}), 404)


def test_bad_arguments_are_422(client: httpx.Client) -> None:
    city = ok(client.get("/cities"))["results"][0]["city"]
    bad = [
        client.get("/movies/search"),  # missing required query
        client.get("/movies/search", params={"query": "the", "limit": 0}),
        client.get("/movies/search", params={"query": "the", "year_from": 2020, "year_to": 2000}),
        client.get("/movies/discover", params={"genre": "Sci-Fi"}),
        client.get("/people/search", params={"query": "a", "known_for": "singing"}),
        client.get("/showtimes", params={"cinema_id": "c001", "date": "June 3rd"}),
        client.get("/movies/m0001/reviews", params={"min_rating": 11}),
        client.get("/users/Not A Name/reviews"),
        client.get("/weather/forecast", params={"city": city, "date": "2030-01-01"}),
        client.get("/weather/weekly", params={"city": city, "start_date": "2025-06-14"}),
        client.post("/bookings", json={"showtime_id": "s00001", "seats": 0, "customer_name": "Ada"}),
        client.post("/bookings", json={"showtime_id": "s00001", "seats": 1}),
        client.post("/movies/m0001/reviews", json={"username": "ok_name", "rating": 0, "headline": "x", "body": "y"}),
    ]
    for response in bad:
        errors = detail(response, 422)
        assert isinstance(errors, list) and errors[0]["loc"] and errors[0]["msg"], response.request.url
    inverted = client.get("/movies/search", params={"query": "the", "year_from": 2020, "year_to": 2000})
    assert detail(inverted, 422)[0]["loc"] == ["query", "year_to"]


def test_conflicts_are_409(client: httpx.Client) -> None:
    rows = [s for cinema in ("c001", "c002", "c003", "c004")
            for s in ok(client.get("/showtimes", params={"cinema_id": cinema, "limit": 200}))["results"]]
    nearly_full = next(s for s in rows if 1 <= s["seats_left"] <= 4)
    too_many = {"showtime_id": nearly_full["showtime_id"], "seats": nearly_full["seats_left"] + 1,
                "customer_name": "Ada"}
    assert f"only {nearly_full['seats_left']} seat" in detail(client.post("/bookings", json=too_many), 409)
    sold_out = next(s for s in rows if s["seats_left"] == 0)
    detail(client.post("/bookings", json={"showtime_id": sold_out["showtime_id"], "seats": 1,
                                          "customer_name": "Ada"}), 409)

    booking = ok(client.post("/bookings", json={**too_many, "seats": 1}))
    ok(client.delete(f"/bookings/{booking['booking_id']}"))
    assert "already cancelled" in detail(client.delete(f"/bookings/{booking['booking_id']}"), 409)

    review = {"username": "new_critic", "rating": 9, "headline": "Loved it", "body": "Great fun."}
    posted = ok(client.post("/movies/m0003/reviews", json=review))
    assert posted["review_id"] in [r["review_id"] for r in ok(client.get("/users/new_critic/reviews"))["results"]]
    assert "already reviewed" in detail(client.post("/movies/m0003/reviews", json=review), 409)


def test_concurrent_bookings_never_oversell(client: httpx.Client) -> None:
    rows = ok(client.get("/showtimes", params={"cinema_id": "c002", "limit": 200}))["results"]
    target = next(s for s in rows if 2 <= s["seats_left"] <= 12)
    attempts = target["seats_left"] + 6
    body = {"showtime_id": target["showtime_id"], "seats": 1, "customer_name": "Rush"}
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda _: client.post("/bookings", json=body).status_code, range(attempts)))
    assert sorted(set(statuses)) == [200, 409], statuses
    assert statuses.count(200) == target["seats_left"]
    assert ok(client.get(f"/showtimes/{target['showtime_id']}"))["seats_left"] == 0
    booking_ids = {ok(client.get(f"/bookings/b{n:04d}"))["booking_id"] for n in range(1, target["seats_left"] + 1)}
    assert len(booking_ids) == target["seats_left"]


def test_openapi_document_describes_tools_params_and_responses(client: httpx.Client) -> None:
    document = ok(client.get("/openapi.json"))
    ops = operations(document)
    assert len(ops) >= 15
    tags = {op["tags"][0] for _, _, op in ops}
    assert len(tags) >= 3 and tags <= {t["name"] for t in document["tags"]}
    assert "/health" not in document["paths"]
    assert len({op["operationId"] for _, _, op in ops}) == len(ops)

    for method, path, op in ops:
        where = f"{method.upper()} {path}"
        assert SNAKE_CASE.match(op["operationId"]), where
        assert op.get("summary") and op.get("description") and len(op["tags"]) == 1, where
        for param in op.get("parameters", []):
            schema = param["schema"]
            assert param.get("description"), f"{where}: parameter {param['name']} has no description"
            assert schema.get("examples") or param.get("examples"), f"{where}: {param['name']} has no example"
            assert "anyOf" not in schema and "$ref" not in schema, f"{where}: {param['name']} schema not plain"
        response = resolve(document, success_schema(op))
        assert response.get("properties"), f"{where}: 200 response has no object schema"
        for name, prop in response["properties"].items():
            assert prop.get("description"), f"{where}: response field {name} has no description"
        if "requestBody" in op:
            body = resolve(document, op["requestBody"]["content"]["application/json"]["schema"])
            assert all(p.get("description") for p in body["properties"].values()), where

    for name, schema in document["components"]["schemas"].items():
        if name not in ("HTTPValidationError", "ValidationError"):
            for field, prop in schema.get("properties", {}).items():
                assert prop.get("description"), f"component {name}.{field} has no description"

    searches = [op for _, path, op in ops if path.endswith("/search")]
    assert searches and all({"results", "total"} <= set(resolve(document, success_schema(op))["properties"])
                            for op in searches)


def test_id_inputs_are_outputs_of_other_operations_within_and_across_tools(client: httpx.Client) -> None:
    """Every ``*_id``/city/username input is produced by some other operation: the graph has edges to find."""
    document = ok(client.get("/openapi.json"))
    ops = operations(document)
    outputs = {op["operationId"]: (op["tags"][0], property_names(document, success_schema(op))) for _, _, op in ops}
    cross_tool = set()
    for _, _, op in ops:
        inputs = [p["name"] for p in op.get("parameters", [])]
        if "requestBody" in op:
            inputs += list(resolve(document, op["requestBody"]["content"]["application/json"]["schema"])["properties"])
        for name in inputs:
            if name.endswith("_id") or name in ("city", "username", "genre"):
                producers = [(other, tag) for other, (tag, names) in outputs.items()
                             if other != op["operationId"] and name in names]
                assert producers, f"no operation outputs {name!r}, needed by {op['operationId']}"
                cross_tool |= {(other, op["operationId"]) for other, tag in producers if tag != op["tags"][0]}
    assert ("search_movies", "find_movie_showtimes") in cross_tool
    assert ("get_cinema", "get_weather_forecast") in cross_tool
    assert ("list_showtimes", "get_movie_credits") in cross_tool


def test_every_documented_example_is_a_valid_call(client: httpx.Client) -> None:
    """A graph builder may fill arguments from examples; each example call (in document order) must succeed."""
    document = ok(client.get("/openapi.json"))
    for method, path, op in operations(document):
        url, query = path, {}
        for param in op.get("parameters", []):
            value = (param["schema"].get("examples") or [None])[0]
            if param["in"] == "path":
                url = url.replace("{" + param["name"] + "}", str(value))
            else:
                query[param["name"]] = value
        body = None
        if "requestBody" in op:
            body = op["requestBody"]["content"]["application/json"]["schema"]["examples"][0]
        response = client.request(method.upper(), url, params=query, json=body)
        assert response.status_code == 200, f"{op['operationId']} {url} {query} {body}: {response.text}"


def test_serve_refuses_non_loopback_hosts() -> None:
    with pytest.raises(ValueError, match="loopback"):
        serve(host="0.0.0.0", port=free_port())


def test_module_entry_point_serves_the_api_in_the_foreground() -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "goat_datasets.demo_api", "--port", str(port), "--seed", "3"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_up(f"http://127.0.0.1:{port}/health", timeout_s=30)
        document = ok(httpx.get(f"http://127.0.0.1:{port}/openapi.json"))
        assert "seed 3" in document["info"]["description"]
    finally:
        process.terminate()
        process.wait(timeout=10)
