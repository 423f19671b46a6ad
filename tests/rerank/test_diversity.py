from __future__ import annotations

import numpy as np
import pytest

from fitloop.catalog import ItemFeatures
from fitloop.data import Context, Item, ScoredItem
from fitloop.errors import InvalidInput
from fitloop.rerank.diversity import DPPDiversifier, MMRDiversifier, intra_list_similarity

# Ten near-identical black dresses on top, then varied items.
CAT = {f"d{i}": Item(f"d{i}", "Black dress", "c", "Dress", 30, colour="black", pattern="solid") for i in range(10)}
CAT |= {
    "skirt": Item("skirt", "Floral skirt", "c", "Skirt", 25, colour="red", pattern="floral"),
    "coat": Item("coat", "Camel coat", "c", "Coat", 90, colour="beige", pattern="solid"),
    "tee": Item("tee", "Striped tee", "c", "T-shirt", 10, colour="white", pattern="stripe"),
}
FEATS = ItemFeatures.fit(CAT.values())
CANDS = [ScoredItem(f"d{i}", 1 - i * 0.01) for i in range(10)] + [ScoredItem(i, 0.5) for i in ("skirt", "coat", "tee")]


def _sim(ids: list[str]) -> np.ndarray:
    return _SIM(ids)


_SIM = MMRDiversifier(FEATS).similarity


@pytest.mark.parametrize("policy", [MMRDiversifier(FEATS, 0.5, catalog=CAT), DPPDiversifier(FEATS, 1.0, catalog=CAT)])
def test_diversifiers_lower_intra_list_similarity(policy: MMRDiversifier | DPPDiversifier) -> None:
    plain = [c.item_id for c in CANDS[:6]]
    out = policy.rerank(Context(), CANDS, 6)
    ids = [s.item_id for s in out]
    assert ids[0] == "d0"  # the most relevant item stays first
    assert {"skirt", "coat", "tee"} <= set(ids)
    assert intra_list_similarity(ids, _sim) < intra_list_similarity(plain, _sim)
    moved_up = [s for s in out if s.item_id in ("skirt", "coat", "tee")]
    assert all(s.reason.startswith("adds variety") for s in moved_up)


def test_lambda_one_keeps_the_upstream_order_and_lambda_is_checked() -> None:
    out = MMRDiversifier(FEATS, 1.0).rerank(Context(), CANDS, 5)
    assert [s.item_id for s in out] == [c.item_id for c in CANDS[:5]] and all(not s.reason for s in out)
    with pytest.raises(InvalidInput):
        MMRDiversifier(FEATS, 1.5)
    with pytest.raises(InvalidInput):
        MMRDiversifier(None)


def test_reason_names_what_differs() -> None:
    out = MMRDiversifier(FEATS, 0.3, catalog=CAT).rerank(Context(), CANDS, 3)
    assert "a different article type, colour and pattern" in out[1].reason


def test_unknown_items_are_kept_and_treated_as_unlike_anything() -> None:
    cands = [ScoredItem("d0", 1), ScoredItem("new-item", 0.9), ScoredItem("d1", 0.8)]
    out = MMRDiversifier(FEATS, 0.5).rerank(Context(), cands, 3)
    assert [s.item_id for s in out] == ["d0", "new-item", "d1"]
