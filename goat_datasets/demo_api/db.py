"""SQLite storage for one demo app instance.

One in-memory connection per app, shared by the request threads behind a re-entrant lock. Serialising access is the
simplest thing that is correct here: the demo serves a handful of requests at a time, and bookings need their
"check seats, then decrement" to be atomic, which the lock plus a transaction gives without SQLite busy/locked errors.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from typing import Any, Iterator, Sequence

from goat_datasets.demo_api.world import World

SCHEMA = """
CREATE TABLE cities (city TEXT PRIMARY KEY COLLATE NOCASE, region TEXT NOT NULL, population INTEGER NOT NULL);
CREATE TABLE movies (
    movie_id TEXT PRIMARY KEY, title TEXT NOT NULL, year INTEGER NOT NULL, runtime_minutes INTEGER NOT NULL,
    rating REAL NOT NULL, language TEXT NOT NULL, overview TEXT NOT NULL, director_id TEXT NOT NULL,
    now_showing INTEGER NOT NULL
);
CREATE TABLE movie_genres (movie_id TEXT NOT NULL, genre TEXT NOT NULL, PRIMARY KEY (movie_id, genre));
CREATE TABLE people (
    person_id TEXT PRIMARY KEY, name TEXT NOT NULL, known_for TEXT NOT NULL, birth_year INTEGER NOT NULL,
    birth_city TEXT NOT NULL, biography TEXT NOT NULL
);
CREATE TABLE credits (
    movie_id TEXT NOT NULL, person_id TEXT NOT NULL, job TEXT NOT NULL, character TEXT, billing_order INTEGER NOT NULL
);
CREATE INDEX credits_by_person ON credits (person_id);
CREATE INDEX credits_by_movie ON credits (movie_id);
CREATE TABLE cinemas (
    cinema_id TEXT PRIMARY KEY, name TEXT NOT NULL, city TEXT NOT NULL COLLATE NOCASE, address TEXT NOT NULL,
    screens INTEGER NOT NULL, amenities TEXT NOT NULL
);
CREATE TABLE showtimes (
    showtime_id TEXT PRIMARY KEY, movie_id TEXT NOT NULL, cinema_id TEXT NOT NULL, date TEXT NOT NULL,
    time TEXT NOT NULL, format TEXT NOT NULL, language TEXT NOT NULL, price_cents INTEGER NOT NULL,
    capacity INTEGER NOT NULL, seats_left INTEGER NOT NULL CHECK (seats_left >= 0)
);
CREATE INDEX showtimes_by_cinema ON showtimes (cinema_id, date);
CREATE INDEX showtimes_by_movie ON showtimes (movie_id, date);
CREATE TABLE reviews (
    review_id TEXT PRIMARY KEY, movie_id TEXT NOT NULL, username TEXT NOT NULL, rating INTEGER NOT NULL,
    headline TEXT NOT NULL, body TEXT NOT NULL, date TEXT NOT NULL, helpful_votes INTEGER NOT NULL,
    UNIQUE (movie_id, username)
);
CREATE INDEX reviews_by_user ON reviews (username);
CREATE TABLE forecasts (
    city TEXT NOT NULL COLLATE NOCASE, date TEXT NOT NULL, condition TEXT NOT NULL, high_c INTEGER NOT NULL,
    low_c INTEGER NOT NULL, precipitation_chance INTEGER NOT NULL, wind_kph INTEGER NOT NULL,
    PRIMARY KEY (city, date)
);
CREATE TABLE bookings (
    booking_id TEXT PRIMARY KEY, showtime_id TEXT NOT NULL, seats INTEGER NOT NULL, customer_name TEXT NOT NULL,
    total_cents INTEGER NOT NULL, status TEXT NOT NULL, confirmation_code TEXT NOT NULL
);
"""

_TABLES = ("cities", "movies", "movie_genres", "people", "credits", "cinemas", "showtimes", "reviews", "forecasts")


class DemoDatabase:
    def __init__(self, world: World):
        self.world = world
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._conn.executescript(SCHEMA)  # outside a transaction: executescript commits whatever is pending
        with self.transaction() as conn:
            for table in _TABLES:
                rows: list[Any] = getattr(world, table)
                if rows:
                    marks = ",".join("?" * len(rows[0]))
                    conn.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def row(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        with self._lock:
            return self._conn.execute(sql, params).fetchone()

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        found = self.row(sql, params)
        return None if found is None else found[0]

    @contextlib.contextmanager
    def locked(self) -> Iterator[sqlite3.Connection]:
        """Hold the lock across several reads that must see one consistent state."""
        with self._lock:
            yield self._conn

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Hold the lock for a read-check-write sequence; commit on success, roll back on any exception."""
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._conn.close()
