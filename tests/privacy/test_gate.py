from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from fitloop.data import Consent
from fitloop.privacy.consent import ConsentLedger
from fitloop.privacy.gate import PrivacyGate
from fitloop.privacy.manifest import default_manifest

MANIFEST = default_manifest()
GATE = PrivacyGate(MANIFEST)
T0 = datetime(2026, 3, 1, tzinfo=UTC)
USERS = ("u0", "u1", "u2")
CONSENT_PURPOSES = sorted(p for p, spec in MANIFEST.purposes.items() if spec.needs_consent)
FIELD_NAMES = sorted(MANIFEST.fields) + ["ssn", "phone_number", "raw_ip", "mother_maiden_name"]

consents = st.builds(
    Consent,
    user_id=st.sampled_from(USERS),
    purpose=st.sampled_from(CONSENT_PURPOSES),
    version=st.just(1),
    granted=st.booleans(),
    ts=st.integers(0, 1000).map(lambda s: T0 + timedelta(seconds=s)),
    source=st.sampled_from(["api", "banner", "bundle:accept_all", "gpc"]),
)
events = st.tuples(
    st.sampled_from(USERS),
    st.sampled_from(sorted(MANIFEST.events)),
    st.dictionaries(st.sampled_from(FIELD_NAMES), st.integers(), max_size=8),
)


@settings(max_examples=300, deadline=None)
@given(entries=st.lists(consents, max_size=30), event=events)
def test_no_event_without_consent_passes_the_gate(entries: list[Consent], event: tuple) -> None:
    user, event_type, fields = event
    ledger = ConsentLedger(MANIFEST, entries)
    d = GATE.check_for(ledger, user, event_type, fields)
    allowed = {p for p in MANIFEST.purposes_for(event_type) if ledger.state(user, p).allowed}
    assert d.admit == bool(allowed)
    assert set(d.purposes) == allowed
    if not d.admit:
        assert d.kept == {} and d.reason == "no_consent"
    # every stored field serves a purpose the shopper allowed, on this event
    for name in d.kept:
        assert set(MANIFEST.field_purposes(event_type, name)) & allowed
    # fields outside the manifest are always stripped, 100 %, whatever the consent
    outside = {k for k in fields if k not in MANIFEST.allowed_fields(event_type)}
    assert set(d.stripped) == outside
    assert d.stripped == {k: fields[k] for k in outside}
    # nothing is lost or duplicated between the three outcomes
    parts = [set(d.kept), set(d.withheld), set(d.stripped)]
    assert set().union(*parts) == set(fields) and sum(map(len, parts)) == len(fields)


@settings(max_examples=100, deadline=None)
@given(event=events)
def test_empty_ledger_admits_only_lawful_basis_events(event: tuple) -> None:
    user, event_type, fields = event
    d = GATE.check_for(ConsentLedger(MANIFEST), user, event_type, fields)
    assert set(d.purposes) <= {"strictly_necessary", "order_fulfilment"}
    assert not ({"analytics", "personalisation"} & set(d.purposes))


def test_withheld_fields_and_tags() -> None:
    ledger = ConsentLedger(MANIFEST)
    ledger.grant("u1", "analytics", T0)
    d = GATE.check_for(ledger, "u1", "order_completed",
                       {"order_id": "o1", "email": "a@b.cn", "items": [], "coupon": "X", "shoe_size_of_mother": 40})
    assert d.admit and d.purposes == ("order_fulfilment", "analytics")
    assert set(d.kept) == {"order_id", "email", "items", "coupon"}
    assert d.stripped == {"shoe_size_of_mother": 40}
    assert d.unconsented == ("personalisation",)
    search = GATE.check_for(ledger, "u2", "search", {"query": "linen"})
    assert not search.admit and search.unconsented == ("personalisation", "analytics")


def test_withdrawal_takes_effect_for_the_very_next_event() -> None:
    ledger = ConsentLedger(MANIFEST)
    ledger.grant("u9", "personalisation", T0)
    ledger.grant("u9", "analytics", T0)
    assert GATE.check_for(ledger, "u9", "search", {"query": "boots"}).admit
    ledger.withdraw("u9", ts=T0 + timedelta(seconds=1))
    d = GATE.check_for(ledger, "u9", "search", {"query": "boots"})
    assert not d.admit and d.kept == {}
    # order fulfilment goes on: it rests on the contract, not on consent
    order = GATE.check_for(ledger, "u9", "order_completed", {"order_id": "o1", "address": "x"})
    assert order.admit and order.purposes == ("order_fulfilment",)
    assert set(order.kept) == {"order_id", "address"}
