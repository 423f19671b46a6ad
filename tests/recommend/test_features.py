"""Ranking features, checked against hand-computed values on a tiny history."""

from __future__ import annotations

import pandas as pd
import pytest

from fitloop.data import make_interactions
from fitloop.recommend.features import build_features
from fitloop.recommend.frames import TrainData

NOW = pd.Timestamp("2024-03-01")


def _features() -> pd.DataFrame:
    items = pd.DataFrame({"item_id": ["a1", "a2", "b1", "c1"], "product_code": ["a", "a", "b", "c"],
                          "product_type": ["top", "top", "dress", "sock"]})
    # u bought a1 on two days (30 and 2 days ago) and twice on one of them, b1 once 10 days ago;
    # v bought b1 20 days ago. Shopping days of u: 30, 10, 2 days ago.
    ev = make_interactions(["u", "u", "u", "u", "v"], ["a1", "a1", "a1", "b1", "b1"],
                           ["2024-01-31", "2024-02-28", "2024-02-28", "2024-02-20", "2024-02-10"])
    data = TrainData.build(ev, items, NOW, {"order_completed": 1.0}, ["order_completed"])
    cands = pd.DataFrame({"user_id": ["u", "u", "u", "v"], "item_id": ["a1", "a2", "c1", "a1"]})
    return build_features(cands, data).set_index(["user_id", "item_id"])


def test_item_history_of_the_shopper() -> None:
    f = _features()
    a1 = f.loc[("u", "a1")]
    assert a1["ui_n"] == 3 and a1["ui_n_days"] == 2
    assert a1["ui_first_days"] == pytest.approx(30.0) and a1["ui_days_since"] == pytest.approx(2.0)
    # Half-life 7 days: 0.5**(30/7) + 2 * 0.5**(2/7).
    assert a1["ui_decay_7"] == pytest.approx(0.5 ** (30 / 7) + 2 * 0.5 ** (2 / 7))
    assert a1["ui_days_since_rel"] == pytest.approx(0.0)  # in her last basket
    assert f.loc[("u", "c1"), "ui_decay_30"] == 0.0 and f.loc[("u", "c1"), "ui_n_days"] == 0.0


def test_style_history_reaches_other_colourways() -> None:
    f = _features()
    a2 = f.loc[("u", "a2")]  # never bought, but its style a was, in colour a1
    assert a2["ui_n"] == 0 and a2["ui_code_n"] == 3 and a2["ui_code_n_items"] == 1
    assert a2["ui_code_days_since"] == pytest.approx(2.0)
    assert a2["ui_code_decay_30"] == pytest.approx(0.5 ** (30 / 30) + 2 * 0.5 ** (2 / 30))
    assert a2["i_code_pop_all"] == 3 and a2["i_code_pop_4w"] == 2  # the 30-day-old sale is outside 28 days
    assert f.loc[("u", "c1"), "ui_code_n_items"] == 0.0 and f.loc[("u", "c1"), "i_code_pop_all"] == 0.0


def test_shopper_rhythm_and_repeat_propensity() -> None:
    f = _features()
    u = f.loc[("u", "a1")]
    assert u["u_n_days"] == 3
    assert u["u_median_gap"] == pytest.approx(14.0)  # gaps of 20 and 8 days
    assert u["u_days_since_last_rel"] == pytest.approx(2.0 / 14.0)
    assert u["u_repeat_share"] == pytest.approx(2 / 4)  # two of her four purchases rebought a1 on a later day
    v = f.loc[("v", "a1")]
    assert v["u_n_days"] == 1 and pd.isna(v["u_median_gap"]) and v["u_repeat_share"] == 0.0
