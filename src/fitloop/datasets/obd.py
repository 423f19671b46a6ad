"""Open Bandit Dataset (ZOZOTOWN; Saito et al. 2021; CC BY 4.0): logged impressions with propensities.

Each row is one item shown in one of 3 slots, with the click, the probability with which the
logging policy (``random`` or ``bts`` = Bernoulli Thompson Sampling) chose it, hashed user
features and user-item affinities.

>>> from fitloop.datasets import obd
>>> log = obd.load_log("random")                     # doctest: +SKIP
>>> str(log["timestamp"].dt.tz)                       # doctest: +SKIP
'UTC'
"""

from __future__ import annotations

import os

import pandas as pd

from fitloop.datasets._common import (
    Column,
    as_float,
    as_int,
    as_str,
    as_utc_timestamp,
    find_file,
    read_checked_csv,
    read_header,
)
from fitloop.errors import DatasetError

__all__ = ["POLICIES", "CAMPAIGNS", "LOG_COLUMNS", "load_log", "load_item_context"]

PathLike = str | os.PathLike[str]

POLICIES: tuple[str, ...] = ("random", "bts")
CAMPAIGNS: tuple[str, ...] = ("all", "men", "women")
LOG_COLUMNS: tuple[str, ...] = ("timestamp", "item_id", "position", "click", "propensity_score")

_LOG: dict[str, Column] = {
    "timestamp": as_utc_timestamp(),
    "item_id": as_int(),
    "position": as_int(),
    "click": as_int(),
    "propensity_score": as_float(required=True),
    **{f"user_feature_{i}": as_str() for i in range(4)},
}

_ITEM_CONTEXT: dict[str, Column] = {"item_id": as_int(), "item_feature_0": as_float()}


def _check(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise DatasetError(f"unknown Open Bandit {name} {value!r}; use one of {list(allowed)}.",
                           code="dataset_bad_argument", details={name: value, "allowed": list(allowed)})


def load_log(
    policy: str = "random",
    campaign: str = "all",
    data_dir: PathLike | None = None,
    *,
    path: PathLike | None = None,
) -> pd.DataFrame:
    """One logged bandit feedback file, ``obd/<policy>_<campaign>.csv[.gz]`` (or ``path``).

    The unnamed index column is dropped. ``timestamp`` datetime64[ns, UTC]; ``item_id``,
    ``position`` (1..3, as in the file), ``click`` int64; ``propensity_score`` float64;
    ``user_feature_0..3`` str; ``user-item_affinity_0..N`` float64; any other column str.
    """
    _check("policy", policy, POLICIES)
    _check("campaign", campaign, CAMPAIGNS)
    names = [f"obd/{policy}_{campaign}.csv.gz", f"obd/{policy}_{campaign}.csv"]
    p = find_file(data_dir, path, names, what=f"Open Bandit {policy}/{campaign} log")
    # Affinity columns are numbered per campaign (80 items for "all"), so type them by prefix.
    schema = dict(_LOG)
    for c in read_header(p):
        if c.startswith("user-item_affinity_"):
            schema[c] = as_float()
    return read_checked_csv(p, what="Open Bandit log", schema=schema, required=LOG_COLUMNS, drop_unnamed=True)


def load_item_context(
    campaign: str = "all",
    data_dir: PathLike | None = None,
    *,
    path: PathLike | None = None,
) -> pd.DataFrame:
    """Item features, ``obd/item_context_<campaign>.csv[.gz]``: ``item_id`` int64,
    ``item_feature_0`` float64 (a scaled numeric feature), ``item_feature_1..3`` str (hashed)."""
    _check("campaign", campaign, CAMPAIGNS)
    names = [f"obd/item_context_{campaign}.csv", f"obd/item_context_{campaign}.csv.gz"]
    p = find_file(data_dir, path, names, what=f"Open Bandit item context ({campaign})")
    return read_checked_csv(p, what="Open Bandit item context", schema=_ITEM_CONTEXT, required=("item_id",),
                            drop_unnamed=True)
