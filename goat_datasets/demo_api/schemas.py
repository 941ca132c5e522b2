"""Request and response models of the demo API.

Every field carries a description and an example because the OpenAPI document FastAPI derives from these models is
what the dependency-graph builder reads: field descriptions become output descriptions that are embedded and matched
against parameter descriptions, so a field named ``movie_id`` described as "Id of the movie; pass it to get_movie"
is what makes the search_movies -> get_movie edge findable.
"""

from __future__ import annotations

from enum import Enum

from pydantic import BaseModel, ConfigDict, Field

from goat_datasets.demo_api.wordlists import GENRES, WEATHER_CONDITIONS

# Built from the word lists so the enum in the OpenAPI document can never disagree with the seeded data.
Genre = Enum("Genre", [(g.upper().replace(" ", "_"), g) for g in GENRES], type=str)  # type: ignore[misc]
WeatherCondition = Enum(  # type: ignore[misc]
    "WeatherCondition", [(c.upper().replace(" ", "_"), c) for c in WEATHER_CONDITIONS], type=str
)


class KnownFor(str, Enum):
    acting = "acting"
    directing = "directing"


class FilmFormat(str, Enum):
    two_d = "2D"
    three_d = "3D"
    imax = "IMAX"


class MovieSort(str, Enum):
    rating = "rating"
    newest = "newest"
    title = "title"


class ReviewSort(str, Enum):
    newest = "newest"
    highest_rating = "highest_rating"
    lowest_rating = "lowest_rating"
    most_helpful = "most_helpful"


class BookingStatus(str, Enum):
    confirmed = "confirmed"
    cancelled = "cancelled"


class ApiModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorDetail(ApiModel):
    detail: str = Field(description="Human-readable reason the request failed.", examples=["movie 'm9999' not found"])


# --- movies tool ---------------------------------------------------------------------------------------------------


class PersonRef(ApiModel):
    person_id: str = Field(description="Id of the person; pass it to get_person or get_person_movies.",
                           examples=["p0001"])
    name: str = Field(description="Full name of the person.", examples=["Gianna Galloway"])


class MovieSummary(ApiModel):
    movie_id: str = Field(description="Id of the movie; pass it to get_movie, get_movie_credits, list_movie_reviews "
                                      "or find_movie_showtimes.", examples=["m0002"])
    title: str = Field(description="Title of the movie.", examples=["The Lighthouse of the City"])
    year: int = Field(description="Release year.", examples=[2025])
    genres: list[str] = Field(description="Genres of the movie, alphabetical.", examples=[["Mystery", "Romance"]])
    rating: float = Field(description="Critics' rating from 0 to 10.", examples=[8.8])
    now_showing: bool = Field(description="True if the movie is currently playing in cinemas (has showtimes).",
                              examples=[True])


class MovieSearchResults(ApiModel):
    results: list[MovieSummary] = Field(description="Matching movies, best rated first.")
    total: int = Field(description="Number of matching movies before limit and offset are applied.", examples=[3])


class Movie(MovieSummary):
    runtime_minutes: int = Field(description="Running time in minutes.", examples=[138])
    language: str = Field(description="Original spoken language.", examples=["French"])
    overview: str = Field(description="Short plot summary.",
                          examples=["A young cartographer investigates a letter delivered forty years late."])
    director: PersonRef = Field(description="The director of the movie.")


class CastMember(ApiModel):
    person_id: str = Field(description="Id of the actor; pass it to get_person or get_person_movies.",
                           examples=["p0042"])
    name: str = Field(description="Actor's full name.", examples=["Esme Okafor"])
    character: str = Field(description="Character the actor plays.", examples=["Detective Thorne"])
    order: int = Field(description="Billing order, 1 = lead role.", examples=[1])


class CrewMember(ApiModel):
    person_id: str = Field(description="Id of the crew member; pass it to get_person.", examples=["p0002"])
    name: str = Field(description="Crew member's full name.", examples=["Greta Brightwell"])
    job: str = Field(description="Job on the movie.", examples=["Director"])


class MovieCredits(ApiModel):
    movie_id: str = Field(description="Id of the movie these credits belong to.", examples=["m0002"])
    title: str = Field(description="Title of the movie.", examples=["The Lighthouse of the City"])
    cast: list[CastMember] = Field(description="Actors in billing order.")
    crew: list[CrewMember] = Field(description="Crew members (the director).")


class SimilarMovies(ApiModel):
    movie_id: str = Field(description="Id of the movie the recommendations are for.", examples=["m0002"])
    results: list[MovieSummary] = Field(description="Movies sharing genres with it, most similar first.")
    total: int = Field(description="Number of similar movies returned.", examples=[5])


class GenreCount(ApiModel):
    genre: str = Field(description="Genre name; pass it as the genre of discover_movies or search_movies.",
                       examples=["Drama"])
    movie_count: int = Field(description="Number of movies in the catalogue with this genre.", examples=[9])


class GenreList(ApiModel):
    results: list[GenreCount] = Field(description="All genres, alphabetical.")
    total: int = Field(description="Number of genres.", examples=[13])


class PersonSummary(ApiModel):
    person_id: str = Field(description="Id of the person; pass it to get_person or get_person_movies.",
                           examples=["p0042"])
    name: str = Field(description="Full name of the person.", examples=["Esme Okafor"])
    known_for: KnownFor = Field(description="Whether the person is mainly an actor or a director.")


class PersonSearchResults(ApiModel):
    results: list[PersonSummary] = Field(description="Matching people, alphabetical by name.")
    total: int = Field(description="Number of matching people before limit and offset are applied.", examples=[2])


class Person(PersonSummary):
    birth_year: int = Field(description="Year of birth.", examples=[1978])
    birth_city: str = Field(description="City of birth.", examples=["Northvale"])
    biography: str = Field(description="One-paragraph biography.",
                           examples=["Esme Okafor is a versatile actor born in Northvale in 1978."])
    movie_count: int = Field(description="Number of movies the person is credited in.", examples=[4])


class PersonCredit(ApiModel):
    movie_id: str = Field(description="Id of the movie; pass it to get_movie.", examples=["m0002"])
    title: str = Field(description="Title of the movie.", examples=["The Lighthouse of the City"])
    year: int = Field(description="Release year of the movie.", examples=[2025])
    job: str = Field(description="The person's job on the movie: Actor or Director.", examples=["Actor"])
    character: str | None = Field(description="Character played, or null for a director.",
                                  examples=["Detective Thorne"])


class PersonMovies(ApiModel):
    person_id: str = Field(description="Id of the person.", examples=["p0042"])
    name: str = Field(description="Full name of the person.", examples=["Esme Okafor"])
    results: list[PersonCredit] = Field(description="The person's movies, newest first.")
    total: int = Field(description="Number of movies.", examples=[4])


# --- cinemas tool --------------------------------------------------------------------------------------------------


class City(ApiModel):
    city: str = Field(description="City name; pass it to search_cinemas or get_weather_forecast.",
                      examples=["Silverlake"])
    region: str = Field(description="Region the city lies in.", examples=["Lake District"])
    population: int = Field(description="Number of inhabitants.", examples=[412000])
    cinema_count: int = Field(description="Number of cinemas in the city.", examples=[2])


class CityList(ApiModel):
    results: list[City] = Field(description="Cities with cinemas, alphabetical.")
    total: int = Field(description="Number of cities.", examples=[8])


class CinemaSummary(ApiModel):
    cinema_id: str = Field(description="Id of the cinema; pass it to get_cinema or list_showtimes.",
                           examples=["c001"])
    name: str = Field(description="Name of the cinema.", examples=["Paragon Silverlake"])
    city: str = Field(description="City the cinema is in.", examples=["Silverlake"])
    address: str = Field(description="Street address.", examples=["21 Orchard Avenue"])


class CinemaSearchResults(ApiModel):
    results: list[CinemaSummary] = Field(description="Matching cinemas, alphabetical by name.")
    total: int = Field(description="Number of matching cinemas.", examples=[2])


class Cinema(CinemaSummary):
    screens: int = Field(description="Number of screens.", examples=[9])
    amenities: list[str] = Field(description="Facilities on site.", examples=[["3D", "wheelchair access"]])


class Showtime(ApiModel):
    showtime_id: str = Field(description="Id of the screening; pass it to get_showtime or book_tickets.",
                             examples=["s00001"])
    movie_id: str = Field(description="Id of the movie being screened.", examples=["m0002"])
    movie_title: str = Field(description="Title of the movie being screened.", examples=["The Lighthouse of the City"])
    cinema_id: str = Field(description="Id of the cinema.", examples=["c001"])
    cinema_name: str = Field(description="Name of the cinema.", examples=["Paragon Silverlake"])
    city: str = Field(description="City of the cinema.", examples=["Silverlake"])
    date: str = Field(description="Screening date (YYYY-MM-DD).", examples=["2025-06-02"])
    time: str = Field(description="Start time, 24-hour local time (HH:MM).", examples=["18:45"])
    starts_at: str = Field(description="Start as an ISO 8601 local date-time.", examples=["2025-06-02T18:45"])
    format: FilmFormat = Field(description="Projection format.")
    language: str = Field(description="Spoken language of the screening.", examples=["French"])
    price: float = Field(description="Price of one ticket.", examples=[14.0])
    currency: str = Field(description="ISO 4217 currency of the price.", examples=["EUR"])
    seats_left: int = Field(description="Seats still available; 0 means sold out.", examples=[11])


class ShowtimeList(ApiModel):
    results: list[Showtime] = Field(description="Screenings ordered by date, time and cinema.")
    total: int = Field(description="Number of screenings before limit is applied.", examples=[12])


class BookingRequest(ApiModel):
    showtime_id: str = Field(description="Id of the screening to book, from list_showtimes or find_movie_showtimes.",
                             examples=["s00001"])
    seats: int = Field(ge=1, le=10, description="Number of seats to book (1-10).", examples=[2])
    customer_name: str = Field(min_length=1, max_length=80, description="Name the booking is made under.",
                               examples=["Ada Lindqvist"])


class Booking(ApiModel):
    booking_id: str = Field(description="Id of the booking; pass it to get_booking or cancel_booking.",
                            examples=["b0001"])
    confirmation_code: str = Field(description="Code to show at the cinema.", examples=["K7Q2XP"])
    status: BookingStatus = Field(description="confirmed, or cancelled after cancel_booking.")
    showtime_id: str = Field(description="Id of the booked screening.", examples=["s00001"])
    movie_id: str = Field(description="Id of the booked movie.", examples=["m0002"])
    movie_title: str = Field(description="Title of the booked movie.", examples=["The Lighthouse of the City"])
    cinema_id: str = Field(description="Id of the cinema.", examples=["c001"])
    cinema_name: str = Field(description="Name of the cinema.", examples=["Paragon Silverlake"])
    city: str = Field(description="City of the cinema.", examples=["Silverlake"])
    starts_at: str = Field(description="Screening start as an ISO 8601 local date-time.",
                           examples=["2025-06-02T18:45"])
    seats: int = Field(description="Number of seats booked.", examples=[2])
    customer_name: str = Field(description="Name the booking is made under.", examples=["Ada Lindqvist"])
    total_price: float = Field(description="Price of all seats together.", examples=[28.0])
    currency: str = Field(description="ISO 4217 currency of the price.", examples=["EUR"])


# --- reviews tool --------------------------------------------------------------------------------------------------


class Review(ApiModel):
    review_id: str = Field(description="Id of the review; pass it to get_review.", examples=["r00001"])
    movie_id: str = Field(description="Id of the reviewed movie; pass it to get_movie.", examples=["m0001"])
    movie_title: str = Field(description="Title of the reviewed movie.", examples=["A Circus in the Desert"])
    username: str = Field(description="Author of the review; pass it to list_user_reviews.",
                          examples=["plotwatcher_dev"])
    rating: int = Field(description="The reviewer's score from 1 to 10.", examples=[4])
    headline: str = Field(description="One-line summary of the review.", examples=["Not for me"])
    body: str = Field(description="Review text.", examples=["The plot never quite comes together."])
    date: str = Field(description="Date the review was posted (YYYY-MM-DD).", examples=["2024-09-10"])
    helpful_votes: int = Field(description="How many readers marked the review helpful.", examples=[43])


class MovieReviews(ApiModel):
    movie_id: str = Field(description="Id of the movie.", examples=["m0001"])
    movie_title: str = Field(description="Title of the movie.", examples=["A Circus in the Desert"])
    average_rating: float | None = Field(description="Mean reviewer score (1-10) over all reviews, null if none.",
                                         examples=[5.3])
    results: list[Review] = Field(description="Reviews in the requested order.")
    total: int = Field(description="Number of reviews matching the filter before limit is applied.", examples=[7])


class UserReviews(ApiModel):
    username: str = Field(description="The reviewer.", examples=["plotwatcher_dev"])
    results: list[Review] = Field(description="The user's reviews, newest first.")
    total: int = Field(description="Number of reviews by the user.", examples=[9])


class ReviewRequest(ApiModel):
    username: str = Field(pattern=r"^[a-z0-9_]{3,30}$",
                          description="Reviewer's username: 3-30 lowercase letters, digits or underscores.",
                          examples=["nightowl_ana"])
    rating: int = Field(ge=1, le=10, description="Score from 1 (worst) to 10 (best).", examples=[8])
    headline: str = Field(min_length=1, max_length=80, description="One-line summary.",
                          examples=["Worth every minute"])
    body: str = Field(min_length=1, max_length=2000, description="Review text.",
                      examples=["Every scene feels carefully crafted."])


# --- weather tool --------------------------------------------------------------------------------------------------


class Forecast(ApiModel):
    city: str = Field(description="City of the forecast.", examples=["Silverlake"])
    date: str = Field(description="Forecast date (YYYY-MM-DD).", examples=["2025-06-02"])
    condition: WeatherCondition = Field(description="Expected sky and precipitation.")
    temperature_high_c: int = Field(description="Daytime high in degrees Celsius.", examples=[25])
    temperature_low_c: int = Field(description="Night-time low in degrees Celsius.", examples=[19])
    precipitation_chance: int = Field(description="Chance of rain in percent (0-100).", examples=[90])
    wind_kph: int = Field(description="Average wind speed in km/h.", examples=[40])
    summary: str = Field(description="One-sentence forecast in plain words.",
                         examples=["Thunderstorms in Silverlake, 19-25 °C, 90% chance of rain."])


class WeeklyForecast(ApiModel):
    city: str = Field(description="City of the forecast.", examples=["Silverlake"])
    days: list[Forecast] = Field(description="One forecast per day, in date order.")
