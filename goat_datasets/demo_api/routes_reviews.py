"""The "reviews" tool: audience reviews by movie and by user, and posting a new one."""

from __future__ import annotations

import sqlite3
from typing import Any

from fastapi import APIRouter, Body, Path, Query

from goat_datasets.demo_api import schemas as s
from goat_datasets.demo_api.common import PAGE_LIMIT_MAX, Examples, conflict, error_responses, not_found
from goat_datasets.demo_api.db import DemoDatabase
from goat_datasets.demo_api.routes_movies import require_movie

TAG = "reviews"
USERNAME_PATTERN = r"^[a-z0-9_]{3,30}$"
REVIEW_SELECT = "SELECT r.*, m.title AS movie_title FROM reviews r JOIN movies m USING (movie_id)"
REVIEW_ORDERS = {
    "newest": "r.date DESC, r.review_id",
    "highest_rating": "r.rating DESC, r.date DESC, r.review_id",
    "lowest_rating": "r.rating ASC, r.date DESC, r.review_id",
    "most_helpful": "r.helpful_votes DESC, r.review_id",
}


def review_model(row: sqlite3.Row) -> s.Review:
    return s.Review(
        review_id=row["review_id"], movie_id=row["movie_id"], movie_title=row["movie_title"],
        username=row["username"], rating=row["rating"], headline=row["headline"], body=row["body"],
        date=row["date"], helpful_votes=row["helpful_votes"],
    )


def build_reviews_router(db: DemoDatabase, ex: Examples) -> APIRouter:
    router = APIRouter(tags=[TAG])

    def movie_id_param() -> Any:
        return Path(description="Id of the movie, e.g. from search_movies results[].movie_id.",
                    examples=[ex.movie_id])

    @router.get(
        "/movies/{movie_id}/reviews",
        operation_id="list_movie_reviews",
        response_description="Reviews of the movie and its average reviewer score.",
        summary="Read the reviews of a movie",
        description="Audience reviews of one movie with the average reviewer score, newest first by default; "
        "can be sorted by rating or helpfulness and filtered by a minimum score.",
        response_model=s.MovieReviews,
        responses=error_responses(not_found="No movie has this id."),
    )
    def list_movie_reviews(
        movie_id: str = movie_id_param(),
        sort: s.ReviewSort = Query(s.ReviewSort.newest,
                                   description="Order: newest, highest_rating, lowest_rating or most_helpful.",
                                   examples=["highest_rating"]),
        min_rating: int | None = Query(None, ge=1, le=10, description="Only reviews scoring at least this (1-10).",
                                       examples=[7]),
        limit: int = Query(10, ge=1, le=PAGE_LIMIT_MAX, description="Maximum number of reviews.", examples=[5]),
    ) -> s.MovieReviews:
        movie = require_movie(db, movie_id)
        average = db.scalar("SELECT ROUND(AVG(rating), 1) FROM reviews WHERE movie_id = ?", (movie_id,))
        where, params = "r.movie_id = ?", [movie_id]
        if min_rating is not None:
            where += " AND r.rating >= ?"
            params.append(min_rating)
        total = db.scalar(f"SELECT COUNT(*) FROM reviews r WHERE {where}", params)
        rows = db.rows(f"{REVIEW_SELECT} WHERE {where} ORDER BY {REVIEW_ORDERS[sort.value]} LIMIT ?",
                       [*params, limit])
        return s.MovieReviews(movie_id=movie_id, movie_title=movie["title"], average_rating=average,
                              results=[review_model(r) for r in rows], total=total)

    @router.get(
        "/reviews/{review_id}",
        operation_id="get_review",
        response_description="The review.",
        summary="Get one review",
        description="One review with its author, score, text, date and helpful votes.",
        response_model=s.Review,
        responses=error_responses(not_found="No review has this id."),
    )
    def get_review(
        review_id: str = Path(description="Id of the review, e.g. from list_movie_reviews results[].review_id.",
                              examples=[ex.review_id]),
    ) -> s.Review:
        row = db.row(f"{REVIEW_SELECT} WHERE r.review_id = ?", (review_id,))
        if row is None:
            raise not_found("review", review_id, "review ids look like 'r00001'; find one with list_movie_reviews")
        return review_model(row)

    @router.get(
        "/users/{username}/reviews",
        operation_id="list_user_reviews",
        response_description="The user's reviews, each with the reviewed movie's id.",
        summary="List the reviews written by a user",
        description="Every review by one user, newest first, each with the movie_id of the reviewed movie. "
        "Users who never reviewed anything are unknown (404).",
        response_model=s.UserReviews,
        responses=error_responses(not_found="No user with this name has written a review."),
    )
    def list_user_reviews(
        username: str = Path(pattern=USERNAME_PATTERN,
                             description="Reviewer's username, e.g. from list_movie_reviews results[].username.",
                             examples=[ex.username]),
    ) -> s.UserReviews:
        rows = db.rows(f"{REVIEW_SELECT} WHERE r.username = ? ORDER BY r.date DESC, r.review_id", (username,))
        if not rows:
            raise not_found("user", username, "usernames come from list_movie_reviews results[].username")
        return s.UserReviews(username=username, results=[review_model(r) for r in rows], total=len(rows))

    @router.post(
        "/movies/{movie_id}/reviews",
        operation_id="post_review",
        response_description="The published review with its review id.",
        summary="Write a review of a movie",
        description="Publish a review (score 1-10, headline, text) under a username. Each user can review a "
        "movie once; a second review fails with 409. Returns the stored review with its review_id.",
        response_model=s.Review,
        responses=error_responses(not_found="No movie has this id.",
                                  conflict="This user has already reviewed this movie."),
    )
    def post_review(
        movie_id: str = movie_id_param(),
        review: s.ReviewRequest = Body(
            description="The review to publish.",
            examples=[{"username": "nightowl_zed", "rating": 8, "headline": "Worth every minute",
                       "body": "Every scene feels carefully crafted."}],
        ),
    ) -> s.Review:
        require_movie(db, movie_id)
        with db.transaction() as conn:
            taken = conn.execute("SELECT review_id FROM reviews WHERE movie_id = ? AND username = ?",
                                 (movie_id, review.username)).fetchone()
            if taken is not None:
                raise conflict(f"user {review.username!r} already reviewed movie {movie_id!r} "
                               f"(review {taken['review_id']!r})")
            count = conn.execute("SELECT COUNT(*) FROM reviews").fetchone()[0]
            review_id = f"r{count + 1:05d}"
            conn.execute(
                "INSERT INTO reviews VALUES (?, ?, ?, ?, ?, ?, ?, 0)",
                (review_id, movie_id, review.username, review.rating, review.headline.strip(), review.body.strip(),
                 db.world.today.isoformat()),
            )
            row = conn.execute(f"{REVIEW_SELECT} WHERE r.review_id = ?", (review_id,)).fetchone()
        return review_model(row)

    return router
