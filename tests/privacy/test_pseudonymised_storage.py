"""Shopper ids are stored as keyed pseudonyms only (tier L3): the boundary helpers, the collector's quarantine and
its replay, imports (the demo), the console and its campaign export, and the access log.

The scan of every store after planting raw ids through every HTTP entry point, with export and erasure by the
raw id, is ``test_raw_ids_reach_no_store_through_any_entry_point`` in ``tests/services/privacy_cases.py``: it runs
on SQLite (tests/services) and on PostgreSQL + Redis (tests/integration).
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterator
from dataclasses import fields, replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from fitloop.api import create_app
from fitloop.collect import Normalised, normalise
from fitloop.config import Settings
from fitloop.data import Event, EventType
from fitloop.errors import InvalidInput
from fitloop.evaluate.simulator import ShopConfig, SimulatedShop
from fitloop.privacy import Pseudonymiser
from fitloop.services.ingest import DefaultGate
from fitloop.services.pseudonyms import (
    CUSTOMER_ID_FIELD,
    CachedPseudonyms,
    pseudonymise_event,
    pseudonymise_normalised,
    resolve_operator_input,
)
from fitloop.services.shop_loader import load_shop, simulated_sample
from fitloop.testing.console_shop import ConsoleShop, build_console_shop
from fitloop.wiring import Container, build
from tests.web.conftest import login, page_csrf

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
KEY = b"k" * 32


@pytest.fixture
def ids() -> CachedPseudonyms:
    return CachedPseudonyms(Pseudonymiser(KEY))


@pytest.fixture
def ctr(tmp_path: Path) -> Iterator[Container]:
    c = build(Settings(data_dir=tmp_path, demo=True, log_json=False))
    c.start()
    yield c
    c.close()


# ---------------------------------------------------------------------------------------------- the helpers
def test_cached_pseudonyms_are_the_keyed_hmac(ids: CachedPseudonyms) -> None:
    p = ids("c-42")
    assert p == Pseudonymiser(KEY).pseudonym("c-42") == ids("c-42")
    assert p != CachedPseudonyms(Pseudonymiser(b"x" * 32))("c-42")  # keyed: another installation, another id
    assert ids.is_pseudonym(p) and not ids.is_pseudonym("c-42")


def test_operator_input_takes_an_exact_pseudonym_as_is_and_pseudonymises_anything_else(ids: CachedPseudonyms) -> None:
    p = ids("c-42")
    assert resolve_operator_input(p, ids) == p
    assert resolve_operator_input(f"  {p}\n", ids) == p  # pasted with blanks
    assert resolve_operator_input("c-42", ids) == resolve_operator_input(" c-42 ", ids) == p
    # Near misses are customer ids, not pseudonyms: another key version, upper case, a character too many.
    for lookalike in ("p2_" + p[3:], p.upper(), p + "0", p[:-1]):
        assert resolve_operator_input(lookalike, ids) == ids(lookalike) != lookalike
    for bad in ("", "   ", "x" * 129):
        with pytest.raises(InvalidInput) as exc:
            resolve_operator_input(bad, ids)
        assert exc.value.code == "invalid_user_id" and "customer id" in exc.value.message


def test_every_id_of_a_normalised_message_is_pseudonymised(ids: CachedPseudonyms) -> None:
    def norm(msg: dict[str, object]) -> object:
        return pseudonymise_normalised(normalise(msg, source="web", received_at=NOW), ids)

    n = norm({"type": "identify", "messageId": "m1", "userId": "c-42", "anonymousId": "a-1",
              "traits": {"email": "ann@example.com"}})
    ev = n.events[0]  # type: ignore[attr-defined]
    assert (ev.user_id, ev.anonymous_id, n.link) == (ids("c-42"), ids("a-1"), (ids("a-1"), ids("c-42")))  # type: ignore[attr-defined]
    # The raw customer id travels to the gate as an L1 field, which the gate moves into the vault.
    assert ev.properties[CUSTOMER_ID_FIELD] == "c-42" and ev.properties["email"] == "ann@example.com"
    anon = norm({"type": "identify", "messageId": "m2", "anonymousId": "a-1", "traits": {"city": "Lyon"}}).events[0]  # type: ignore[attr-defined]
    assert anon.user_id == anon.anonymous_id == ids("a-1") and CUSTOMER_ID_FIELD not in anon.properties
    alias = norm({"type": "alias", "messageId": "m3", "previousId": "old-7", "userId": "c-42"})
    assert alias.link == (ids("old-7"), ids("c-42"))  # type: ignore[attr-defined]
    track = norm({"type": "track", "event": "Product Viewed", "messageId": "m4", "userId": 42,
                  "properties": {"product_id": "sku-1"}}).events[0]  # type: ignore[attr-defined]
    assert (track.user_id, track.anonymous_id) == (ids("42"), None)  # numeric ids are strings first, like Segment's
    assert CUSTOMER_ID_FIELD not in track.properties


def test_pseudonymising_keeps_every_other_field(ids: CachedPseudonyms) -> None:
    """The fast path builds Event and Normalised field by field: this fails when either gains a field, so the
    helpers in fitloop.services.pseudonyms get updated with it."""
    assert [f.name for f in fields(Event)] == ["event_id", "type", "user_id", "ts", "item_id", "size", "quantity",
                                               "price", "properties", "source", "anonymous_id"]
    assert [f.name for f in fields(Normalised)] == ["message_id", "type", "events", "undeclared", "link",
                                                    "undeclared_values"]
    ev = Event("web:m1", EventType.ORDER_COMPLETED, "c-1", NOW, "sku-1", "M", 2, 9.5, {"order_id": "o1"}, "web", "a-1")
    out = pseudonymise_event(ev, ids)
    assert out == replace(ev, user_id=ids("c-1"), anonymous_id=ids("a-1"))
    n = Normalised("m1", "track", (ev,), ("x",), ("a-1", "c-1"), {"x": 1})
    assert pseudonymise_normalised(n, ids) == replace(n, events=(out,), link=(ids("a-1"), ids("c-1")))


# ---------------------------------------------------------------------------------------------- collection
def test_quarantine_is_keyed_by_pseudonym_and_replay_gives_the_same_pseudonyms(ctr: Container) -> None:
    assert ctr.ingest is not None and ctr.privacy is not None and ctr.stores.quarantine is not None
    ingest, pv = ctr.ingest, ctr.privacy
    web, _, _ = ingest.add_source("web", "ops@shop.example")
    pid = pv.pseudonymise("c-replay")
    pv.record_consent(pid, {"analytics": True, "personalisation": True})
    privacy_gate = ingest.gate
    ingest.gate = DefaultGate()  # refuses undeclared fields: the message goes to the quarantine
    msg = {"type": "track", "event": "product_viewed", "messageId": "q1", "userId": "c-replay",
           "properties": {"item_id": "i1", "shoe_size": 42}}
    report = ingest.ingest(web, {"batch": [msg]})
    assert report.quarantined == 1
    (record,) = ctr.stores.quarantine.list(source="web")
    assert record.user_ref == pid  # erasure finds it by the pseudonym
    assert ctr.stores.quarantine.delete_user("c-replay") == 0
    ingest.gate = privacy_gate  # the privacy gate strips the field instead: the replay is stored
    result = ingest.replay(record.quarantine_id)
    assert (result.status, result.stored) == ("replayed", 1)
    direct = ingest.ingest(web, {"batch": [{**msg, "messageId": "q2", "properties": {"item_id": "i1"}}]})
    assert direct.stored == 1
    stored = {e.event_id: e.user_id for e in ctr.stores.events.scan(user_id=pid)}
    assert stored == {"web:q1": pid, "web:q2": pid}


def test_identify_keeps_the_customer_id_in_the_vault_only(ctr: Container) -> None:
    assert ctr.ingest is not None and ctr.privacy is not None
    web, _, _ = ctr.ingest.add_source("web", "ops@shop.example")
    ctr.ingest.ingest(web, {"batch": [{"type": "identify", "messageId": "i1", "userId": "c-77", "anonymousId": "a-77",
                                       "traits": {"city": "Lyon"}}]})
    pid = ctr.privacy.pseudonymise("c-77")
    (ev,) = ctr.stores.events.scan(user_id=pid)
    assert CUSTOMER_ID_FIELD not in ev.properties and "c-77" not in str(ev)
    assert ctr.privacy.customer_id(pid) == "c-77" and ctr.privacy.identity(pid) == {CUSTOMER_ID_FIELD: "c-77"}
    assert ctr.privacy.customer_id(ctr.privacy.pseudonymise("a-77")) is None  # anonymous ids have none
    ctr.subjects.erase(pid)  # type: ignore[union-attr]
    assert ctr.privacy.customer_id(pid) is None  # crypto-shredded with the rest


# ---------------------------------------------------------------------------------------------- imports, demo
def test_an_import_stores_pseudonyms_and_the_landing_page_links_the_shops_own_ids(ctr: Container) -> None:
    assert ctr.privacy is not None
    shop = SimulatedShop.generate(ShopConfig(n_items=60, n_shoppers=30, n_events=1500, n_days=10, seed=2))
    load_shop(ctr.stores, shop.items, shop.shoppers, shop.events.to_events(), pseudonymise=ctr.privacy.pseudonymise)
    stored_users = set(ctr.stores.users.iter_user_ids())
    assert stored_users == {ctr.privacy.pseudonymise(u.user_id) for u in shop.shoppers}
    frame = ctr.stores.events.frame()
    assert set(frame["user_id"]) <= stored_users and not frame["user_id"].str.startswith("u0").any()
    assert simulated_sample(ctr.stores, ctr.privacy.pseudonymise, 2) == ["u000001", "u000002"]
    page = TestClient(create_app(ctr.settings, container=ctr, configure_logs=False)).get("/")
    assert "/v1/recommendations?user_id=u000001" in page.text  # the endpoint pseudonymises what it is sent
    assert ctr.privacy.pseudonymise("u000001") not in page.text


def test_the_demo_shops_event_list_pseudonymises_the_browsers_id(ctr: Container) -> None:
    assert ctr.ingest is not None and ctr.privacy is not None
    client = TestClient(create_app(ctr.settings, container=ctr, configure_logs=False))
    key = ctr.ingest.demo_write_key()
    client.post("/v1/consent", json={"user_id": "browser-1", "purposes": {"analytics": True}, "source": "sdk"})
    r = client.post("/v1/batch", json={"writeKey": key, "batch": [
        {"type": "track", "event": "product_viewed", "messageId": "d1", "anonymousId": "browser-1",
         "properties": {"item_id": "sku-1"}}]})
    assert r.json()["stored"] == 1, r.text
    assert client.get("/shop/api/events", params={"anonymous_id": "browser-1"}).json()["count"] == 1
    # Sending the pseudonym itself does not work: it is pseudonymised again, like any id a browser sends.
    pid = ctr.privacy.pseudonymise("browser-1")
    assert client.get("/shop/api/events", params={"anonymous_id": pid}).json()["count"] == 0
    assert client.get(f"/v1/consent/{pid}").json()["purposes"]["analytics"]["allowed"] is False


def test_the_access_log_names_the_route_not_the_shoppers_id(ctr: Container, caplog: pytest.LogCaptureFixture) -> None:
    client = TestClient(create_app(ctr.settings, container=ctr, configure_logs=False))
    with caplog.at_level(logging.INFO, logger="fitloop.access"):
        client.get("/v1/consent/RAW-LOGGED-ID")
        client.get("/healthz")
    paths = [getattr(r, "path", None) for r in caplog.records if r.name == "fitloop.access"]
    assert paths == ["/v1/consent/{user_id}", "/healthz"]
    assert "RAW-LOGGED-ID" not in caplog.text


# ---------------------------------------------------------------------------------------------- console
@pytest.fixture(scope="module")
def console_shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleShop]:
    cs = build_console_shop(Path(tmp_path_factory.mktemp("console-pseudonyms")))
    yield cs
    cs.container.close()


def test_campaign_export_has_customer_ids_for_roles_that_see_identity_only(console_shop: ConsoleShop) -> None:
    ctr = console_shop.container
    assert ctr.privacy is not None and ctr.segments is not None and ctr.stores.audit is not None
    pv = ctr.privacy
    # The shop's sign-ins (identify with a userId) put each customer id into the vault under its pseudonym.
    by_pid = {pv.pseudonymise(u.user_id): u.user_id for u in console_shop.shop.shoppers}
    for pid, raw in by_pid.items():
        pv.store_identity(pid, {CUSTOMER_ID_FIELD: raw})
    model = ctr.segments.build(k_min=3, k_max=5)
    seg = max((s.segment_id for s in model.segments),
              key=lambda s: sum(pv.ledger(u).allowed(u, "marketing_email") for u in model.members_of(s)))
    with TestClient(create_app(ctr.settings, container=ctr, configure_logs=False)) as client:
        login(client, "marketer")
        token = page_csrf(client, "/console/campaigns")
        r = client.post("/console/campaigns", data={"csrf_token": token, "name": "Pseudonyms", "segment": seg,
                                                    "channel": "email", "holdout_pct": "10", "k_items": "2"},
                        follow_redirects=False)
        cid = r.headers["location"].rsplit("/", 1)[1]
        client.post(f"/console/campaigns/{cid}/launch", data={"csrf_token": token}, follow_redirects=False)
        marketer = list(csv.DictReader(io.StringIO(client.get(f"/console/campaigns/{cid}/export.csv").text)))
        assert marketer and "customer_id" not in marketer[0]  # a marketer never sees identity data
        assert all(pv.ids.is_pseudonym(row["user_id"]) for row in marketer)
        login(client, "admin")
        admin = list(csv.DictReader(io.StringIO(client.get(f"/console/campaigns/{cid}/export.csv").text)))
    assert [row["user_id"] for row in admin] == [row["user_id"] for row in marketer]
    assert all(row["customer_id"] == by_pid[row["user_id"]] for row in admin)
    audit = [e for e in ctr.stores.audit.list(limit=50) if e.action == "campaign_export"]
    assert any("with customer ids (L1)" in e.detail for e in audit if e.role == "admin")
    assert not any("customer ids" in e.detail for e in audit if e.role == "marketer")


def test_inspector_takes_a_pseudonym_or_a_customer_id(console_shop: ConsoleShop) -> None:
    ctr = console_shop.container
    assert ctr.privacy is not None
    raw = console_shop.shop.shoppers[4].user_id
    pid = ctr.privacy.pseudonymise(raw)
    with TestClient(create_app(ctr.settings, container=ctr, configure_logs=False)) as client:
        login(client, "analyst")
        by_raw = client.get("/console/inspector", params={"user_id": raw})
        by_pid = client.get("/console/inspector", params={"user_id": pid})
        blank = client.get("/console/inspector", params={"user_id": "x" * 200})
    assert by_raw.status_code == by_pid.status_code == 200
    assert 'data-testid="pseudonym"' in by_raw.text and 'data-testid="pseudonym"' not in by_pid.text
    assert blank.status_code == 422 and "paste a pseudonym" in blank.text
