"""What every candidate source shares: the protocol and the frame it returns.

A source learns from :class:`~fitloop.recommend.frames.TrainData` with ``train(data)`` and
answers ``candidates(user_ids)`` with a frame of ``user_id, item_id, score, anchor``: ids in and
out, best first per user, at most ``config.n`` rows per user. ``anchor`` is the item that
explains the candidate (the item it is often bought with, the style it is a colourway of), or
``""``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd

from fitloop.errors import NotTrained
from fitloop.recommend.frames import TrainData

__all__ = ["CandidateSource", "CANDIDATE_COLUMNS", "empty_candidates", "top_n_per_user", "decay", "require_trained"]

CANDIDATE_COLUMNS: tuple[str, ...] = ("user_id", "item_id", "score", "anchor")


@runtime_checkable
class CandidateSource(Protocol):
    """A recall stage: many plausible items per shopper, cheaply."""

    name: str

    def train(self, data: TrainData) -> None: ...

    def candidates(self, user_ids: Sequence[str]) -> pd.DataFrame: ...


def empty_candidates() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="float64" if c == "score" else "object") for c in CANDIDATE_COLUMNS})


def top_n_per_user(df: pd.DataFrame, n: int) -> pd.DataFrame:
    """Keep the ``n`` highest scores per user (ties broken by item id, so results are deterministic)."""
    if df.empty:
        return empty_candidates()
    df = df.sort_values(["user_id", "score", "item_id"], ascending=[True, False, True], kind="mergesort")
    df = df.loc[df.groupby("user_id", sort=False).cumcount() < n]
    if "anchor" not in df.columns:
        df = df.assign(anchor="")
    return df.loc[:, list(CANDIDATE_COLUMNS)].reset_index(drop=True)


def decay(age_days: np.ndarray | pd.Series, half_life_days: float) -> np.ndarray:
    """Weight ``0.5 ** (age / half_life)``: an event one half-life old counts half."""
    return np.power(0.5, np.asarray(age_days, dtype=float) / float(half_life_days))


def require_trained(ok: bool, name: str) -> None:
    if not ok:
        raise NotTrained(f"candidate source {name!r} is not trained; call train(data) first")
