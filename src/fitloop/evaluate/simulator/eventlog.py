"""Columnar event storage: cheap to build from numpy, turned into :class:`fitloop.data.Event` on demand.

>>> import numpy as np
>>> buf = EventBuffer()
>>> buf.add("search", user=np.array([0]), ts=np.array([60.0]), query=np.array(["black jeans"], dtype=object))
>>> log = buf.finish(["u1"], ["i1"], np.datetime64("2026-03-01T00:00:00"), id_prefix="sim0")
>>> ev = next(iter(log))
>>> ev.type.value, ev.properties["query"], ev.event_id
('search', 'black jeans', 'sim0-0000001')
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd

from fitloop.data import Event, EventType, make_interactions

__all__ = ["EventBuffer", "EventLog", "EVENT_COLUMNS"]

#: Optional columns (beyond event_id, type, user_id, ts) and their fill value.
_OPTIONAL: dict[str, Any] = {
    "item": -1,
    "size": None,
    "quantity": 1,
    "price": np.nan,
    "order_id": None,
    "dwell_ms": np.nan,
    "surface": None,
    "depth": np.nan,
    "query": None,
    "reason": None,
    "discount": np.nan,
    "position": -1,
    "slate_id": None,
    "propensity": np.nan,
}
EVENT_COLUMNS: tuple[str, ...] = (
    "event_id",
    "type",
    "user_id",
    "ts",
    "item_id",
    "size",
    "quantity",
    "price",
    "order_id",
    "dwell_ms",
    "surface",
    "depth",
    "query",
    "reason",
    "discount",
    "position",
    "slate_id",
    "propensity",
)
#: Which optional columns go into ``Event.properties`` for each type.
_PROPS: dict[str, tuple[str, ...]] = {
    "dwell": ("dwell_ms", "surface"),
    "scroll": ("depth",),
    "search": ("query",),
    "order_completed": ("order_id", "discount"),
    "order_cancelled": ("order_id",),
    "product_returned": ("order_id", "reason"),
    "cart_removed": ("reason",),
    "impression": ("position", "slate_id", "propensity"),
    "product_clicked": ("position", "slate_id"),
}
_INT_PROPS = {"dwell_ms", "position"}


class EventBuffer:
    """Collects chunks of events as numpy columns; ``ts`` in seconds from the window start."""

    def __init__(self) -> None:
        self._chunks: list[dict[str, np.ndarray]] = []
        self.count = 0

    def add(self, type_: str, *, user: np.ndarray, ts: np.ndarray, **cols: np.ndarray) -> None:
        n = len(user)
        if n == 0:
            return
        unknown = set(cols) - set(_OPTIONAL)
        if unknown:
            raise ValueError(f"unknown event columns {sorted(unknown)}")
        chunk = {"type": np.full(n, type_, dtype=object), "user": np.asarray(user), "ts": np.asarray(ts, dtype=float)}
        for name, fill in _OPTIONAL.items():
            if name in cols:
                chunk[name] = np.asarray(cols[name])
            else:
                chunk[name] = np.full(n, fill, dtype=object if fill is None else type(fill))
        self._chunks.append(chunk)
        self.count += n

    def _assemble(
        self,
        user_ids: Sequence[str] | np.ndarray,
        item_ids: Sequence[str] | np.ndarray,
        origin: np.datetime64,
        id_prefix: str,
        first_id: int,
        end_s: float | None,
    ) -> dict[str, np.ndarray]:
        """Sort by time, drop events at or after ``end_s``, number them and map indices to ids."""
        cols = {k: np.concatenate([c[k] for c in self._chunks]) for k in self._chunks[0]}
        keep = np.ones(len(cols["ts"]), dtype=bool) if end_s is None else cols["ts"] < end_s
        order = np.argsort(cols["ts"][keep], kind="stable")
        cols = {k: v[keep][order] for k, v in cols.items()}
        n = len(cols["ts"])
        uid = np.asarray(user_ids, dtype=object)
        iid = np.asarray(item_ids, dtype=object)
        item = cols["item"].astype(np.int64)
        item_col = np.full(n, None, dtype=object)
        has_item = item >= 0
        item_col[has_item] = iid[item[has_item]]
        return {
            "event_id": np.array([f"{id_prefix}-{k:07d}" for k in range(first_id, first_id + n)], dtype=object),
            "type": cols["type"],
            "user_id": uid[cols["user"].astype(np.int64)],
            "ts": origin + (np.rint(cols["ts"] * 1000.0).astype(np.int64)).astype("timedelta64[ms]"),
            "item_id": item_col,
            "size": cols["size"],
            "quantity": cols["quantity"].astype(np.int64),
            "price": cols["price"].astype(float),
            "order_id": cols["order_id"],
            "dwell_ms": cols["dwell_ms"].astype(float),
            "surface": cols["surface"],
            "depth": cols["depth"].astype(float),
            "query": cols["query"],
            "reason": cols["reason"],
            "discount": cols["discount"].astype(float),
            "position": cols["position"].astype(np.int64),
            "slate_id": cols["slate_id"],
            "propensity": cols["propensity"].astype(float),
        }

    def finish(
        self,
        user_ids: Sequence[str] | np.ndarray,
        item_ids: Sequence[str] | np.ndarray,
        origin: np.datetime64,
        id_prefix: str,
        first_id: int = 1,
        end_s: float | None = None,
    ) -> EventLog:
        """The buffered events as an :class:`EventLog` (sorted, numbered, ids mapped)."""
        if not self._chunks:
            return EventLog(pd.DataFrame({c: pd.Series(dtype=object) for c in EVENT_COLUMNS}))
        cols = self._assemble(user_ids, item_ids, origin, id_prefix, first_id, end_s)
        frame = pd.DataFrame(cols)
        frame["ts"] = pd.to_datetime(cols["ts"]).astype("datetime64[ns]")
        return EventLog(frame)

    def events(
        self,
        user_ids: Sequence[str] | np.ndarray,
        item_ids: Sequence[str] | np.ndarray,
        origin: np.datetime64,
        id_prefix: str,
        first_id: int = 1,
    ) -> list[Event]:
        """The buffered events as :class:`fitloop.data.Event` objects, without a DataFrame (fast path)."""
        if not self._chunks:
            return []
        cols = self._assemble(user_ids, item_ids, origin, id_prefix, first_id, None)
        ts = cols["ts"].astype("datetime64[us]").tolist()
        return list(_rows_to_events({c: cols[c].tolist() for c in EVENT_COLUMNS if c != "ts"}, ts))


def _rows_to_events(columns: dict[str, list[Any]], ts_list: list[Any]) -> Iterator[Event]:
    types = {t.value: t for t in EventType}
    for k in range(len(ts_list)):
        t = columns["type"][k]
        props: dict[str, Any] = {}
        for name in _PROPS.get(t, ()):
            v = columns[name][k]
            if v is None or v != v or (name == "position" and v < 0):
                continue
            props[name] = int(v) if name in _INT_PROPS else v
        price = columns["price"][k]
        item_id, size = columns["item_id"][k], columns["size"][k]
        yield Event(
            event_id=columns["event_id"][k],
            type=types[t],
            user_id=columns["user_id"][k],
            ts=ts_list[k],
            item_id=item_id if isinstance(item_id, str) else None,
            size=size if isinstance(size, str) else None,
            quantity=int(columns["quantity"][k]),
            price=None if price != price else float(price),
            properties=props,
            source="simulator",
        )


class EventLog:
    """Events of the simulated shop, one row each, sorted by time (``frame`` columns: EVENT_COLUMNS).

    Iterate it for :class:`fitloop.data.Event` objects, or use :meth:`to_interactions` for the
    standard interactions frame.
    """

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame

    def __len__(self) -> int:
        return len(self.frame)

    def __iter__(self) -> Iterator[Event]:
        return self.to_events()

    def of_type(self, type_: EventType | str) -> pd.DataFrame:
        """Rows of one event type."""
        value = type_.value if isinstance(type_, EventType) else type_
        return self.frame[self.frame["type"] == value]

    def counts(self) -> dict[str, int]:
        """Number of events per type."""
        return {str(k): int(v) for k, v in self.frame["type"].value_counts().items()}

    def to_events(self) -> Iterator[Event]:
        """Yield :class:`fitloop.data.Event` objects in time order."""
        f = self.frame
        columns = {c: f[c].tolist() for c in EVENT_COLUMNS if c != "ts"}
        ts_list = f["ts"].dt.to_pydatetime().tolist() if len(f) else []
        return _rows_to_events(columns, ts_list)

    def slate_log(self) -> pd.DataFrame:
        """One row per impression, with its reward: the input of off-policy estimators.

        Columns: ``slate_id, user_id, ts, item_id, position`` (0-based), ``propensity`` (chance the
        logging policy put that item in that position; NaN when unknown), ``click`` (0/1: a
        ``product_clicked`` of the same slate and item followed).
        """
        f = self.frame
        imp = f[f["type"] == "impression"]
        clicks = f[(f["type"] == "product_clicked") & f["slate_id"].notna()]
        clicked = set(zip(clicks["slate_id"], clicks["item_id"], strict=True))
        click = [int((s, i) in clicked) for s, i in zip(imp["slate_id"], imp["item_id"], strict=True)]
        return pd.DataFrame(
            {
                "slate_id": imp["slate_id"].to_numpy(),
                "user_id": imp["user_id"].to_numpy(),
                "ts": imp["ts"].to_numpy(),
                "item_id": imp["item_id"].to_numpy(),
                "position": imp["position"].to_numpy() - 1,
                "propensity": imp["propensity"].to_numpy(),
                "click": np.asarray(click, dtype=np.int64),
            }
        )

    def to_interactions(self, include_impressions: bool = False) -> pd.DataFrame:
        """The standard interactions frame (:func:`fitloop.data.make_interactions`) of item events.

        ``value`` is the quantity for orders, dwell milliseconds for dwell, 1.0 otherwise.
        Impressions (exposure, not interest) are left out unless asked for.
        """
        f = self.frame[self.frame["item_id"].notna()]
        if not include_impressions:
            f = f[f["type"] != "impression"]
        value = np.where(
            f["type"] == "order_completed",
            f["quantity"].astype(float),
            np.where(f["type"] == "dwell", f["dwell_ms"].fillna(0.0), 1.0),
        )
        out = make_interactions(
            f["user_id"].tolist(),
            f["item_id"].tolist(),
            f["ts"].to_numpy(),
            kind=f["type"].tolist(),
            value=value.tolist(),
            price=f["price"].to_numpy(),
        )
        out["ts"] = out["ts"].astype("datetime64[ns]")
        return out
