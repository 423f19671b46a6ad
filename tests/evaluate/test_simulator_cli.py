"""``fitloop simulate`` writes a readable shop folder and refuses bad input with a clear message."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from fitloop.cli.simulator import register
from fitloop.errors import InvalidInput

ARGS = ["--items", "120", "--shoppers", "30", "--events", "2000", "--days", "7", "--seed", "4"]


@pytest.fixture()
def app() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.callback()
    def _root() -> None:  # keep "simulate" a named sub-command
        pass

    return app


def test_simulate_writes_the_shop(app: typer.Typer, tmp_path: Path) -> None:
    out = tmp_path / "shop"
    result = CliRunner().invoke(app, ["simulate", "--out", str(out), "--with-hidden", *ARGS])
    assert result.exit_code == 0, result.output
    events = pd.read_csv(out / "events.csv.gz", dtype={"item_id": str, "size": str, "user_id": str})
    manifest = json.loads((out / "manifest.json").read_text())
    assert len(events) == manifest["events"] and events["event_id"].is_unique
    items = [json.loads(line) for line in (out / "items.jsonl").read_text().splitlines()]
    assert len(items) == 120 and items[0]["variants"] and "size" in items[0]["variants"][0]
    assert set(events["item_id"].dropna()) <= {i["item_id"] for i in items}
    shoppers = pd.read_csv(out / "shoppers.csv")
    assert len(shoppers) == 30 and set(events["user_id"]) <= set(shoppers["user_id"])
    assert len(pd.read_csv(out / "hidden_tastes.csv")) == 30
    assert {"city", "day", "temperature_c", "rain_mm"} <= set(pd.read_csv(out / "weather.csv").columns)


def test_simulate_refuses_bad_input(app: typer.Typer, tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(app, ["simulate", "--out", str(tmp_path / "a"), "--start", "March", *ARGS])
    assert isinstance(res.exception, InvalidInput) and "--start" in str(res.exception)
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "x.txt").write_text("keep me")
    res = runner.invoke(app, ["simulate", "--out", str(tmp_path / "b"), *ARGS])
    assert isinstance(res.exception, InvalidInput) and "--overwrite" in str(res.exception)
    assert not (tmp_path / "b" / "events.csv.gz").exists()
    res = runner.invoke(app, ["simulate", "--out", str(tmp_path / "c"), "--items", "3"])
    assert isinstance(res.exception, InvalidInput) and "n_items" in str(res.exception)
