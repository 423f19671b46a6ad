"""``fitloop profiles`` and ``fitloop segments rebuild/export`` on a small simulated store."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from fitloop.cli import app
from fitloop.config import Settings
from fitloop.errors import InvalidInput
from fitloop.evaluate.simulator import ShopConfig, SimulatedShop
from fitloop.services.shop_loader import load_shop
from fitloop.wiring import build


def test_profiles_and_segments_commands(tmp_path: Path) -> None:
    ctr = build(Settings(data_dir=tmp_path, demo=True))
    assert ctr.privacy is not None
    pid = ctr.privacy.pseudonymise("u000001")
    shop = SimulatedShop.generate(ShopConfig(n_items=200, n_shoppers=80, n_events=6000, n_days=20, seed=5))
    load_shop(ctr.stores, shop.items, shop.shoppers, shop.events.to_events(), pseudonymise=ctr.privacy.pseudonymise)
    ctr.close()
    runner = CliRunner(env={"FITLOOP_DEMO": "1"})
    home = ["--home", str(tmp_path)]
    r = runner.invoke(app, ["profiles", "rebuild", *home])
    assert r.exit_code == 0 and "rebuilt" in r.output, r.output
    r = runner.invoke(app, ["profiles", "show", "u000001", *home])  # the shop's customer id: pseudonymised
    assert r.exit_code == 0 and pid in r.output and "no data yet" not in r.output, r.output
    assert runner.invoke(app, ["profiles", "show", f" {pid} ", *home]).output == r.output  # a pasted pseudonym
    r = runner.invoke(app, ["profiles", "show", " ", *home])
    assert isinstance(r.exception, InvalidInput) and "paste a pseudonym" in r.exception.message  # `fitloop` prints it
    r = runner.invoke(app, ["profiles", "show", "stranger", *home])
    assert "no data yet" in r.output
    r = runner.invoke(app, ["segments", "rebuild", "--k-min", "2", "--k-max", "3", *home])
    assert r.exit_code == 0, r.output
    seg = r.output.split()[0]
    out = tmp_path / "members.csv"
    r = runner.invoke(app, ["segments", "export", seg, "--out", str(out), *home])
    assert r.exit_code == 0 and out.read_text().startswith("user_id,segment_id")
