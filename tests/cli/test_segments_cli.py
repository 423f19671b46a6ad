"""``fitloop segments``: build on H&M-format files, list, show, explain; bad input is a clear error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from fitloop.cli.segments import register
from fitloop.errors import InvalidInput, NotFound
from tests.conftest import require_data_file

app = typer.Typer()
register(app)
runner = CliRunner()


@pytest.fixture(scope="module")
def built(shared_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from fitloop.datasets import hm

    tx_file = require_data_file(shared_data_dir, "hm/transactions.csv.gz")
    require_data_file(shared_data_dir, "hm/articles.csv.gz")
    t = hm.load_transactions(path=tx_file)
    keep = sorted(t["customer_id"].unique())[:300]
    folder = tmp_path_factory.mktemp("seg")
    small = folder / "tx.csv"
    sub = t[t["customer_id"].isin(keep)].copy()
    sub["t_dat"] = sub["t_dat"].dt.strftime("%Y-%m-%d")
    sub.to_csv(small, index=False)
    out = folder / "model.json"
    r = runner.invoke(app, ["segments", "build", "--data-dir", str(shared_data_dir), "--transactions", str(small),
                            "--k-max", "6", "--stability-runs", "1", "--out", str(out)])
    assert r.exit_code == 0, r.output + repr(r.exception)
    assert "segments for 300 shoppers" in r.output
    return out


def test_list_show_explain(built: Path) -> None:
    doc = json.loads(built.read_text())
    first = doc["segments"][0]
    r = runner.invoke(app, ["segments", "list", str(built)])
    assert r.exit_code == 0 and first["segment_id"] in r.output
    r = runner.invoke(app, ["segments", "show", str(built), first["segment_id"]])
    assert r.exit_code == 0 and f"shoppers: {first['size']}" in r.output
    user = next(u for u, i in doc["members"].items() if i == 0)
    r = runner.invoke(app, ["segments", "explain", str(built), user])
    assert r.exit_code == 0 and "in segment seg-1" in r.output


def test_errors_are_clear_and_leave_the_old_model(built: Path, shared_data_dir: Path) -> None:
    before = built.read_text()
    r = runner.invoke(app, ["segments", "build", "--data-dir", str(shared_data_dir), "--k-min", "5", "--k-max", "3",
                            "--out", str(built)])
    assert isinstance(r.exception, InvalidInput) and "k_min" in str(r.exception)
    assert built.read_text() == before
    r = runner.invoke(app, ["segments", "show", str(built), "seg-99"])
    assert isinstance(r.exception, NotFound)
    r = runner.invoke(app, ["segments", "list", str(built.parent / "nope.json")])
    assert isinstance(r.exception, NotFound) and "segments build" in str(r.exception)
    bad = built.parent / "bad.json"
    bad.write_text("{not json")
    r = runner.invoke(app, ["segments", "list", str(bad)])
    assert isinstance(r.exception, InvalidInput)
