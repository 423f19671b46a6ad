"""``fitloop profiles`` and ``fitloop segments rebuild/export`` on a small simulated store."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from fitloop.cli import app
from fitloop.config import Settings
from fitloop.evaluate.simulator import ShopConfig, SimulatedShop
from fitloop.services.shop_loader import load_shop
from fitloop.wiring import build_stores


def test_profiles_and_segments_commands(tmp_path: Path) -> None:
    stores = build_stores(Settings(data_dir=tmp_path, demo=True))
    shop = SimulatedShop.generate(ShopConfig(n_items=200, n_shoppers=80, n_events=6000, n_days=20, seed=5))
    load_shop(stores, shop.items, shop.shoppers, shop.events.to_events())
    stores.close()
    runner = CliRunner(env={"FITLOOP_DEMO": "1"})
    home = ["--home", str(tmp_path)]
    r = runner.invoke(app, ["profiles", "rebuild", *home])
    assert r.exit_code == 0 and "rebuilt" in r.output, r.output
    r = runner.invoke(app, ["profiles", "show", "u000001", *home])
    assert r.exit_code == 0 and "u000001" in r.output
    r = runner.invoke(app, ["profiles", "show", "stranger", *home])
    assert "no data yet" in r.output
    r = runner.invoke(app, ["segments", "rebuild", "--k-min", "2", "--k-max", "3", *home])
    assert r.exit_code == 0, r.output
    seg = r.output.split()[0]
    out = tmp_path / "members.csv"
    r = runner.invoke(app, ["segments", "export", seg, "--out", str(out), *home])
    assert r.exit_code == 0 and out.read_text().startswith("user_id,segment_id")
