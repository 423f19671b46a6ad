"""Candidate sources on small hand-made cases: each returns what its name promises."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import pytest

from fitloop.data import make_interactions
from fitloop.errors import NotTrained
from fitloop.recommend import (
    ALSCandidates,
    ALSConfig,
    BPRCandidates,
    BPRConfig,
    ContentCandidates,
    ContentConfig,
    CoPurchaseCandidates,
    CoViewCandidates,
    PopularCandidates,
    RepeatCandidates,
    SameStyleCandidates,
    SequenceCandidates,
    SequenceHookConfig,
    TrainData,
)
from fitloop.recommend.pipeline import DEFAULT_EVENT_WEIGHTS
from tests.recommend.synthetic import shop_interactions, shop_items

NOW = pd.Timestamp("2024-03-15")


def _data(ev: pd.DataFrame, items: pd.DataFrame, now: pd.Timestamp = NOW) -> TrainData:
    return TrainData.build(ev, items, now, dict(DEFAULT_EVENT_WEIGHTS), ["order_completed"])


def _shop() -> TrainData:
    items = shop_items()
    return _data(shop_interactions(items), items)


def test_untrained_source_raises_not_trained() -> None:
    with pytest.raises(NotTrained, match="train"):
        RepeatCandidates().candidates(["u"])


def test_repeat_prefers_recent_and_frequent() -> None:
    ev = make_interactions(["u"] * 4, ["old", "new", "often", "often"], ["2024-01-01", "2024-03-10", "2024-02-01", "2024-02-02"])
    items = pd.DataFrame({"item_id": ["old", "new", "often", "other"]})
    src = RepeatCandidates()
    src.train(_data(ev, items))
    got = src.candidates(["u", "nobody"])
    assert got["item_id"].tolist() == ["new", "often", "old"]
    assert set(got["user_id"]) == {"u"}


def test_events_after_now_are_invisible() -> None:
    ev = make_interactions(["u", "u"], ["a", "b"], ["2024-01-01", "2024-04-01"])
    src = RepeatCandidates()
    src.train(_data(ev, pd.DataFrame({"item_id": ["a", "b"]})))
    assert src.candidates(["u"])["item_id"].tolist() == ["a"]


def test_copurchase_and_coview_use_their_event_kinds() -> None:
    ev = make_interactions(["u1", "u1", "u2", "u2", "u3", "u3"], ["a", "b", "a", "c", "a", "d"],
                           ["2024-03-01"] * 6, kind=["order_completed", "order_completed", "product_viewed",
                                                     "product_viewed", "order_completed", "product_viewed"])
    items = pd.DataFrame({"item_id": list("abcd")})
    data = _data(ev, items)
    buy, view = CoPurchaseCandidates(), CoViewCandidates()
    buy.train(data)
    view.train(data)
    got = buy.candidates(["u3"])
    assert got[["item_id", "anchor"]].values.tolist() == [["b", "a"]]
    assert set(view.candidates(["u3"])["item_id"]) >= {"c"}


def test_same_style_offers_unsold_colourways() -> None:
    items = pd.DataFrame({"item_id": ["x1", "x2", "x3", "y1"], "product_code": ["x", "x", "x", "y"]})
    ev = make_interactions(["u", "v"], ["x1", "x2"], ["2024-03-01", "2024-03-02"])
    src = SameStyleCandidates()
    src.train(_data(ev, items))
    got = src.candidates(["u"])
    assert got["item_id"].tolist() == ["x2", "x3"]  # the colourway that sells first, the unsold one too
    assert set(got["anchor"]) == {"x1"}


def test_content_reaches_items_nobody_bought() -> None:
    data = _shop()
    sold = set(data.events["item_id"])
    new = pd.DataFrame({"item_id": ["new-dress"], "product_code": ["9999"], "title": ["Dress 9999"],
                        "product_type": ["dress"], "colour": ["black"], "category": ["garment"],
                        "description": ["a black dress with pockets"]})
    items = pd.concat([data.items, new], ignore_index=True)
    data = _data(data.events[["user_id", "item_id", "ts", "kind", "value", "price"]], items)
    src = ContentCandidates(ContentConfig(n=10, n_new=5, embedding_size=8, include_unsold=True))
    src.train(data)
    dress_fan = "u000"  # user 0's favourite type is "dress"
    got = src.candidates([dress_fan])
    new_ones = got.loc[got["anchor"] == "new", "item_id"].tolist()
    assert "new-dress" in new_ones and not set(new_ones) & sold


def test_popular_lists_per_channel_and_for_everyone() -> None:
    ev = make_interactions(["a", "b", "c", "d"], ["x", "x", "y", "y"], ["2024-03-10"] * 4)
    ev["channel"] = ["online", "online", "store", "store"]
    ev.loc[3, "ts"] = pd.Timestamp("2024-03-14")
    src = PopularCandidates()
    src.train(_data(ev, pd.DataFrame({"item_id": ["x", "y"]})))
    assert [i for i, _ in src.popular("channel:online", 1)] == ["x"]
    assert [i for i, _ in src.popular("channel:store", 1)] == ["y"]
    assert [i for i, _ in src.popular("", 2)] == ["y", "x"]  # the more recent sale weighs more
    assert set(src.groups) == {"", "channel:online", "channel:store"}


@pytest.mark.parametrize("source", [ALSCandidates(ALSConfig(n=5, embedding_size=8, epochs=5)),
                                    BPRCandidates(BPRConfig(n=5, embedding_size=8, epochs=20))])
def test_matrix_factorisation_returns_catalog_items(source: ALSCandidates) -> None:
    data = _shop()
    source.train(data)
    got = source.candidates(["u001", "u002", "stranger"])
    assert set(got["user_id"]) == {"u001", "u002"}
    assert got.groupby("user_id").size().max() <= 5
    assert set(got["item_id"]) <= set(data.items["item_id"])


class _LastItemAgain:
    """A trivial next-item scorer: the sequence hook accepts any object with train/recommend."""

    def train(self, interactions: pd.DataFrame) -> None:
        self.seen = set(interactions["item_id"])

    def recommend(self, recent_item_ids: Sequence[str], k: int = 12) -> list[tuple[str, float]]:
        return [(recent_item_ids[-1], 1.0)][:k]


def test_sequence_hook_plugs_in_any_scorer() -> None:
    data = _shop()
    src = SequenceCandidates(SequenceHookConfig(enabled=True, n=3), model=_LastItemAgain())
    src.train(data)
    got = src.candidates(["u001"])
    last = data.events.loc[data.events["user_id"] == "u001"].sort_values("ts")["item_id"].iloc[-1]
    assert got["item_id"].tolist() == [last]
