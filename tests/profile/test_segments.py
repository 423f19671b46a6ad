"""Discovered segments: k chosen by the data, plain-word unique labels, determinism, stability."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.metrics import adjusted_rand_score

from fitloop.data import Item
from fitloop.errors import InvalidInput, NotFound
from fitloop.profile.segments import (
    SegmentConfig,
    SegmentModel,
    build_segments,
    build_segments_from_features,
    feature_weights,
    user_features,
)

GROUPS = {  # hidden taste -> (style, colour, article type, price)
    "minimal": ("minimalist", "black", "trousers", 60.0),
    "romantic": ("romantic", "pink", "dress", 40.0),
    "sporty": ("sporty", "grey", "leggings", 25.0),
    "street": ("street", "green", "hoodie", 35.0),
}
END = pd.Timestamp("2024-06-30")
PLAIN = re.compile(r"^[a-z0-9 &·\-',()/.+]+$")


def _shop(users_per_group: int = 30, rng: int = 0) -> tuple[pd.DataFrame, list[Item], dict[str, str]]:
    """Four taste groups; each shopper buys mostly (85 %) from their group's items."""
    gen = np.random.default_rng(rng)
    items: list[Item] = []
    for g, (style, colour, atype, price) in GROUPS.items():
        for j in range(8):
            items.append(Item(f"{g}-{j}", f"{style} {atype}", "clothing", atype, price, colour=colour, style=style))
    by_group = {g: [it.item_id for it in items if it.item_id.startswith(g)] for g in GROUPS}
    rows, truth = [], {}
    names = list(GROUPS)
    for g in names:
        for u in range(users_per_group):
            uid = f"{g}-u{u}"
            truth[uid] = g
            for _ in range(int(gen.integers(5, 10))):
                src = g if gen.random() < 0.85 else names[int(gen.integers(len(names)))]
                item = by_group[src][int(gen.integers(8))]
                day = END - pd.Timedelta(days=int(gen.integers(0, 300)))
                rows.append((uid, item, day, "order_completed", 1.0, float("nan")))
    df = pd.DataFrame(rows, columns=["user_id", "item_id", "ts", "kind", "value", "price"])
    return df, items, truth


CFG = SegmentConfig(k_min=2, k_max=8, stability_runs=3, rng=0)


@pytest.fixture(scope="module")
def shop() -> tuple[pd.DataFrame, list[Item], dict[str, str]]:
    return _shop()


@pytest.fixture(scope="module")
def model(shop: tuple[pd.DataFrame, list[Item], dict[str, str]]) -> SegmentModel:
    return build_segments(shop[0], shop[1], CFG)


def test_k_is_chosen_by_the_data_and_recovers_the_groups(model: SegmentModel, shop) -> None:
    _, _, truth = shop
    assert model.k == 4
    users = sorted(truth)
    ari = adjusted_rand_score([truth[u] for u in users], [model.segment_of(u) for u in users])
    assert ari > 0.9
    assert max(model.k_scores, key=model.k_scores.__getitem__) == 4


def test_labels_are_plain_unique_and_name_the_taste(model: SegmentModel, shop) -> None:
    _, _, truth = shop
    labels = [s.label for s in model.segments]
    assert len(set(labels)) == len(labels)
    for seg in model.segments:
        assert PLAIN.match(seg.label), seg.label
        assert 1 <= len(seg.label.split(" · ")) <= 3
        majority = pd.Series([truth[u] for u in model.members_of(seg.segment_id)]).mode()[0]
        style, colour, atype, _ = GROUPS[majority]
        assert any(w in seg.label for w in (style, colour, atype)), (seg.label, majority)


def test_segment_facts_add_up(model: SegmentModel, shop) -> None:
    df, _, truth = shop
    assert sum(s.size for s in model.segments) == len(truth)
    assert sum(s.share for s in model.segments) == pytest.approx(1.0)
    assert [s.size for s in model.segments] == sorted((s.size for s in model.segments), reverse=True)
    for seg in model.segments:
        assert seg.typical_items, seg.segment_id
        group = pd.Series([truth[u] for u in model.members_of(seg.segment_id)]).mode()[0]
        assert seg.typical_items[0].startswith(group)
        members = set(model.members_of(seg.segment_id))
        first = df[df.user_id.isin(members)].groupby("user_id").ts.min()
        assert seg.new_last_period == int((first > END - pd.Timedelta(days=90)).sum())
        assert seg.new_previous_period == int(
            ((first > END - pd.Timedelta(days=180)) & (first <= END - pd.Timedelta(days=90))).sum()
        )
        if seg.new_previous_period:
            assert seg.growth == pytest.approx((seg.new_last_period - seg.new_previous_period) / seg.new_previous_period)


def test_same_seed_gives_the_same_model(shop) -> None:
    a = build_segments(shop[0], shop[1], CFG)
    b = build_segments(shop[0].sample(frac=1.0, random_state=1), shop[1], CFG)  # row order must not matter
    assert json.dumps(a.to_dict(), sort_keys=True) == json.dumps(b.to_dict(), sort_keys=True)


def test_stability_is_reported(model: SegmentModel) -> None:
    assert model.stability["runs"] == 3
    assert model.stability["seed_ari"] > 0.9 and model.stability["subsample_ari"] > 0.9


def test_json_roundtrip_and_assign(model: SegmentModel, shop) -> None:
    df, items, truth = shop
    restored = SegmentModel.from_dict(json.loads(json.dumps(model.to_dict())))
    assert [s.label for s in restored.segments] == [s.label for s in model.segments]
    uf = user_features(df, items, CFG)
    agree = [restored.assign(uf.row(u)) == model.segment_of(u) for u in uf.user_ids]
    assert all(agree)
    # A new shopper who only buys pink dresses joins the romantic segment.
    romantic = model.segment_of("romantic-u0")
    assert restored.assign({"style:romantic": 1.0, "colour:pink": 1.0, "article_type:dress": 1.0}) == romantic
    with pytest.raises(InvalidInput, match="unknown segment features"):
        restored.assign({"style:goth": 1.0})
    with pytest.raises(InvalidInput):
        SegmentModel.from_dict({"kind": "something else"})


def test_explain_says_why(model: SegmentModel) -> None:
    lines = model.explain("sporty-u3")
    seg = model.segment(model.segment_of("sporty-u3"))
    assert seg.label in lines[0]
    assert any("shared with the segment" in line for line in lines[1:])
    with pytest.raises(NotFound):
        model.explain("nobody")
    with pytest.raises(NotFound):
        model.segment("seg-99")


def test_interest_vectors_can_drive_segments(shop) -> None:
    df, items, truth = shop
    gen = np.random.default_rng(0)
    centres = {g: gen.normal(size=6) * 5 for g in GROUPS}
    interests = {u: centres[g] + gen.normal(size=6) * 0.1 for u, g in truth.items()}
    cfg = SegmentConfig(k_max=6, stability_runs=0, interest_weight=3.0, column_weights={"style": 0, "colour": 0,
                        "article_type": 0, "category": 0, "behaviour": 0})
    m = build_segments(df, items, cfg, interests=interests)
    assert m.n_interest == 6 and m.k == 4
    assert m.assign({}, interest=interests["street-u1"]) == m.segment_of("street-u1")
    with pytest.raises(InvalidInput, match="same length"):
        build_segments(df, items, cfg, interests={"a": [1.0], "b": [1.0, 2.0]})


def test_group_balancing_weights() -> None:
    names = ["colour:a", "colour:b", "colour:c", "colour:d", "style:x", "price_level", "frequency"]
    w = feature_weights(names, SegmentConfig(column_weights={"style": 2.0}))
    assert w[:4] == pytest.approx([0.5] * 4)
    assert w[4] == pytest.approx(2.0)
    assert w[5:] == pytest.approx([2 ** -0.5] * 2)


@pytest.mark.parametrize(
    "kw, match",
    [({"k_min": 5, "k_max": 3}, "k_min"), ({"k_min": 1}, "k_min"), ({"selection": "elbow"}, "selection"),
     ({"event_weights": {}}, "event_weights"), ({"event_weights": {"order_completed": -1}}, "event weight"),
     ({"min_share": 1.5}, "min_share"), ({"n_components": 0}, "n_components"),
     ({"column_weights": {"style": -1}}, "column weight"), ({"stability_runs": -1}, "stability_runs")],
)
def test_malformed_config_is_rejected(kw: dict[str, object], match: str) -> None:
    with pytest.raises(InvalidInput, match=match):
        SegmentConfig(**kw)  # type: ignore[arg-type]


def test_bad_inputs_raise_clear_errors(shop) -> None:
    df, items, _ = shop
    with pytest.raises(InvalidInput, match="lacks columns"):
        build_segments(df.drop(columns="ts"), items, CFG)
    with pytest.raises(InvalidInput, match="no events of kinds"):
        build_segments(df.assign(kind="product_viewed"), items, CFG)
    with pytest.raises(InvalidInput, match="item_id"):
        build_segments(df, pd.DataFrame({"sku": ["x"]}), CFG)
    with pytest.raises(InvalidInput, match="too few"):
        build_segments(df[df.user_id.isin(["minimal-u0", "romantic-u0"])], items, CFG)
    with pytest.raises(InvalidInput, match="unknown SegmentConfig fields"):
        SegmentConfig.from_dict({"k": 3})
    assert SegmentConfig.from_dict(json.loads(json.dumps(CFG.to_dict()))) == CFG


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10_000), st.integers(3, 25))
def test_build_is_complete_or_raises(seed: int, n_users: int) -> None:
    """Whatever the data, a build returns a consistent model or raises InvalidInput."""
    gen = np.random.default_rng(seed)
    items = [Item(f"i{j}", "t", "c", ["dress", "top", "jeans"][j % 3], 10.0 + j, colour=["red", "blue"][j % 2])
             for j in range(6)]
    rows = [(f"u{int(gen.integers(n_users))}", f"i{int(gen.integers(6))}",
             END - pd.Timedelta(days=int(gen.integers(200))), "order_completed", 1.0, float(gen.uniform(5, 20)))
            for _ in range(int(gen.integers(1, 80)))]
    df = pd.DataFrame(rows, columns=["user_id", "item_id", "ts", "kind", "value", "price"])
    cfg = SegmentConfig(k_max=4, stability_runs=1, min_segment_share=0.0, rng=seed)
    try:
        m = build_segments(df, items, cfg)
    except InvalidInput:
        return
    n = df.user_id.nunique()
    assert sum(s.size for s in m.segments) == n == len(m.members)
    assert len({s.label for s in m.segments}) == m.k
    assert all(m.segment_of(u) in {s.segment_id for s in m.segments} for u in m.members)
    json.dumps(m.to_dict())


def test_features_from_precomputed_rows(shop) -> None:
    df, items, _ = shop
    uf = user_features(df, items, CFG)
    assert build_segments_from_features(uf, CFG).to_dict() == build_segments(df, items, CFG).to_dict()
    assert "style:romantic" in uf.names and "frequency" in uf.names
    with pytest.raises(NotFound):
        uf.row("ghost")
