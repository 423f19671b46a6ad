"""The ingest HTTP API: Segment auth, limits, errors, 503 on disk full, admin quarantine, SDK and shop pages."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fitloop.api import create_app
from fitloop.client import FitloopClient, FitloopClientError
from fitloop.collect import MAX_BATCH_BYTES
from fitloop.config import Settings
from fitloop.services.ingest import derive_admin_token
from tests.services._ingest_fixtures import disk_full


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # The collector's own behaviour, with its default gate; the privacy gate is tested at the end.
    return Settings(data_dir=tmp_path, demo=True, log_json=True, privacy_gate=False)


def basic(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


def source(client: TestClient, name: str = "web", **kw: Any) -> tuple[str, str | None]:
    _, key, secret = client.app.state.container.ingest.add_source(name, "ops@shop.example", **kw)  # type: ignore[attr-defined]
    return key, secret


def admin(client: TestClient) -> dict[str, str]:
    s = client.app.state.container.settings  # type: ignore[attr-defined]
    return {"Authorization": "Bearer " + derive_admin_token(s.secret("secret_key"), s.secret("admin_token"))}


def track(mid: str, **props: Any) -> dict[str, Any]:
    return {"type": "track", "event": "Product Viewed", "messageId": mid, "anonymousId": "a1",
            "properties": props or {"item_id": "sku-1"}}


def test_batch_with_basic_auth_and_retry_dedupe(client: TestClient) -> None:
    key, _ = source(client)
    body = {"batch": [track("m1"), track("m2")], "sentAt": "2025-01-01T00:00:00Z"}
    r = client.post("/v1/batch", json=body, headers=basic(key))
    assert r.status_code == 200 and r.json()["stored"] == 2
    assert r.headers["access-control-allow-origin"] == "*"
    r = client.post("/v1/batch", json=body, headers=basic(key))
    assert r.json()["duplicates"] == 2 and r.json()["stored"] == 0
    assert client.app.state.container.stores.events.count() == 2  # type: ignore[attr-defined]


def test_write_key_in_body_for_beacons(client: TestClient) -> None:
    key, _ = source(client)
    r = client.post("/v1/batch", content=json.dumps({"batch": [track("b1")], "writeKey": key}),
                    headers={"Content-Type": "text/plain"})
    assert r.status_code == 200 and r.json()["stored"] == 1


def test_single_event_endpoints(client: TestClient) -> None:
    key, _ = source(client)
    h = basic(key)
    assert client.post("/v1/track", json={k: v for k, v in track("t1").items() if k != "type"}, headers=h).json()["stored"] == 1
    assert client.post("/v1/page", json={"messageId": "p1", "anonymousId": "a1", "properties": {"path": "/"}},
                       headers=h).json()["stored"] == 1
    r = client.post("/v1/identify", json={"messageId": "i1", "anonymousId": "a1", "userId": "u1", "traits": {"city": "Oslo"}},
                    headers=h)
    assert r.json()["stored"] == 1
    assert client.post("/v1/alias", json={"userId": "u1", "previousId": "a0"}, headers=h).status_code == 200
    assert client.post("/v1/screen", json={"messageId": "s1", "userId": "u1", "name": "Home"}, headers=h).json()["stored"] == 1


def test_auth_errors(client: TestClient) -> None:
    r = client.post("/v1/batch", json={"batch": []})
    assert r.status_code == 401 and r.json()["error"]["code"] == "missing_write_key"
    r = client.post("/v1/batch", json={"batch": []}, headers=basic("nope"))
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_write_key"
    assert r.headers["access-control-allow-origin"] == "*"


def test_size_limits_answer_413(client: TestClient) -> None:
    key, _ = source(client)
    h = basic(key)
    big = {"batch": [track(f"m{i}", item_id="s", list_id="x" * 190) for i in range(2700)]}
    assert len(json.dumps(big)) > MAX_BATCH_BYTES
    r = client.post("/v1/batch", json=big, headers=h)
    assert r.status_code == 413 and r.json()["error"]["code"] == "batch_too_large"
    one = {"event": "Search", "messageId": "x", "anonymousId": "a", "properties": {"query": "q", "filters": {
        f"f{i}": "y" * 150 for i in range(250)}}}
    r = client.post("/v1/track", json=one, headers=h)
    assert r.status_code == 413 and r.json()["error"]["code"] == "event_too_large"
    r = client.post("/v1/batch", json={"batch": [one | {"type": "track"}, track("ok")]}, headers=h)
    assert r.status_code == 200 and r.json()["stored"] == 1 and r.json()["errors"][0]["code"] == "event_too_large"


def test_malformed_bodies_answer_422(client: TestClient) -> None:
    key, _ = source(client)
    h = basic(key)
    r = client.post("/v1/batch", content=b"{not json", headers=h)
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_json"
    r = client.post("/v1/batch", json={"events": []}, headers=h)
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_batch"
    r = client.post("/v1/track", json=[1, 2], headers=h)
    assert r.status_code == 422


def test_disk_full_answers_503_with_retry_after_then_recovers(client: TestClient) -> None:
    key, _ = source(client)
    stores = client.app.state.container.stores  # type: ignore[attr-defined]
    body = {"batch": [track(f"d{i}", item_id="s", list_id="x" * 190) for i in range(400)]}
    with disk_full(stores):
        r = client.post("/v1/batch", json=body, headers=basic(key))
        assert r.status_code == 503 and int(r.headers["retry-after"]) > 0
        assert r.json()["error"]["code"] == "store_disk_full"
    r = client.post("/v1/batch", json=body, headers=basic(key))
    assert r.status_code == 200 and r.json()["stored"] == 400


def test_signed_server_side_client(client: TestClient) -> None:
    key, secret = source(client, "orders", hmac_secret=True)
    with FitloopClient("http://testserver", key, secret, client=client) as fc:
        r = fc.order_completed("o1", "u1", [{"item_id": "a", "size": "M", "price": 20.0, "discount": 2.0},
                                            {"item_id": "b", "price": 10.0}], currency="EUR")
        assert r["stored"] == 2
        assert fc.product_returned("o1", "u1", "a", "too_small", size="M")["stored"] == 1
        assert fc.order_completed("o1", "u1", [{"item_id": "a", "price": 20.0}])["duplicates"] == 1
    with FitloopClient("http://testserver", key, None, client=client) as unsigned:
        try:
            unsigned.track("search", {"query": "x"}, user_id="u1")
        except FitloopClientError as exc:
            assert exc.status == 401 and exc.body["error"]["code"] == "signature_required"
        else:
            raise AssertionError("an unsigned request to a signed source must be refused")


def test_admin_quarantine_api(client: TestClient) -> None:
    key, _ = source(client)
    r = client.post("/v1/batch", json={"batch": [track("q1", item_id="s", shoe_colour="red")]}, headers=basic(key))
    qid = r.json()["errors"][0]["quarantine_id"]
    assert client.get("/v1/quarantine").status_code == 401
    assert client.get("/v1/quarantine", headers={"Authorization": "Bearer wrong"}).status_code == 401
    h = admin(client)
    listing = client.get("/v1/quarantine", headers=h).json()
    assert listing["open"] == 1 and listing["items"][0]["code"] == "undeclared_field" and "payload" not in listing["items"][0]
    shown = client.get(f"/v1/quarantine/{qid}", headers=h).json()
    assert shown["payload"]["properties"]["shoe_colour"] == "red"
    assert client.post(f"/v1/quarantine/{qid}/replay", headers=h).json()["status"] == "open"
    assert client.get("/v1/quarantine/doesnotexist", headers=h).status_code == 404
    stats = client.get("/v1/collect/stats", headers=h).json()
    assert stats["open_quarantine"] == 1
    assert client.post("/v1/quarantine/replay", headers=h).json()["still_open"] == 1
    assert "order_completed@1" in client.get("/v1/collect/schemas").json()


def test_preflight_sdk_and_demo_shop(client: TestClient) -> None:
    r = client.options("/v1/batch")
    assert r.status_code == 204 and "Authorization" in r.headers["access-control-allow-headers"]
    r = client.get("/sdk/fitloop.js")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/javascript")
    assert "sendBeacon" in r.text
    from fitloop.data import Item, Variant

    client.app.state.container.stores.catalog.upsert_items(  # type: ignore[attr-defined]
        [Item("sku-<1>", "Linen <b>shirt</b>", "tops", "shirt", 39.0, colour="white", variants=(Variant("M", 2),))])
    page = client.get("/shop")
    assert page.status_code == 200 and 'data-fitloop-item="sku-&lt;1&gt;"' in page.text and "<b>shirt" not in page.text
    key = client.app.state.container.ingest.demo_write_key()  # type: ignore[attr-defined]
    assert f'data-write-key="{key}"' in page.text
    detail = client.get("/shop/items/sku-<1>")
    assert detail.status_code == 200 and "\\u003c" in detail.text
    assert client.get("/shop/items/nope").status_code == 404
    assert client.get("/shop/api/events", params={"anonymous_id": "a1"}).json() == {"count": 0, "events": []}


@pytest.fixture
def gated(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(data_dir=tmp_path / "gated", demo=True, privacy_gate=True),
                               configure_logs=False)) as c:
        yield c


def test_with_the_privacy_gate_only_consented_shoppers_are_stored(gated: TestClient) -> None:
    key, _ = source(gated)
    r = gated.post("/v1/consent", json={"user_id": "a1", "purposes": {"analytics": True, "personalisation": True},
                                         "source": "sdk"})
    assert r.status_code == 200, r.text
    other = track("n1") | {"anonymousId": "no-consent"}
    r = gated.post("/v1/batch", json={"batch": [track("c1"), other]}, headers=basic(key))
    body = r.json()
    assert r.status_code == 200 and (body["stored"], body["withheld"]) == (1, 1)
    stored = gated.app.state.container.stores.events.get("web:c1")  # type: ignore[attr-defined]
    assert stored is not None and stored.item_id == "sku-1"
    assert gated.app.state.container.stores.events.get("web:n1") is None  # type: ignore[attr-defined]
