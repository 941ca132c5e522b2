"""Pieces every demo router shares: error helpers, documented error responses, and parameter examples.

Parameter examples are taken from the generated world (not hard-coded) so that an example in the OpenAPI document is
always a valid call against this very instance - a graph builder that fills arguments from examples gets a 200.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException
from fastapi.exceptions import RequestValidationError

from goat_datasets.demo_api.schemas import ErrorDetail
from goat_datasets.demo_api.world import World

CURRENCY = "EUR"
PAGE_LIMIT_MAX = 50


def not_found(kind: str, value: str, hint: str) -> HTTPException:
    """A 404 whose message also says where valid values come from, so an agent can recover."""
    return HTTPException(status_code=404, detail=f"{kind} {value!r} not found; {hint}")


def conflict(message: str) -> HTTPException:
    return HTTPException(status_code=409, detail=message)


def invalid_argument(location: str, name: str, value: Any, message: str) -> RequestValidationError:
    """A 422 shaped exactly like FastAPI's own validation errors, for checks a type annotation cannot express."""
    return RequestValidationError(
        [{"type": "value_error", "loc": (location, name), "msg": message, "input": value}]
    )


def error_responses(**by_status: str) -> dict[int | str, dict[str, Any]]:
    """Document error statuses (``not_found="..."``, ``conflict="..."``) with the `ErrorDetail` body they carry."""
    codes = {"not_found": 404, "conflict": 409}
    return {codes[key]: {"model": ErrorDetail, "description": text} for key, text in by_status.items()}


def cents_to_price(cents: int) -> float:
    return round(cents / 100, 2)


@dataclass(frozen=True)
class Examples:
    """One valid value per kind of argument, drawn from the world."""

    movie_id: str
    title_word: str
    genre: str
    year: int
    person_id: str
    person_word: str
    city: str
    cinema_id: str
    cinema_word: str
    amenity: str
    showtime_id: str
    date: str
    username: str
    review_id: str
    booking_id: str

    @classmethod
    def from_world(cls, world: World) -> "Examples":
        movie = world.movies[0]
        genre = next(g.genre for g in world.movie_genres if g.movie_id == movie.movie_id)
        actor_id = next(c.person_id for c in world.credits if c.movie_id == movie.movie_id and c.job == "Actor")
        actor = next(p for p in world.people if p.person_id == actor_id)
        cinema = world.cinemas[0]
        showtime = next(s for s in world.showtimes if s.cinema_id == cinema.cinema_id and s.seats_left >= 2)
        review = next(r for r in world.reviews if r.movie_id == movie.movie_id)
        return cls(
            movie_id=movie.movie_id,
            title_word=max(movie.title.split(), key=len).lower(),
            genre=genre,
            year=movie.year,
            person_id=actor.person_id,
            person_word=actor.name.split()[-1],
            city=cinema.city,
            cinema_id=cinema.cinema_id,
            cinema_word=cinema.name.split()[0],
            amenity=cinema.amenities.split(",")[0],
            showtime_id=showtime.showtime_id,
            date=world.today.isoformat(),
            username=review.username,
            review_id=review.review_id,
            booking_id="b0001",
        )
