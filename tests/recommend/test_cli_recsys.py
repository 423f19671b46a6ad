"""``fitloop recommend-batch`` / ``train`` on a small synthetic H&M-format data folder."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from fitloop.cli.recsys import read_customers, register
from fitloop.errors import InvalidInput
from tests.recommend.synthetic import shop_interactions, shop_items, small_config

runner = CliRunner()


@pytest.fixture(scope="module")
def config_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scaled-down recommender config, so each CLI run trains in about a second."""
    p = tmp_path_factory.mktemp("cfg") / "config.json"
    p.write_text(json.dumps(small_config().to_dict()))
    return p


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def _write_hm(folder: Path, extra: pd.DataFrame | None = None) -> pd.DataFrame:
    items = shop_items()
    ev = shop_interactions(items, n_users=40, weeks=8)
    hm = folder / "hm"
    hm.mkdir(parents=True, exist_ok=True)
    tx = pd.DataFrame({
        "t_dat": ev["ts"].dt.strftime("%Y-%m-%d"),
        "customer_id": ev["user_id"],
        "article_id": ev["item_id"].map(lambda s: s.rjust(10, "0")),
        "price": 0.02,
        "sales_channel_id": (ev["channel"] == "online").astype(int) + 1,
    })
    if extra is not None:
        tx = pd.concat([tx, extra], ignore_index=True)
    tx.to_csv(hm / "transactions.csv", index=False)
    pd.DataFrame({
        "article_id": items["item_id"].map(lambda s: s.rjust(10, "0")),
        "product_code": items["product_code"].map(lambda s: s.rjust(7, "0")),
        "prod_name": items["title"],
        "product_type_name": items["product_type"],
        "product_group_name": "Garment Upper body",
        "colour_group_name": items["colour"],
        "department_name": "Jersey",
        "index_name": "Ladieswear",
        "section_name": "Womens",
        "garment_group_name": "Jersey Basic",
        "detail_desc": items["description"],
    }).to_csv(hm / "articles.csv", index=False)
    return tx


def _batch(data: Path, customers: Path, out: Path, config: Path, as_of: str = "2024-02-20", k: int = 12) -> list[str]:
    res = runner.invoke(_app(), ["recommend-batch", "--dataset", "hm", "--data-dir", str(data), "--as-of", as_of,
                                 "--customers", str(customers), "--k", str(k), "--out", str(out), "--config", str(config)])
    assert res.exit_code == 0, res.output + repr(res.exception)
    return out.read_text().splitlines()


def test_every_listed_customer_gets_exactly_k_ids(tmp_path: Path, config_file: Path) -> None:
    tx = _write_hm(tmp_path / "data")
    known = sorted(tx["customer_id"].unique())[:5]
    cust = tmp_path / "customers.csv"
    cust.write_text("customer_id\n" + "\n".join([*known, "never-seen-1", "never-seen-2"]) + "\n")
    lines = _batch(tmp_path / "data", cust, tmp_path / "sub.csv", config_file)
    assert lines[0] == "customer_id,prediction"
    rows = [line.split(",") for line in lines[1:]]
    assert [r[0] for r in rows] == [*known, "never-seen-1", "never-seen-2"]
    catalog = set(shop_items()["item_id"].map(lambda s: s.rjust(10, "0")))
    for _, pred in rows:
        ids = pred.split(" ")
        assert len(ids) == 12 and len(set(ids)) == 12 and set(ids) <= catalog
    # Deterministic: the same command writes the same file.
    again = _batch(tmp_path / "data", cust, tmp_path / "sub2.csv", config_file)
    assert again == lines


def test_purchases_after_as_of_do_not_influence(tmp_path: Path, config_file: Path) -> None:
    base = _write_hm(tmp_path / "a")
    who = sorted(base["customer_id"].unique())[0]
    item = "0000003901"  # a colourway this shop sells rarely
    late = pd.DataFrame({"t_dat": ["2024-02-21"] * 3, "customer_id": [who] * 3, "article_id": [item] * 3,
                         "price": 0.02, "sales_channel_id": 2})
    _write_hm(tmp_path / "b", extra=late)
    cust = tmp_path / "c.txt"
    cust.write_text(f"{who}\nstranger\n")  # headerless: one id per line
    before_a = _batch(tmp_path / "a", cust, tmp_path / "a.csv", config_file, as_of="2024-02-20")
    before_b = _batch(tmp_path / "b", cust, tmp_path / "b.csv", config_file, as_of="2024-02-20")
    assert before_a == before_b
    # The same purchases inside the window do change the list (so the check above can fail).
    after_a = _batch(tmp_path / "a", cust, tmp_path / "a2.csv", config_file, as_of="2024-02-21")
    after_b = _batch(tmp_path / "b", cust, tmp_path / "b2.csv", config_file, as_of="2024-02-21")
    assert after_a[1] != after_b[1]


def test_read_customers_formats(tmp_path: Path) -> None:
    p = tmp_path / "x.csv"
    p.write_text("age,customer_id\n30,c1\n31,c2\n32,c1\n")
    assert read_customers(p) == ["c1", "c2"]
    p.write_text("c9\nc8\n\n")
    assert read_customers(p) == ["c9", "c8"]
    p.write_text("a,b\n1,2\n")
    with pytest.raises(InvalidInput, match="customer_id"):
        read_customers(p)
    with pytest.raises(InvalidInput, match="does not exist"):
        read_customers(tmp_path / "missing.csv")


def test_bad_options_exit_with_clear_errors(tmp_path: Path) -> None:
    _write_hm(tmp_path / "data")
    cust = tmp_path / "c.txt"
    cust.write_text("x\n")
    res = runner.invoke(_app(), ["recommend-batch", "--data-dir", str(tmp_path / "data"), "--as-of", "20-02-2024",
                                 "--customers", str(cust), "--out", str(tmp_path / "o.csv")])
    assert isinstance(res.exception, InvalidInput) and "YYYY-MM-DD" in str(res.exception)
    res = runner.invoke(_app(), ["recommend-batch", "--data-dir", str(tmp_path / "data"), "--as-of", "1990-01-01",
                                 "--customers", str(cust), "--out", str(tmp_path / "o.csv")])
    assert isinstance(res.exception, InvalidInput) and "later --as-of" in str(res.exception)


def test_train_saves_a_bundle_the_loader_accepts(tmp_path: Path, config_file: Path) -> None:
    from fitloop.recommend import load_bundle

    _write_hm(tmp_path / "data")
    res = runner.invoke(_app(), ["train", "--dataset", "hm", "--data-dir", str(tmp_path / "data"),
                                 "--models-dir", str(tmp_path / "models"), "--as-of", "2024-02-20",
                                 "--config", str(config_file)])
    assert res.exit_code == 0, res.output + repr(res.exception)
    rec = load_bundle(tmp_path / "models")
    assert rec.trained_until == "2024-02-20"
    manifest = json.loads((tmp_path / "models" / rec.version / "manifest.json").read_text())
    assert manifest["config"]["ranker"]["enabled"] is True
