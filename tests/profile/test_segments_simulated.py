"""On the simulated shop, where hidden tastes are known, segments recover the hidden styles.

Figures (ARI and purity against each shopper's hidden main style) are printed with ``-s``
and recorded in docs/evaluation/segments.md.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from fitloop.profile.segments import SegmentConfig, build_segments_from_features, user_features

if importlib.util.find_spec("fitloop.evaluate.simulator") is None:  # pragma: no cover
    pytest.skip("fitloop.evaluate.simulator is not available yet", allow_module_level=True)

from fitloop.evaluate.simulator import ShopConfig, SimulatedShop  # noqa: E402

# Engagement counts as evidence of taste too: a shop of this size has few orders per shopper.
EVENT_WEIGHTS = {"order_completed": 1.0, "cart_added": 0.5, "favourited": 0.5, "product_clicked": 0.2}


def _purity(labels: np.ndarray, truth: np.ndarray) -> float:
    table = pd.crosstab(labels, truth)
    return float(table.max(axis=1).sum() / table.to_numpy().sum())


@pytest.fixture(scope="module")
def shop_features():  # type: ignore[no-untyped-def]
    shop = SimulatedShop.generate(ShopConfig(n_items=600, n_shoppers=400, n_events=80_000, n_days=60, seed=1))
    uf = user_features(shop.events.to_interactions(), shop.items, SegmentConfig(event_weights=EVENT_WEIGHTS))
    hidden = shop.hidden_tastes.to_frame()
    return uf, hidden.reindex(uf.user_ids)


def test_style_led_segments_recover_hidden_styles(shop_features) -> None:  # type: ignore[no-untyped-def]
    uf, hidden = shop_features
    truth = hidden["style"].to_numpy()
    cfg = SegmentConfig(event_weights=EVENT_WEIGHTS, column_weights={"style": 3.0}, stability_runs=3)
    model = build_segments_from_features(uf, cfg)
    labels = np.array([model.members[u] for u in uf.user_ids])
    ari, purity = adjusted_rand_score(truth, labels), _purity(labels, truth)
    chance = pd.Series(truth).value_counts(normalize=True).max()
    # Reference: each shopper's most-engaged style alone (no clustering) matches the hidden style.
    style_cols = [j for j, n in enumerate(uf.names) if n.startswith("style:")]
    argmax = np.array([uf.names[style_cols[i]][6:] for i in uf.values[:, style_cols].argmax(axis=1)])
    print(f"\nsimulated shop, style-led: k={model.k} ARI={ari:.3f} purity={purity:.3f} (chance {chance:.3f}); "
          f"top-style reference ARI={adjusted_rand_score(truth, argmax):.3f} acc={(argmax == truth).mean():.3f}; "
          f"stability {model.stability}; labels {[s.label for s in model.segments]}")
    assert ari > 0.15
    assert purity > 2 * chance
    # Most segments are named after the style that dominates them.
    named = sum(
        pd.Series(truth[labels == c]).mode()[0] in s.label for c, s in enumerate(model.segments)
    )
    assert named >= model.k // 2


def test_default_segments_on_simulated_shop(shop_features) -> None:  # type: ignore[no-untyped-def]
    """With every attribute weighted alike the data splits by what people buy (recorded, not tuned)."""
    uf, hidden = shop_features
    model = build_segments_from_features(uf, SegmentConfig(event_weights=EVENT_WEIGHTS, stability_runs=3))
    labels = np.array([model.members[u] for u in uf.user_ids])
    figures = {c: (adjusted_rand_score(hidden[c], labels), _purity(labels, hidden[c].to_numpy()))
               for c in ("style", "category")}
    print(f"\nsimulated shop, defaults: k={model.k} ARI/purity {figures}; stability {model.stability}; "
          f"labels {[s.label for s in model.segments]}")
    assert len({s.label for s in model.segments}) == model.k
    assert model.stability["seed_ari"] is not None and model.stability["seed_ari"] > 0.5
