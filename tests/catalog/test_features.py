from __future__ import annotations

import numpy as np
import pytest

from fitloop.catalog.features import FeatureConfig, ItemFeatures
from fitloop.data import Item
from fitloop.errors import InvalidInput, NotFound

ITEMS = [
    Item("a", "Floral midi dress", "dresses", "Dress", 30, colour="red", pattern="floral", style="romantic"),
    Item("b", "Floral skirt", "skirts", "Skirt", 25, colour="red", pattern="floral", style="romantic"),
    Item("c", "Wool coat", "outerwear", "Coat", 90, colour="black", pattern="solid", material="wool"),
    Item("d", "Plain", "misc", "", 1),
]


def test_similarity_orders_by_shared_attributes() -> None:
    f = ItemFeatures.fit(ITEMS)
    assert f.similarity("a", "a") == pytest.approx(1.0)
    assert f.similarity("a", "b") > f.similarity("a", "c") >= 0
    s = f.pairwise(["a", "b", "c", "d"])
    assert np.allclose(s, s.T) and s.shape == (4, 4)
    assert s[3].sum() == 0  # an item without attributes resembles nothing (category is not a block)


def test_text_block_and_errors() -> None:
    f = ItemFeatures.fit(ITEMS, FeatureConfig(text_weight=1.0))
    assert any(v.startswith("text=") for v in f.vocabulary)
    assert f.similarity("a", "b") > 0
    with pytest.raises(NotFound, match="refit"):
        f.similarity("a", "zzz")
    with pytest.raises(InvalidInput):
        ItemFeatures.fit([])
