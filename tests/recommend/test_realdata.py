"""A small smoke test on the real H&M sample (skips when the data is absent)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from fitloop.recommend import articles_frame, train_recommender, transactions_frame
from tests.conftest import require_data_file
from tests.recommend.synthetic import small_config

pytestmark = pytest.mark.realdata


def test_trains_and_serves_on_a_slice_of_hm(shared_data_dir: Path) -> None:
    from fitloop.datasets import hm

    require_data_file(shared_data_dir, "hm/transactions.csv.gz")
    require_data_file(shared_data_dir, "hm/articles.csv.gz")
    tx = transactions_frame(hm.load_transactions(shared_data_dir))
    tx = tx.loc[tx["ts"] >= pd.Timestamp("2020-03-01")]
    articles = hm.load_articles(shared_data_dir)
    # The articles bought in the slice plus a few thousand others keep the content model quick.
    keep = set(tx["item_id"]) | set(articles["article_id"].iloc[:3000])
    items = articles_frame(articles.loc[articles["article_id"].isin(keep)])
    rec = train_recommender(tx, items, small_config(), as_of="2020-06-23")
    assert rec.trained_until == "2020-06-23"
    assert rec.ranker is not None and rec.info["n_positives"] > 0
    buyer = tx.loc[tx["ts"] <= "2020-06-23", "user_id"].iloc[-1]
    got = rec.recommend(buyer, k=12)
    assert len(got) == 12 and len({s.item_id for s in got}) == 12
    assert set(s.item_id for s in got) <= set(items["item_id"])
    assert {s.source for s in got} and all(s.reason for s in got)
    cold = rec.recommend("not-a-customer", k=12)
    assert cold[0].reason.endswith("we don't know you yet")
