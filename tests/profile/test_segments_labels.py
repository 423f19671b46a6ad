"""Segment labels: plain words, colours paired, redundancy skipped, unique across clusters."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fitloop.profile.segment_labels import distinguishing_tags, join_tags, label_clusters, tag_words


def test_tag_words_are_plain() -> None:
    assert tag_words("colour:Black") == "black"
    assert tag_words("pattern:Solid") == "plain"
    assert tag_words("pattern:Stripe") == "stripes"
    assert tag_words("line:Baby/Children") == "kidswear"
    assert tag_words("style:Womens  Everyday_Collection") == "womens everyday collection"
    assert tag_words("price_level", 1) == "premium" and tag_words("price_level", -1) == "price-sensitive"
    assert tag_words("discount_share", -1) is None
    assert tag_words("colour:Unknown") is None and tag_words("colour:Black", -1) is None


def test_join_pairs_adjacent_colours() -> None:
    assert join_tags(["black", "white", "jersey basic"]) == "black & white · jersey basic"
    assert join_tags(["jersey basic", "eco"]) == "jersey basic · eco"


def test_distinguishing_tags_rank_by_z() -> None:
    names = ["colour:Black", "colour:Pink", "price_level", "frequency"]
    pop_mean, pop_std = np.array([0.3, 0.3, 0.0, 1.0]), np.array([0.1, 0.1, 0.2, 0.5])
    tags = distinguishing_tags(np.array([0.6, 0.1, -0.3, 1.0]), pop_mean, pop_std, names)
    # Pink is *below* average (no word for "avoids pink"); frequency is average: neither is a tag.
    assert [(t[0], t[1], t[3]) for t in tags] == [("colour:Black", "black", 1), ("price_level", "price-sensitive", -1)]
    assert tags[0][2] == pytest.approx(3.0) and tags[1][2] == pytest.approx(1.5)


def test_labels_render_colours_first_and_skip_redundant() -> None:
    cands = [[("category:Dresses", "dresses", 3.0, 1), ("article_type:Dress", "dress", 2.9, 1),
              ("colour:White", "white", 1.0, 1), ("colour:Black", "black", 0.9, 1)]]
    out = label_clusters(cands, 3, redundant=lambda a, b: {a, b} == {"category:Dresses", "article_type:Dress"})
    assert out[0][0] == "white & black · dresses"
    assert out[0][1] == ["category:Dresses", "colour:White", "colour:Black"]


@given(st.integers(1, 8), st.integers(1, 3), st.integers(0, 6))
def test_labels_unique_even_when_candidates_collide(n_clusters: int, max_tags: int, n_cands: int) -> None:
    same = [(f"style:s{j}", f"s{j}", 5.0 - j, 1) for j in range(n_cands)]
    out = label_clusters([same] * n_clusters, max_tags)
    labels = [lab for lab, _ in out]
    assert len(set(labels)) == n_clusters
    for lab, feats in out:
        assert len(feats) <= max_tags
        assert lab.count(" · ") < max_tags
