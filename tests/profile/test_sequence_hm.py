"""The sequence-vs-static-profile evaluation on a small slice of the real H&M sample."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fitloop.profile.sequence import SequenceConfig
from fitloop.profile.sequence_eval import StaticProfileScorer, evaluate_sequence, hm_item_tags, leave_last_day_out
from tests.conftest import require_data_file


@pytest.fixture(scope="module")
def hm(shared_data_dir: Path):  # type: ignore[no-untyped-def]
    require_data_file(shared_data_dir, "hm/transactions.csv.gz")
    require_data_file(shared_data_dir, "hm/articles.csv.gz")
    from fitloop.datasets import hm as loaders

    t = loaders.load_transactions(shared_data_dir)
    keep = sorted(t["customer_id"].unique())[:250]
    return t[t["customer_id"].isin(keep)], loaders.load_articles(shared_data_dir)


def test_leave_last_day_out_holds_out_only_the_last_day(hm) -> None:  # type: ignore[no-untyped-def]
    t, _ = hm
    train, test = leave_last_day_out(t)
    assert len(train) + len(test) == len(t)
    last = t.groupby("customer_id")["t_dat"].max()
    assert (test["t_dat"].to_numpy() == last.reindex(test["customer_id"]).to_numpy()).all()
    # Every test customer has history before the held-out day.
    assert set(test["customer_id"]) <= set(train["customer_id"])
    first_test = test.groupby("customer_id")["t_dat"].min()
    last_train = train.groupby("customer_id")["t_dat"].max().reindex(first_test.index)
    assert (last_train < first_test).all()


def test_static_profile_prefers_the_shoppers_attributes(hm) -> None:  # type: ignore[no-untyped-def]
    _, articles = hm
    a = articles.iloc[:500]
    items = a["article_id"].tolist()
    scorer = StaticProfileScorer(a, items, np.ones(len(items)))
    history = items[:3]
    s = scorer.scores(history)
    best = items[int(np.argmax(s))]
    row = a.set_index("article_id").loc[best]
    hist_rows = a.set_index("article_id").loc[history]
    assert row["product_type_name"] in set(hist_rows["product_type_name"])
    assert len(hm_item_tags(a)[items[0]]) == 7


def test_evaluate_sequence_reports_every_model(hm) -> None:  # type: ignore[no-untyped-def]
    t, articles = hm
    cfg = SequenceConfig(embedding_size=16, max_len=10, n_layers=1, epochs=2, n_threads=1, rng=0)
    r = evaluate_sequence(config=cfg, transactions=t, articles=articles, max_users=60)
    assert r["n_test_users"] == 60 and r["k"] == 12
    assert set(r["metrics"]) == {"sequence", "static_profile", "popularity", "popularity_recent"}
    for m in r["metrics"].values():
        assert 0.0 <= m["ndcg@12"] <= m["hr@12"] <= r["share_reachable"] <= 1.0
