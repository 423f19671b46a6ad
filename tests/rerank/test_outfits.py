from __future__ import annotations

import pandas as pd
import pytest

from fitloop.data import Context, Item, ScoredItem, Variant, make_interactions
from fitloop.errors import ModelBundleError, NotTrained
from fitloop.rerank.outfits import OutfitCompleter, OutfitConfig, slot_of
from tests.conftest import require_data_file


def _v(m: int = 3) -> tuple[Variant, ...]:
    return (Variant("S", 2), Variant("M", m))


CAT = {
    "dress": Item("dress", "Floral dress", "c", "Dress", 30, variants=_v()),
    "dress2": Item("dress2", "Slip dress", "c", "Dress", 35, variants=_v()),
    "cardi": Item("cardi", "Light cardigan", "c", "Cardigan", 20, variants=_v()),
    "cardi_no_m": Item("cardi_no_m", "Cardigan", "c", "Cardigan", 20, variants=_v(0)),
    "top": Item("top", "Top", "c", "Top", 10, variants=_v()),
    "jeans": Item("jeans", "Jeans", "c", "Trousers", 40, variants=_v()),
    "sandals": Item("sandals", "Sandals", "c", "Sandals", 25, variants=_v()),
    "boots": Item("boots", "Boots", "c", "Boots", 70, variants=_v()),
    "bag": Item("bag", "Bag", "c", "Bag", 25),
    "bra": Item("bra", "Bra", "c", "Bra", 15),
}


def _train() -> OutfitCompleter:
    baskets = [("u1", ["dress", "cardi", "sandals"]), ("u2", ["dress", "cardi"]), ("u3", ["dress2", "cardi"]),
               ("u4", ["top", "jeans", "boots"]), ("u5", ["top", "jeans"]), ("u6", ["jeans", "boots"]),
               ("u7", ["dress", "sandals"]), ("u8", ["bra", "dress"])]
    users = [u for u, items in baskets for _ in items]
    items = [i for _, items in baskets for i in items]
    oc = OutfitCompleter(CAT, OutfitConfig(min_pair_count=1, shrinkage=1.0))
    oc.train(make_interactions(users, items, [pd.Timestamp("2026-05-01")] * len(items)))
    return oc


def test_slots() -> None:
    assert [slot_of(CAT[i]) for i in ("dress", "cardi", "top", "jeans", "sandals", "bag", "bra")] == \
        ["dress", "outerwear", "top", "bottom", "shoes", "accessory", ""]


def test_dress_gets_a_cardigan_and_shoes_never_a_top_or_another_dress() -> None:
    oc = _train()
    cands = [ScoredItem(i, 1.0) for i in ("top", "dress2", "jeans", "boots", "bag", "sandals", "cardi", "bra")]
    out = oc.rerank(Context(item_id="dress", extra={"size": "M"}), cands, 5)
    ids = [s.item_id for s in out]
    assert not {"top", "dress2", "jeans", "bra"} & set(ids)
    assert ids.index("cardi") < ids.index("bag")
    assert ids[:2] == ["cardi", "sandals"] or ids[:2] == ["sandals", "cardi"]
    cardi = out[ids.index("cardi")]
    assert "completes the look with your dress" in cardi.reason and "cardigans are bought with dresses" in cardi.reason
    assert "in stock in your size M" in cardi.reason
    look = oc.complete(Context(item_id="dress"), cands)
    assert set(look) == {"outerwear", "shoes", "accessory"}


def test_size_availability_filter() -> None:
    oc = _train()
    out = oc.rerank(Context(item_id="dress", extra={"size": "M"}), [ScoredItem("cardi_no_m", 2)], 3)
    assert out == []
    out = oc.rerank(Context(item_id="dress"), [ScoredItem("cardi_no_m", 2)], 3)
    assert [s.item_id for s in out] == ["cardi_no_m"]


def test_no_anchor_leaves_the_list_and_untrained_refuses(tmp_path) -> None:
    cands = [ScoredItem("top", 2), ScoredItem("jeans", 1)]
    assert OutfitCompleter(CAT).rerank(Context(), cands, 2) == cands
    with pytest.raises(NotTrained):
        OutfitCompleter(CAT).rerank(Context(item_id="dress"), cands, 2)
    oc = _train()
    oc.save(tmp_path / "o.json")
    back = OutfitCompleter.load(tmp_path / "o.json", CAT)
    assert back.lift(CAT["dress"], CAT["cardi"]) == oc.lift(CAT["dress"], CAT["cardi"]) > 1
    (tmp_path / "bad.json").write_text("[]")
    with pytest.raises(ModelBundleError):
        OutfitCompleter.load(tmp_path / "bad.json", CAT)


@pytest.mark.realdata
def test_hm_co_purchase_pairs_make_sense(shared_data_dir) -> None:
    from fitloop.datasets import hm

    require_data_file(shared_data_dir, "hm/transactions.csv.gz")
    tx = hm.load_transactions(shared_data_dir)
    arts = hm.load_articles(shared_data_dir)
    arts = arts[arts.article_id.isin(set(tx.article_id))]
    cat = {r.article_id: Item(r.article_id, r.prod_name, r.product_group_name, r.product_type_name, 0.0)
           for r in arts.itertuples()}
    oc = OutfitCompleter(cat)
    oc.train(make_interactions(tx.customer_id.tolist(), tx.article_id.tolist(), tx.t_dat.tolist()))
    dress = [t for t, _ in oc.complements("Dress", 10)]
    assert {"Sandals", "Heeled sandals", "Ballerinas", "Other shoe"} & set(dress[:5])
    assert "Dress" not in dress
