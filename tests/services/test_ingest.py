"""The ingest service on a real SQLite store: sources, signatures, quarantine and replay, identity, bus."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text

from fitloop.data import Event
from fitloop.errors import Conflict, InvalidInput, Unauthorized
from fitloop.services.ingest import DefaultGate, GateDecision, IngestService, hash_write_key, sign_body
from fitloop.store import Source, Stores
from tests.services._ingest_fixtures import MASTER, engine_of


@pytest.fixture
def svc(stores: Stores) -> Iterator[IngestService]:
    service = IngestService(stores, master_key=MASTER)
    service.start()
    yield service
    service.stop()


def msg(mid: str, event: str = "Product Viewed", props: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
    return {"type": "track", "event": event, "messageId": mid, "anonymousId": kw.pop("anon", "anon-1"),
            "properties": props if props is not None else {"item_id": "sku-1"}, **kw}


def test_sources_store_only_the_key_hash(svc: IngestService, stores: Stores) -> None:
    src, key, secret = svc.add_source("web", "ops@shop.example")
    assert secret is None and key.startswith("fl_") and src.write_key_hash == hash_write_key(key)
    with engine_of(stores).connect() as conn:
        dump = " ".join(str(r) for r in conn.execute(text("SELECT * FROM sources")))
    assert key not in dump
    assert svc.authenticate(key).name == "web"
    with pytest.raises(Unauthorized) as info:
        svc.authenticate("fl_wrong")
    assert info.value.code == "invalid_write_key"
    with pytest.raises(Conflict):
        svc.add_source("web", "x@y.z")
    for bad in ("Web", "a" * 21, "-x", "a b"):
        with pytest.raises(InvalidInput):
            svc.add_source(bad, "o@x.y")
    with pytest.raises(InvalidInput):
        svc.add_source("ok", "not-an-email")
    svc.revoke_source("web")
    with pytest.raises(Unauthorized) as info:
        svc.authenticate(key)
    assert info.value.code == "revoked_write_key"


def test_hmac_signatures(svc: IngestService) -> None:
    src, _, secret = svc.add_source("orders", "ops@shop.example", hmac_secret=True)
    assert secret is not None and src.hmac_secret is not None and secret.encode() not in src.hmac_secret
    body = b'{"batch": []}'
    now = int(time.time())
    svc.verify_signature(src, body, str(now), sign_body(secret, body, now))
    cases = [(None, None, "signature_required"), (str(now), sign_body(secret, b"{}", now), "invalid_signature"),
             (str(now - 3600), sign_body(secret, body, now - 3600), "signature_expired"),
             ("soon", "sha256=00", "invalid_signature")]
    for ts, sig, code in cases:
        with pytest.raises(Unauthorized) as info:
            svc.verify_signature(src, body, ts, sig)
        assert info.value.code == code


def test_ingest_dedupes_retries_and_quarantines_with_reasons(svc: IngestService, stores: Stores) -> None:
    src, _, _ = svc.add_source("web", "ops@shop.example")
    body = {"batch": [msg("m1"), msg("m2", "Teleported"), msg("m3", props={"item_id": "s", "email": "a@b.c"}),
                      msg("m4", "Search", {"query": ""})]}
    r1 = svc.ingest(src, body)
    assert (r1.received, r1.stored, r1.duplicates, r1.quarantined) == (4, 1, 0, 3)
    assert [(e["index"], e["code"]) for e in r1.errors] == [(1, "unknown_event"), (2, "undeclared_field"),
                                                           (3, "invalid_properties")]
    r2 = svc.ingest(src, {"batch": [msg("m1")]})
    assert (r2.stored, r2.duplicates) == (0, 1)
    assert stores.events.count() == 1
    stats = {(s.source, s.type): (s.stored, s.duplicates, s.quarantined) for s in svc.stats()}
    assert stats[("web", "product_viewed")] == (1, 1, 1)
    assert stats[("web", "Teleported")] == (0, 0, 1)
    # the quarantine keeps the raw payload sealed
    with engine_of(stores).connect() as conn:
        raw = b"".join(bytes(r[0]) for r in conn.execute(text("SELECT payload FROM quarantine")))
    assert b"a@b.c" not in raw and b"Teleported" not in raw
    view = svc.quarantine_show(r1.errors[1]["quarantine_id"])
    assert view.payload["properties"]["email"] == "a@b.c" and view.code == "undeclared_field"


class StripUndeclared:
    """A gate as the privacy gate will behave: strip undeclared fields instead of refusing the event."""

    def check(self, source: Source, event: Event, undeclared_fields: tuple[str, ...]) -> GateDecision:
        return DefaultGate().check(source, event, ())


def test_replay_after_a_fix_stores_exactly_once(svc: IngestService, stores: Stores) -> None:
    src, _, _ = svc.add_source("web", "ops@shop.example")
    r = svc.ingest(src, {"batch": [msg("m1", props={"item_id": "s", "colour_mood": "sunny"}), msg("m2", "Teleported")]})
    q_undeclared, q_unknown = (e["quarantine_id"] for e in r.errors)
    still = svc.replay(q_unknown)
    assert (still.status, still.code) == ("open", "unknown_event")
    assert svc.quarantine_show(q_unknown).attempts == 1
    svc.gate = StripUndeclared()  # the fix
    done = svc.replay(q_undeclared)
    assert (done.status, done.stored) == ("replayed", 1)
    assert svc.replay(q_undeclared).status == "replayed"  # replaying twice stores nothing twice
    assert stores.events.count() == 1 and stores.events.get("web:m1") is not None
    assert [v.quarantine_id for v in svc.quarantine_list()] == [q_unknown]
    results = svc.replay_all()
    assert [x.status for x in results] == ["open"]


def test_identity_stitching_merges_without_double_counting(svc: IngestService, stores: Stores) -> None:
    src, _, _ = svc.add_source("web", "ops@shop.example")
    svc.ingest(src, {"batch": [msg("v1"), msg("v2", "Product Clicked")]})
    svc.ingest(src, {"batch": [{"type": "identify", "messageId": "id1", "anonymousId": "anon-1", "userId": "u-42",
                                "traits": {"email": "a@b.c", "city": "Lyon"}}]})
    svc.ingest(src, {"batch": [msg("v3"), msg("v1")]})  # later anonymous event, and a retry of an old one
    events = stores.events.scan(user_id="u-42")
    assert sorted(e.event_id for e in events) == ["web:id1", "web:v1", "web:v2", "web:v3"]
    assert stores.events.count() == 4 and stores.events.scan(user_id="anon-1") == []
    identify = stores.events.get("web:id1")
    assert identify is not None and "email" not in identify.properties and identify.properties["city"] == "Lyon"


def test_stored_events_are_published_after_commit(svc: IngestService, stores: Stores) -> None:
    seen: list[dict[str, Any]] = []
    stores.bus.subscribe("events", seen.append)
    src, _, _ = svc.add_source("web", "ops@shop.example")
    svc.ingest(src, {"batch": [msg("p1"), msg("p2"), msg("p1")]})
    deadline = time.monotonic() + 5
    while len(seen) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert sorted(m["event_id"] for m in seen) == ["web:p1", "web:p2"]
    assert seen[0]["type"] == "product_viewed" and datetime.fromisoformat(seen[0]["ts"]).tzinfo is not None


def test_demo_write_key_is_stable_and_creates_the_source(svc: IngestService) -> None:
    key = svc.demo_write_key()
    assert key == svc.demo_write_key()
    assert svc.authenticate(key).name == "demo-shop"


def test_oversized_event_in_a_batch_is_quarantined(svc: IngestService) -> None:
    src, _, _ = svc.add_source("web", "ops@shop.example")
    big = msg("big", "Search", {"query": "x", "filters": {f"f{i}": "y" * 150 for i in range(250)}})
    p = svc.prepare(src, {"batch": [msg("ok"), big]}, body_size=40_000, received_at=datetime.now(UTC))
    assert len(p.events) == 1 and [q.code for q in p.quarantine] == ["event_too_large"]
