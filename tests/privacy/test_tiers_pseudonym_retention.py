from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fitloop.errors import ConfigError, InvalidInput
from fitloop.privacy.manifest import default_manifest
from fitloop.privacy.pseudonym import Pseudonymiser
from fitloop.privacy.retention import RetentionPolicy, expired, retention_cutoffs
from fitloop.privacy.tiers import Role, Tier, can_see, parse_tier, redact_for, tier_of

MANIFEST = default_manifest()


@given(st.dictionaries(st.sampled_from(sorted(MANIFEST.fields) + ["unknown_x", "iban"]), st.integers()))
def test_marketer_never_sees_l1(record: dict) -> None:
    out = redact_for(Role.MARKETER, record, MANIFEST.field_tiers)
    assert all(tier_of(k, MANIFEST.field_tiers) is not Tier.L1 for k in out)
    assert not {"name", "email", "phone", "address", "payment_token", "unknown_x"} & set(out)
    assert redact_for(Role.DPO, record, MANIFEST.field_tiers) == record


def test_role_matrix() -> None:
    assert [t for t in Tier if can_see("merchandiser", t)] == [Tier.L4]
    assert all(can_see(Role.ADMIN, t) for t in Tier)
    assert not can_see(Role.ANALYST, Tier.L1) and can_see(Role.ANALYST, Tier.L2)
    with pytest.raises(InvalidInput, match="unknown role"):
        can_see("intern", Tier.L4)


def test_unknown_fields_fail_closed_to_l1() -> None:
    assert tier_of("something_new") is Tier.L1
    assert tier_of("item_id") is Tier.L3 and tier_of("order_id") is Tier.L2
    assert parse_tier("L4") is Tier.L4 and parse_tier(2) is Tier.L2
    with pytest.raises(InvalidInput):
        parse_tier("L9")


def test_pseudonyms_are_stable_keyed_and_versioned() -> None:
    p1 = Pseudonymiser(b"k" * 32)
    other = Pseudonymiser(b"j" * 32)
    assert p1("u1") == p1("u1") != p1("u2")
    assert p1("u1") != other("u1")
    assert p1.is_pseudonym(p1("u1")) and not p1.is_pseudonym("u1")
    p2 = Pseudonymiser(b"z" * 32, version=2)
    mapping = p1.rekey_map(["u1", "u2"], p2)
    assert mapping == {p1("u1"): p2("u1"), p1("u2"): p2("u2")}
    assert all(v.startswith("p2_") for v in mapping.values())
    with pytest.raises(ConfigError):
        Pseudonymiser("short")


def test_retention_per_purpose() -> None:
    now = datetime(2026, 6, 1, tzinfo=UTC)
    r = RetentionPolicy(MANIFEST)
    cut = r.retention_cutoffs(now)
    assert set(cut) == set(MANIFEST.purposes)
    assert cut["photo_analysis"] == now - timedelta(days=30)
    assert r.expired("photo_analysis", now - timedelta(days=31), now)
    assert not r.expired("photo_analysis", now - timedelta(days=29), now)
    assert expired(MANIFEST, "analytics", now - timedelta(days=400), now)
    assert retention_cutoffs(MANIFEST, now) == cut
    old = now - timedelta(days=100)
    assert not r.expired_for_all(["photo_analysis", "analytics"], old, now)
    assert r.expired_for_all(["photo_analysis", "location"], old, now)
    with pytest.raises(InvalidInput, match="timezone-aware"):
        r.expired("analytics", datetime(2026, 1, 1), now)
