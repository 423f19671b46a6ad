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
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from fitloop.datasets._common import (
    Column,
    as_float,
    as_int,
    as_str,
    as_utc_timestamp,
    check_columns,
    find_file,
    read_checked_csv,
    read_header,
    row_error,
)
from fitloop.errors import DatasetError

__all__ = ["POLICIES", "CAMPAIGNS", "LOG_COLUMNS", "load_log", "load_item_context", "read_log_chunks"]

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


_INT_COLUMNS = ("item_id", "position", "click")
_AFFINITY_PREFIX = "user-item_affinity_"
_USER_PREFIX = "user_feature_"


def _check_chunk(df: pd.DataFrame, path: Path, offset: int) -> pd.DataFrame:
    """Type one chunk compactly and point at the first bad value (row numbers count from the file's start)."""
    out: dict[str, object] = {}
    for c in df.columns:
        s = df[c]
        if c in _INT_COLUMNS:
            if not pd.api.types.is_integer_dtype(s.dtype):
                num = pd.to_numeric(s, errors="coerce")
                bad = (num.isna() | (num % 1 != 0)).to_numpy()
                if bad.any():
                    i = int(np.flatnonzero(bad)[0])
                    raise row_error(path, c, offset + i, s.iloc[i], "an integer")
                s = num
            out[c] = s.to_numpy(np.int64)
        elif c == "propensity_score" or c.startswith(_AFFINITY_PREFIX):
            num = s if pd.api.types.is_float_dtype(s.dtype) or pd.api.types.is_integer_dtype(s.dtype) else (
                pd.to_numeric(s, errors="coerce"))
            bad = (num.isna() if c == "propensity_score" else s.notna() & num.isna()).to_numpy()
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise row_error(path, c, offset + i, s.iloc[i], "a number")
            # Affinities are small counts in the Open Bandit Dataset: float32 holds them exactly at half the memory.
            out[c] = num.to_numpy(np.float32 if c.startswith(_AFFINITY_PREFIX) else np.float64)
        elif c == "timestamp":
            ts = pd.to_datetime(s, format="ISO8601", utc=True, errors="coerce")
            bad = ts.isna().to_numpy()
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise row_error(path, c, offset + i, s.iloc[i],
                           "an ISO-8601 timestamp like 2019-11-24 00:00:17.004101+00:00")
            out[c] = ts
        else:
            out[c] = s
    return pd.DataFrame(out, index=pd.RangeIndex(offset, offset + len(df)))


def read_log_chunks(
    path: PathLike,
    *,
    chunksize: int = 200_000,
    required: Iterable[str] = LOG_COLUMNS,
    skip: Iterable[str] = (),
) -> Iterator[pd.DataFrame]:
    """Read an Open Bandit log file in chunks of ``chunksize`` rows, so memory is bounded by the chunk.

    Only the columns the learner uses are parsed: the leading unnamed index column (kept as
    ``Unnamed: 0``), :data:`LOG_COLUMNS` (less ``skip``), ``user_feature_*`` (pandas categorical:
    one copy of each hashed string per chunk) and ``user-item_affinity_*`` (float32); any other
    column is ignored. The frames are indexed by data row (0 = first row of the file). Missing
    ``required`` columns and unparsable values raise :class:`~fitloop.errors.DatasetError` naming
    the column (and the data row).

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "log.csv"
    >>> _ = p.write_text(",timestamp,item_id,position,click,propensity_score,user_feature_0,user-item_affinity_0\\n"
    ...                  "0,2019-11-24 00:00:17+00:00,5,1,0,0.0125,ab,0.0\\n1,2019-11-24 00:00:18+00:00,7,3,1,0.0125,cd,2.0\\n")
    >>> [(len(c), str(c["user-item_affinity_0"].dtype)) for c in read_log_chunks(p, chunksize=1)]
    [(1, 'float32'), (1, 'float32')]
    """
    if chunksize < 1:
        raise DatasetError("chunksize must be at least 1", code="dataset_bad_argument",
                           details={"chunksize": chunksize})
    p = find_file(None, path, ["obd/random_all.csv.gz"], what="Open Bandit log")
    found = read_header(p)
    check_columns(p, found, list(required), what="Open Bandit log")
    skipped = set(skip) - set(required)
    keep = [c for c in found if (c in LOG_COLUMNS and c not in skipped) or c.startswith((_USER_PREFIX, _AFFINITY_PREFIX))]
    index_col = found[0] if found and found[0].startswith("Unnamed:") else None
    usecols = ([index_col] if index_col else []) + keep
    dtype = {c: "category" for c in keep if c.startswith(_USER_PREFIX)}
    offset = 0
    with pd.read_csv(p, usecols=usecols, dtype=dtype, chunksize=chunksize) as reader:
        while True:
            try:
                chunk = next(reader)
            except StopIteration:
                return
            except pd.errors.ParserError as exc:
                raise DatasetError(f"{p} has malformed CSV lines: {exc}", code="dataset_malformed",
                                   details={"path": str(p)}) from exc
            except (OSError, EOFError, UnicodeDecodeError, ValueError) as exc:
                raise DatasetError(f"{p} could not be read as an Open Bandit log: {exc}", code="dataset_unreadable",
                                   details={"path": str(p)}) from exc
            yield _check_chunk(chunk[usecols], p, offset)
            offset += len(chunk)
