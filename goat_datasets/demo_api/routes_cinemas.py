"""The "cinemas" tool: cities, cinemas, showtimes and ticket bookings (the one tool with state that changes)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import sqlite3
from typing import Any

from fastapi import APIRouter, Body, Path, Query

from goat_datasets.demo_api import schemas as s
from goat_datasets.demo_api.common import CURRENCY, Examples, cents_to_price, conflict, error_responses, not_found
from goat_datasets.demo_api.db import DemoDatabase
from goat_datasets.demo_api.routes_movies import like_all_words, require_movie

TAG = "cinemas"
CINEMA_HINT = "cinema ids look like 'c001'; find one with search_cinemas"
SHOWTIME_HINT = "showtime ids look like 's00001'; find one with list_showtimes or find_movie_showtimes"
BOOKING_HINT = "booking ids look like 'b0001' and come from book_tickets"
SHOWTIME_LIMIT_MAX = 200

SHOWTIME_SELECT = (
    "SELECT s.*, m.title AS movie_title, c.name AS cinema_name, c.city AS city FROM showtimes s "
    "JOIN movies m USING (movie_id) JOIN cinemas c USING (cinema_id)"
)
SHOWTIME_ORDER = "ORDER BY s.date, s.time, s.cinema_id, s.showtime_id"


def showtime_model(row: sqlite3.Row) -> s.Showtime:
    return s.Showtime(
        showtime_id=row["showtime_id"], movie_id=row["movie_id"], movie_title=row["movie_title"],
        cinema_id=row["cinema_id"], cinema_name=row["cinema_name"], city=row["city"], date=row["date"],
        time=row["time"], starts_at=f"{row['date']}T{row['time']}", format=row["format"], language=row["language"],
        price=cents_to_price(row["price_cents"]), currency=CURRENCY, seats_left=row["seats_left"],
    )


def confirmation_code(seed: int, booking_id: str) -> str:
    """Deterministic per world and booking, so repeated runs of a dataset build see identical responses."""
    digest = hashlib.sha256(f"{seed}:{booking_id}".encode()).digest()
    return base64.b32encode(digest).decode()[:6]


def build_cinemas_router(db: DemoDatabase, ex: Examples) -> APIRouter:
    router = APIRouter(tags=[TAG])

    def require_cinema(cinema_id: str) -> sqlite3.Row:
        row = db.row("SELECT * FROM cinemas WHERE cinema_id = ?", (cinema_id,))
        if row is None:
            raise not_found("cinema", cinema_id, CINEMA_HINT)
        return row

    def load_showtime(conn: sqlite3.Connection, showtime_id: str) -> sqlite3.Row:
        row = conn.execute(f"{SHOWTIME_SELECT} WHERE s.showtime_id = ?", (showtime_id,)).fetchone()
        if row is None:
            raise not_found("showtime", showtime_id, SHOWTIME_HINT)
        return row

    def load_booking(conn: sqlite3.Connection, booking_id: str) -> s.Booking:
        row = conn.execute("SELECT * FROM bookings WHERE booking_id = ?", (booking_id,)).fetchone()
        if row is None:
            raise not_found("booking", booking_id, BOOKING_HINT)
        show = load_showtime(conn, row["showtime_id"])
        return s.Booking(
            booking_id=row["booking_id"], confirmation_code=row["confirmation_code"], status=row["status"],
            showtime_id=show["showtime_id"], movie_id=show["movie_id"], movie_title=show["movie_title"],
            cinema_id=show["cinema_id"], cinema_name=show["cinema_name"], city=show["city"],
            starts_at=f"{show['date']}T{show['time']}", seats=row["seats"], customer_name=row["customer_name"],
            total_price=cents_to_price(row["total_cents"]), currency=CURRENCY,
        )

    def date_param(description: str) -> Any:
        return Query(None, description=f"{description} (YYYY-MM-DD).", examples=[ex.date])

    def limit_param() -> Any:
        return Query(50, ge=1, le=SHOWTIME_LIMIT_MAX, description="Maximum number of screenings.", examples=[20])

    def booking_id_param() -> Any:
        return Path(description="Id of the booking, from book_tickets.", examples=[ex.booking_id])

    @router.get(
        "/cities",
        operation_id="list_cities",
        response_description="Cities with cinemas.",
        summary="List cities with cinemas",
        description="Every city we sell tickets in, with its region, population and number of cinemas. A city "
        "name can be passed to search_cinemas, find_movie_showtimes or get_weather_forecast.",
        response_model=s.CityList,
    )
    def list_cities() -> s.CityList:
        rows = db.rows(
            "SELECT ci.*, (SELECT COUNT(*) FROM cinemas c WHERE c.city = ci.city) AS cinema_count "
            "FROM cities ci ORDER BY ci.city"
        )
        results = [s.City(city=r["city"], region=r["region"], population=r["population"],
                          cinema_count=r["cinema_count"]) for r in rows]
        return s.CityList(results=results, total=len(results))

    @router.get(
        "/cinemas/search",
        operation_id="search_cinemas",
        response_description="Cinemas in the city (cinema ids, names, addresses).",
        summary="Find cinemas in a city",
        description="Cinemas in a city (case-insensitive name), optionally with a word of the cinema's name or an "
        "amenity such as IMAX. Returns cinema ids for get_cinema and list_showtimes. An unknown city gives an "
        "empty list.",
        response_model=s.CinemaSearchResults,
    )
    def search_cinemas(
        city: str = Query(min_length=1, max_length=60, description="City name, e.g. from list_cities.",
                          examples=[ex.city]),
        name: str | None = Query(None, min_length=1, max_length=60, description="A word of the cinema's name.",
                                 examples=[ex.cinema_word]),
        amenity: str | None = Query(None, min_length=1, max_length=40,
                                    description="Required facility, e.g. IMAX, 3D, parking, bar.",
                                    examples=[ex.amenity]),
    ) -> s.CinemaSearchResults:
        where, params = "city = ?", [city.strip()]
        if name is not None:
            name_sql, name_params = like_all_words("name", name)
            where += f" AND {name_sql}"
            params += name_params
        rows = db.rows(f"SELECT * FROM cinemas WHERE {where} ORDER BY name, cinema_id", params)
        if amenity is not None:
            wanted = amenity.strip().lower()
            rows = [r for r in rows if wanted in (a.lower() for a in r["amenities"].split(","))]
        results = [s.CinemaSummary(cinema_id=r["cinema_id"], name=r["name"], city=r["city"], address=r["address"])
                   for r in rows]
        return s.CinemaSearchResults(results=results, total=len(results))

    @router.get(
        "/cinemas/{cinema_id}",
        operation_id="get_cinema",
        response_description="The cinema's details.",
        summary="Get cinema details",
        description="Address, city, number of screens and amenities of one cinema.",
        response_model=s.Cinema,
        responses=error_responses(not_found="No cinema has this id."),
    )
    def get_cinema(
        cinema_id: str = Path(description="Id of the cinema, e.g. from search_cinemas results[].cinema_id.",
                              examples=[ex.cinema_id]),
    ) -> s.Cinema:
        r = require_cinema(cinema_id)
        return s.Cinema(cinema_id=r["cinema_id"], name=r["name"], city=r["city"], address=r["address"],
                        screens=r["screens"], amenities=r["amenities"].split(","))

    @router.get(
        "/showtimes",
        operation_id="list_showtimes",
        response_description="Screenings at the cinema (showtime ids, movies, start times, prices, seats left).",
        summary="List the screenings at a cinema",
        description="Screenings at one cinema over the next week, optionally only one movie, one date or one "
        "projection format. Each has a showtime_id for get_showtime and book_tickets, its price and seats left.",
        response_model=s.ShowtimeList,
        responses=error_responses(not_found="The cinema (or the movie filter) does not exist."),
    )
    def list_showtimes(
        cinema_id: str = Query(description="Id of the cinema, e.g. from search_cinemas results[].cinema_id.",
                               examples=[ex.cinema_id]),
        movie_id: str | None = Query(None, description="Only screenings of this movie (id from search_movies).",
                                     examples=[ex.movie_id]),
        date: dt.date | None = date_param("Only screenings on this date"),
        format: s.FilmFormat | None = Query(None, description="Only this projection format: 2D, 3D or IMAX.",
                                            examples=["2D"]),
        limit: int = limit_param(),
    ) -> s.ShowtimeList:
        require_cinema(cinema_id)
        where, params = "s.cinema_id = ?", [cinema_id]
        if movie_id is not None:
            require_movie(db, movie_id)
            where += " AND s.movie_id = ?"
            params.append(movie_id)
        if date is not None:
            where += " AND s.date = ?"
            params.append(date.isoformat())
        if format is not None:
            where += " AND s.format = ?"
            params.append(format.value)
        total = db.scalar(f"SELECT COUNT(*) FROM showtimes s WHERE {where}", params)
        rows = db.rows(f"{SHOWTIME_SELECT} WHERE {where} {SHOWTIME_ORDER} LIMIT ?", [*params, limit])
        return s.ShowtimeList(results=[showtime_model(r) for r in rows], total=total)

    @router.get(
        "/movies/{movie_id}/showtimes",
        operation_id="find_movie_showtimes",
        response_description="Screenings of the movie (showtime ids, cinemas, start times, prices, seats left).",
        summary="Find where and when a movie is playing",
        description="Screenings of one movie across all cinemas, optionally in one city and on one date. Movies "
        "that are not in cinemas now give an empty list.",
        response_model=s.ShowtimeList,
        responses=error_responses(not_found="No movie has this id."),
    )
    def find_movie_showtimes(
        movie_id: str = Path(description="Id of the movie, e.g. from search_movies results[].movie_id.",
                             examples=[ex.movie_id]),
        city: str | None = Query(None, min_length=1, max_length=60, description="Only cinemas in this city.",
                                 examples=[ex.city]),
        date: dt.date | None = date_param("Only screenings on this date"),
        limit: int = limit_param(),
    ) -> s.ShowtimeList:
        require_movie(db, movie_id)
        where, params = "s.movie_id = ?", [movie_id]
        if city is not None:
            where += " AND c.city = ?"
            params.append(city.strip())
        if date is not None:
            where += " AND s.date = ?"
            params.append(date.isoformat())
        joined = "FROM showtimes s JOIN cinemas c USING (cinema_id)"
        total = db.scalar(f"SELECT COUNT(*) {joined} WHERE {where}", params)
        rows = db.rows(f"{SHOWTIME_SELECT} WHERE {where} {SHOWTIME_ORDER} LIMIT ?", [*params, limit])
        return s.ShowtimeList(results=[showtime_model(r) for r in rows], total=total)

    @router.get(
        "/showtimes/{showtime_id}",
        operation_id="get_showtime",
        response_description="The screening's details.",
        summary="Get one screening",
        description="Movie, cinema, start, format, ticket price and seats left of one screening.",
        response_model=s.Showtime,
        responses=error_responses(not_found="No screening has this id."),
    )
    def get_showtime(
        showtime_id: str = Path(description="Id of the screening, e.g. from list_showtimes results[].showtime_id.",
                                examples=[ex.showtime_id]),
    ) -> s.Showtime:
        with db.locked() as conn:
            return showtime_model(load_showtime(conn, showtime_id))

    @router.post(
        "/bookings",
        operation_id="book_tickets",
        response_description="The confirmed booking with its booking id and total price.",
        summary="Book tickets for a screening",
        description="Reserve seats for a screening (showtime_id from list_showtimes or find_movie_showtimes). "
        "Fails with 409 if fewer seats are left than requested. Returns a booking_id for get_booking and "
        "cancel_booking, and the total price.",
        response_model=s.Booking,
        responses=error_responses(not_found="No screening has this id.",
                                  conflict="Not enough seats left for this screening."),
    )
    def book_tickets(
        request: s.BookingRequest = Body(
            description="What to book and for whom.",
            examples=[{"showtime_id": ex.showtime_id, "seats": 2, "customer_name": "Ada Lindqvist"}],
        ),
    ) -> s.Booking:
        with db.transaction() as conn:
            show = load_showtime(conn, request.showtime_id)
            if show["seats_left"] < request.seats:
                raise conflict(f"only {show['seats_left']} seat(s) left for showtime {request.showtime_id!r}, "
                               f"{request.seats} requested")
            count = conn.execute("SELECT COUNT(*) FROM bookings").fetchone()[0]
            booking_id = f"b{count + 1:04d}"
            conn.execute("UPDATE showtimes SET seats_left = seats_left - ? WHERE showtime_id = ?",
                         (request.seats, request.showtime_id))
            conn.execute(
                "INSERT INTO bookings VALUES (?, ?, ?, ?, ?, 'confirmed', ?)",
                (booking_id, request.showtime_id, request.seats, request.customer_name.strip(),
                 request.seats * show["price_cents"], confirmation_code(db.world.seed, booking_id)),
            )
            return load_booking(conn, booking_id)

    @router.get(
        "/bookings/{booking_id}",
        operation_id="get_booking",
        response_description="The booking's current status and details.",
        summary="Get a booking",
        description="Status, screening, seats and total price of a booking made with book_tickets.",
        response_model=s.Booking,
        responses=error_responses(not_found="No booking has this id."),
    )
    def get_booking(booking_id: str = booking_id_param()) -> s.Booking:
        with db.locked() as conn:
            return load_booking(conn, booking_id)

    @router.delete(
        "/bookings/{booking_id}",
        operation_id="cancel_booking",
        response_description="The booking, now cancelled.",
        summary="Cancel a booking",
        description="Cancel a confirmed booking and release its seats. Cancelling twice fails with 409.",
        response_model=s.Booking,
        responses=error_responses(not_found="No booking has this id.", conflict="The booking is already cancelled."),
    )
    def cancel_booking(booking_id: str = booking_id_param()) -> s.Booking:
        with db.transaction() as conn:
            booking = load_booking(conn, booking_id)
            if booking.status == s.BookingStatus.cancelled:
                raise conflict(f"booking {booking_id!r} is already cancelled")
            conn.execute("UPDATE bookings SET status = 'cancelled' WHERE booking_id = ?", (booking_id,))
            conn.execute("UPDATE showtimes SET seats_left = seats_left + ? WHERE showtime_id = ?",
                         (booking.seats, booking.showtime_id))
            return load_booking(conn, booking_id)

    return router
