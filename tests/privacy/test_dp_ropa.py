from __future__ import annotations

import json
import statistics
from datetime import date

import pytest

from fitloop.errors import InvalidInput
from fitloop.privacy.dp import DPAggregator, DPConfig, PrivacyBudgetExceeded
from fitloop.privacy.manifest import default_manifest
from fitloop.privacy.ropa import records_of_processing, ropa_json, ropa_markdown

MANIFEST = default_manifest()


def test_budget_is_enforced_and_refusal_spends_nothing() -> None:
    agg = DPAggregator(epsilon_total=1.0, min_group_size=0)
    agg.count(1000, epsilon=0.4)
    agg.histogram({"a": 10, "b": 20}, epsilon=0.4)
    assert agg.spent == pytest.approx(0.8) and agg.remaining == pytest.approx(0.2)
    with pytest.raises(PrivacyBudgetExceeded, match="only 0.2 of 1 is left") as err:
        agg.count(1000, epsilon=0.3)
    assert err.value.code == "privacy_budget_exhausted" and err.value.http_status == 403
    assert agg.spent == pytest.approx(0.8)
    agg.count(1000, epsilon=0.2)  # exactly what is left still fits
    with pytest.raises(PrivacyBudgetExceeded):
        agg.count(1000, epsilon=0.01)
    assert [c.what for c in agg.charges] == ["count", "histogram", "count"]


def test_resumed_budget_and_config_twin() -> None:
    agg = DPAggregator(1.0, spent=0.95)
    with pytest.raises(PrivacyBudgetExceeded):
        agg.count(5)
    cfg = DPConfig(epsilon_total=2.0, min_group_size=5, default_epsilon=0.5)
    a2 = DPAggregator.from_config(cfg)
    a2.count(100)
    assert a2.spent == pytest.approx(0.5)


def test_small_groups_are_suppressed() -> None:
    agg = DPAggregator(epsilon_total=100.0, min_group_size=50)
    h = agg.histogram({"big": 10_000, "tiny": 3, "mid": 2_000}, epsilon=5.0)
    assert set(h.counts) == {"big", "mid"} and h.suppressed == ("tiny",)
    assert abs(h.counts["big"] - 10_000) < 50
    assert agg.count(2, epsilon=5.0).suppressed
    labels = ["s1"] * 500 + ["s2"] * 4
    assert agg.histogram(labels, epsilon=5.0).suppressed == ("s2",)


def test_noise_has_the_promised_scale() -> None:
    agg = DPAggregator(epsilon_total=1e6, min_group_size=0)
    errs = [agg.count(10_000, epsilon=0.5).value - 10_000 for _ in range(2000)]  # type: ignore[operator]
    # discrete Laplace with scale 1/eps = 2: mean 0, mean absolute deviation about 2
    assert abs(statistics.mean(errs)) < 0.3
    assert 1.6 < statistics.mean(abs(e) for e in errs) < 2.4
    r = agg.count(10, epsilon=0.5, contributions=3)
    assert r.scale == pytest.approx(6.0) and r.epsilon == pytest.approx(0.5)


def test_bad_arguments() -> None:
    with pytest.raises(InvalidInput):
        DPAggregator(0)
    agg = DPAggregator(1.0)
    with pytest.raises(InvalidInput):
        agg.count(5, epsilon=-1)
    with pytest.raises(InvalidInput):
        agg.histogram({})
    with pytest.raises(InvalidInput):
        agg.count(5, contributions=0)
    assert agg.spent == 0


def test_ropa_contains_every_purpose_in_both_forms() -> None:
    md = ropa_markdown(MANIFEST, generated=date(2026, 3, 1))
    data = json.loads(ropa_json(MANIFEST, generated=date(2026, 3, 1)))
    assert {r["purpose"] for r in data["records"]} == set(MANIFEST.purposes)
    for name, p in MANIFEST.purposes.items():
        assert f"## {name}" in md and p.why in md
    rec = {r["purpose"]: r for r in records_of_processing(MANIFEST)["records"]}
    assert rec["photo_analysis"]["separate_consent"] and rec["photo_analysis"]["retention_days"] == 30
    assert rec["order_fulfilment"]["lawful_basis_text"].startswith("Art. 6(1)(b)")
    assert {"email", "address", "payment_token"} <= {d["field"] for d in rec["order_fulfilment"]["data_categories"]}
    assert any(m.startswith("L1: AES-256-GCM") for m in rec["order_fulfilment"]["security_measures"])
    assert "search" in rec["personalisation"]["events"]
    assert data["manifest_version"] == MANIFEST.version and "2026-03-01" in md
