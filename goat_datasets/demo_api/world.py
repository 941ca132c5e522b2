"""The seeded demo world: movies, people, cities, cinemas, showtimes, reviews and weather.

Everything is drawn from one `random.Random(seed)` in a fixed order, and the calendar is pinned to `TODAY`, so the same
seed always yields the same rows and therefore byte-identical API responses (tests and dataset rebuilds rely on it).
Ids are positional (``m0001``, ``p0001``...), with a different prefix per entity, so an id of the wrong kind is a 404
instead of silently hitting some other row - which is what lets an execution check reject a wrong dependency edge.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import NamedTuple

from goat_datasets.demo_api import wordlists as words

TODAY = dt.date(2025, 6, 2)
SHOWTIME_DAYS = 7
FORECAST_DAYS = 14
SLOT_TIMES: tuple[str, ...] = ("11:00", "13:30", "16:15", "18:45", "21:00", "22:30")
FORMAT_SURCHARGE_CENTS = {"2D": 0, "3D": 250, "IMAX": 500}
EVENING_SURCHARGE_CENTS = 150


class CityRow(NamedTuple):
    city: str
    region: str
    population: int


class MovieRow(NamedTuple):
    movie_id: str
    title: str
    year: int
    runtime_minutes: int
    rating: float
    language: str
    overview: str
    director_id: str
    now_showing: int


class MovieGenreRow(NamedTuple):
    movie_id: str
    genre: str


class PersonRow(NamedTuple):
    person_id: str
    name: str
    known_for: str
    birth_year: int
    birth_city: str
    biography: str


class CreditRow(NamedTuple):
    movie_id: str
    person_id: str
    job: str
    character: str | None
    billing_order: int


class CinemaRow(NamedTuple):
    cinema_id: str
    name: str
    city: str
    address: str
    screens: int
    amenities: str


class ShowtimeRow(NamedTuple):
    showtime_id: str
    movie_id: str
    cinema_id: str
    date: str
    time: str
    format: str
    language: str
    price_cents: int
    capacity: int
    seats_left: int


class ReviewRow(NamedTuple):
    review_id: str
    movie_id: str
    username: str
    rating: int
    headline: str
    body: str
    date: str
    helpful_votes: int


class ForecastRow(NamedTuple):
    city: str
    date: str
    condition: str
    high_c: int
    low_c: int
    precipitation_chance: int
    wind_kph: int


@dataclass
class World:
    seed: int
    today: dt.date = TODAY
    cities: list[CityRow] = field(default_factory=list)
    movies: list[MovieRow] = field(default_factory=list)
    movie_genres: list[MovieGenreRow] = field(default_factory=list)
    people: list[PersonRow] = field(default_factory=list)
    credits: list[CreditRow] = field(default_factory=list)
    cinemas: list[CinemaRow] = field(default_factory=list)
    showtimes: list[ShowtimeRow] = field(default_factory=list)
    reviews: list[ReviewRow] = field(default_factory=list)
    forecasts: list[ForecastRow] = field(default_factory=list)


@dataclass(frozen=True)
class WorldSize:
    """How big the world is; the defaults give a catalogue small enough to build in milliseconds."""

    cities: int = 8
    cinemas_per_city: int = 2
    movies: int = 60
    now_showing: int = 20
    directors: int = 20
    actors: int = 80
    usernames: int = 40
    movies_per_cinema: int = 8


def build_world(seed: int = 0, size: WorldSize = WorldSize()) -> World:
    rng = random.Random(seed)
    world = World(seed=seed)
    _add_cities(rng, world, size)
    _add_people(rng, world, size)
    _add_movies(rng, world, size)
    _add_cinemas(rng, world, size)
    _add_showtimes(rng, world, size)
    _add_reviews(rng, world, size)
    _add_forecasts(rng, world)
    return world


def _add_cities(rng: random.Random, world: World, size: WorldSize) -> None:
    for name in rng.sample(words.CITY_NAMES, size.cities):
        world.cities.append(CityRow(name, rng.choice(words.REGIONS), rng.randrange(40_000, 2_500_000, 1_000)))


def _unique_names(rng: random.Random, count: int) -> list[str]:
    pairs = [(first, last) for first in words.FIRST_NAMES for last in words.LAST_NAMES]
    return [f"{first} {last}" for first, last in rng.sample(pairs, count)]


def _add_people(rng: random.Random, world: World, size: WorldSize) -> None:
    names = _unique_names(rng, size.directors + size.actors)
    city_names = [c.city for c in world.cities]
    for index, name in enumerate(names, start=1):
        known_for = "directing" if index <= size.directors else "acting"
        birth_year = rng.randint(1940, 2002)
        birth_city = rng.choice(city_names)
        craft = "filmmaker" if known_for == "directing" else "actor"
        trait = rng.choice(("acclaimed", "versatile", "award-winning", "self-taught", "stage-trained", "prolific"))
        article = "an" if trait[0] in "aeiou" else "a"
        biography = f"{name} is {article} {trait} {craft} born in {birth_city} in {birth_year}."
        world.people.append(PersonRow(f"p{index:04d}", name, known_for, birth_year, birth_city, biography))


def _movie_title(rng: random.Random) -> str:
    nouns = rng.sample(words.TITLE_NOUNS, 2)
    return rng.choice(words.TITLE_TEMPLATES).format(
        adj=rng.choice(words.TITLE_ADJECTIVES),
        noun=nouns[0],
        noun2=nouns[1],
        place=rng.choice(words.TITLE_PLACES),
        time=rng.choice(words.TITLE_TIMES),
    )


def _add_movies(rng: random.Random, world: World, size: WorldSize) -> None:
    directors = [p for p in world.people if p.known_for == "directing"]
    actors = [p for p in world.people if p.known_for == "acting"]
    credited: set[str] = set()
    titles: set[str] = set()
    for index in range(1, size.movies + 1):
        movie_id = f"m{index:04d}"
        title = _movie_title(rng)
        while title in titles:
            title = _movie_title(rng)
        titles.add(title)
        now_showing = index <= size.now_showing
        year = rng.choice((2024, 2025)) if now_showing else rng.randint(1975, 2023)
        genres = rng.sample(words.GENRES, rng.choice((1, 2, 2, 3)))
        protagonist = rng.choice(words.PROFESSIONS)
        plot = rng.choice(words.GENRE_PLOTS[genres[0]])
        overview = f"A {protagonist} {plot}."
        if len(genres) > 1:
            overview += f" Part {genres[1].lower()}, set in {rng.choice(words.TITLE_PLACES)}."
        director = directors[(index - 1) % len(directors)] if index <= len(directors) else rng.choice(directors)
        world.movies.append(
            MovieRow(
                movie_id=movie_id,
                title=title,
                year=year,
                runtime_minutes=rng.randint(84, 168),
                rating=round(rng.uniform(3.5, 9.3), 1),
                language=rng.choice(words.LANGUAGES),
                overview=overview,
                director_id=director.person_id,
                now_showing=int(now_showing),
            )
        )
        world.movie_genres.extend(MovieGenreRow(movie_id, g) for g in sorted(genres))
        world.credits.append(CreditRow(movie_id, director.person_id, "Director", None, 0))
        cast = rng.sample(actors, rng.randint(4, 6))
        for order, actor in enumerate(cast, start=1):
            world.credits.append(CreditRow(movie_id, actor.person_id, "Actor", _character(rng), order))
            credited.add(actor.person_id)
    # Every actor appears in at least one movie, so get_person_movies never returns an empty filmography.
    for actor in actors:
        if actor.person_id not in credited:
            movie = rng.choice(world.movies)
            order = 1 + sum(1 for c in world.credits if c.movie_id == movie.movie_id and c.job == "Actor")
            world.credits.append(CreditRow(movie.movie_id, actor.person_id, "Actor", _character(rng), order))


def _character(rng: random.Random) -> str:
    return f"{rng.choice(words.CHARACTER_ROLES)} {rng.choice(words.LAST_NAMES)}"


def _add_cinemas(rng: random.Random, world: World, size: WorldSize) -> None:
    index = 0
    for city in world.cities:
        for brand in rng.sample(words.CINEMA_BRANDS, size.cinemas_per_city):
            index += 1
            street = f"{rng.randint(1, 240)} {rng.choice(words.STREETS)} {rng.choice(words.STREET_SUFFIXES)}"
            amenities = sorted(rng.sample(words.AMENITIES, rng.randint(1, 4)))
            world.cinemas.append(
                CinemaRow(f"c{index:03d}", f"{brand} {city.city}", city.city, street, rng.randint(3, 12),
                          ",".join(amenities))
            )


def _add_showtimes(rng: random.Random, world: World, size: WorldSize) -> None:
    showing = [m for m in world.movies if m.now_showing]
    index = 0
    for cinema in world.cinemas:
        amenities = cinema.amenities.split(",")
        formats = ["2D"] + [f for f in ("3D", "IMAX") if f in amenities]
        base_cents = rng.randrange(900, 1450, 50)
        for movie in sorted(rng.sample(showing, size.movies_per_cinema), key=lambda m: m.movie_id):
            film_format = rng.choice(formats)
            capacity = rng.randrange(60, 230, 10)
            slots = sorted(rng.sample(SLOT_TIMES, rng.randint(1, 2)))
            for day in range(SHOWTIME_DAYS):
                date = (world.today + dt.timedelta(days=day)).isoformat()
                for slot in slots:
                    index += 1
                    price = base_cents + FORMAT_SURCHARGE_CENTS[film_format]
                    price += EVENING_SURCHARGE_CENTS if slot >= "18:00" else 0
                    roll = rng.random()
                    seats_left = 0 if roll < 0.08 else rng.randint(1, 4) if roll < 0.2 else rng.randint(5, capacity)
                    world.showtimes.append(
                        ShowtimeRow(f"s{index:05d}", movie.movie_id, cinema.cinema_id, date, slot, film_format,
                                    movie.language, price, capacity, seats_left)
                    )


def _add_reviews(rng: random.Random, world: World, size: WorldSize) -> None:
    combos = [f"{p}_{s}" for p in words.USERNAME_PREFIXES for s in words.USERNAME_SUFFIXES]
    usernames = sorted(rng.sample(combos, size.usernames))
    index = 0
    for movie in world.movies:
        first_day = max(dt.date(movie.year, 1, 1), world.today - dt.timedelta(days=900))
        span = (world.today - first_day).days - 1
        reviewers = rng.sample(usernames, rng.randint(3, 9))
        for username in reviewers:
            index += 1
            rating = min(10, max(1, round(rng.gauss(movie.rating, 1.4))))
            tone = "high" if rating >= 8 else "mid" if rating >= 5 else "low"
            body = " ".join(rng.sample(words.REVIEW_SENTENCES[tone], 2))
            date = first_day + dt.timedelta(days=rng.randint(0, max(span, 0)))
            world.reviews.append(
                ReviewRow(f"r{index:05d}", movie.movie_id, username, rating, rng.choice(words.REVIEW_HEADLINES[tone]),
                          body, date.isoformat(), rng.randint(0, 60))
            )


def _add_forecasts(rng: random.Random, world: World) -> None:
    for city in world.cities:
        climate_high = rng.randint(14, 27)
        for day in range(FORECAST_DAYS):
            condition = rng.choice(words.WEATHER_CONDITIONS)
            wet = condition in ("light rain", "heavy rain", "thunderstorms")
            high = climate_high + rng.randint(-4, 4) - (3 if wet else 0)
            world.forecasts.append(
                ForecastRow(
                    city=city.city,
                    date=(world.today + dt.timedelta(days=day)).isoformat(),
                    condition=condition,
                    high_c=high,
                    low_c=high - rng.randint(5, 11),
                    precipitation_chance=rng.randint(55, 95) if wet else rng.randint(0, 30),
                    wind_kph=rng.randint(25, 60) if condition in ("windy", "thunderstorms") else rng.randint(3, 24),
                )
            )
