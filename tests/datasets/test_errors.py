"""Schema checks on small files written here: they need no real data."""

from __future__ import annotations

import gzip
import logging
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fitloop.datasets import hm, myntra, obd, resolve_data_dir, rtr
from fitloop.errors import DatasetError

TX_HEADER = "t_dat,customer_id,article_id,price,sales_channel_id\n"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".gz":
        with gzip.open(path, "wt") as f:
            f.write(text)
    else:
        path.write_text(text)
    return path


# -- finding the data -----------------------------------------------------------------------------


def test_explicit_missing_dir_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="FITLOOP_DATA_DIR") as err:
        resolve_data_dir(tmp_path / "nope")
    assert str(tmp_path / "nope") in str(err.value)


def test_env_var_wins_and_a_wrong_one_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FITLOOP_DATA_DIR", str(tmp_path))
    assert resolve_data_dir() == tmp_path
    monkeypatch.setenv("FITLOOP_DATA_DIR", str(tmp_path / "missing"))
    with pytest.raises(DatasetError, match=r"\$FITLOOP_DATA_DIR"):
        resolve_data_dir()


def test_cwd_sibling_shared_data_is_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "shared" / "data").mkdir(parents=True)
    (tmp_path / "repo").mkdir()
    monkeypatch.delenv("FITLOOP_DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path / "repo")
    assert resolve_data_dir() == tmp_path / "shared" / "data"


def test_missing_file_names_path_and_expected_file(tmp_path: Path) -> None:
    with pytest.raises(DatasetError) as err:
        hm.load_transactions(tmp_path)
    msg = str(err.value)
    assert str(tmp_path / "hm" / "transactions.csv.gz") in msg and "hm/transactions.csv.gz" in msg
    assert err.value.code == "dataset_file_missing"
    with pytest.raises(DatasetError, match="does not exist"):
        rtr.load_rentals(path=tmp_path / "x.csv")


def test_plain_csv_is_found_when_no_gz(tmp_path: Path) -> None:
    write(tmp_path / "hm" / "transactions.csv", TX_HEADER + "2020-09-22,c1,108775015,0.01,2\n")
    tx = hm.load_transactions(tmp_path)
    assert tx["article_id"].tolist() == ["0108775015"]


# -- H&M ----------------------------------------------------------------------------------------


def test_transactions_dtypes_on_a_small_gz_file_with_later_weeks(tmp_path: Path) -> None:
    p = write(tmp_path / "t.csv.gz", TX_HEADER + "2020-09-22,c1,0108775015,0.0508,2\n2020-09-23,c2,706016001,0.03,1\n")
    tx = hm.load_transactions(path=p)
    assert tx["t_dat"].dtype == "datetime64[ns]" and tx["t_dat"].max() == pd.Timestamp("2020-09-23")
    assert tx["article_id"].tolist() == ["0108775015", "0706016001"]
    assert tx["price"].dtype == "float64" and tx["sales_channel_id"].dtype == "int64"


def test_missing_columns_are_listed_with_the_found_ones(tmp_path: Path) -> None:
    p = write(tmp_path / "t.csv", "t_dat,customer_id,price\n2020-01-01,c,0.1\n")
    with pytest.raises(DatasetError) as err:
        hm.load_transactions(path=p)
    assert err.value.details["missing"] == ["article_id", "sales_channel_id"]
    assert "['t_dat', 'customer_id', 'price']" in str(err.value)
    with pytest.raises(DatasetError, match="usecols_missing|missing|lacks"):
        hm.load_transactions(path=p, usecols=["t_dat", "article_id"])


def test_bad_date_reports_row_and_value(tmp_path: Path) -> None:
    p = write(tmp_path / "t.csv", TX_HEADER + "2020-01-01,c,1,0.1,1\n2020-01-02,c,2,0.1,1\nyesterday,c,3,0.1,1\n")
    with pytest.raises(DatasetError) as err:
        hm.load_transactions(path=p)
    assert err.value.details["row"] == 3 and err.value.details["value"] == "yesterday"
    assert "'t_dat'" in str(err.value) and "line 4" in str(err.value)


def test_bad_article_id_and_bad_channel(tmp_path: Path) -> None:
    p = write(tmp_path / "a.csv", TX_HEADER + "2020-01-01,c,01087750x5,0.1,1\n")
    with pytest.raises(DatasetError, match="article_id"):
        hm.load_transactions(path=p)
    p = write(tmp_path / "b.csv", TX_HEADER + "2020-01-01,c,1,0.1,1\n2020-01-01,c,1,0.1,online\n")
    with pytest.raises(DatasetError) as err:
        hm.load_transactions(path=p)
    assert (err.value.details["column"], err.value.details["row"], err.value.details["value"]) == (
        "sales_channel_id", 2, "online")


def test_missing_price_is_an_error(tmp_path: Path) -> None:
    p = write(tmp_path / "t.csv", TX_HEADER + "2020-01-01,c,1,,1\n")
    with pytest.raises(DatasetError, match="'price'"):
        hm.load_transactions(path=p)


def test_articles_pad_ids_and_fill_text(tmp_path: Path) -> None:
    cols = ["article_id", "product_code", "prod_name", "product_type_no", "product_type_name", "product_group_name",
            "colour_group_name", "department_name", "index_code", "index_name", "section_name", "garment_group_name",
            "detail_desc"]
    row = ["108775015", "108775", "Strap top", "253", "Vest top", "Garment Upper body", "Black", "Jersey Basic", "A",
           "Ladieswear", "Womens Everyday Basics", "Jersey Basic", ""]
    p = write(tmp_path / "articles.csv", ",".join(cols) + "\n" + ",".join(row) + "\n")
    art = hm.load_articles(path=p)
    assert (art["article_id"].item(), art["product_code"].item()) == ("0108775015", "0108775")
    assert art["product_type_no"].dtype == "int64" and art["detail_desc"].item() == ""


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=9_999_999_999), min_size=1, max_size=5))
def test_article_id_padding_round_trips(ids: list[int]) -> None:
    with tempfile.TemporaryDirectory() as d:
        body = "".join(f"2020-01-01,c,{i},0.1,1\n" for i in ids)
        p = write(Path(d) / "t.csv", TX_HEADER + body)
        got = hm.load_transactions(path=p)["article_id"].tolist()
    assert all(len(g) == 10 for g in got)
    assert [int(g) for g in got] == ids


# -- RentTheRunway ----------------------------------------------------------------------------------

RTR_HEADER = "fit,user_id,item_id,size,category,review_date\n"


def test_rtr_bad_fit_value(tmp_path: Path) -> None:
    p = write(tmp_path / "r.csv", RTR_HEADER + "fit,1,2,8,dress,2016-01-01\ntoo tight,1,3,8,dress,2016-01-02\n")
    with pytest.raises(DatasetError) as err:
        rtr.load_rentals(path=p)
    assert err.value.details["value"] == "too tight" and err.value.details["row"] == 2
    assert "fit, large, small" in str(err.value)


def test_rtr_fit_required_unless_told(tmp_path: Path) -> None:
    p = write(tmp_path / "r.csv", "user_id,item_id,size,category\n1,2,8,dress\n")
    with pytest.raises(DatasetError, match="fit"):
        rtr.load_rentals(path=p)
    r = rtr.load_rentals(path=p, require_fit=False)
    assert r["user_id"].tolist() == ["1"] and r["size"].tolist() == [8]


# -- Open Bandit ------------------------------------------------------------------------------------

OBD_HEADER = ",timestamp,item_id,position,click,propensity_score,user_feature_0,user-item_affinity_0\n"


def test_obd_log_types_and_bad_timestamp(tmp_path: Path) -> None:
    write(tmp_path / "obd" / "bts_all.csv.gz",
          OBD_HEADER + "0,2019-11-24 00:00:17.004101+00:00,79,2,0,0.087125,81ce,0.0\n")
    log = obd.load_log("bts", data_dir=tmp_path)
    assert list(log.columns) == OBD_HEADER.strip().split(",")[1:]
    assert str(log["timestamp"].dtype) == "datetime64[ns, UTC]" and log["position"].item() == 2
    bad = write(tmp_path / "bad.csv", OBD_HEADER + "0,2019-11-24 00:00:17+00:00,1,1,0,0.1,a,0.0\n1,soon,1,1,0,0.1,a,0.0\n")
    with pytest.raises(DatasetError) as err:
        obd.load_log(path=bad)
    assert (err.value.details["column"], err.value.details["row"]) == ("timestamp", 2)


def test_obd_unknown_policy(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="random"):
        obd.load_log("greedy", data_dir=tmp_path)


# -- Myntra -----------------------------------------------------------------------------------------

STYLES_HEADER = "id,gender,masterCategory,subCategory,articleType,baseColour,season,year,usage,productDisplayName\n"


def test_myntra_skips_and_counts_malformed_lines(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    p = write(tmp_path / "styles.csv", STYLES_HEADER
              + "15970,Men,Apparel,Topwear,Shirts,Navy Blue,Fall,2011,Casual,Turtle Check Men Navy Blue Shirt\n"
              + "11349,Men,Accessories,Watches,Watches,Black,Winter,2016,Casual,Titan Men, Black Watch\n"
              + "39386,Men,Apparel,Bottomwear,Jeans,Blue,Summer,2012,,Peter England Men Party Blue Jeans\n")
    with caplog.at_level(logging.WARNING, logger="fitloop.datasets.myntra"):
        s = myntra.load_styles(path=p)
    assert s["id"].tolist() == [15970, 39386] and s["id"].dtype == "int64"
    assert s["year"].tolist() == ["2011", "2012"] and s["usage"].tolist() == ["Casual", ""]
    assert any("skipped 1 malformed" in r.getMessage() for r in caplog.records)


def test_myntra_bad_id(tmp_path: Path) -> None:
    p = write(tmp_path / "styles.csv", STYLES_HEADER + "abc,Men,Apparel,Topwear,Shirts,Navy,Fall,2011,Casual,x\n")
    with pytest.raises(DatasetError, match="'id'"):
        myntra.load_styles(path=p)


def test_empty_file_is_a_dataset_error(tmp_path: Path) -> None:
    p = write(tmp_path / "styles.csv", "")
    with pytest.raises(DatasetError, match="empty"):
        myntra.load_styles(path=p)
