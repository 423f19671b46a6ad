"""The privacy collection gate in detail, the non-personalised mode, and the SQL data-key store."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from fitloop.config import Settings
from fitloop.data import Event, EventType
from fitloop.privacy import WrappedKey
from fitloop.services.privacy import PURPOSES_FIELD, PrivacyCollectionGate, PrivacyService
from fitloop.services.recommend import NOT_PERSONALISED_REASON, RecommendationService
from fitloop.store import Source, Stores
from fitloop.store.sql import SqlDataKeyStore

NOW = datetime(2026, 3, 1, tzinfo=UTC)
WEB = Source("web", "ops@shop.example", "h", NOW)


@pytest.fixture
def pv(stores: Stores) -> PrivacyService:
    return PrivacyService(stores, secret_key="s" * 32, master_key="m" * 32, pseudonym_key="p" * 32)


def ev(t: EventType, user: str = "u1", **props: object) -> Event:
    return Event(f"web:{t.value}-{user}", t, user, NOW, item_id=props.get("item_id"),  # type: ignore[arg-type]
                 price=props.get("price"), properties=props, source="web")  # type: ignore[arg-type]


def test_identity_fields_go_to_the_vault_never_to_the_event(pv: PrivacyService) -> None:
    gate = PrivacyCollectionGate(pv, scrub=str)
    d = gate.check(WEB, ev(EventType.IDENTIFY, email="ann@example.com", city="Lyon", phone="+33612345678"), ())
    assert d.store and "email" not in d.event.properties and "phone" not in d.event.properties
    assert "city" not in d.event.properties  # serves personalisation only, which is not consented
    assert pv.identity("u1") == {"email": "ann@example.com", "phone": "+33612345678"}
    assert d.event.properties[PURPOSES_FIELD] == ["strictly_necessary"]


def test_free_text_is_scrubbed_and_unconsented_fields_withheld(pv: PrivacyService) -> None:
    pv.record_consent("u1", {"analytics": True})
    gate = PrivacyCollectionGate(pv, scrub=lambda t: t.replace("13800138000", "<PHONE>"))
    d = gate.check(WEB, ev(EventType.SEARCH, query="dress call 13800138000"), ())
    assert d.store and d.event.properties["query"] == "dress call <PHONE>"
    d = gate.check(WEB, ev(EventType.PRODUCT_VIEWED, item_id="i1", latitude=45.7, slot="home"), ())
    assert d.store and "latitude" not in d.event.properties  # location not consented
    assert d.event.properties["slot"] == "home"  # declared in the manifest
    d = gate.check(WEB, ev(EventType.PAGE, name="Home", path="/"), ())
    assert d.store and "name" not in d.event.properties  # in the collector's schema, not the manifest: withheld quietly
    assert not pv.is_paused("web", field="name") and pv.alerts() == []
    assert {c["reason"] for c in pv.drop_counts()} == {"withheld_schema"}


def test_paused_source_and_purpose_drop_events(pv: PrivacyService) -> None:
    pv.record_consent("u1", {"analytics": True, "personalisation": True})
    gate = PrivacyCollectionGate(pv, scrub=str)
    pv.pause("web|purpose:analytics", by="dpo", reason="investigation")
    d = gate.check(WEB, ev(EventType.SCROLL, depth_pct=10), ())
    assert not d.store  # scroll serves analytics only
    d = gate.check(WEB, ev(EventType.PRODUCT_VIEWED, item_id="i1"), ())
    assert d.store and d.event.properties[PURPOSES_FIELD] == ["personalisation"]
    pv.pause("web|*", by="dpo", reason="investigation")
    assert not gate.check(WEB, ev(EventType.PRODUCT_VIEWED, item_id="i1"), ()).store
    # Another process sees the pause and its resumption through the store.
    other = PrivacyService(pv.stores, secret_key="s" * 32, master_key="m" * 32, pseudonym_key="p" * 32)
    assert other.is_paused("web")
    other.resume("web|*", "dpo")
    pv.sync_pauses(force=True)
    assert not pv.is_paused("web") and pv.is_paused("web", purpose="analytics")


def test_opted_out_shoppers_get_popularity_not_their_own_lists(stores: Stores, pv: PrivacyService,
                                                              tmp_path: Path) -> None:
    from fitloop.data import make_interactions
    from fitloop.recommend.pipeline import RecommenderConfig, train_recommender

    inter = make_interactions(["a", "a", "b", "c", "c", "d"], ["i1", "i2", "i3", "i3", "i4", "i3"], ["2026-01-01"] * 6)
    rec = train_recommender(inter, pd.DataFrame({"item_id": ["i1", "i2", "i3", "i4"]}),
                            RecommenderConfig(als=None, content=None))
    svc = RecommendationService(stores, lambda path: rec)
    stores.models.register("recommender", "v1", str(tmp_path), {}, activate=True)
    svc.personalised = pv.personalised
    pv.record_consent("a", {"personalisation": True})
    mine = svc.recommend("a", k=3, log_impression=False)
    assert not mine.cold_start and all(it.reason != NOT_PERSONALISED_REASON for it in mine.items)
    pv.record_consent("a", {"personalisation": False})
    out = svc.recommend("a", k=3, log_impression=False)
    anon = svc.recommend("never-seen", k=3, log_impression=False)
    assert out.cold_start and [i.item_id for i in out.items] == [i.item_id for i in anon.items]
    assert all(it.reason == NOT_PERSONALISED_REASON for it in out.items)
    assert not pv.personalised("never-seen")  # default deny outside demo mode
    demo = PrivacyService(stores, secret_key="s" * 32, master_key="m" * 32, pseudonym_key="p" * 32, demo=True)
    assert demo.personalised("never-seen") and not demo.personalised("a")


def test_sql_data_key_add_is_atomic_across_threads(stores: Stores) -> None:
    keys = stores.data_keys
    assert isinstance(keys, SqlDataKeyStore)
    won: list[bytes] = []

    def add(i: int) -> None:
        won.append(keys.add(WrappedKey("race", 1, bytes([i]) * 8)).wrapped)

    threads = [threading.Thread(target=add, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(won)) == 1  # every writer got the one stored key
    assert keys.delete("race") and not keys.delete("race")
    keys.put(WrappedKey("race", 2, b"x"))  # a rewrap racing an erasure never brings the key back
    assert keys.get("race") is None


def test_master_key_rotation_rewraps_without_touching_data(stores: Stores) -> None:
    old = PrivacyService(stores, secret_key="s" * 32, master_key="v1:" + "a" * 32, pseudonym_key="p" * 32)
    old.store_identity("r1", {"email": "r1@example.com"})
    new = PrivacyService(stores, secret_key="s" * 32, master_key="v2:" + "b" * 32 + ",v1:" + "a" * 32,
                         pseudonym_key="p" * 32)
    before = stores.privacy.identity("r1")  # type: ignore[union-attr]
    assert new.identity("r1") == {"email": "r1@example.com"}  # old keys still open
    assert new.vault.rewrap_all() == 1 and new.vault.versions_in_use() == {2: 1}
    assert stores.privacy.identity("r1") == before  # type: ignore[union-attr]
    only_new = PrivacyService(stores, secret_key="s" * 32, master_key="v2:" + "b" * 32, pseudonym_key="p" * 32)
    assert only_new.identity("r1") == {"email": "r1@example.com"}


def test_owner_is_notified_once_by_signed_webhook_within_a_second(tmp_path: Path) -> None:
    import json
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from fitloop.privacy import WebhookNotifier
    from fitloop.wiring import build

    got: list[tuple[float, bytes, str]] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers["Content-Length"]))
            got.append((time.monotonic(), body, self.headers.get("X-Fitloop-Signature", "")))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    srv = HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{srv.server_address[1]}/hook"
    ctr = build(Settings(data_dir=tmp_path, demo=True, compliance_webhook_url=url))
    ctr.start()
    try:
        assert ctr.ingest is not None and ctr.privacy is not None
        web, _, _ = ctr.ingest.add_source("web", "ops@shop.example")
        ctr.privacy.record_consent(ctr.privacy.pseudonymise("n1"), {"analytics": True})  # stored under the pseudonym
        t0 = time.monotonic()
        for i in range(5):  # the field keeps coming while paused: one alert, one notification
            ctr.ingest.ingest(web, {"batch": [{"type": "track", "event": "product_viewed", "messageId": f"n{i}",
                                               "userId": "n1", "properties": {"item_id": "i1", "phone": "+33612"}}]})
            if i == 0:
                assert ctr.privacy.alerts(active_only=True)  # raised before the request returned
        deadline = time.monotonic() + 3
        while not got and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.3)
        assert len(got) == 1 and got[0][0] - t0 < 1.0
        assert json.loads(got[0][1])["alert"]["pause_key"] == "web|field:phone"
        assert WebhookNotifier.verify(got[0][1], got[0][2], ctr.settings.secret("secret_key"))
    finally:
        ctr.close()
        srv.shutdown()
        srv.server_close()


def test_gpc_in_the_event_context_withdraws_sharing_on_the_server(pv: PrivacyService) -> None:
    pv.record_consent("g1", {"analytics": True, "social": True, "marketing_email": True})
    gate = PrivacyCollectionGate(pv, scrub=str)
    d = gate.check(WEB, ev(EventType.SOCIAL_ENGAGEMENT, user="g1", network="x", action="share",
                           context={"gpc": True}), ())
    assert not d.store  # social is a GPC purpose: withdrawn before the event is judged
    state = pv.consent("g1")
    assert not state["social"]["allowed"] and not state["marketing_email"]["allowed"] and state["analytics"]["allowed"]
    assert [e.source for e in pv.stores.users.consents("g1")][-2:] == ["gpc", "gpc"]


def test_undeclared_values_passed_by_the_collector_are_kept_encrypted(pv: PrivacyService) -> None:
    pv.record_consent("q1", {"analytics": True})
    gate = PrivacyCollectionGate(pv, scrub=str)
    d = gate.check(WEB, ev(EventType.PRODUCT_VIEWED, user="q1", item_id="i1"), {"phone": "+33612345678"})
    assert d.store and "phone" not in d.event.properties
    [row] = pv.stripped_values("q1")
    assert (row["field"], row["value"]) == ("phone", "+33612345678")
    raw = pv.store.stripped(person_id="q1")[0].ciphertext
    assert raw is not None and b"+33612345678" not in raw
    pv.vault.forget("q1")
    assert pv.stripped_values("q1")[0]["value"] is None  # shredded with the person's key
