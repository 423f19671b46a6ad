"""Context providers: weather per city and day, seasons and the fashion calendar, trends."""

from fitloop.context.season import SEASONS, CalendarEvent, FashionCalendar, default_events, season_for
from fitloop.context.trends import EVENT_WEIGHTS, TrendConfig, TrendTracker
from fitloop.context.weather import (
    CITIES,
    CityInfo,
    ClimateNormalsProvider,
    FallbackWeather,
    OpenMeteoProvider,
    SeasonDefaultProvider,
    WeatherProvider,
    WeatherReading,
    WeatherUnavailable,
    lookup_city,
    week_temperatures,
)

__all__ = [
    "CITIES",
    "EVENT_WEIGHTS",
    "SEASONS",
    "CalendarEvent",
    "CityInfo",
    "ClimateNormalsProvider",
    "FallbackWeather",
    "FashionCalendar",
    "OpenMeteoProvider",
    "SeasonDefaultProvider",
    "TrendConfig",
    "TrendTracker",
    "WeatherProvider",
    "WeatherReading",
    "WeatherUnavailable",
    "default_events",
    "lookup_city",
    "season_for",
    "week_temperatures",
]
