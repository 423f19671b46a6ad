"""Fashion Product Images (Myntra) metadata, Kaggle: one row per product, no users.

The original Kaggle ``styles.csv`` has a few lines with an unquoted comma in
``productDisplayName`` (one field too many). The loader skips those lines and logs a warning with
their count, instead of failing; a clean file is read by the fast C parser in one pass.

>>> from fitloop.datasets import myntra
>>> styles = myntra.load_styles()                    # doctest: +SKIP
>>> styles.dtypes["id"]                               # doctest: +SKIP
dtype('int64')
"""

from __future__ import annotations

import logging
import os

import pandas as pd

from fitloop.datasets._common import Column, as_int, as_str, find_file, read_checked_csv
from fitloop.errors import DatasetError

__all__ = ["STYLE_COLUMNS", "load_styles"]

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]

STYLE_COLUMNS: tuple[str, ...] = ("id", "gender", "masterCategory", "subCategory", "articleType", "baseColour",
                                  "season", "year", "usage", "productDisplayName")

# year is text here (a label, one product lacks it); forcing str keeps a dirty file to one pass,
# which matters because the bad-line callback counts every time the parser meets a line.
_STYLES: dict[str, Column] = {"id": as_int(), "year": as_str(fill="", force=True)}


def load_styles(data_dir: PathLike | None = None, *, path: PathLike | None = None) -> pd.DataFrame:
    """Product metadata: ``id`` int64; every other column str, missing values as ``""`` (``year`` too,
    e.g. ``'2012'``: it is a label here, and one product lacks it).

    Malformed lines (wrong number of fields) are skipped; how many is logged at WARNING level by
    the ``fitloop.datasets.myntra`` logger.
    """
    p = find_file(data_dir, path, ["myntra/styles.csv.gz", "myntra/styles.csv"], what="Myntra styles")
    kw = {"what": "Myntra styles", "schema": _STYLES, "required": STYLE_COLUMNS[:6], "default": as_str(fill="")}
    try:
        return read_checked_csv(p, **kw)  # type: ignore[arg-type]
    except DatasetError as exc:
        if exc.code != "dataset_malformed":
            raise
    skipped: list[list[str]] = []

    def skip(bad_line: list[str]) -> None:
        skipped.append(bad_line)
        return None

    # The python engine is the one that accepts a callable for bad lines; only used on dirty files.
    df = read_checked_csv(p, **kw, read_kwargs={"engine": "python", "on_bad_lines": skip})  # type: ignore[arg-type]
    if skipped:
        examples = "; ".join(",".join(b)[:80] for b in skipped[:3])
        logger.warning("%s: skipped %d malformed line(s) with the wrong number of fields (e.g. %s)",
                       p, len(skipped), examples)
    return df
