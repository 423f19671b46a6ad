from __future__ import annotations

import json

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fitloop.catalog.season_suitability import (
    SuitabilityConfig,
    SuitabilityModel,
    colour_class,
    learn_suitability,
    materials_of,
    type_key,
)
from fitloop.data import Item
from fitloop.errors import InvalidInput, ModelBundleError
from tests.conftest import require_data_file

DRESS = Item("d", "Linen dress", "dresses", "Dress", 30, colour="light beige", material="linen")
SHORTS = Item("s", "Shorts", "bottoms", "Shorts", 20, colour="white")
COAT = Item("c", "Wool coat", "outerwear", "Coat", 90, colour="black", material="wool")
SWEATER = Item("w", "Knit sweater", "tops", "Sweater", 35, colour="grey")
PUFFER = Item("p", "Padded jacket", "outerwear", "Jacket", 60, colour="black", material="padded")


def test_default_model_summer_items_rise_when_hot_and_coats_when_cold() -> None:
    m = SuitabilityModel.default()
    for summer in (DRESS, SHORTS):
        for winter in (COAT, SWEATER, PUFFER):
            assert m.score(summer, 28).score > m.score(winter, 28).score
            assert m.score(winter, 2).score > m.score(summer, 2).score
    assert m.score(COAT, 28, city="Shanghai").reason == "wool coat is too warm for 28 °C in Shanghai"
    assert m.score(DRESS, 28, city="Shanghai").reason == "light linen dress for 28 °C in Shanghai"
    assert m.score(COAT, 2).reason.startswith("warm wool coat for 2 °C")


@given(st.floats(-30, 45), st.one_of(st.none(), st.floats(0, 200)))
def test_scores_stay_in_range(t: float, rain: float | None) -> None:
    m = SuitabilityModel.default()
    for it in (DRESS, COAT, Item("x", "Mystery", "", "", 1.0), Item("r", "Rain boots", "shoes", "Boots", 1.0)):
        s = m.score(it, t, rain)
        assert -1.0 <= s.score <= 1.0 and s.reason


def test_rain_rule_and_unknown_types() -> None:
    m = SuitabilityModel.default()
    rain_jacket = Item("r", "Waterproof rain jacket", "outerwear", "Jacket", 50)
    sandal = Item("s", "Sandals", "shoes", "Sandals", 20)
    assert m.score(rain_jacket, 15, 12).score > m.score(rain_jacket, 15, 0).score
    assert "rain-ready" in m.score(rain_jacket, 15, 12).reason
    assert m.score(sandal, 15, 12).score < m.score(sandal, 15, 0).score
    unknown = m.score(Item("u", "Thing", "misc", "Gizmo", 1), 28)
    assert unknown.score == 0 and unknown.reason == "no season data for gizmo" and not unknown.known_type
    # An unknown compound type falls back to a known word in it.
    assert m.type_beta(Item("k", "Light cardigan", "tops", "light cardigan", 1))[0] == "cardigan"
    with pytest.raises(InvalidInput):
        m.score(DRESS, float("nan"))


def test_helpers() -> None:
    assert type_key("Jumpsuit/Playsuit") == "jumpsuitplaysuit" and type_key("Sweaters") == "sweater"
    assert colour_class("Off White") == "light" and colour_class("") == "medium"
    assert materials_of("Knitted jumper in soft wool with linen") == ("linen", "wool", "knit")


def test_round_trip_and_refuses_other_formats(tmp_path) -> None:
    m = SuitabilityModel.default()
    m.save(tmp_path / "m.json")
    back = SuitabilityModel.load(tmp_path / "m.json")
    assert back.score(COAT, 2) == m.score(COAT, 2)
    (tmp_path / "bad.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(ModelBundleError, match="relearn"):
        SuitabilityModel.load(tmp_path / "bad.json")
    with pytest.raises(ModelBundleError):
        SuitabilityModel.load(tmp_path / "missing.json")


def test_learns_direction_from_small_synthetic_labels() -> None:
    styles = pd.DataFrame({
        "articleType": ["Shorts"] * 40 + ["Coats"] * 40 + ["Tshirts"] * 40,
        "season": ["Summer"] * 36 + ["Winter"] * 4 + ["Winter"] * 36 + ["Summer"] * 4 + ["Summer"] * 20 + ["Winter"] * 20,
        "usage": ["Casual"] * 120, "masterCategory": ["Apparel"] * 120, "subCategory": ["Topwear"] * 120,
    })
    m = learn_suitability(styles, None, None, config=SuitabilityConfig(min_count=10))
    assert m.types["short"] > 0 > m.types["coat"]
    assert m.occasions["short"] == {"casual": 1.0}
    with pytest.raises(InvalidInput):
        learn_suitability(None, None, None)


@pytest.mark.realdata
def test_learns_from_the_real_data(shared_data_dir) -> None:
    from fitloop.datasets import hm, myntra

    require_data_file(shared_data_dir, "myntra/styles.csv.gz")
    require_data_file(shared_data_dir, "hm/transactions.csv.gz")
    styles = myntra.load_styles(shared_data_dir)
    tx = hm.load_transactions(shared_data_dir)
    arts = hm.load_articles(shared_data_dir)
    weeks = {w: 10 - 10 * __import__("math").cos(2 * 3.14159 * (w - 3) / 52) for w in range(1, 53)}
    m = learn_suitability(styles, tx, arts, weeks)
    # Seasonality that anyone who has shopped for clothes would expect, found in the data.
    assert m.types["coat"] < 0 and m.types["sweater"] < 0 and m.types["short"] > 0 and m.types["sandal"] > 0
    assert m.materials["linen"] > 0 > m.materials["wool"]
