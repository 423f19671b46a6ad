"""Rule-based segments: parsing with clear errors, membership, explanations, consented audiences."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fitloop.data import Event, EventType, Item
from fitloop.errors import InvalidInput
from fitloop.privacy.consent import ConsentLedger
from fitloop.privacy.manifest import default_manifest
from fitloop.profile.features import ProfileBuilder
from fitloop.profile.rule_segments import Rule, RuleSegment, consented_members

PROFILES = [
    {"user_id": "u1", "lifecycle": "loyal", "monetary_total": 320.0,
     "affinity_long": {"style": {"minimalist": 0.6}, "colour": {"black": 0.5}}},
    {"user_id": "u2", "lifecycle": "at_risk", "monetary_total": 40.0,
     "affinity_long": {"style": {"minimalist": 0.35}}},
    {"user_id": "u3", "lifecycle": "new", "monetary_total": 700.0, "affinity_long": {"style": {"romantic": 0.9}}},
    {"user_id": "u4", "lifecycle": "loyal"},  # no monetary value known
]


def test_line_and_dict_forms_parse_alike() -> None:
    assert Rule.parse("affinity.style:minimalist >= 0.3") == Rule.parse(
        {"field": "affinity.style:minimalist", "op": ">=", "value": 0.3})
    assert Rule.parse("monetary between 50 and 500") == Rule("monetary", "between", [50, 500])
    assert Rule.parse("lifecycle in loyal, at_risk").value == ("loyal", "at_risk")
    assert Rule.parse("price_sensitivity == price-sensitive").value == "price-sensitive"
    rule = Rule.parse("monetary between 50 and 500")
    assert Rule.parse(rule.text) == rule and Rule.parse(rule.to_dict()) == rule


def test_members_and_match_modes() -> None:
    seg = RuleSegment.from_dict({"name": "loyal minimalists", "rules": [
        "affinity.style:minimalist >= 0.3", "lifecycle in loyal, at_risk"]})
    assert seg.members(PROFILES) == ["u1", "u2"]
    spenders = RuleSegment.from_dict({"name": "mid spenders", "rules": ["monetary between 50 and 500"]})
    assert spenders.members(PROFILES) == ["u1"]  # u4 has no monetary value: the rule is false
    either = RuleSegment.from_dict({"name": "either", "match": "any", "rules": [
        "monetary > 600", "affinity.style:minimalist >= 0.5"]})
    assert either.members(PROFILES) == ["u1", "u3"]
    not_new = RuleSegment("not new", (Rule.parse("lifecycle not in new"),))
    assert not_new.members(PROFILES) == ["u1", "u2", "u4"]
    assert RuleSegment.from_dict(seg.to_dict()) == seg


def test_explain_shows_values_and_verdict() -> None:
    seg = RuleSegment.from_dict({"name": "mid spenders", "rules": ["monetary between 50 and 500",
                                                                    "affinity.colour:black >= 0.4"]})
    lines = seg.explain(PROFILES[1])
    assert lines[0] == "monetary total = 40 (rule: monetary between 50 and 500) ✗"
    assert lines[1] == "colour black affinity = 0 (rule: affinity.colour:black >= 0.4) ✗"
    assert lines[-1] == "not a member of 'mid spenders' (all rules must hold)"
    assert seg.explain(PROFILES[3])[0].startswith("monetary total = missing")


def test_works_on_real_profiles() -> None:
    dress = Item("d1", "Floral dress", "dresses", "dress", 50.0, pattern="floral", style="romantic")
    b = ProfileBuilder.from_items([dress])
    b.learn_one(Event("e1", EventType.ORDER_COMPLETED, "u9", datetime(2026, 3, 1, tzinfo=UTC), "d1", "M",
                      price=50.0), dress)
    profile = b.get("u9")
    seg = RuleSegment.from_dict({"name": "romantics", "rules": ["affinity.style:romantic >= 0.5",
                                                                "frequency >= 1", "lifecycle in new"]})
    assert seg.members([profile]) == ["u9"]
    assert seg.members([profile.to_dict()]) == ["u9"]


@pytest.mark.parametrize(
    "rule, match",
    [("monetary between 500 and 50", "lower bound 500 is above upper bound 50"),
     ("monetary between 50", "between <low> and <high>"),
     ("monetary ~ 50", "cannot read rule"),
     ("monetary >= lots", "'lots' is not a number"),
     ("monetary >= inf", "not a finite number"),
     ("lifecycle in ,", "non-empty list"),
     ({"field": "x", "op": ">=", "value": 1, "extra": 2}, "unknown"),
     ({"field": "x", "op": ">="}, "missing"),
     ({"field": "x", "op": "like", "value": "a"}, "unknown operator"),
     ({"field": "1bad field", "op": "==", "value": "a"}, "dotted feature name"),
     ({"field": "x", "op": "between", "value": 3}, "two bounds"),
     (42, "line of text or a dict")],
)
def test_malformed_rules_are_rejected(rule: object, match: str) -> None:
    with pytest.raises(InvalidInput, match=match):
        Rule.parse(rule)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "doc, match",
    [({"name": "", "rules": ["lifecycle in loyal"]}, "non-empty name"),
     ({"name": "x", "rules": []}, "no rules"),
     ({"name": "x", "rules": "lifecycle in loyal"}, "list of rule"),
     ({"name": "x", "match": "most", "rules": ["lifecycle in loyal"]}, "match must be"),
     ({"name": "x", "rules": ["lifecycle in loyal"], "colour": "red"}, "unknown rule-segment keys")],
)
def test_malformed_segments_are_rejected(doc: dict[str, object], match: str) -> None:
    with pytest.raises(InvalidInput, match=match):
        RuleSegment.from_dict(doc)


@given(st.floats(-1e6, 1e6), st.floats(-1e6, 1e6), st.floats(-1e6, 1e6))
def test_between_is_inclusive_range(lo: float, hi: float, x: float) -> None:
    lo, hi = min(lo, hi), max(lo, hi)
    rule = Rule("monetary", "between", [lo, hi])
    assert rule.check({"monetary_total": x}) == (lo <= x <= hi)


def test_audience_keeps_only_consented_shoppers() -> None:
    ledger = ConsentLedger(default_manifest(), receipt_key=b"k" * 32)
    t = datetime(2026, 1, 1, tzinfo=UTC)
    ledger.grant("u1", "marketing_email", t)
    ledger.grant("u2", "marketing_email", t)
    ledger.withdraw("u2", ts=datetime(2026, 2, 1, tzinfo=UTC))
    ledger.grant("u3", "personalisation", t)
    audience = consented_members(["u1", "u2", "u3", "u1"], ledger.allowed, "marketing_email")
    assert audience == ["u1"]
    with pytest.raises(InvalidInput, match="purpose"):
        consented_members(["u1"], ledger.allowed, " ")
