"""Segments on the real H&M sample (skips when ../shared/data is absent)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fitloop.profile.segments import SegmentConfig
from fitloop.profile.segments_eval import HM_SEGMENT_COLUMNS, evaluate_segments
from tests.conftest import require_data_file


@pytest.fixture(scope="module")
def hm_model(shared_data_dir: Path):  # type: ignore[no-untyped-def]
    require_data_file(shared_data_dir, "hm/transactions.csv.gz")
    require_data_file(shared_data_dir, "hm/articles.csv.gz")
    cfg = SegmentConfig(tag_columns=tuple(HM_SEGMENT_COLUMNS), k_max=8, stability_runs=1)
    return evaluate_segments(shared_data_dir, cfg)


def test_hm_segments_are_found_and_labelled(hm_model) -> None:  # type: ignore[no-untyped-def]
    model, report = hm_model
    assert report["n_shoppers"] == 1290
    assert 2 <= model.k <= 8
    labels = [s["label"] for s in report["segments"]]
    assert len(set(labels)) == len(labels)
    assert all(re.match(r"^[a-z0-9 &·\-',()/.+]+$", lab) for lab in labels), labels
    assert sum(s["size"] for s in report["segments"]) == 1290
    assert 0.0 <= report["stability"]["seed_ari"] <= 1.0


def test_hm_membership_is_explained(hm_model) -> None:  # type: ignore[no-untyped-def]
    model, _ = hm_model
    user = sorted(model.members)[0]
    lines = model.explain(user)
    assert model.segment(model.segment_of(user)).label in lines[0]
    assert len(lines) >= 2
