"""Shared plumbing for the dataset loaders: where the data lives, finding a file, reading a CSV
with explicit dtypes, and turning every schema problem into a :class:`~fitloop.errors.DatasetError`
that says what is wrong and how to fix it.

The loaders read with the fast C parser and explicit dtypes first. Only when that fails do they
re-read the file as text and look for the first offending value, so a clean file costs one pass and
a broken one still gets a precise message (column, data row, value).

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> resolve_data_dir(d) == d
True
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fitloop.errors import DatasetError

__all__ = [
    "DATA_DIR_ENV",
    "Column",
    "resolve_data_dir",
    "find_file",
    "read_checked_csv",
]

DATA_DIR_ENV = "FITLOOP_DATA_DIR"

_HOW_TO_FIX = (
    f"Set {DATA_DIR_ENV}=/path/to/shared/data, pass --data-dir on the command line, "
    "or pass data_dir=... / path=... to the loader."
)


def _repo_root() -> Path | None:
    """The nearest folder above this file that holds a pyproject.toml (None for a wheel install)."""
    for parent in Path(__file__).resolve().parents:
        if (parent / "pyproject.toml").is_file():
            return parent
    return None


def _candidate_dirs() -> list[Path]:
    cwd = Path.cwd()
    candidates = [cwd.parent / "shared" / "data"]
    root = _repo_root()
    if root is not None:
        candidates.append(root.parent / "shared" / "data")
    candidates.append(cwd / "shared" / "data")
    return candidates


def resolve_data_dir(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """The folder of real public data.

    Order: the explicit argument, else ``$FITLOOP_DATA_DIR``, else the first existing of
    ``<cwd>/../shared/data``, ``<repo root>/../shared/data`` and ``<cwd>/shared/data``.
    An explicit argument or environment variable that names a missing folder is an error (it is
    never silently replaced by a guess).

    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> resolve_data_dir(d).is_dir()
    True
    """
    if data_dir is not None:
        p = Path(data_dir).expanduser()
        if not p.is_dir():
            raise DatasetError(f"data folder {p} (passed explicitly) does not exist. {_HOW_TO_FIX}",
                               code="data_dir_missing", details={"looked_in": [str(p)]})
        return p
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        p = Path(env).expanduser()
        if not p.is_dir():
            raise DatasetError(f"data folder {p} (from ${DATA_DIR_ENV}) does not exist. {_HOW_TO_FIX}",
                               code="data_dir_missing", details={"looked_in": [str(p)]})
        return p
    candidates = _candidate_dirs()
    for p in candidates:
        if p.is_dir():
            return p
    looked = ", ".join(str(p) for p in candidates)
    raise DatasetError(f"no data folder found; looked in {looked} (and ${DATA_DIR_ENV} is not set). {_HOW_TO_FIX}",
                       code="data_dir_missing", details={"looked_in": [str(p) for p in candidates]})


def find_file(
    data_dir: str | os.PathLike[str] | None,
    path: str | os.PathLike[str] | None,
    names: Sequence[str],
    *,
    what: str,
) -> Path:
    """Locate one dataset file.

    ``path`` wins when given (it must exist). Otherwise the first of ``names`` (paths relative to
    the data folder, e.g. ``hm/transactions.csv.gz`` then ``hm/transactions.csv``) that exists.
    """
    if path is not None:
        p = Path(path).expanduser()
        if not p.is_file():
            raise DatasetError(f"{what} file {p} does not exist (expected a file like {names[0]}). "
                               "Check the path you passed.", code="dataset_file_missing",
                               details={"path": str(p), "expected": names[0]})
        return p
    root = resolve_data_dir(data_dir)
    tried = [root / n for n in names]
    for p in tried:
        if p.is_file():
            return p
    raise DatasetError(
        f"{what} file not found: looked for {', '.join(str(p) for p in tried)}. Expected {names[0]} inside the "
        f"data folder {root}. {_HOW_TO_FIX}",
        code="dataset_file_missing", details={"looked_for": [str(p) for p in tried], "expected": names[0]},
    )


# --------------------------------------------------------------------------------------------------
# Column specs and converters


Converter = Callable[[str, pd.Series, Path], pd.Series]


@dataclass(frozen=True)
class Column:
    """How one column is read (``read``: the dtype handed to the C parser) and finished (``convert``)."""

    read: Any
    convert: Converter | None = None


def row_error(path: Path, column: str, idx: int, value: object, expected: str) -> DatasetError:
    return DatasetError(
        f"{path.name}: column {column!r} has an unparsable value {value!r} at data row {idx + 1} "
        f"(line {idx + 2} of the file, counting the header); expected {expected}.",
        code="dataset_bad_value",
        details={"path": str(path), "column": column, "row": idx + 1, "value": str(value), "expected": expected},
    )


def _first_bad(path: Path, column: str, raw: pd.Series, bad: np.ndarray | pd.Series, expected: str) -> None:
    bad_arr = np.asarray(bad, dtype=bool)
    if bad_arr.any():
        i = int(np.flatnonzero(bad_arr)[0])
        raise row_error(path, column, i, raw.iloc[i], expected)


def as_int(*, required: bool = True) -> Column:
    """Integer column (int64). A missing value is an error when ``required``, else the column is float64."""

    def convert(name: str, s: pd.Series, path: Path) -> pd.Series:
        if pd.api.types.is_integer_dtype(s.dtype):
            return s.astype("int64")
        num = pd.to_numeric(s, errors="coerce")
        bad = (s.notna() & num.isna()) | (num.notna() & (num % 1 != 0))
        if required:
            bad = bad | s.isna()
        _first_bad(path, name, s, bad, "an integer")
        return num.astype("int64") if not num.isna().any() else num.astype("float64")

    return Column("int64" if required else "float64", convert)


def as_float(*, required: bool = False) -> Column:
    """Float column (float64); empty cells become NaN unless ``required``."""

    def convert(name: str, s: pd.Series, path: Path) -> pd.Series:
        if pd.api.types.is_float_dtype(s.dtype) and not required:
            return s.astype("float64")
        num = pd.to_numeric(s, errors="coerce")
        bad = s.notna() & num.isna()
        if required:
            bad = bad | s.isna()
        _first_bad(path, name, s, bad, "a number")
        return num.astype("float64")

    return Column("float64", convert)


def as_str(*, fill: str | None = None, force: bool = False) -> Column:
    """Text column (pandas ``str`` dtype); missing values become ``fill`` when given, else stay NaN.

    ``force`` hands ``dtype=str`` to the parser up front (for a column known to look numeric, such
    as a year, so it is not parsed twice).
    """

    def convert(name: str, s: pd.Series, path: Path) -> pd.Series:
        return s.fillna(fill) if fill is not None else s

    # None: let the C parser infer (several times faster than dtype=str for text in pandas 3); a
    # column that comes back non-text (all digits, say) is re-read as str by read_checked_csv.
    return Column(str if force else None, convert)


def as_required_str() -> Column:
    """Text column that must be present in every row (an id)."""

    def convert(name: str, s: pd.Series, path: Path) -> pd.Series:
        _first_bad(path, name, s, s.isna(), "a non-empty value")
        return s

    return Column(str, convert)


def as_padded_id(width: int) -> Column:
    """A numeric id kept as a zero-padded string (H&M writes ``0108775015``; some copies drop the 0)."""

    def convert(name: str, s: pd.Series, path: Path) -> pd.Series:
        stripped = s.str.strip()
        ok = stripped.str.fullmatch(rf"\d{{1,{width}}}").fillna(False).astype(bool)
        _first_bad(path, name, s, ~ok.to_numpy(), f"a number of at most {width} digits")
        return stripped.str.zfill(width)

    return Column(str, convert)


def as_date(fmt: str = "%Y-%m-%d", *, required: bool = True) -> Column:
    """Naive date/datetime column, datetime64[ns]."""

    def convert(name: str, s: pd.Series, path: Path) -> pd.Series:
        ts = pd.to_datetime(s, format=fmt, errors="coerce")
        bad = s.notna() & ts.isna()
        if required:
            bad = bad | s.isna()
        _first_bad(path, name, s, bad, f"a date like {pd.Timestamp('2020-06-30').strftime(fmt)}")
        return ts.astype("datetime64[ns]")

    return Column(str, convert)


def as_utc_timestamp() -> Column:
    """ISO-8601 timestamp with or without offset, converted to tz-aware UTC, datetime64[ns, UTC]."""

    def convert(name: str, s: pd.Series, path: Path) -> pd.Series:
        ts = pd.to_datetime(s, format="ISO8601", utc=True, errors="coerce")
        _first_bad(path, name, s, ts.isna(), "an ISO-8601 timestamp like 2019-11-24 00:00:17.004101+00:00")
        return ts.astype("datetime64[ns, UTC]")

    return Column(str, convert)


def as_choice(allowed: Iterable[str]) -> Column:
    """Text column whose every value must be one of ``allowed``."""
    allowed_set = frozenset(allowed)
    listed = ", ".join(sorted(allowed_set))

    def convert(name: str, s: pd.Series, path: Path) -> pd.Series:
        _first_bad(path, name, s, ~s.isin(allowed_set).to_numpy(), f"one of {{{listed}}}")
        return s

    return Column(str, convert)


# --------------------------------------------------------------------------------------------------
# Reading


def read_header(path: Path, *, read_kwargs: Mapping[str, Any] | None = None) -> list[str]:
    """The column names of a CSV file (reads only the first line)."""
    try:
        header = pd.read_csv(path, nrows=0, **dict(read_kwargs or {}))
    except (OSError, EOFError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise DatasetError(f"{path} could not be read as CSV: {exc}", code="dataset_unreadable",
                           details={"path": str(path)}) from exc
    except pd.errors.EmptyDataError as exc:
        raise DatasetError(f"{path} is empty; expected a CSV file with a header line.",
                           code="dataset_unreadable", details={"path": str(path)}) from exc
    return [str(c) for c in header.columns]


def check_columns(path: Path, found: Sequence[str], required: Iterable[str], *, what: str) -> None:
    """Raise DatasetError when any required column is absent, listing the missing and found ones."""
    missing = [c for c in required if c not in found]
    if missing:
        raise DatasetError(
            f"{what} file {path} lacks required column(s) {missing}; found columns {list(found)}. "
            "Is this the right file?",
            code="dataset_missing_columns",
            details={"path": str(path), "missing": missing, "found": list(found)},
        )


def _read(path: Path, cols: list[str] | None, dtype: Any, kwargs: dict[str, Any]) -> pd.DataFrame:
    try:
        return pd.read_csv(path, usecols=cols, dtype=dtype, **kwargs)
    except pd.errors.ParserError as exc:
        # A line with the wrong number of fields (ParserError is a ValueError: catch it here).
        raise DatasetError(f"{path} has malformed CSV lines: {exc}", code="dataset_malformed",
                           details={"path": str(path)}) from exc
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path} could not be read as CSV: {exc}", code="dataset_unreadable",
                           details={"path": str(path)}) from exc


def read_checked_csv(
    path: Path,
    *,
    what: str,
    schema: Mapping[str, Column],
    required: Iterable[str],
    default: Column | None = None,
    usecols: Sequence[str] | None = None,
    drop_unnamed: bool = False,
    read_kwargs: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Read ``path`` with explicit dtypes and check it against ``schema``.

    ``schema`` maps known column names to a :class:`Column`; ``default`` applies to any other
    column (by default such columns are read as ``str``). ``usecols`` restricts the read (every
    name in it must exist). ``drop_unnamed`` drops pandas' ``Unnamed: 0`` index columns.
    """
    kwargs = dict(read_kwargs or {})
    found = read_header(path, read_kwargs=kwargs)
    required = list(usecols) if usecols is not None else list(required)
    check_columns(path, found, required, what=what)
    cols = [c for c in found if not (drop_unnamed and c.startswith("Unnamed:"))]
    if usecols is not None:
        cols = [c for c in cols if c in set(usecols)]
    other = default or as_str()
    specs = {c: schema.get(c, other) for c in cols}
    # usecols goes to the parser only when the caller asked for a subset: with usecols, pandas
    # silently accepts lines with too many fields, and a whole-file read must catch those.
    parse_cols = cols if usecols is not None else None
    try:
        df = _read(path, parse_cols, {c: s.read for c, s in specs.items() if s.read is not None}, kwargs)
    except (ValueError, TypeError, OverflowError):
        # A value the fast path could not parse: re-read as text so the converters can point at it.
        df = _read(path, parse_cols, str, kwargs)
    df = df[cols].reset_index(drop=True)
    retext = [c for c, sp in specs.items()
              if sp.read is None and not pd.api.types.is_string_dtype(df[c].dtype) and df[c].notna().any()]
    if retext:
        # The whole file again (not usecols=retext: see parse_cols above), every column as text.
        again = _read(path, parse_cols, str, kwargs).reset_index(drop=True)
        for c in retext:
            df[c] = again[c]
    for c, sp in specs.items():
        if sp.read is None and not pd.api.types.is_string_dtype(df[c].dtype):
            df[c] = df[c].astype(str if df[c].notna().any() else pd.StringDtype(na_value=np.nan))
    out = {}
    for c in cols:
        conv = specs[c].convert
        out[c] = conv(c, df[c], path) if conv is not None else df[c]
    return pd.DataFrame(out, index=df.index)
