"""The tabular form of behaviour used by training and evaluation.

Model code trains on a :class:`pandas.DataFrame` with these columns (extra
columns are allowed and ignored unless a model asks for them):

- ``user_id`` (str), ``item_id`` (str)
- ``ts`` (``datetime64[ns]``, naive UTC)
- ``kind`` (str, an :class:`~fitloop.data.types.EventType` value; ``order_completed`` for purchases)
- ``value`` (float: quantity for orders, dwell ms for dwell, 1.0 otherwise)
- ``price`` (float, optional)

>>> import pandas as pd
>>> df = make_interactions(["u1"], ["i1"], [pd.Timestamp("2024-01-01")])
>>> list(df.columns), df.kind.iloc[0]
(['user_id', 'item_id', 'ts', 'kind', 'value', 'price'], 'order_completed')
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from fitloop.errors import InvalidInput

__all__ = ["INTERACTION_COLUMNS", "make_interactions", "check_interactions"]

INTERACTION_COLUMNS: tuple[str, ...] = ("user_id", "item_id", "ts", "kind", "value", "price")


def make_interactions(
    users: Sequence[str],
    items: Sequence[str],
    ts: Sequence[object],
    kind: str | Sequence[str] = "order_completed",
    value: float | Sequence[float] = 1.0,
    price: float | Sequence[float] = float("nan"),
) -> pd.DataFrame:
    """Build a well-typed interactions frame from columns."""
    df = pd.DataFrame(
        {
            "user_id": pd.Series(users, dtype="string").astype(str),
            "item_id": pd.Series(items, dtype="string").astype(str),
            "ts": pd.to_datetime(pd.Series(ts)),
            "kind": kind,
            "value": value,
            "price": price,
        }
    )
    df["value"] = df["value"].astype(float)
    df["price"] = df["price"].astype(float)
    return df


def check_interactions(df: pd.DataFrame) -> pd.DataFrame:
    """Raise :class:`InvalidInput` unless ``df`` has the required columns."""
    missing = [c for c in ("user_id", "item_id", "ts") if c not in df.columns]
    if missing:
        raise InvalidInput(f"interactions frame lacks columns {missing}; expected {list(INTERACTION_COLUMNS)}")
    return df
