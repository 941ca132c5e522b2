"""The "weather" tool: daily forecasts for the cities that have cinemas (plan a night out around the rain)."""

from __future__ import annotations

import datetime as dt
import sqlite3

from fastapi import APIRouter, Query

from goat_datasets.demo_api import schemas as s
from goat_datasets.demo_api.common import Examples, error_responses, invalid_argument, not_found
from goat_datasets.demo_api.db import DemoDatabase
from goat_datasets.demo_api.world import FORECAST_DAYS

TAG = "weather"
WEEK = 7


def forecast_model(row: sqlite3.Row) -> s.Forecast:
    summary = (f"{row['condition'].capitalize()} in {row['city']}, {row['low_c']} to {row['high_c']} °C, "
               f"{row['precipitation_chance']}% chance of rain.")
    return s.Forecast(city=row["city"], date=row["date"], condition=row["condition"],
                      temperature_high_c=row["high_c"], temperature_low_c=row["low_c"],
                      precipitation_chance=row["precipitation_chance"], wind_kph=row["wind_kph"], summary=summary)


def build_weather_router(db: DemoDatabase, ex: Examples) -> APIRouter:
    router = APIRouter(tags=[TAG])
    first_day = db.world.today
    last_day = first_day + dt.timedelta(days=FORECAST_DAYS - 1)

    def canonical_city(city: str) -> str:
        found = db.scalar("SELECT city FROM cities WHERE city = ?", (city.strip(),))
        if found is None:
            known = ", ".join(r["city"] for r in db.rows("SELECT city FROM cities ORDER BY city"))
            raise not_found("city", city, f"forecasts exist for: {known}")
        return found

    def check_in_range(name: str, day: dt.date, span_days: int) -> None:
        latest_start = last_day - dt.timedelta(days=span_days - 1)
        if not first_day <= day <= latest_start:
            raise invalid_argument("query", name, day.isoformat(),
                                   f"{name} must be between {first_day} and {latest_start}")

    def rows_for(city: str, start: dt.date, days: int) -> list[sqlite3.Row]:
        end = start + dt.timedelta(days=days - 1)
        return db.rows("SELECT * FROM forecasts WHERE city = ? AND date BETWEEN ? AND ? ORDER BY date",
                       (city, start.isoformat(), end.isoformat()))

    @router.get(
        "/weather/forecast",
        operation_id="get_weather_forecast",
        response_description="The forecast for the city and date.",
        summary="Get the weather forecast for a city on a date",
        description=f"Daily forecast (condition, high/low temperature, chance of rain, wind) for a city, for any "
        f"date in the next {FORECAST_DAYS} days; without a date, today's. Dates outside that window are rejected "
        "with 422.",
        response_model=s.Forecast,
        responses=error_responses(not_found="No forecast exists for this city."),
    )
    def get_weather_forecast(
        city: str = Query(min_length=1, max_length=60, description="City name, e.g. from list_cities or a cinema.",
                          examples=[ex.city]),
        date: dt.date | None = Query(None, description="Day of the forecast (YYYY-MM-DD); default today.",
                                     examples=[ex.date]),
    ) -> s.Forecast:
        name = canonical_city(city)
        day = date or first_day
        check_in_range("date", day, 1)
        return forecast_model(rows_for(name, day, 1)[0])

    @router.get(
        "/weather/weekly",
        operation_id="get_weekly_forecast",
        response_description="Seven daily forecasts for the city.",
        summary="Get a seven-day forecast for a city",
        description="Seven daily forecasts for a city starting on start_date (default today).",
        response_model=s.WeeklyForecast,
        responses=error_responses(not_found="No forecast exists for this city."),
    )
    def get_weekly_forecast(
        city: str = Query(min_length=1, max_length=60, description="City name, e.g. from list_cities or a cinema.",
                          examples=[ex.city]),
        start_date: dt.date | None = Query(None, description="First day of the week (YYYY-MM-DD); default today.",
                                           examples=[ex.date]),
    ) -> s.WeeklyForecast:
        name = canonical_city(city)
        start = start_date or first_day
        check_in_range("start_date", start, WEEK)
        return s.WeeklyForecast(city=name, days=[forecast_model(r) for r in rows_for(name, start, WEEK)])

    return router
