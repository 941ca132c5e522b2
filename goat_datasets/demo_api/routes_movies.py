"""The "movies" tool: catalogue search, movie details, credits, similar movies and people."""

from __future__ import annotations

import sqlite3
from typing import Any

from fastapi import APIRouter, Path, Query

from goat_datasets.demo_api import schemas as s
from goat_datasets.demo_api.common import PAGE_LIMIT_MAX, Examples, error_responses, invalid_argument, not_found
from goat_datasets.demo_api.db import DemoDatabase

TAG = "movies"
MOVIE_HINT = "movie ids look like 'm0001'; find one with search_movies or discover_movies"
PERSON_HINT = "person ids look like 'p0001'; find one with search_people or get_movie_credits"
YEAR_MIN, YEAR_MAX = 1900, 2100


def like_all_words(column: str, text: str) -> tuple[str, list[str]]:
    """SQL requiring every word of ``text`` to appear in ``column`` (any order, case-insensitive, literal % and _)."""
    terms = text.split()
    escaped = [t.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") for t in terms]
    sql = " AND ".join(f"{column} LIKE ? ESCAPE '\\'" for _ in terms) or "1"
    return sql, [f"%{t}%" for t in escaped]


def genres_by_movie(db: DemoDatabase, movie_ids: list[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {m: [] for m in movie_ids}
    if movie_ids:
        marks = ",".join("?" * len(movie_ids))
        for row in db.rows(f"SELECT movie_id, genre FROM movie_genres WHERE movie_id IN ({marks}) ORDER BY genre",
                           movie_ids):
            found[row["movie_id"]].append(row["genre"])
    return found


def movie_summaries(db: DemoDatabase, rows: list[sqlite3.Row]) -> list[s.MovieSummary]:
    genres = genres_by_movie(db, [r["movie_id"] for r in rows])
    return [
        s.MovieSummary(movie_id=r["movie_id"], title=r["title"], year=r["year"], genres=genres[r["movie_id"]],
                       rating=r["rating"], now_showing=bool(r["now_showing"]))
        for r in rows
    ]


def require_movie(db: DemoDatabase, movie_id: str) -> sqlite3.Row:
    row = db.row("SELECT * FROM movies WHERE movie_id = ?", (movie_id,))
    if row is None:
        raise not_found("movie", movie_id, MOVIE_HINT)
    return row


def require_person(db: DemoDatabase, person_id: str) -> sqlite3.Row:
    row = db.row("SELECT * FROM people WHERE person_id = ?", (person_id,))
    if row is None:
        raise not_found("person", person_id, PERSON_HINT)
    return row


def check_year_range(year_from: int | None, year_to: int | None) -> None:
    if year_from is not None and year_to is not None and year_from > year_to:
        raise invalid_argument("query", "year_to", year_to, f"year_to ({year_to}) is before year_from ({year_from})")


def build_movies_router(db: DemoDatabase, ex: Examples) -> APIRouter:
    router = APIRouter(tags=[TAG])

    def movie_id_param() -> Any:
        return Path(description="Id of the movie (e.g. from search_movies results[].movie_id).",
                    examples=[ex.movie_id])

    def person_id_param() -> Any:
        return Path(description="Id of the person (e.g. from get_movie_credits cast[].person_id).",
                    examples=[ex.person_id])

    movie_missing = error_responses(not_found="No movie has this id.")
    person_missing = error_responses(not_found="No person has this id.")

    def page(total: int, where: str, params: list[Any], order: str, limit: int, offset: int) -> list[sqlite3.Row]:
        return db.rows(f"SELECT * FROM movies m WHERE {where} ORDER BY {order} LIMIT ? OFFSET ?",
                       [*params, limit, offset]) if total else []

    def movie_filters(genre: Any, year_from: int | None, year_to: int | None, min_rating: float | None,
                      now_showing: bool | None) -> tuple[list[str], list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if genre is not None:
            clauses.append("EXISTS (SELECT 1 FROM movie_genres g WHERE g.movie_id = m.movie_id AND g.genre = ?)")
            params.append(genre.value)
        for clause, value in (("m.year >= ?", year_from), ("m.year <= ?", year_to), ("m.rating >= ?", min_rating)):
            if value is not None:
                clauses.append(clause)
                params.append(value)
        if now_showing is not None:
            clauses.append("m.now_showing = ?")
            params.append(int(now_showing))
        return clauses, params

    @router.get(
        "/movies/search",
        operation_id="search_movies",
        response_description="Matching movies (id, title, year, genres, rating) and their total count.",
        summary="Search movies by title",
        description="Find movies whose title contains every word of `query` (case-insensitive), optionally "
        "filtered by genre, release years and minimum rating. Returns movie ids for get_movie, get_movie_credits, "
        "list_movie_reviews and find_movie_showtimes. No match gives an empty list.",
        response_model=s.MovieSearchResults,
    )
    def search_movies(
        query: str = Query(min_length=1, max_length=100, description="Words from the movie title.",
                           examples=[ex.title_word]),
        genre: s.Genre | None = Query(None, description="Only movies with this genre.", examples=[ex.genre]),
        year_from: int | None = Query(None, ge=YEAR_MIN, le=YEAR_MAX, description="Earliest release year.",
                                      examples=[2000]),
        year_to: int | None = Query(None, ge=YEAR_MIN, le=YEAR_MAX, description="Latest release year.",
                                    examples=[2025]),
        min_rating: float | None = Query(None, ge=0, le=10, description="Minimum critics' rating (0-10).",
                                         examples=[6.5]),
        limit: int = Query(10, ge=1, le=PAGE_LIMIT_MAX, description="Maximum number of results.", examples=[10]),
        offset: int = Query(0, ge=0, description="Number of results to skip, for paging.", examples=[0]),
    ) -> s.MovieSearchResults:
        check_year_range(year_from, year_to)
        title_sql, params = like_all_words("m.title", query)
        clauses, more = movie_filters(genre, year_from, year_to, min_rating, None)
        where = " AND ".join([title_sql, *clauses])
        params += more
        total = db.scalar(f"SELECT COUNT(*) FROM movies m WHERE {where}", params)
        rows = page(total, where, params, "m.rating DESC, m.movie_id", limit, offset)
        return s.MovieSearchResults(results=movie_summaries(db, rows), total=total)

    @router.get(
        "/movies/discover",
        operation_id="discover_movies",
        response_description="Movies of the genre (id, title, year, genres, rating) and their total count.",
        summary="Browse movies by genre",
        description="List the movies of one genre, best rated (or newest, or alphabetical) first, optionally only "
        "those now showing in cinemas. Use a genre from list_genres.",
        response_model=s.MovieSearchResults,
    )
    def discover_movies(
        genre: s.Genre = Query(description="Genre to browse.", examples=[ex.genre]),
        now_showing: bool | None = Query(None, description="true: only movies playing in cinemas now.",
                                         examples=[True]),
        year_from: int | None = Query(None, ge=YEAR_MIN, le=YEAR_MAX, description="Earliest release year.",
                                      examples=[2010]),
        year_to: int | None = Query(None, ge=YEAR_MIN, le=YEAR_MAX, description="Latest release year.",
                                    examples=[2025]),
        sort_by: s.MovieSort = Query(s.MovieSort.rating, description="Order of results: rating, newest or title.",
                                     examples=["rating"]),
        limit: int = Query(10, ge=1, le=PAGE_LIMIT_MAX, description="Maximum number of results.", examples=[10]),
        offset: int = Query(0, ge=0, description="Number of results to skip, for paging.", examples=[0]),
    ) -> s.MovieSearchResults:
        check_year_range(year_from, year_to)
        clauses, params = movie_filters(genre, year_from, year_to, None, now_showing)
        where = " AND ".join(clauses)
        order = {"rating": "m.rating DESC", "newest": "m.year DESC", "title": "m.title"}[sort_by.value]
        total = db.scalar(f"SELECT COUNT(*) FROM movies m WHERE {where}", params)
        rows = page(total, where, params, f"{order}, m.movie_id", limit, offset)
        return s.MovieSearchResults(results=movie_summaries(db, rows), total=total)

    @router.get(
        "/movies/{movie_id}",
        operation_id="get_movie",
        response_description="The movie's details, including its director.",
        summary="Get movie details",
        description="Full details of one movie: title, year, genres, rating, runtime, language, plot overview and "
        "its director (with person_id).",
        response_model=s.Movie,
        responses=movie_missing,
    )
    def get_movie(movie_id: str = movie_id_param()) -> s.Movie:
        row = require_movie(db, movie_id)
        summary = movie_summaries(db, [row])[0]
        director = require_person(db, row["director_id"])
        return s.Movie(
            **summary.model_dump(),
            runtime_minutes=row["runtime_minutes"],
            language=row["language"],
            overview=row["overview"],
            director=s.PersonRef(person_id=director["person_id"], name=director["name"]),
        )

    @router.get(
        "/movies/{movie_id}/credits",
        operation_id="get_movie_credits",
        response_description="The movie's cast (person ids, characters) and crew.",
        summary="Get the cast and crew of a movie",
        description="The actors of a movie in billing order (with the characters they play) and its director, "
        "each with a person_id for get_person and get_person_movies.",
        response_model=s.MovieCredits,
        responses=movie_missing,
    )
    def get_movie_credits(movie_id: str = movie_id_param()) -> s.MovieCredits:
        movie = require_movie(db, movie_id)
        rows = db.rows(
            "SELECT c.*, p.name FROM credits c JOIN people p USING (person_id) WHERE c.movie_id = ? "
            "ORDER BY c.billing_order, c.person_id",
            (movie_id,),
        )
        cast = [s.CastMember(person_id=r["person_id"], name=r["name"], character=r["character"],
                             order=r["billing_order"]) for r in rows if r["job"] == "Actor"]
        crew = [s.CrewMember(person_id=r["person_id"], name=r["name"], job=r["job"])
                for r in rows if r["job"] != "Actor"]
        return s.MovieCredits(movie_id=movie_id, title=movie["title"], cast=cast, crew=crew)

    @router.get(
        "/movies/{movie_id}/similar",
        operation_id="get_similar_movies",
        response_description="Recommended movies similar to the given one.",
        summary="Recommend similar movies",
        description="Movies that share the most genres with the given movie, best rated first among equals. "
        "The movie itself is not included.",
        response_model=s.SimilarMovies,
        responses=movie_missing,
    )
    def get_similar_movies(
        movie_id: str = movie_id_param(),
        limit: int = Query(5, ge=1, le=20, description="Maximum number of recommendations.", examples=[5]),
    ) -> s.SimilarMovies:
        require_movie(db, movie_id)
        rows = db.rows(
            "SELECT m.*, COUNT(*) AS shared FROM movies m JOIN movie_genres g ON g.movie_id = m.movie_id "
            "WHERE m.movie_id != ? AND g.genre IN (SELECT genre FROM movie_genres WHERE movie_id = ?) "
            "GROUP BY m.movie_id ORDER BY shared DESC, m.rating DESC, m.movie_id LIMIT ?",
            (movie_id, movie_id, limit),
        )
        results = movie_summaries(db, rows)
        return s.SimilarMovies(movie_id=movie_id, results=results, total=len(results))

    @router.get(
        "/genres",
        operation_id="list_genres",
        response_description="All genres with their movie counts.",
        summary="List movie genres",
        description="Every genre in the catalogue with its number of movies; a genre name can be passed to "
        "discover_movies or search_movies.",
        response_model=s.GenreList,
    )
    def list_genres() -> s.GenreList:
        counts = {r["genre"]: r["n"] for r in db.rows("SELECT genre, COUNT(*) AS n FROM movie_genres GROUP BY genre")}
        results = [s.GenreCount(genre=g.value, movie_count=counts.get(g.value, 0)) for g in s.Genre]
        return s.GenreList(results=sorted(results, key=lambda r: r.genre), total=len(results))

    @router.get(
        "/people/search",
        operation_id="search_people",
        response_description="Matching actors and directors (person ids and names) and their total count.",
        summary="Search actors and directors by name",
        description="Find people whose name contains every word of `query` (case-insensitive), optionally only "
        "actors or only directors. Returns person ids for get_person and get_person_movies.",
        response_model=s.PersonSearchResults,
    )
    def search_people(
        query: str = Query(min_length=1, max_length=100, description="Words from the person's name.",
                           examples=[ex.person_word]),
        known_for: s.KnownFor | None = Query(None, description="acting: only actors; directing: only directors.",
                                             examples=["acting"]),
        limit: int = Query(10, ge=1, le=PAGE_LIMIT_MAX, description="Maximum number of results.", examples=[10]),
        offset: int = Query(0, ge=0, description="Number of results to skip, for paging.", examples=[0]),
    ) -> s.PersonSearchResults:
        where, params = like_all_words("name", query)
        if known_for is not None:
            where += " AND known_for = ?"
            params.append(known_for.value)
        total = db.scalar(f"SELECT COUNT(*) FROM people WHERE {where}", params)
        rows = db.rows(f"SELECT * FROM people WHERE {where} ORDER BY name, person_id LIMIT ? OFFSET ?",
                       [*params, limit, offset])
        results = [s.PersonSummary(person_id=r["person_id"], name=r["name"], known_for=r["known_for"]) for r in rows]
        return s.PersonSearchResults(results=results, total=total)

    @router.get(
        "/people/{person_id}",
        operation_id="get_person",
        response_description="The person's profile.",
        summary="Get a person's profile",
        description="Profile of an actor or director: name, what they are known for, birth year and city, "
        "biography and number of movies.",
        response_model=s.Person,
        responses=person_missing,
    )
    def get_person(person_id: str = person_id_param()) -> s.Person:
        row = require_person(db, person_id)
        count = db.scalar("SELECT COUNT(DISTINCT movie_id) FROM credits WHERE person_id = ?", (person_id,))
        return s.Person(person_id=row["person_id"], name=row["name"], known_for=row["known_for"],
                        birth_year=row["birth_year"], birth_city=row["birth_city"], biography=row["biography"],
                        movie_count=count)

    @router.get(
        "/people/{person_id}/movies",
        operation_id="get_person_movies",
        response_description="The person's movies (movie ids, titles, years, jobs, characters).",
        summary="List a person's movies",
        description="Filmography of an actor or director, newest first, with the job and character in each "
        "movie; each entry has a movie_id for get_movie.",
        response_model=s.PersonMovies,
        responses=person_missing,
    )
    def get_person_movies(person_id: str = person_id_param()) -> s.PersonMovies:
        person = require_person(db, person_id)
        rows = db.rows(
            "SELECT c.job, c.character, m.movie_id, m.title, m.year FROM credits c JOIN movies m USING (movie_id) "
            "WHERE c.person_id = ? ORDER BY m.year DESC, m.movie_id",
            (person_id,),
        )
        results = [s.PersonCredit(movie_id=r["movie_id"], title=r["title"], year=r["year"], job=r["job"],
                                  character=r["character"]) for r in rows]
        return s.PersonMovies(person_id=person_id, name=person["name"], results=results, total=len(results))

    return router
