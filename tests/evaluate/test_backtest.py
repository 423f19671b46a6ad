"""The rolling backtest: baselines by hand, split hygiene, comparison and report files."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from fitloop.data import make_interactions
from fitloop.evaluate.backtest import (
    BacktestConfig,
    popular_decayed_baseline,
    popular_last_week_baseline,
    repurchase_popular_baseline,
    run_backtest,
)
from fitloop.evaluate.report import write_markdown, write_report
from tests.recommend.synthetic import shop_interactions, shop_items, small_config

NOW = pd.Timestamp("2024-01-15")


def _ev() -> pd.DataFrame:
    # x sold 3 times long ago, y twice last week, z once yesterday; u1 bought x and, later, z.
    return make_interactions(
        ["a", "b", "u1", "c", "d", "u1", "late"],
        ["x", "x", "x", "y", "y", "z", "w"],
        ["2023-12-01", "2023-12-02", "2023-12-03", "2024-01-10", "2024-01-11", "2024-01-14", "2024-01-20"],
    )


def test_popular_last_week_counts_only_the_last_seven_days() -> None:
    assert popular_last_week_baseline(_ev(), NOW)(["q"], 3) == {"q": ["y", "z"]}


def test_popular_decayed_weighs_recent_sales_more() -> None:
    assert popular_decayed_baseline(_ev(), NOW)(["q"], 4) == {"q": ["y", "z", "x"]}


def test_repurchase_puts_own_items_first_then_popular() -> None:
    got = repurchase_popular_baseline(_ev(), NOW)(["u1", "q"], 3)
    assert got["u1"] == ["z", "x", "y"]  # z is recent (decayed weight), x older; then popular y
    assert got["q"] == ["y", "z", "x"]
    assert "w" not in got["u1"]  # bought after NOW: invisible


@pytest.fixture(scope="module")
def result() -> object:
    items = shop_items()
    ev = shop_interactions(items, weeks=10)
    from dataclasses import replace

    cfg = small_config()
    variants = {"fitloop": cfg, "fusion": replace(cfg, ranker=replace(cfg.ranker, enabled=False))}
    return run_backtest(ev, items, BacktestConfig(weeks=2, n_boot=200), variants)


def test_backtest_scores_every_method_on_the_same_customers(result: object) -> None:
    from fitloop.evaluate.backtest import BacktestResult

    assert isinstance(result, BacktestResult)
    pw = result.per_week
    assert len(pw) == 2 * 5
    assert set(pw["method"]) == {"fitloop", "fusion", "popular_last_week", "popular_decayed", "repurchase_popular"}
    assert pw.groupby("week")["n_customers"].nunique().eq(1).all()
    lens = {len(v) for v in result.ap.values()}
    assert len(lens) == 1 and lens.pop() == pw.loc[pw["method"] == "fitloop", "n_customers"].sum()
    s = result.summary()
    assert (s["map"].between(0, 1)).all() and (s["homogeneity"].between(0, 1)).all()
    # The synthetic shop repeats purchases: personal methods beat plain popularity.
    assert s.loc["fitloop", "map"] > s.loc["popular_last_week", "map"]
    assert s.loc["repurchase_popular", "map"] > s.loc["popular_last_week", "map"]
    cmp = result.comparison("fitloop")
    assert cmp["strongest_baseline"] in result.baselines
    assert cmp["ci_low"] <= cmp["map_diff"] <= cmp["ci_high"]
    assert result.feature_importance  # from the first variant (with ranker), not the last one
    assert result.comparison("fusion")["method"] == "fusion"


def test_report_writes_html_png_csv_and_markdown(result: object, tmp_path: Path) -> None:
    html = write_report(result, tmp_path / "out")  # type: ignore[arg-type]
    assert html.is_file() and "MAP@12" in html.read_text()
    assert (tmp_path / "out" / "per_week.csv").is_file() and (tmp_path / "out" / "results.json").is_file()
    pngs = sorted(p.name for p in (tmp_path / "out" / "img").glob("*.png"))
    assert "recommend_map_by_week.png" in pngs
    md = write_markdown(result, tmp_path / "docs" / "recommend.md", html)  # type: ignore[arg-type]
    text = md.read_text()
    assert "| fitloop |" in text and "img/recommend_map_by_week.png" in text
    assert (tmp_path / "docs" / "img" / "recommend_map_by_week.png").is_file()


def test_candidate_recall_is_pooled_over_weeks_and_independent_of_the_ranker(result: object) -> None:
    from fitloop.evaluate.backtest import BacktestResult

    assert isinstance(result, BacktestResult)
    s = result.summary()
    pw = result.per_week.loc[result.per_week["method"] == "fitloop"]
    assert (pw["n_recalled"] <= pw["n_pairs"]).all() and pw["n_pairs"].gt(0).all()
    assert s.loc["fitloop", "cand_recall"] == pytest.approx(pw["n_recalled"].sum() / pw["n_pairs"].sum())
    assert 0 < s.loc["fitloop", "cand_recall"] <= 1
    # The recall stage does not depend on the ranker: the variant without it has the same candidates.
    assert s.loc["fusion", "cand_recall"] == s.loc["fitloop", "cand_recall"]
    assert pd.isna(s.loc["repurchase_popular", "cand_recall"])
