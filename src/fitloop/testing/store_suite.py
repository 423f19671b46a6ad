"""One storage conformance suite, run against SQLite, PostgreSQL, Redis and memory."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from fitloop.data import Consent, Event, EventType, Item, User, Variant
from fitloop.errors import NotFound
from fitloop.store import Cache, EventBus, Impression, Stores

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def ev(i: int, user: str = "u1", typ: EventType = EventType.PRODUCT_VIEWED, item: str | None = "i1", **kw: Any) -> Event:
    return Event(event_id=f"e{i}", type=typ, user_id=user, ts=T0 + timedelta(minutes=i), item_id=item, **kw)


def item(i: int, **kw: Any) -> Item:
    base: dict[str, Any] = dict(item_id=f"i{i}", title=f"Item {i}", category="tops", article_type="t-shirt", price=10.0 + i,
                                colour="black", seasons=("summer",), variants=(Variant("S", 1), Variant("M", 0)),
                                attributes={"fit": "regular"}, created_at=T0)
    base.update(kw)
    return Item(**base)


class StoreConformance:
    """Behaviour every system-of-record backend must show. Subclasses provide the ``stores`` fixture."""

    @pytest.fixture
    def stores(self) -> Stores:  # pragma: no cover - overridden
        raise NotImplementedError

    # ---------------------------------------------------------------- events
    def test_append_is_idempotent_on_event_id(self, stores: Stores) -> None:
        r1 = stores.events.append([ev(1), ev(2), ev(2)])
        assert (r1.inserted, r1.duplicates) == (2, 1)
        r2 = stores.events.append([ev(2), ev(3)])
        assert (r2.inserted, r2.duplicates) == (1, 1)
        assert stores.events.count() == 3

    def test_event_round_trip(self, stores: Stores) -> None:
        e = ev(1, typ=EventType.ORDER_COMPLETED, size="M", quantity=2, price=19.5,
               properties={"order_id": "o1", "discount": 0.2, "nested": {"a": [1, 2]}}, source="web", anonymous_id="anon")
        stores.events.append([e])
        got = stores.events.get("e1")
        assert got == e
        assert got is not None and got.ts.tzinfo is not None

    def test_scan_filters_and_orders(self, stores: Stores) -> None:
        stores.events.append([ev(3, user="u2"), ev(1), ev(2, typ=EventType.CART_ADDED)])
        assert [e.event_id for e in stores.events.scan()] == ["e1", "e2", "e3"]
        assert [e.event_id for e in stores.events.scan(user_id="u1")] == ["e1", "e2"]
        assert [e.event_id for e in stores.events.scan(types=["cart_added"])] == ["e2"]
        assert [e.event_id for e in stores.events.scan(since=T0 + timedelta(minutes=2))] == ["e2", "e3"]
        assert [e.event_id for e in stores.events.scan(limit=1)] == ["e1"]

    def test_frame_by_purpose(self, stores: Stores) -> None:
        stores.events.append([ev(1, properties={"_purposes": ["analytics"]}),
                              ev(2, properties={"_purposes": ["analytics", "personalisation"]}), ev(3)])
        assert len(stores.events.frame()) == 3
        assert len(stores.events.frame(purpose="personalisation")) == 2  # e2 tagged, e3 untagged

    def test_tail_follows_storage_order(self, stores: Stores) -> None:
        assert stores.events.max_seq() == 0 and stores.events.tail() == []
        stores.events.append([ev(3), ev(1)])
        stores.events.append([ev(2)])
        tail = stores.events.tail()
        assert [e.event_id for _, e in tail] == ["e3", "e1", "e2"]
        seqs = [s for s, _ in tail]
        assert seqs == sorted(seqs) and stores.events.max_seq() == seqs[-1]
        assert [e.event_id for _, e in stores.events.tail(seqs[0], limit=1)] == ["e1"]

    def test_counts_and_frame(self, stores: Stores) -> None:
        stores.events.append([ev(1), ev(2, typ=EventType.ORDER_COMPLETED, price=5.0, quantity=3), ev(3, item=None, typ=EventType.SEARCH)])
        assert stores.events.count(type="order_completed") == 1
        assert ("product_viewed", "default", 1) in stores.events.counts()
        df = stores.events.frame()
        assert list(df.columns) == ["user_id", "item_id", "ts", "kind", "value", "price"]
        assert len(df) == 2  # events without an item are not interactions
        order = df[df.kind == "order_completed"].iloc[0]
        assert order.value == 3.0 and order.price == 5.0

    def test_relink_and_delete_user(self, stores: Stores) -> None:
        stores.events.append([ev(1, user="anon-1"), ev(2, user="anon-1"), ev(3, user="u9")])
        assert stores.events.relink_user("anon-1", "u9") == 2
        assert len(stores.events.scan(user_id="u9")) == 3
        assert stores.events.delete_user("u9") == 3
        assert stores.events.count() == 0

    # ---------------------------------------------------------------- catalog
    def test_catalog_upsert_get_iter(self, stores: Stores) -> None:
        stores.catalog.upsert_items([item(i) for i in range(5)])
        stores.catalog.upsert_items([item(1, title="Renamed", variants=(Variant("L", 4),))])
        assert stores.catalog.count_items() == 5
        got = stores.catalog.get_item("i1")
        assert got is not None and got.title == "Renamed" and got.variants == (Variant("L", 4),)
        assert stores.catalog.get_item("i0") == item(0)
        assert stores.catalog.get_item("nope") is None
        assert set(stores.catalog.get_items(["i2", "i3", "zz"])) == {"i2", "i3"}
        assert [it.item_id for it in stores.catalog.iter_items(batch_size=2)] == [f"i{i}" for i in range(5)]

    def test_stock_snapshot(self, stores: Stores) -> None:
        stores.catalog.upsert_items([item(1), item(2, variants=()), item(3, variants=(Variant("S", 0),))])
        assert stores.catalog.stock_snapshot() == {"i1": frozenset({"S"}), "i2": frozenset({"*"}), "i3": frozenset()}

    def test_profiles_get_many(self, stores: Stores) -> None:
        stores.profiles.put_many({"u1": {"v": 1}, "u2": {"v": 2}})
        assert stores.profiles.get_many(["u2", "u9", "u1", "u2"]) == {"u1": {"v": 1}, "u2": {"v": 2}}

    def test_stock_updates(self, stores: Stores) -> None:
        stores.catalog.upsert_items([item(1)])
        stores.catalog.set_stock("i1", "M", 7)
        got = stores.catalog.get_item("i1")
        assert got is not None and got.in_stock("M")
        with pytest.raises(NotFound):
            stores.catalog.set_stock("i1", "XXL", 1)

    # ---------------------------------------------------------------- users and consent
    def test_users_and_consent_ledger(self, stores: Stores) -> None:
        stores.users.upsert_users([User("u1", T0, "Shanghai", {"age_band": "25-34"}), User("u2", T0, None, {})])
        assert stores.users.count_users() == 2
        assert stores.users.get_user("u1") == User("u1", T0, "Shanghai", {"age_band": "25-34"})
        c1 = Consent("u1", "personalisation", 1, True, T0)
        c2 = Consent("u1", "personalisation", 1, False, T0 + timedelta(seconds=1))
        stores.users.append_consents([c1])
        stores.users.append_consents([c2])
        assert stores.users.consents("u1") == [c1, c2]
        stores.users.delete_user("u1")
        assert stores.users.get_user("u1") is None and stores.users.consents("u1") == []
        assert list(stores.users.iter_user_ids()) == ["u2"]

    # ---------------------------------------------------------------- profiles
    def test_profiles(self, stores: Stores) -> None:
        stores.profiles.put("u1", {"rfm": {"frequency": 3}, "tags": ["eco"]})
        stores.profiles.put_many({"u1": {"v": 2}, "u2": {"v": 1}})
        assert stores.profiles.get("u1") == {"v": 2}
        assert dict(stores.profiles.iter_profiles()) == {"u1": {"v": 2}, "u2": {"v": 1}}
        stores.profiles.delete("u1")
        assert stores.profiles.get("u1") is None

    # ---------------------------------------------------------------- models
    def test_model_registry_activation(self, stores: Stores) -> None:
        assert stores.models.active("rec") is None
        stores.models.register("rec", "v1", "/m/v1", {"map12": 0.01})
        stores.models.register("rec", "v2", "/m/v2", {}, activate=False)
        active = stores.models.active("rec")
        assert active is not None and active.version == "v1" and active.metadata == {"map12": 0.01}
        stores.models.activate("rec", "v2")
        active = stores.models.active("rec")
        assert active is not None and active.version == "v2"
        assert [m.version for m in stores.models.list("rec")] == ["v1", "v2"]
        with pytest.raises(NotFound):
            stores.models.activate("rec", "v9")

    # ---------------------------------------------------------------- impressions
    def test_impression_log_is_idempotent(self, stores: Stores) -> None:
        imp = Impression("r1", "u1", "home", "pop-v1", T0,
                         ({"item_id": "i1", "position": 0, "score": 1.0, "propensity": 0.5},), {"city": "Paris"})
        stores.impressions.log([imp, imp])
        assert stores.impressions.count() == 1
        assert stores.impressions.scan(user_id="u1") == [imp]
        assert stores.impressions.delete_user("u1") == 1

    def test_impressions_carry_the_experiment_arm(self, stores: Stores) -> None:
        plain = Impression("r2", "u2", "home", "pop-v1", T0, ({"item_id": "i1", "position": 0},), {})
        split = Impression("r3", "u2", "home", "pop-v1", T0, ({"item_id": "i2", "position": 0},), {},
                           experiment_id="exp-1", arm="B")
        stores.impressions.log([plain, split])
        assert stores.impressions.scan(experiment_id="exp-1") == [split]
        assert stores.impressions.scan(user_id="u2") == [plain, split]
        assert stores.impressions.scan(experiment_id="exp-2") == []
        assert stores.impressions.delete_user("u2") == 2

    def test_health_reports_ok(self, stores: Stores) -> None:
        health = stores.health()
        assert health and all(h.ok for h in health), health


    # ---------------------------------------------------------------- collection (sources, ingest log, quarantine)
    def test_sources_add_lookup_revoke(self, stores: Stores) -> None:
        from fitloop.errors import Conflict
        from fitloop.store import Source

        assert stores.sources is not None
        src = Source("web", "ops@shop.example", "a" * 64, T0, hmac_secret=b"sealed")
        stores.sources.add(src)
        assert stores.sources.get("web") == src
        assert stores.sources.by_key_hash("a" * 64) == src
        with pytest.raises(Conflict):
            stores.sources.add(Source("web", "x@y", "b" * 64, T0))
        stores.sources.revoke("web", T0 + timedelta(days=1))
        got = stores.sources.get("web")
        assert got is not None and got.revoked_at == T0 + timedelta(days=1)
        assert [s.name for s in stores.sources.list()] == ["web"]
        with pytest.raises(NotFound):
            stores.sources.revoke("nope", T0)

    def test_ingest_commit_is_exactly_once_and_counts(self, stores: Stores) -> None:
        from fitloop.collect.quarantine import new_record

        assert stores.ingest is not None and stores.quarantine is not None
        batch = [ev(1, source="web"), ev(2, source="web"), ev(2, source="web")]
        q = new_record("web", "unknown_event", "unknown event 'x'", b"sealed", message_id="m9",
                       event_type="product_viewed", received_at=T0, user_ref="u1")
        r1 = stores.ingest.commit(batch, [q], [], received_at=T0)
        assert [e.event_id for e in r1.inserted] == ["e1", "e2"] and r1.duplicate_ids == {"e2"} and r1.quarantined == 1
        r2 = stores.ingest.commit([ev(2, source="web"), ev(3, source="web")], [], [], received_at=T0)
        assert [e.event_id for e in r2.inserted] == ["e3"] and r2.duplicate_ids == {"e2"}
        assert stores.events.count() == 3
        stats = {(s.source, s.type): (s.stored, s.duplicates, s.quarantined) for s in stores.ingest.stats()}
        assert stats == {("web", "product_viewed"): (3, 2, 1)}

    def test_ingest_commit_round_trips_like_append(self, stores: Stores) -> None:
        assert stores.ingest is not None
        e = ev(1, typ=EventType.ORDER_COMPLETED, size="M", quantity=2, price=19.5, source="web", anonymous_id="anon",
               properties={"order_id": "o1", "discount": 0.2, "nested": {"a": [1, 2]}, "text": "ünï"})
        e2 = ev(2, item=None, typ=EventType.SEARCH, properties={})
        stores.ingest.commit([e, e2], [], [], received_at=T0 + timedelta(hours=1))
        assert stores.events.get("e1") == e and stores.events.get("e2") == e2
        assert [x.event_id for x in stores.events.scan(since=T0 + timedelta(seconds=90))] == ["e2"]
        assert len(stores.events.frame()) == 1

    def test_identity_links_merge_history_once(self, stores: Stores) -> None:
        assert stores.ingest is not None
        stores.ingest.commit([ev(1, user="anon-1", anonymous_id="anon-1"), ev(2, user="anon-1", anonymous_id="anon-1")],
                             [], [], received_at=T0)
        r = stores.ingest.commit([ev(3, user="u7", anonymous_id="anon-1")], [], [("anon-1", "u7", "web")], received_at=T0)
        assert r.links == 1
        # a later anonymous-only event of the linked id lands on the user as well
        r = stores.ingest.commit([ev(4, user="anon-1", anonymous_id="anon-1")], [], [("anon-1", "u7", "web")],
                                 received_at=T0)
        assert r.links == 0 and r.inserted[0].user_id == "u7"
        assert [e.event_id for e in stores.events.scan(user_id="u7")] == ["e1", "e2", "e3", "e4"]
        assert stores.events.scan(user_id="anon-1") == []
        assert stores.ingest.user_for("anon-1") == "u7" and stores.ingest.user_for("zz") is None

    def test_quarantine_list_get_resolve(self, stores: Stores) -> None:
        from fitloop.collect.quarantine import new_record

        assert stores.ingest is not None and stores.quarantine is not None
        recs = [new_record("web", code, "why", bytes([i]) * 40, received_at=T0 + timedelta(seconds=i), user_ref="u1")
                for i, code in enumerate(["invalid_properties", "undeclared_field"])]
        stores.ingest.commit([], recs, [], received_at=T0)
        assert [r.quarantine_id for r in stores.quarantine.list()] == [r.quarantine_id for r in recs]
        assert [r.code for r in stores.quarantine.list(code="undeclared_field")] == ["undeclared_field"]
        assert stores.quarantine.get(recs[0].quarantine_id) == recs[0]
        stores.quarantine.resolve(recs[0].quarantine_id, status="replayed", code="replayed", reason="stored", at=T0)
        got = stores.quarantine.get(recs[0].quarantine_id)
        assert got is not None and (got.status, got.attempts, got.resolved_at) == ("replayed", 1, T0)
        assert stores.quarantine.count() == 1 and stores.quarantine.count(status=None) == 2
        with pytest.raises(NotFound):
            stores.quarantine.resolve("nope", status="open", code="x", reason="y", at=T0)
        assert stores.quarantine.delete_user("u1") == 2


    # ---------------------------------------------------------------- console (issue 8)
    def test_console_users_and_sessions(self, stores: Stores) -> None:
        from fitloop.errors import Conflict
        from fitloop.store.protocols import ConsoleSession, ConsoleUser

        assert stores.console_users is not None and stores.console_sessions is not None
        stores.console_users.add(ConsoleUser("a@shop.io", "marketer", "scrypt$x", T0))
        with pytest.raises(Conflict):
            stores.console_users.add(ConsoleUser("a@shop.io", "admin", "scrypt$y", T0))
        stores.console_users.update("a@shop.io", role="analyst", disabled=True)
        got = stores.console_users.get("a@shop.io")
        assert got is not None and (got.role, got.disabled, got.password_hash, got.created_at) == ("analyst", True,
                                                                                                  "scrypt$x", T0)
        assert [u.email for u in stores.console_users.list()] == ["a@shop.io"]
        with pytest.raises(NotFound):
            stores.console_users.update("zz@shop.io", role="admin")
        s1 = ConsoleSession("h1", "a@shop.io", "c1", T0, T0 + timedelta(hours=1))
        s2 = ConsoleSession("h2", "a@shop.io", "c2", T0, T0 + timedelta(hours=3))
        stores.console_sessions.put(s1)
        stores.console_sessions.put(s2)
        assert stores.console_sessions.get("h1") == s1
        assert stores.console_sessions.purge(T0 + timedelta(hours=2)) == 1
        assert stores.console_sessions.get("h1") is None and stores.console_sessions.get("h2") == s2
        stores.console_sessions.delete("h2")
        assert stores.console_sessions.get("h2") is None

    def test_audit_log_merch_rules_and_documents(self, stores: Stores) -> None:
        from fitloop.store.protocols import AuditRecord, ConsoleDocument, MerchRule

        assert stores.audit is not None and stores.merchandising is not None and stores.documents is not None
        for i in range(3):
            stores.audit.append(AuditRecord(T0 + timedelta(seconds=i), "a@shop.io", "marketer", f"act{i}", "t",
                                            i != 1, "d"))
        assert [a.action for a in stores.audit.list()] == ["act2", "act1", "act0"]
        assert [a.action for a in stores.audit.list(allowed=False)] == ["act1"]
        assert stores.audit.list(limit=1)[0].ts == T0 + timedelta(seconds=2)
        r1 = MerchRule("r1", "pair", "i1", "product", "*", "m@shop.io", T0, "hero", anchor="i9")
        r2 = MerchRule("r2", "boost_new", "", "*", "seg-1", "m@shop.io", T0 + timedelta(seconds=1), days=14)
        stores.merchandising.add(r2)
        stores.merchandising.add(r1)
        assert stores.merchandising.list() == [r1, r2]
        stores.merchandising.delete("r1")
        assert stores.merchandising.list() == [r2]
        with pytest.raises(NotFound):
            stores.merchandising.delete("r1")
        doc = ConsoleDocument("d1", "campaign", "Spring", "draft", "m@shop.io", T0, T0, {"segment": "seg-1",
                                                                                         "recipients": ["u1", "u2"]})
        stores.documents.put(doc)
        stores.documents.put(ConsoleDocument("d2", "experiment", "AB", "running", "m@shop.io", T0, T0, {"looks": []}))
        assert stores.documents.get("d1") == doc
        launched = ConsoleDocument("d1", "campaign", "Spring", "launched", "m@shop.io", T0, T0 + timedelta(hours=1),
                                   {**doc.data, "launched_at": "x"})
        stores.documents.put(launched)
        assert stores.documents.get("d1") == launched
        assert [d.doc_id for d in stores.documents.list("campaign")] == ["d1"]
        assert stores.documents.get("nope") is None

    # ---------------------------------------------------------------- privacy (issue 4)
    def test_data_keys_add_once_put_never_resurrects(self, stores: Stores) -> None:
        from fitloop.privacy.vault import WrappedKey

        keys = stores.data_keys
        assert keys is not None
        assert keys.add(WrappedKey("p1", 1, b"a")).wrapped == b"a"
        assert keys.add(WrappedKey("p1", 1, b"b")).wrapped == b"a"  # the first writer wins
        keys.put(WrappedKey("p1", 2, b"c"))
        assert keys.get("p1") == WrappedKey("p1", 2, b"c")
        assert [k.person_id for k in keys.iter()] == ["p1"]
        assert keys.delete("p1") and keys.get("p1") is None
        keys.put(WrappedKey("p1", 3, b"d"))  # a rewrap racing an erasure
        assert keys.get("p1") is None

    def test_privacy_store_vault_stripped_alerts_budget_erasures(self, stores: Stores) -> None:
        from fitloop.store.protocols import StrippedField

        pv = stores.privacy
        assert pv is not None
        pv.put_identity("p1", {"email": b"\x01ct", "name": b"\x01n"}, T0)
        pv.put_identity("p1", {"email": b"\x01ct2"}, T0)
        assert pv.identity("p1") == {"email": b"\x01ct2", "name": b"\x01n"}
        assert pv.delete_identity("p1") == 2 and pv.identity("p1") == {}
        pv.add_stripped([StrippedField("q1", "p1", "web", "web:m1", "product_viewed", "phone", b"\x01x", T0),
                         StrippedField("q2", "p1", "web", "web:m2", "product_viewed", "phone", None, T0)])
        assert {r.quarantine_id for r in pv.stripped(person_id="p1")} == {"q1", "q2"}
        assert pv.delete_stripped("p1") == 2
        alert = {"alert_id": "a1", "rule": "field_outside_manifest", "pause_key": "web|field:phone", "message": "m",
                 "owner": "ops", "first_ts": T0.isoformat(), "last_ts": T0.isoformat(), "count": 1,
                 "status": "active", "details": {}}
        pv.save_alert(alert)
        pv.save_alert({**alert, "count": 3})
        assert [(a["alert_id"], a["count"]) for a in pv.alerts(active_only=True)] == [("a1", 3)]
        pv.save_alert({**alert, "status": "resolved"})
        assert pv.alerts(active_only=True) == [] and len(pv.alerts()) == 1
        pv.append_audit({"ts": T0, "action": "paused", "pause_key": "web|*", "actor": "m", "alert_id": "a1"})
        pv.append_audit({"ts": T0, "action": "resumed", "pause_key": "web|*", "actor": "dpo", "alert_id": "a1"})
        assert [a["action"] for a in pv.audit()] == ["resumed", "paused"]
        assert pv.reserve_budget("2025-03", 0.6, 1.0) == pytest.approx(0.4)
        assert pv.reserve_budget("2025-03", 0.6, 1.0) is None
        assert pv.budget("2025-03") == pytest.approx((1.0, 0.6))
        pv.record_erasure("h1", T0, {"removed": {"events": 2}})
        assert pv.erased_hashes() == {"h1"}

class CacheConformance:
    """Behaviour every cache backend must show."""

    @pytest.fixture
    def cache(self) -> Cache:  # pragma: no cover - overridden
        raise NotImplementedError

    def test_get_set_delete(self, cache: Cache) -> None:
        assert cache.get("missing") is None
        cache.set("a", b"1")
        assert cache.get("a") == b"1"
        cache.delete("a")
        assert cache.get("a") is None

    def test_ttl_expires(self, cache: Cache) -> None:
        cache.set("t", b"x", ttl_s=0.05)
        time.sleep(0.15)
        assert cache.get("t") is None

    def test_add_only_when_absent(self, cache: Cache) -> None:
        assert cache.add("lease", b"a", ttl_s=0.1) is True
        assert cache.add("lease", b"b") is False and cache.get("lease") == b"a"
        time.sleep(0.2)
        assert cache.add("lease", b"c") is True

    def test_incr_and_scan(self, cache: Cache) -> None:
        assert cache.incr("rate:src") == 1
        assert cache.incr("rate:src", 4) == 5
        cache.set("rate:other", b"1")
        assert cache.scan_keys("rate:") == ["rate:other", "rate:src"]
        cache.ping()


class EventBusConformance:
    """Behaviour every event bus must show."""

    @pytest.fixture
    def bus(self) -> EventBus:  # pragma: no cover - overridden
        raise NotImplementedError

    def test_publish_read_in_order(self, bus: EventBus) -> None:
        ids = [bus.publish("t", {"n": i}) for i in range(3)]
        got = bus.read("t")
        assert [m for _, m in got] == [{"n": 0}, {"n": 1}, {"n": 2}]
        assert [m for _, m in bus.read("t", after=ids[0])] == [{"n": 1}, {"n": 2}]

    def test_subscribers_see_messages(self, bus: EventBus) -> None:
        seen: list[dict[str, Any]] = []
        bus.subscribe("s", seen.append)
        bus.publish("s", {"x": "y"})
        assert seen == [{"x": "y"}]
        bus.ping()

