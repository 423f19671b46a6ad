"""Shoppers: a public face (:class:`fitloop.data.User`) and hidden tastes only the simulator knows.

Ages follow the H&M customers file (median 31, quartiles 24/48); activity is heavy-tailed
like H&M's purchases per customer (median 9, mean 22 over 21 months).

>>> import numpy as np
>>> from datetime import date
>>> users, tastes = generate_shoppers(20, ("London", "Paris"), date(2026, 3, 1), np.random.default_rng(0))
>>> len(users), tastes.style_affinity.shape[0], users[0].city in ("London", "Paris")
(20, 20, True)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import numpy as np
import pandas as pd

from fitloop.data import User
from fitloop.evaluate.simulator.catalog import CATEGORIES, COLOURS, SIZE_SYSTEMS, STYLES

__all__ = ["HiddenTastes", "generate_shoppers"]

_AGE_BANDS: tuple[tuple[str, int, int], ...] = (
    ("18-24", 18, 24),
    ("25-34", 25, 34),
    ("35-44", 35, 44),
    ("45-54", 45, 54),
    ("55+", 55, 120),
)


@dataclass
class HiddenTastes:
    """What drives each shopper's behaviour; rows align with ``user_ids``.

    - ``style_affinity`` (n, styles), ``colour_pref`` (n, colours), ``category_affinity``
      (n, categories): additive utility terms, about -1 .. 1.
    - ``price_centre``: log of the shopper's favourite price; ``price_width``: tolerance (log units).
    - ``body_size`` (n, 3): true size in size steps for the ``top``, ``bottom`` and ``shoe`` size
      systems (0 = XS or EU 36); continuous, so some shoppers sit between two sizes.
    - ``eco_pref`` 0..1, ``weather_sensitivity`` 0..1, ``boredom`` 0..1 (utility lost per recent
      look at the same article type), ``activity`` (relative session rate), ``buy_propensity``.
    """

    user_ids: list[str]
    city: np.ndarray  # index into the shop's cities
    style_affinity: np.ndarray
    colour_pref: np.ndarray
    category_affinity: np.ndarray
    price_centre: np.ndarray
    price_width: np.ndarray
    body_size: np.ndarray
    eco_pref: np.ndarray
    weather_sensitivity: np.ndarray
    boredom: np.ndarray
    activity: np.ndarray
    buy_propensity: np.ndarray

    def __len__(self) -> int:
        return len(self.user_ids)

    def to_frame(self) -> pd.DataFrame:
        """One row per shopper: the favourite style/colours/category and every scalar trait."""
        top_colours = np.argsort(-self.colour_pref, axis=1)[:, :2]
        top_labels = {name: SIZE_SYSTEMS[name] for name in ("top", "bottom", "shoe")}
        frame = pd.DataFrame(
            {
                "user_id": self.user_ids,
                "style": [STYLES[i] for i in self.style_affinity.argmax(axis=1)],
                "colours": [f"{COLOURS[a][0]},{COLOURS[b][0]}" for a, b in top_colours],
                "category": [CATEGORIES[i] for i in self.category_affinity.argmax(axis=1)],
                "price_band_low": np.exp(self.price_centre - self.price_width).round(2),
                "price_band_high": np.exp(self.price_centre + self.price_width).round(2),
                "eco_pref": self.eco_pref.round(3),
                "weather_sensitivity": self.weather_sensitivity.round(3),
                "boredom": self.boredom.round(3),
                "activity": self.activity.round(3),
                "buy_propensity": self.buy_propensity.round(3),
            }
        )
        for k, name in enumerate(("top", "bottom", "shoe")):
            labels = top_labels[name]
            idx = np.clip(np.rint(self.body_size[:, k]).astype(int), 0, len(labels) - 1)
            frame[f"size_{name}"] = [labels[i] for i in idx]
            frame[f"size_{name}_exact"] = self.body_size[:, k].round(2)
        return frame.set_index("user_id")


def generate_shoppers(
    n: int, cities: tuple[str, ...], start: date, rng: np.random.Generator
) -> tuple[list[User], HiddenTastes]:
    """Generate ``n`` shoppers living in ``cities``."""
    n_st, n_col, n_cat = len(STYLES), len(COLOURS), len(CATEGORIES)
    # Style: one main style, often a second one; the rest small noise.
    style = rng.normal(0.0, 0.15, (n, n_st))
    main = rng.integers(0, n_st, n)
    second = (main + rng.integers(1, n_st, n)) % n_st
    style[np.arange(n), main] += 1.0
    style[np.arange(n), second] += np.where(rng.random(n) < 0.6, 0.5, 0.0)
    # Colour: two or three loved colours, two disliked; black is liked by many (H&M's top seller).
    colour = rng.normal(0.0, 0.15, (n, n_col))
    pop = np.array([w for _, w in COLOURS])
    pop = pop / pop.sum()
    for _ in range(3):
        colour[np.arange(n), rng.choice(n_col, n, p=pop)] += 0.6
    for _ in range(2):
        colour[np.arange(n), rng.integers(0, n_col, n)] -= 0.6
    category = rng.normal(0.0, 0.35, (n, n_cat))
    category[np.arange(n), rng.integers(0, n_cat, n)] += 0.6
    # Price band: centred near H&M's median purchase (25) with shopper-to-shopper spread.
    price_centre = rng.normal(np.log(30.0), 0.4, n)
    price_width = rng.uniform(0.35, 0.8, n)
    # Body sizes (size steps): tops around M with spread of one size; bottoms correlated; shoes EU 36-45.
    top = np.clip(rng.normal(2.0, 1.0, n), 0.0, 5.0)
    bottom = np.clip(top + rng.normal(0.0, 0.5, n), 0.0, 5.0)
    shoe = np.clip(3.5 + 1.2 * (top - 2.0) + rng.normal(0.0, 1.4, n), 0.0, 9.0)
    body = np.stack([top, bottom, shoe], axis=1)
    eco = rng.beta(1.2, 3.0, n)
    weather = rng.beta(2.0, 2.0, n)
    boredom = rng.uniform(0.05, 0.6, n)
    activity = rng.lognormal(0.0, 0.9, n)
    buy = rng.beta(2.0, 3.0, n) * 2.5
    city_w = rng.dirichlet(np.full(len(cities), 4.0))
    city = rng.choice(len(cities), n, p=city_w)
    ages = np.clip(rng.lognormal(np.log(33.0), 0.35, n), 18, 90).astype(int)
    channel = np.where(rng.random(n) < 0.7, "app", "web")

    user_ids = [f"u{i + 1:06d}" for i in range(n)]
    signup = datetime.combine(start, time(9, 0))
    joined = rng.integers(1, 900, n)
    users = []
    for i, uid in enumerate(user_ids):
        band = next(lbl for lbl, lo, hi in _AGE_BANDS if lo <= ages[i] <= hi)
        users.append(
            User(
                user_id=uid,
                created_at=signup - timedelta(days=int(joined[i])),
                city=cities[int(city[i])],
                traits={"age_band": band, "channel": str(channel[i])},
            )
        )
    tastes = HiddenTastes(
        user_ids=user_ids,
        city=city,
        style_affinity=style,
        colour_pref=colour,
        category_affinity=category,
        price_centre=price_centre,
        price_width=price_width,
        body_size=body,
        eco_pref=eco,
        weather_sensitivity=weather,
        boredom=boredom,
        activity=activity,
        buy_propensity=buy,
    )
    return users, tastes
