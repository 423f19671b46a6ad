"""Daily weather for a few real cities: a seasonal temperature curve plus persistent noise, and rain.

The climate figures are rounded long-term normals (coldest and warmest monthly mean
temperature, yearly precipitation, share of wet days) as published by the cities'
weather services and summarised on Wikipedia's climate tables; they are meant to make
Shanghai's summer hot and wet and Stockholm's March cold, not to forecast anything.

>>> import numpy as np
>>> from datetime import date
>>> w = generate_weather(("Stockholm", "Guangzhou"), date(2026, 1, 10), 5, np.random.default_rng(0))
>>> w.temperature_c.shape
(2, 5)
>>> bool(w.temperature_c[0].mean() < w.temperature_c[1].mean())
True
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from fitloop.errors import InvalidInput

__all__ = ["Climate", "CLIMATES", "Weather", "generate_weather"]


@dataclass(frozen=True, slots=True)
class Climate:
    """Long-term normals of one city.

    ``coldest_c``/``warmest_c``: mean temperature of the coldest and warmest month;
    ``warmest_doy``: day of year of the warmest point; ``rain_mm_year``: yearly precipitation;
    ``wet_day_share``: share of days with rain; ``summer_rain``: how much of the rain falls in
    summer (0 = even through the year, 1 = monsoon-like).
    """

    coldest_c: float
    warmest_c: float
    rain_mm_year: float
    wet_day_share: float
    summer_rain: float = 0.0
    warmest_doy: int = 200


CLIMATES: dict[str, Climate] = {
    "Shanghai": Climate(4.8, 28.6, 1160.0, 0.36, 0.5),
    "Beijing": Climate(-3.1, 27.0, 570.0, 0.19, 0.9),
    "Guangzhou": Climate(13.9, 29.0, 1800.0, 0.41, 0.6),
    "London": Climate(5.2, 18.9, 620.0, 0.30, 0.0),
    "Paris": Climate(5.0, 20.5, 640.0, 0.31, 0.0),
    "Berlin": Climate(0.6, 19.8, 570.0, 0.29, 0.2),
    "New York": Climate(0.5, 25.3, 1200.0, 0.33, 0.1),
    "Stockholm": Climate(-1.6, 18.1, 540.0, 0.30, 0.2),
    "Sydney": Climate(13.0, 23.5, 1150.0, 0.37, 0.0, warmest_doy=20),
}


@dataclass(frozen=True)
class Weather:
    """Temperature (°C) and rain (mm) per city (rows) and day (columns) from ``start``."""

    cities: tuple[str, ...]
    start: date
    temperature_c: np.ndarray
    rain_mm: np.ndarray

    @property
    def n_days(self) -> int:
        return int(self.temperature_c.shape[1])

    def city_index(self, city: str) -> int:
        try:
            return self.cities.index(city)
        except ValueError:
            raise InvalidInput(f"unknown city {city!r}; the shop simulates {list(self.cities)}") from None

    def day_index(self, day: date | int) -> int:
        """Day offset from ``start``; ``day`` is a date or already an offset."""
        d = day if isinstance(day, int) else (day - self.start).days
        if not 0 <= d < self.n_days:
            last = self.start + timedelta(days=self.n_days - 1)
            raise InvalidInput(f"day {day} is outside the simulated weather {self.start}..{last}")
        return int(d)

    def at(self, city: str, day: date | int) -> tuple[float, float]:
        """``(temperature_c, rain_mm)`` in ``city`` on ``day``."""
        c, d = self.city_index(city), self.day_index(day)
        return float(self.temperature_c[c, d]), float(self.rain_mm[c, d])

    def to_frame(self) -> pd.DataFrame:
        """Long frame: city, day (date), temperature_c, rain_mm."""
        n = self.n_days
        days = [self.start + timedelta(days=i) for i in range(n)]
        return pd.DataFrame(
            {
                "city": np.repeat(np.array(self.cities, dtype=object), n),
                "day": days * len(self.cities),
                "temperature_c": self.temperature_c.ravel().round(1),
                "rain_mm": self.rain_mm.ravel().round(1),
            }
        )


def generate_weather(cities: tuple[str, ...], start: date, n_days: int, rng: np.random.Generator) -> Weather:
    """Simulate ``n_days`` of daily weather for ``cities`` from ``start``."""
    unknown = [c for c in cities if c not in CLIMATES]
    if unknown:
        raise InvalidInput(f"no climate for cities {unknown}; choose from {sorted(CLIMATES)}")
    doy = np.array([(start + timedelta(days=i)).timetuple().tm_yday for i in range(n_days)], dtype=float)
    temps = np.empty((len(cities), n_days))
    rain = np.empty((len(cities), n_days))
    for ci, name in enumerate(cities):
        cl = CLIMATES[name]
        mean = (cl.coldest_c + cl.warmest_c) / 2.0
        amp = (cl.warmest_c - cl.coldest_c) / 2.0
        season = np.cos(2.0 * np.pi * (doy - cl.warmest_doy) / 365.25)
        # Day-to-day anomalies persist for a few days (AR(1), sd about 2.5 °C as in mid-latitudes).
        shocks = rng.normal(0.0, 1.2, n_days)
        anomaly = np.empty(n_days)
        a = rng.normal(0.0, 2.5)
        for i in range(n_days):
            a = 0.85 * a + shocks[i] * 1.3
            anomaly[i] = a
        temps[ci] = mean + amp * season + anomaly
        # Wet days more likely in summer for monsoon climates; amounts exponential.
        wet_p = np.clip(cl.wet_day_share * (1.0 + cl.summer_rain * season), 0.02, 0.95)
        wet = rng.random(n_days) < wet_p
        mean_wet_mm = cl.rain_mm_year / 365.0 / cl.wet_day_share
        amount = rng.exponential(mean_wet_mm * (1.0 + 0.5 * cl.summer_rain * season))
        rain[ci] = np.where(wet, amount, 0.0)
    return Weather(tuple(cities), start, temps, rain)
