from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import pytest

from fitloop.data import Consent
from fitloop.errors import ConfigError, InvalidInput
from fitloop.privacy.consent import BUNDLE_SOURCE, GPC_SOURCE, ConsentLedger, verify_receipt
from fitloop.privacy.manifest import Manifest, default_manifest

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
KEY = b"receipt-key-for-tests-0123456789"


@pytest.fixture(scope="module")
def manifest() -> Manifest:
    return default_manifest()


def ledger(manifest: Manifest, entries: list[Consent] | None = None) -> ConsentLedger:
    return ConsentLedger(manifest, entries or [], receipt_key=KEY)


def bumped(manifest: Manifest, purpose: str, *, version: int, reconsent_from: int) -> Manifest:
    raw = copy.deepcopy(manifest.to_dict())
    raw["purposes"][purpose].update(version=version, reconsent_from=reconsent_from)
    return Manifest.from_dict(raw)


def test_default_deny_and_nothing_pre_ticked(manifest: Manifest) -> None:
    lg = ledger(manifest)
    for name, p in manifest.purposes.items():
        d = lg.state("u1", name)
        assert d.allowed is (not p.needs_consent)
        assert d.reason == ("no_consent" if p.needs_consent else f"lawful_basis:{p.lawful_basis}")
    assert lg.allowed_purposes("u1") == {"strictly_necessary", "order_fulfilment"}


def test_grant_then_one_call_withdraws_everything(manifest: Manifest) -> None:
    lg = ledger(manifest)
    for p in ("analytics", "personalisation", "marketing_email"):
        lg.grant("u1", p, T0)
    lg.grant("u1", "photo_analysis", T0, source="photo-dialog")
    assert {"analytics", "personalisation", "marketing_email", "photo_analysis"} <= lg.allowed_purposes("u1")
    out = lg.withdraw("u1", ts=T0 + timedelta(seconds=1))
    assert {e.purpose for e in out} == {"analytics", "personalisation", "marketing_email", "photo_analysis"}
    assert all(not e.granted for e in out)
    assert lg.allowed_purposes("u1") == {"strictly_necessary", "order_fulfilment"}
    assert lg.state("u1", "analytics").reason == "withdrawn"
    # withdrawing again appends nothing: the ledger only records changes
    assert lg.withdraw("u1", ts=T0 + timedelta(seconds=2)) == []
    # other shoppers are untouched, history is kept (append-only)
    assert len(lg.entries("u1")) == 8 and lg.entries("u2") == []


def test_latest_entry_wins_by_time_not_by_append_order(manifest: Manifest) -> None:
    late_grant = Consent("u1", "analytics", 1, True, T0 + timedelta(minutes=5))
    early_withdraw = Consent("u1", "analytics", 1, False, T0)
    lg = ledger(manifest, [late_grant, early_withdraw])
    assert lg.allowed("u1", "analytics")
    assert not lg.allowed("u1", "analytics", at=T0 + timedelta(minutes=1))


def test_purpose_versions_and_reconsent(manifest: Manifest) -> None:
    v1_grant = Consent("u1", "personalisation", 1, True, T0)
    minor = bumped(manifest, "personalisation", version=2, reconsent_from=1)
    assert ledger(minor, [v1_grant]).allowed("u1", "personalisation")
    major = bumped(manifest, "personalisation", version=2, reconsent_from=2)
    lg = ledger(major, [v1_grant])
    d = lg.state("u1", "personalisation")
    assert (d.allowed, d.reason, d.version) == (False, "stale_version", 1)
    lg.grant("u1", "personalisation", T0 + timedelta(days=1))
    assert lg.state("u1", "personalisation").version == 2 and lg.allowed("u1", "personalisation")
    with pytest.raises(InvalidInput, match="versions 1..2"):
        lg.grant("u1", "personalisation", T0, version=3)


def test_sensitive_purposes_need_separate_explicit_consent(manifest: Manifest) -> None:
    lg = ledger(manifest)
    with pytest.raises(InvalidInput, match="own explicit consent") as err:
        lg.grant("u1", "photo_analysis", T0, source=f"{BUNDLE_SOURCE}:accept_all")
    assert err.value.code == "separate_consent_required"
    lg.grant("u1", "analytics", T0, source=f"{BUNDLE_SOURCE}:accept_all")  # non-sensitive may be bundled
    assert lg.allowed("u1", "analytics")
    # a bundled grant that reached the stored ledger anyway (e.g. an old import) still does not count
    lg2 = ledger(manifest, [Consent("u1", "location", 1, True, T0, source="bundle:import")])
    assert lg2.state("u1", "location").reason == "not_separate"


def test_gpc_withdraws_sharing_and_marketing_only(manifest: Manifest) -> None:
    lg = ledger(manifest)
    for p in ("analytics", "marketing_email", "marketing_push", "social", "personalisation"):
        lg.grant("u1", p, T0)
    out = lg.gpc_withdrawals("u1", T0 + timedelta(seconds=1))
    assert {e.purpose for e in out} == {"marketing_email", "marketing_push", "social"}
    assert all(e.source == GPC_SOURCE and not e.granted for e in out)
    assert lg.allowed("u1", "marketing_email")  # nothing appended yet
    lg.extend(out)
    assert lg.allowed_purposes("u1") == {"strictly_necessary", "order_fulfilment", "analytics", "personalisation"}
    assert lg.gpc_withdrawals("u1", T0 + timedelta(seconds=2)) == []


def test_receipts_verify_and_detect_tampering(manifest: Manifest) -> None:
    lg = ledger(manifest)
    entry = lg.grant("u1", "marketing_email", T0)
    r = lg.receipt(entry)
    assert r["purpose"] == "marketing_email" and r["granted"] is True and r["purpose_text_hash"]
    assert lg.verify_receipt(r) and verify_receipt(r, KEY)
    assert not verify_receipt({**r, "granted": False}, KEY)
    assert not verify_receipt({**r, "ts": (T0 - timedelta(days=1)).isoformat()}, KEY)
    assert not verify_receipt(r, b"another-key-another-key-another!")
    assert [x["purpose"] for x in lg.receipts("u1")] == ["marketing_email"]
    with pytest.raises(ConfigError, match="signing key"):
        ConsentLedger(manifest).receipt(entry)


def test_invalid_entries_are_refused(manifest: Manifest) -> None:
    lg = ledger(manifest)
    with pytest.raises(InvalidInput, match="unknown purpose"):
        lg.grant("u1", "mind_reading", T0)
    with pytest.raises(InvalidInput, match="timezone-aware"):
        lg.grant("u1", "analytics", datetime(2026, 1, 1))


def test_snapshot_lists_every_purpose(manifest: Manifest) -> None:
    lg = ledger(manifest)
    lg.grant("u1", "analytics", T0)
    snap = lg.snapshot("u1")
    assert set(snap) == set(manifest.purposes)
    assert snap["analytics"]["allowed"] and not snap["social"]["allowed"]
    assert snap["photo_analysis"]["sensitive"] is True
