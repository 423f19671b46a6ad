"""Every loader on the real files in ../shared/data (skips when absent).

Row counts are the ones the data README states, checked against what the loaders return.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from fitloop.datasets import hm, myntra, obd, resolve_data_dir, rtr
from tests.conftest import require_data_file

pytestmark = pytest.mark.realdata


def test_resolve_data_dir_finds_the_shared_folder(shared_data_dir: Path) -> None:
    assert resolve_data_dir(shared_data_dir) == shared_data_dir
    assert (resolve_data_dir() / "README.md").is_file()


def test_hm_transactions(shared_data_dir: Path) -> None:
    require_data_file(shared_data_dir, "hm/transactions.csv.gz")
    tx = hm.load_transactions(shared_data_dir)
    assert list(tx.columns) == ["t_dat", "customer_id", "article_id", "price", "sales_channel_id"]
    assert len(tx) == 28_006
    assert tx["t_dat"].dtype == "datetime64[ns]"
    assert (tx["t_dat"].min(), tx["t_dat"].max()) == (pd.Timestamp("2018-09-20"), pd.Timestamp("2020-06-30"))
    assert pd.api.types.is_string_dtype(tx["customer_id"]) and pd.api.types.is_string_dtype(tx["article_id"])
    assert tx["article_id"].str.fullmatch(r"\d{10}").all()
    assert tx["article_id"].str.startswith("0").all()  # H&M ids start with 0: the padding survived
    assert tx["price"].dtype == "float64" and (tx["price"] > 0).all()
    assert tx["sales_channel_id"].dtype == "int64" and set(tx["sales_channel_id"]) == {1, 2}


def test_hm_transactions_usecols(shared_data_dir: Path) -> None:
    require_data_file(shared_data_dir, "hm/transactions.csv.gz")
    tx = hm.load_transactions(shared_data_dir, usecols=["customer_id", "article_id"])
    assert list(tx.columns) == ["customer_id", "article_id"] and len(tx) == 28_006


def test_hm_articles(shared_data_dir: Path) -> None:
    require_data_file(shared_data_dir, "hm/articles.csv.gz")
    art = hm.load_articles(shared_data_dir)
    assert len(art) == 105_542 and art["article_id"].is_unique
    assert art["article_id"].str.fullmatch(r"\d{10}").all()
    assert art["product_code"].str.fullmatch(r"\d{7}").all()
    assert (art["article_id"].str[:7] == art["product_code"]).all()  # README: product_code = first 7 digits
    for col in ("product_type_no", "colour_group_code", "department_no", "section_no", "garment_group_no"):
        assert art[col].dtype == "int64", col
    assert art["index_code"].str.fullmatch(r"[A-Z]").all()
    assert art["detail_desc"].isna().sum() == 0
    assert (art["detail_desc"] != "").sum() == 17_198  # README: free text for 17,198 articles
    assert art.loc[art["article_id"] == "0108775015", "prod_name"].item() == "Strap top"


def test_hm_customers_and_join(shared_data_dir: Path) -> None:
    require_data_file(shared_data_dir, "hm/customers.csv.gz")
    require_data_file(shared_data_dir, "hm/transactions.csv.gz")
    cust = hm.load_customers(shared_data_dir)
    assert len(cust) == 1_364 and cust["customer_id"].is_unique
    assert cust["age"].dtype == "float64" and cust["FN"].dtype == "float64"
    tx = hm.load_transactions(shared_data_dir, usecols=["customer_id"])
    assert tx["customer_id"].isin(cust["customer_id"]).all()


def test_rtr_rentals(shared_data_dir: Path) -> None:
    require_data_file(shared_data_dir, "rtr/rentals.csv.gz")
    r = rtr.load_rentals(shared_data_dir)
    assert len(r) == 123_418
    assert set(r["fit"]) == {"fit", "small", "large"}
    assert r["review_date"].dtype == "datetime64[ns]"
    assert r["review_date"].min() >= pd.Timestamp("2010-11-01") and r["review_date"].max() <= pd.Timestamp("2016-12-31")
    assert pd.api.types.is_string_dtype(r["user_id"]) and pd.api.types.is_string_dtype(r["item_id"])
    assert r["size"].dtype == "int64"
    assert r["weight_lbs"].dtype == "float64"
    # The redundant year/month/day columns agree with review_date.
    assert (r["review_date"].dt.year == r["review_year"]).all()


def test_rtr_prediction_input_without_fit(shared_data_dir: Path, tmp_path: Path) -> None:
    src = require_data_file(shared_data_dir, "rtr/rentals.csv.gz")
    head = pd.read_csv(src, nrows=50).drop(columns=["fit", "review_date"])
    p = tmp_path / "to_predict.csv"
    head.to_csv(p, index=False)
    r = rtr.load_rentals(path=p, require_fit=False)
    assert len(r) == 50 and "fit" not in r.columns and r["size"].dtype == "int64"


@pytest.mark.parametrize("policy", ["random", "bts"])
def test_obd_logs(shared_data_dir: Path, policy: str) -> None:
    require_data_file(shared_data_dir, f"obd/{policy}_all.csv.gz")
    log = obd.load_log(policy, data_dir=shared_data_dir)
    assert len(log) == 10_000
    assert not any(c.startswith("Unnamed") for c in log.columns)
    assert str(log["timestamp"].dt.tz) == "UTC"
    assert set(log["position"]) == {1, 2, 3}
    assert set(log["click"]) <= {0, 1}
    assert log["item_id"].between(0, 79).all()
    assert log["propensity_score"].between(0, 1, inclusive="right").all()
    aff = [c for c in log.columns if c.startswith("user-item_affinity_")]
    assert len(aff) == 80 and all(log[c].dtype == "float64" for c in aff)
    assert all(pd.api.types.is_string_dtype(log[f"user_feature_{i}"]) for i in range(4))
    if policy == "random":  # uniform over 80 items: 1/80 for every impression
        assert (log["propensity_score"] == 1 / 80).all()


def test_obd_item_context(shared_data_dir: Path) -> None:
    require_data_file(shared_data_dir, "obd/item_context_all.csv")
    ic = obd.load_item_context(data_dir=shared_data_dir)
    assert list(ic.columns) == ["item_id", "item_feature_0", "item_feature_1", "item_feature_2", "item_feature_3"]
    assert sorted(ic["item_id"]) == list(range(80))


def test_myntra_styles(shared_data_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    require_data_file(shared_data_dir, "myntra/styles.csv.gz")
    with caplog.at_level("WARNING", logger="fitloop.datasets.myntra"):
        s = myntra.load_styles(shared_data_dir)
    # This copy is already clean: all 44,446 products of the README load, none is skipped.
    assert len(s) == 44_446 and s["id"].is_unique and s["id"].dtype == "int64"
    assert not caplog.records
    assert all(pd.api.types.is_string_dtype(s[c]) for c in s.columns if c != "id")
    assert s.isna().sum().sum() == 0
    assert {"Summer", "Fall", "Winter", "Spring"} <= set(s["season"])
