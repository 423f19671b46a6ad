"""RentTheRunway fit feedback (Misra, Wan and McAuley, RecSys 2018; research use).

One row per reviewed rental: who (``user_id`` and body measurements), what (``item_id``,
``category``, ``size``) and how it fitted (``fit`` in {fit, small, large}).

>>> from fitloop.datasets import rtr
>>> df = rtr.load_rentals()                          # doctest: +SKIP
>>> sorted(df["fit"].unique())                        # doctest: +SKIP
['fit', 'large', 'small']
"""

from __future__ import annotations

import os

import pandas as pd

from fitloop.datasets._common import (
    Column,
    as_choice,
    as_date,
    as_float,
    as_int,
    as_required_str,
    as_str,
    find_file,
    read_checked_csv,
)

__all__ = ["FIT_LABELS", "load_rentals"]

PathLike = str | os.PathLike[str]

FIT_LABELS: tuple[str, ...] = ("fit", "small", "large")

_RENTALS: dict[str, Column] = {
    "fit": as_choice(FIT_LABELS),
    "user_id": as_required_str(),
    "item_id": as_required_str(),
    "size": as_int(),
    "review_date": as_date("%Y-%m-%d"),
    "weight_lbs": as_float(),
    "rating": as_float(),
    "age": as_float(),
    "bust_size_num": as_float(),
    "height_in": as_float(),
    "rented_for": as_str(),
    "body_type": as_str(),
    "category": as_str(),
    "bust_size_letter": as_str(),
    "review_month": as_int(),
    "review_day_of_month": as_int(),
    "review_year": as_int(),
    "recommend": as_int(),
}


def load_rentals(
    data_dir: PathLike | None = None,
    *,
    path: PathLike | None = None,
    require_fit: bool = True,
) -> pd.DataFrame:
    """All columns of the rentals file.

    ``user_id``, ``item_id`` str; ``size`` int64 (RTR's numeric size code); ``review_date``
    datetime64[ns]; ``fit`` str in {fit, small, large}; body measurements and ``rating`` float64
    (NaN when not given); other text columns str (NaN when missing).

    Required columns: ``user_id``, ``item_id``, ``size`` and, when ``require_fit`` (the default),
    ``fit`` and ``review_date``. With ``require_fit=False`` (prediction inputs) those two may be
    absent; when present they are still checked.
    """
    p = find_file(data_dir, path, ["rtr/rentals.csv.gz", "rtr/rentals.csv"], what="RentTheRunway rentals")
    required = ["user_id", "item_id", "size"] + (["fit", "review_date"] if require_fit else [])
    return read_checked_csv(p, what="RentTheRunway rentals", schema=_RENTALS, required=required)
