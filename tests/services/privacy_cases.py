"""The privacy proofs (issue 4), written once and run on SQLite (tests/services) and on PostgreSQL + Redis
(tests/integration). A subclass provides the ``ctr`` fixture: a started :class:`~fitloop.wiring.Container`."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from fitloop.config import Settings
from fitloop.data import Event, EventType
from fitloop.services.privacy import PURPOSES_FIELD, PrivacyService
from fitloop.store import Impression, Source
from fitloop.store.sql.schema import metadata
from fitloop.wiring import Container, build

CONSENT_PURPOSES = ["analytics", "personalisation", "marketing_email", "location"]
TYPES = ["product_viewed", "product_clicked", "search", "page", "cart_added", "scroll"]


def props_for(t: str, i: int) -> dict[str, Any]:
    return {"search": {"query": "red dress"}, "page": {"path": "/shop"}, "scroll": {"depth_pct": 50},
            "cart_added": {"item_id": f"i{i}", "size": "M"}}.get(t, {"item_id": f"i{i}"})


def msg(mid: str, user: str, t: str = "product_viewed", **props: Any) -> dict[str, Any]:
    p = props_for(t, 1)
    p.update(props)
    if t == "page":
        return {"type": "page", "messageId": mid, "userId": user, "properties": p}
    return {"type": "track", "event": t, "messageId": mid, "userId": user, "properties": p}


def stored_for(ctr: Container, user: str) -> list[Event]:
    """The stored events of the shop's shopper ``user``: the stores know them by their pseudonym only."""
    assert ctr.privacy is not None
    return ctr.stores.events.scan(user_id=ctr.privacy.pseudonymise(user))


class PrivacyCases:
    """Subclasses provide ``ctr`` (started container) and ``scan_online`` (every online key+value as bytes)."""

    @pytest.fixture
    def ctr(self) -> Iterator[Container]:  # pragma: no cover - overridden
        raise NotImplementedError

    def scan_online(self, ctr: Container) -> bytes:  # pragma: no cover - overridden
        raise NotImplementedError

    @pytest.fixture
    def web(self, ctr: Container) -> Source:
        assert ctr.ingest is not None
        src, _, _ = ctr.ingest.add_source("web", "ops@shop.example")
        return src

    # ------------------------------------------------------------------ consent in the data path
    def test_no_event_without_consent_is_ever_stored(self, ctr: Container, web: Source) -> None:
        assert ctr.ingest is not None and ctr.privacy is not None
        ingest, pv = ctr.ingest, ctr.privacy
        m = pv.manifest

        # Defined per run: hypothesis ties a test function to one class, and these cases run on two backends.
        @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(choices=st.dictionaries(st.sampled_from(CONSENT_PURPOSES), st.booleans(), max_size=4),
               types=st.lists(st.sampled_from(TYPES), min_size=1, max_size=6))
        def run(choices: dict[str, bool], types: list[str]) -> None:
            user = f"h{time.perf_counter_ns()}"
            if choices:
                pv.record_consent(pv.pseudonymise(user), choices, source="banner")
            ingest.ingest(web, {"batch": [msg(f"{user}-{i}", user, t) for i, t in enumerate(types)]})
            allowed = pv.allowed_purposes(pv.pseudonymise(user))
            stored = {e.type.value: e for e in stored_for(ctr, user)}
            for t in types:
                ok = [p for p in m.purposes_for(t) if p in allowed]
                if t in stored:
                    assert ok, (t, choices)  # never stored without an allowed purpose
                    tags = stored[t].properties[PURPOSES_FIELD]
                    assert tags and set(tags) <= allowed  # tagged only with allowed purposes
                # Consented events are stored unless the monitor paused the purpose (the source sent unconsented ones).
                elif ok:
                    assert all(pv.is_paused("web", purpose=p) for p in ok), (t, choices)

        run()

    def test_phone_on_an_analytics_event_is_caught_every_time_and_paused(self, ctr: Container, web: Source) -> None:
        assert ctr.ingest is not None and ctr.privacy is not None
        ctr.privacy.record_consent(ctr.privacy.pseudonymise("p1"), {"analytics": True}, source="banner")
        n = 30
        batch = [msg(f"ph{i}", "p1", phone=f"+8613800138{i:03d}") for i in range(n)]
        report = ctr.ingest.ingest(web, {"batch": batch})
        assert report.stored == n  # the event stays, the field goes
        events = stored_for(ctr, "p1")
        assert len(events) == n and all("phone" not in e.properties for e in events)
        assert not any("13800138" in json.dumps(e.properties) for e in events)
        stripped = ctr.privacy.stripped_values(ctr.privacy.pseudonymise("p1"))
        assert sorted(r["field"] for r in stripped) == ["phone"] * n  # 100 % caught and quarantined
        assert ctr.privacy.is_paused("web", field="phone")
        alerts = [a for a in ctr.privacy.alerts() if a["pause_key"] == "web|field:phone"]
        assert len(alerts) == 1 and alerts[0]["status"] == "active" and alerts[0]["count"] == n
        actions = [a["action"] for a in ctr.privacy.audit() if a["pause_key"] == "web|field:phone"]
        assert actions.count("notified") == 1 and "paused" in actions  # owner told once
        ctr.privacy.resume("web|field:phone", "ops@shop.example")
        assert not ctr.privacy.is_paused("web", field="phone")
        assert [a["status"] for a in ctr.privacy.alerts() if a["pause_key"] == "web|field:phone"] == ["resolved"]

    def test_withdrawal_in_another_process_takes_effect_within_5_s(self, ctr: Container, web: Source) -> None:
        assert ctr.ingest is not None and ctr.privacy is not None
        other = PrivacyService(ctr.stores, secret_key=ctr.settings.secret("secret_key"),
                               master_key=ctr.settings.secret("master_key"),
                               pseudonym_key=ctr.settings.secret("pseudonym_key"))
        w1 = other.pseudonymise("w1")  # the same key: the same pseudonym in every process
        other.record_consent(w1, {"analytics": True, "personalisation": True}, source="banner")
        assert ctr.ingest.ingest(web, {"batch": [msg("w-0", "w1")]}).stored == 1
        t0 = time.monotonic()
        other.withdraw(w1)
        i = 0
        while True:
            i += 1
            if ctr.ingest.ingest(web, {"batch": [msg(f"w-{i}", "w1")]}).stored == 0:
                break
            assert time.monotonic() - t0 < 5.0, "withdrawal not honoured within 5 s"
            time.sleep(0.05)
        assert time.monotonic() - t0 < 5.0
        assert not ctr.privacy.personalised(w1)

    def test_gpc_withdraws_marketing_but_an_explicit_opt_in_wins(self, ctr: Container) -> None:
        assert ctr.privacy is not None
        pv = ctr.privacy
        pv.record_consent("g1", {"marketing_email": True, "analytics": True}, source="banner")
        out = pv.record_consent("g1", {}, source="api", gpc=True)
        assert [r["purpose"] for r in out["recorded"]] == ["marketing_email"]
        assert out["recorded"][0]["source"] == "gpc"
        assert not out["consent"]["marketing_email"]["allowed"] and out["consent"]["analytics"]["allowed"]
        pv.record_consent("g1", {"marketing_email": True}, source="banner", gpc=True)
        assert pv.consent("g1")["marketing_email"]["allowed"]
        receipts = pv.receipts("g1")
        assert len(receipts) == 4 and all(pv.verify_receipt(r) for r in receipts)

    # ------------------------------------------------------------------ erasure and export
    def _seed(self, ctr: Container, web: Source, user: str, marker: str, tmp: Path) -> str:
        """Plant ``marker`` in every store for the shop's shopper ``user``; returns their pseudonym, the id every
        store knows them by (the raw ``user`` enters through ingest only, which pseudonymises it)."""
        assert ctr.ingest is not None and ctr.privacy is not None
        s = ctr.stores
        pv = ctr.privacy
        pid = pv.pseudonymise(user)
        pv.record_consent(pid, {"analytics": True, "personalisation": True}, source=f"banner-{marker}")
        anon = f"anon-{marker}"
        pv.record_consent(pv.pseudonymise(anon), {"analytics": True}, source="banner")  # the banner, before sign-in
        ctr.ingest.ingest(web, {"batch": [
            {**msg(f"{marker}-1", user, list_id=marker), "anonymousId": anon},
            msg(f"{marker}-2", user, phone=marker),  # stripped into the encrypted quarantine
            msg(f"{marker}-3", user, price="not-a-price", list_id=marker),  # invalid: the collector's quarantine
            {"type": "track", "event": "product_viewed", "messageId": f"{marker}-4", "anonymousId": anon,
             "properties": {"item_id": "i2", "list_id": marker}},
        ]})
        pv.store_identity(pid, {"email": f"{marker}@example.com", "name": f"Ann {marker}"})
        if ctr.profiles is not None:  # let the real-time profile updater catch up, then plant the marker
            while ctr.profiles.poll_once():
                pass
        s.profiles.put(pid, {**(s.profiles.get(pid) or {}), "note": marker})
        s.impressions.log([Impression(f"r-{marker}", pid, "home", "v1", datetime.now(UTC),
                                      ({"item_id": "i1", "position": 0, "score": 1.0, "propensity": 1.0,
                                        "source": marker},), {"slot": "home", "marker": marker})])
        s.cache.set(f"profile:{pid}", marker.encode())
        s.cache.set(f"bandit:{pid}:x", marker.encode())
        s.cache.set("shared-list", json.dumps({"user": pid}).encode())
        # A model bundle that holds the shopper's personal list, registered as the serving model.
        from fitloop.data import make_interactions
        from fitloop.recommend.bundle import save_bundle
        from fitloop.recommend.pipeline import RecommenderConfig, train_recommender

        users = [pid, "other1", "other2", pid, "other1"]
        inter = make_interactions(users, ["i1", "i2", "i1", "i3", "i3"], ["2026-01-01"] * 5)
        rec = train_recommender(inter, pd.DataFrame({"item_id": ["i1", "i2", "i3"]}),
                                RecommenderConfig(als=None, content=None))
        models = ctr.settings.model_path()
        version = save_bundle(rec, models)
        s.models.register("recommender", version, str(models / version), {}, activate=True)
        (models / "segments").mkdir(parents=True, exist_ok=True)
        (models / "segments" / "s1.json").write_text(json.dumps({"members": {pid: 1, "other1": 0}}))
        time.sleep(0.3)  # the bus publisher flushes every 50 ms
        return pid

    def _sql_dump(self, ctr: Container) -> str:
        from sqlalchemy import create_engine

        engine = create_engine(ctr.settings.database_url)
        out = []
        with engine.connect() as conn:
            for t in metadata.sorted_tables:
                for row in conn.execute(select(t)):
                    out.append(repr(tuple(row)))
        engine.dispose()
        return "\n".join(out)

    def _model_bytes(self, ctr: Container) -> bytes:
        out = []
        for p in Path(ctr.settings.model_path()).rglob("*"):
            if p.is_file():
                out.append(p.read_bytes())
                if p.suffix == ".npz":
                    with np.load(p, allow_pickle=False) as z:
                        out += [str(z[k].tolist()).encode() for k in z.files]
        return b"\n".join(out)

    def test_plant_markers_erase_then_scan_every_store(self, ctr: Container, web: Source, tmp_path: Path) -> None:
        assert ctr.subjects is not None and ctr.privacy is not None
        user, marker = "mk-user-7f3a", "MARKER7f3a"
        pid = self._seed(ctr, web, user, marker, tmp_path)
        # Every store holds the marker and the pseudonym before: the scan would see them. The shop's own id
        # is nowhere, not even before the erasure: only its pseudonym was stored.
        dump = self._sql_dump(ctr)
        assert marker in dump and pid in dump and user not in dump
        online = self.scan_online(ctr)
        assert pid.encode() in online and marker.encode() in online and user.encode() not in online
        assert pid.encode() in self._model_bytes(ctr) and user.encode() not in self._model_bytes(ctr)
        assert ctr.privacy.personalised(pid)
        ct = ctr.stores.privacy.identity(pid)["email"]  # type: ignore[union-attr]
        report = ctr.subjects.erase(pid)
        assert report.data_keys_deleted >= 1 and report.removed["events"] >= 3 and report.removed["consents"] == 3
        dump = self._sql_dump(ctr)
        assert marker not in dump and pid not in dump and user not in dump
        online = self.scan_online(ctr)
        left = [x[:200] for x in online.split(b"\n") if marker.encode() in x or pid.encode() in x]
        assert left == [], left
        files = self._model_bytes(ctr)
        assert marker.encode() not in files and pid.encode() not in files
        # A backup copy of the ciphertext is unreadable: the key is gone.
        from fitloop.privacy import DataKeyErased

        with pytest.raises(DataKeyErased):
            ctr.privacy.vault.decrypt(pid, "identity_vault", "email", pid, ct)
        assert not ctr.privacy.personalised(pid)  # stale model factors never serve again
        from fitloop.recommend.bundle import load_bundle

        rec = ctr.stores.models.active("recommender")
        assert rec is not None and pid not in load_bundle(rec.path).user_ids  # the rewritten bundle still loads

    def _everything(self, ctr: Container) -> bytes:
        """Every SQL row, every online key, value and stream entry, every model file: what a scan looks at."""
        return b"\n".join([self._sql_dump(ctr).encode(), self.scan_online(ctr), self._model_bytes(ctr)])

    def test_raw_ids_reach_no_store_through_any_entry_point(self, ctr: Container) -> None:
        """Plant raw shop ids through every entry point (HTTP collection, consent, recommendations, profiles,
        identity, the demo shop, an alias, the quarantine), then scan every store: only pseudonyms are there.
        Stitching still merges, consent still gates, export and erasure by the raw id still find everything."""
        import base64

        from fastapi.testclient import TestClient

        from fitloop.api import create_app
        from fitloop.services.ingest import derive_admin_token

        assert ctr.ingest is not None and ctr.privacy is not None and ctr.subjects is not None
        pv, s = ctr.privacy, ctr.stores
        customer, anon, prev, marker = "RAWcust9d1e", "RAWanon9d1e", "RAWprev9d1e", "MARK9d1e"
        raw = [customer, anon, prev]
        P = pv.pseudonymise
        pc, pa, pp = P(customer), P(anon), P(prev)
        # A serving model that knows the shopper by pseudonym (as training from the stores would produce).
        from fitloop.data import make_interactions
        from fitloop.recommend.bundle import save_bundle
        from fitloop.recommend.pipeline import RecommenderConfig, train_recommender

        inter = make_interactions([pc, "other1", pc], ["i1", "i2", "i3"], ["2026-01-01"] * 3)
        models = ctr.settings.model_path()
        version = save_bundle(train_recommender(inter, pd.DataFrame({"item_id": ["i1", "i2", "i3"]}),
                                                RecommenderConfig(als=None, content=None)), models)
        s.models.register("recommender", version, str(models / version), {}, activate=True)
        ctr.recommendations.reload()

        client = TestClient(create_app(ctr.settings, container=ctr, configure_logs=False))  # no lifespan: ctr runs
        _, key, _ = ctr.ingest.add_source("shop", "ops@shop.example")
        basic = {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}
        st = ctr.settings
        admin = {"Authorization": "Bearer " + derive_admin_token(st.secret("secret_key"), st.secret("admin_token"))}

        # The browser's banner (its anonymous id), then the shop's backend (its customer id) with GPC.
        r = client.post("/v1/consent", json={"user_id": anon, "purposes": {"analytics": True, "personalisation": True},
                                             "source": "banner"})
        assert r.status_code == 200 and anon not in r.text and r.json()["recorded"][0]["user_id"] == pa
        r = client.post("/v1/consent", json={"user_id": customer, "purposes": {"marketing_email": True,
                                                                             "personalisation": True}},
                        headers={"Sec-GPC": "1"})
        assert r.status_code == 200 and customer not in r.text
        r = client.get(f"/v1/consent/{anon}")
        assert r.json()["user_id"] == pa and r.json()["purposes"]["analytics"]["allowed"]
        assert [x["user_id"] for x in client.get(f"/v1/consent/{anon}/receipts").json()["receipts"]] == [pa, pa]
        # Anonymous browsing (allowed by the banner's consent, which the gate finds under the same pseudonym) …
        r = client.post("/v1/track", json={"event": "product_viewed", "messageId": f"{marker}-t", "anonymousId": anon,
                                           "properties": {"item_id": "i1", "list_id": marker}}, headers=basic)
        assert r.json()["stored"] == 1, r.text
        # … sign-in: identify with both ids stitches the anonymous history onto the customer …
        r = client.post("/v1/identify", json={"messageId": f"{marker}-i", "userId": customer, "anonymousId": anon,
                                              "traits": {"email": f"{marker}@example.com", "city": "Lyon"}},
                        headers=basic)
        assert r.json()["stored"] == 1, r.text
        # … signed-in events, a field outside the manifest, an invalid one (collector's quarantine), an alias.
        r = client.post("/v1/batch", headers=basic, json={"batch": [
            {"type": "track", "event": "product_clicked", "messageId": f"{marker}-b1", "userId": customer,
             "anonymousId": anon, "properties": {"item_id": "i2"}},
            {"type": "track", "event": "product_viewed", "messageId": f"{marker}-b2", "userId": customer,
             "anonymousId": anon, "properties": {"item_id": "i3", "phone": marker}},
            {"type": "track", "event": "product_viewed", "messageId": f"{marker}-b3", "userId": customer,
             "anonymousId": anon, "properties": {"item_id": "i3", "price": "not-a-price"}},
            {"type": "page", "messageId": f"{marker}-b4", "anonymousId": anon, "properties": {"path": "/shop"}},
        ]})
        assert (r.json()["stored"], r.json()["quarantined"]) == (3, 1), r.text
        r = client.post("/v1/alias", json={"messageId": f"{marker}-a", "previousId": prev, "userId": customer},
                        headers=basic)
        assert r.status_code == 200, r.text
        # Serving, the admin endpoints and the demo shop's event list, all called with raw ids.
        r = client.get("/v1/recommendations", params={"user_id": customer, "k": 2})
        assert r.status_code == 200 and r.json()["user_id"] == pc and not r.json()["cold_start"], r.text
        r = client.post(f"/v1/identity/{customer}", json={"fields": {"phone": "+33612345678"}}, headers=admin)
        assert r.json() == {"user_id": pc, "stored": ["customer_id", "phone"]}
        r = client.post(f"/v1/identity/{pc}", json={"fields": {"customer_id": "someone-else"}}, headers=admin)
        assert r.status_code == 422 and r.json()["error"]["code"] == "customer_id_mismatch"
        assert client.get(f"/v1/profiles/{customer}", headers=admin).status_code == 200
        shop = client.get("/shop/api/events", params={"anonymous_id": anon}).json()
        assert shop["count"] == 0  # the shop page lists the demo-shop source's events only
        deadline = time.monotonic() + 5
        while not s.impressions.scan(user_id=pc) and time.monotonic() < deadline:
            time.sleep(0.05)  # the impression writer flushes every 200 ms
        if ctr.profiles is not None:
            while ctr.profiles.poll_once():
                pass
        time.sleep(0.3)  # the bus publisher flushes every 50 ms

        # Only pseudonyms are stored: the raw ids appear nowhere, the pseudonyms do.
        everything = self._everything(ctr)
        assert [x for x in raw if x.encode() in everything] == []
        assert pc.encode() in everything and pa.encode() in everything and pp.encode() in everything
        stored = {e.event_id: e for e in s.events.scan(user_id=pc)}
        # Stitched: the anonymous view moved onto the customer; the anonymous id is kept as its pseudonym.
        assert {f"shop:{marker}-t", f"shop:{marker}-i", f"shop:{marker}-b1", f"shop:{marker}-b2"} <= set(stored)
        assert stored[f"shop:{marker}-t"].anonymous_id == pa and s.events.scan(user_id=pa) == []
        assert "customer_id" not in stored[f"shop:{marker}-i"].properties  # L1: in the vault only
        assert sorted(s.privacy.linked_ids(pc)) == sorted([pa, pp])  # type: ignore[union-attr]
        assert [q.user_ref for q in s.quarantine.list(source="shop")] == [pc]  # type: ignore[union-attr]
        assert [r["field"] for r in pv.stripped_values(pc)] == ["phone"]
        assert pv.customer_id(pc) == customer and pv.identity(pc)["email"] == f"{marker}@example.com"
        assert [im.user_id for im in s.impressions.scan(user_id=pc)] == [pc]
        assert pv.ledger(pc, pa).allowed(pc, "personalisation")  # the banner's consent counts after sign-in

        # Export and erasure by the shop's raw id find and remove everything.
        out = client.post(f"/v1/privacy/export/{customer}", headers=admin).json()
        assert out["user_id"] == pc and sorted(out["linked_ids"]) == sorted([pa, pp])
        assert out["identity_L1"][pc]["customer_id"] == customer
        assert {f"shop:{marker}-t", f"shop:{marker}-b1"} <= {e["event_id"] for e in out["behaviour_L3"]}
        rep = client.post(f"/v1/privacy/erase/{customer}", headers=admin).json()
        assert rep["erased"] and rep["ids"] == 3 and rep["removed"]["quarantine"] == 1
        time.sleep(0.3)
        everything = self._everything(ctr)
        left = [x for x in [*raw, pc, pa, pp, marker] if x.encode() in everything]
        assert left == [], left
        assert pv.customer_id(pc) is None

    def test_erasure_takes_whole_ids_only(self, ctr: Container) -> None:
        assert ctr.subjects is not None
        s = ctr.stores
        for u in ("u1", "u10", "u1x"):
            s.cache.set(f"profile:{u}", json.dumps({"user": u}).encode())
            s.bus.publish("events", {"user_id": u})
            s.profiles.put(u, {"n": 1})
        seg = Path(ctr.settings.model_path()) / "segments"
        seg.mkdir(parents=True, exist_ok=True)
        (seg / "s.json").write_text(json.dumps({"members": {"u1": 0, "u10": 1}, "ids": ["u1", "u1x"]}))
        ctr.subjects.erase("u1")
        online = self.scan_online(ctr)
        assert b"profile:u10" in online and b"profile:u1x" in online and b"profile:u1=" not in online
        assert b'"u1"' not in online and b'"u10"' in online
        doc = json.loads((seg / "s.json").read_text())
        assert doc == {"members": {"u10": 1}, "ids": ["u1x"]}
        assert s.profiles.get("u10") is not None and s.profiles.get("u1") is None

    def test_export_contains_every_seeded_record(self, ctr: Container, web: Source, tmp_path: Path) -> None:
        assert ctr.subjects is not None
        user, marker = "ex-user-1", "EXPORT51"
        pid = self._seed(ctr, web, user, marker, tmp_path)
        out = ctr.subjects.export(pid)
        json.dumps(out)  # JSON-ready
        ids = {e["event_id"] for e in out["behaviour_L3"]}
        assert {f"web:{marker}-1", f"web:{marker}-2", f"web:{marker}-4"} <= ids
        assert out["linked_ids"] == [ctr.privacy.pseudonymise(f"anon-{marker}")]  # type: ignore[union-attr]
        assert out["identity_L1"][pid] == {"email": f"{marker}@example.com", "name": f"Ann {marker}"}
        assert out["profiles"][pid]["note"] == marker
        assert out["impressions"][0]["context"]["marker"] == marker
        # The collector drops undeclared values before the gate sees them, so only the field name is kept.
        assert [(r["field"], r["event_id"]) for r in out["stripped_fields"]] == [("phone", f"web:{marker}-2")]
        assert len(out["consent_receipts"]) == 3 and out["consent"]["analytics"]["allowed"]
        assert out["model_factors"] and out["model_factors"][0]["user_id"] == pid

    # ------------------------------------------------------------------ retention, DP, non-personalised
    def test_retention_deletes_per_purpose(self, ctr: Container) -> None:
        assert ctr.subjects is not None
        now = datetime.now(UTC)
        old = now - timedelta(days=400)  # past analytics (395) and personalisation (365)
        mid = now - timedelta(days=370)  # past personalisation only
        evs = [Event("r1", EventType.SCROLL, "ru", old, properties={"depth_pct": 5}),  # untagged → analytics
               Event("r2", EventType.PRODUCT_VIEWED, "ru", mid, item_id="i1",
                     properties={"item_id": "i1", PURPOSES_FIELD: ["personalisation", "analytics"]}),
               Event("r3", EventType.PRODUCT_VIEWED, "ru", mid, item_id="i1",
                     properties={"item_id": "i1", PURPOSES_FIELD: ["personalisation"]}),
               Event("r4", EventType.ORDER_COMPLETED, "ru", old, item_id="i1",
                     properties={PURPOSES_FIELD: ["order_fulfilment"]}),  # 6 years
               Event("r5", EventType.PRODUCT_VIEWED, "ru", now, item_id="i1", properties={"item_id": "i1"})]
        ctr.stores.events.append(evs)
        rep = ctr.subjects.run_retention(now=now)
        left = {e.event_id: e for e in ctr.stores.events.scan(user_id="ru")}
        assert set(left) == {"r2", "r4", "r5"}, (sorted(left), rep)
        assert rep.events_deleted == 2 and rep.events_retagged == 1, rep
        assert left["r2"].properties[PURPOSES_FIELD] == ["analytics"]

    def test_dp_budget_is_enforced_and_small_groups_suppressed(self, ctr: Container) -> None:
        from fitloop.privacy import PrivacyBudgetExceeded

        assert ctr.privacy is not None
        groups = {"big": 5000, "tiny": 2}
        r = ctr.privacy.dp_histogram(groups, epsilon=0.5, period="2099-01")
        assert "tiny" in r["suppressed"] and abs(r["counts"]["big"] - 5000) < 200
        ctr.privacy.dp_histogram(groups, epsilon=0.5, period="2099-01")
        with pytest.raises(PrivacyBudgetExceeded):
            ctr.privacy.dp_histogram(groups, epsilon=0.1, period="2099-01")
        assert ctr.stores.privacy.budget("2099-01") == (1.0, 1.0)  # type: ignore[union-attr]


def build_started(settings: Settings) -> Container:
    ctr = build(settings)
    ctr.start()
    return ctr
