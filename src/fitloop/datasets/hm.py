"""H&M Personalized Fashion Recommendations (Kaggle, 2022): transactions, articles, customers.

Licence: non-commercial research use under the Kaggle competition rules. Files live in
``<data dir>/hm/`` as ``.csv.gz`` or ``.csv``; the competition's original ``transactions_train.csv``
is accepted too (any number of weeks).

Ids stay strings: ``article_id`` is 10 zero-padded digits (``'0108775015'``), ``product_code`` 7
(``'0108775'``): H&M writes them with a leading zero and an int would silently drop it.

>>> from fitloop.datasets import hm
>>> tx = hm.load_transactions()                      # doctest: +SKIP
>>> tx.dtypes["t_dat"], tx["article_id"].str.len().unique().tolist()   # doctest: +SKIP
(dtype('<M8[ns]'), [10])
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import pandas as pd

from fitloop.datasets._common import (
    Column,
    as_date,
    as_float,
    as_int,
    as_padded_id,
    as_required_str,
    as_str,
    find_file,
    read_checked_csv,
)

__all__ = ["TRANSACTION_COLUMNS", "load_transactions", "load_articles", "load_customers"]

PathLike = str | os.PathLike[str]

TRANSACTION_COLUMNS: tuple[str, ...] = ("t_dat", "customer_id", "article_id", "price", "sales_channel_id")

_TRANSACTIONS: dict[str, Column] = {
    "t_dat": as_date("%Y-%m-%d"),
    "customer_id": as_required_str(),
    "article_id": as_padded_id(10),
    "price": as_float(required=True),
    "sales_channel_id": as_int(),
}

# Every *_no / *_code / *_id column of articles.csv is an integer, except the ids we keep as text
# and index_code, which is a letter (A..J).
_ARTICLE_INTS = (
    "product_type_no", "graphical_appearance_no", "colour_group_code", "perceived_colour_value_id",
    "perceived_colour_master_id", "department_no", "index_group_no", "section_no", "garment_group_no",
)
_ARTICLES: dict[str, Column] = {
    "article_id": as_padded_id(10),
    "product_code": as_padded_id(7),
    **{c: as_int() for c in _ARTICLE_INTS},
}
_ARTICLE_REQUIRED = ("article_id", "product_code", "prod_name", "product_type_name", "product_group_name",
                     "colour_group_name", "department_name", "index_name", "section_name", "garment_group_name")

_CUSTOMERS: dict[str, Column] = {
    "customer_id": as_required_str(),
    "FN": as_float(),
    "Active": as_float(),
    "club_member_status": as_str(),
    "fashion_news_frequency": as_str(),
    "age": as_float(),
    "postal_code": as_str(),
}


def _names(stem: str, *alternatives: str) -> list[str]:
    return [f"hm/{s}{ext}" for s in (stem, *alternatives) for ext in (".csv.gz", ".csv")]


def load_transactions(
    data_dir: PathLike | None = None,
    *,
    path: PathLike | None = None,
    usecols: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Purchases, one row per item bought, in file order.

    Columns: ``t_dat`` datetime64[ns], ``customer_id`` str, ``article_id`` str (10 digits, zero
    padded), ``price`` float64 (scaled, not a currency), ``sales_channel_id`` int64 (1 store, 2 online).
    ``usecols`` reads only those columns (each must exist).

    >>> tx = load_transactions(usecols=["customer_id", "article_id"])   # doctest: +SKIP
    """
    p = find_file(data_dir, path, _names("transactions", "transactions_train"), what="H&M transactions")
    return read_checked_csv(p, what="H&M transactions", schema=_TRANSACTIONS, required=TRANSACTION_COLUMNS,
                            usecols=usecols)


def load_articles(data_dir: PathLike | None = None, *, path: PathLike | None = None) -> pd.DataFrame:
    """The H&M catalog, one row per article (style x colour).

    ``article_id`` (10 digits) and ``product_code`` (7 digits) are zero-padded strings; the
    ``*_no`` / ``*_code`` / ``*_id`` attribute columns are int64 (``index_code`` is a letter, str);
    every text column is str with missing values as ``""`` (``detail_desc`` is empty for most
    articles, ``image_url`` for a few).
    """
    p = find_file(data_dir, path, _names("articles"), what="H&M articles")
    return read_checked_csv(p, what="H&M articles", schema=_ARTICLES, required=_ARTICLE_REQUIRED,
                            default=as_str(fill=""))


def load_customers(data_dir: PathLike | None = None, *, path: PathLike | None = None) -> pd.DataFrame:
    """H&M customers as published: ``customer_id`` str; ``FN`` and ``Active`` float64 (1.0 or NaN, as
    in the source); ``club_member_status``, ``fashion_news_frequency``, ``postal_code`` str (missing
    stays NaN); ``age`` float64 (NaN when unknown).
    """
    p = find_file(data_dir, path, _names("customers"), what="H&M customers")
    return read_checked_csv(p, what="H&M customers", schema=_CUSTOMERS, required=("customer_id",))
