"""The bundled demo API: four small "tools" (movies, cinemas, reviews, weather) over one seeded SQLite world.

It plays the part of real third-party APIs in demos and tests: its `/openapi.json` is parsed like any other source,
and its ids flow between operations and between tools (search_movies -> get_movie_credits -> get_person_movies;
search_cinemas -> list_showtimes -> book_tickets -> get_booking; get_cinema.city -> get_weather_forecast), which is
what the dependency graph is supposed to discover.
"""

from __future__ import annotations

import copy
from typing import Any

import uvicorn
from fastapi import FastAPI

from goat_datasets.demo_api.common import Examples
from goat_datasets.demo_api.db import DemoDatabase
from goat_datasets.demo_api.routes_cinemas import build_cinemas_router
from goat_datasets.demo_api.routes_movies import build_movies_router
from goat_datasets.demo_api.routes_reviews import build_reviews_router
from goat_datasets.demo_api.routes_weather import build_weather_router
from goat_datasets.demo_api.world import build_world
from goat_datasets.servers import require_loopback

TITLE = "GOAT demo API"
VERSION = "1.0.0"
TOOLS = [
    {"name": "movies", "description": "Movie catalogue: search and browse movies, their cast and crew, similar "
                                      "movies, and actors' and directors' filmographies."},
    {"name": "cinemas", "description": "Cities, cinemas and their showtimes for the coming week; book and cancel "
                                       "tickets."},
    {"name": "reviews", "description": "Audience reviews of movies: read them by movie or by user, write one."},
    {"name": "weather", "description": "Daily weather forecasts for the cities that have cinemas."},
]


def create_app(seed: int = 0) -> FastAPI:
    """A fresh app with its own in-memory database; the same seed gives byte-identical responses."""
    world = build_world(seed)
    db = DemoDatabase(world)
    examples = Examples.from_world(world)
    app = FastAPI(
        title=TITLE,
        version=VERSION,
        description=f"Synthetic movie, cinema, review and weather services (seed {seed}, today is "
        f"{world.today.isoformat()}). All data is generated; ids are prefixed by kind: m=movie, p=person, "
        "c=cinema, s=showtime, b=booking, r=review.",
        openapi_tags=TOOLS,
    )
    app.state.db = db
    app.state.seed = seed
    for build in (build_movies_router, build_cinemas_router, build_reviews_router, build_weather_router):
        app.include_router(build(db, examples))

    @app.get("/health", include_in_schema=False)
    def health() -> dict[str, str]:
        return {"status": "ok"}

    original_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = tidy_openapi(original_openapi())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def tidy_openapi(document: dict[str, Any]) -> dict[str, Any]:
    """Make parameter schemas self-contained and plain.

    FastAPI renders an optional query parameter as ``anyOf: [X, {type: null}]`` and enums as ``$ref``s; neither
    means anything in a query string, and both make a poorer tool schema for a model to call. An optional parameter
    is simply not required, so keep X, inline the referenced enum, and drop the ``default: null``.
    """
    components = document.get("components", {}).get("schemas", {})
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            for parameter in operation.get("parameters", []):
                parameter["schema"] = _plain_parameter_schema(parameter.get("schema", {}), components)
    return document


def _plain_parameter_schema(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    schema = dict(schema)
    branches = schema.get("anyOf")
    if branches:
        non_null = [b for b in branches if b != {"type": "null"}]
        if len(non_null) == 1:
            del schema["anyOf"]
            schema = {**non_null[0], **schema}
            if schema.get("default", 0) is None:
                del schema["default"]
    ref = schema.pop("$ref", None)
    if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
        target = components.get(ref.rsplit("/", 1)[-1], {})
        schema = {**copy.deepcopy(target), **schema}
    return schema


def serve(host: str = "127.0.0.1", port: int = 8765, seed: int = 0) -> None:
    """Run the demo API in the foreground until interrupted (loopback only: it is a development server)."""
    require_loopback(host)
    uvicorn.run(create_app(seed), host=host, port=port, log_level="info")
