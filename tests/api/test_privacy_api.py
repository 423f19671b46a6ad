"""The privacy HTTP API: consent (with Sec-GPC), admin-only rights endpoints, alerts and resume, ROPA, DP."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from fitloop.api import create_app
from fitloop.config import Settings
from fitloop.services.ingest import derive_admin_token


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(data_dir=tmp_path, demo=True, log_json=False), configure_logs=False)) as c:
        yield c


def admin(client: TestClient) -> dict[str, str]:
    s = client.app.state.container.settings  # type: ignore[attr-defined]
    return {"Authorization": "Bearer " + derive_admin_token(s.secret("secret_key"), s.secret("admin_token"))}


def basic(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


def view(mid: str, user: str, **props: object) -> dict[str, object]:
    return {"type": "track", "event": "product_viewed", "messageId": mid, "anonymousId": user,
            "properties": {"item_id": "sku-1", **props}}


def test_consent_nothing_preticked_then_choices_gpc_and_receipts(client: TestClient) -> None:
    r = client.get("/v1/consent/a1")
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "*"
    purposes = r.json()["purposes"]
    assert not any(p["allowed"] for p in purposes.values() if p["needs_consent"])  # nothing pre-ticked
    r = client.post("/v1/consent", json={"user_id": "a1", "purposes": {"analytics": True, "marketing_email": True,
                                                                       "strictly_necessary": False}, "source": "banner"})
    assert r.status_code == 200, r.text
    assert [i["purpose"] for i in r.json()["ignored"]] == ["strictly_necessary"]
    r = client.post("/v1/consent", json={"user_id": "a1", "purposes": {}}, headers={"Sec-GPC": "1"})
    assert [e["purpose"] for e in r.json()["recorded"]] == ["marketing_email"]
    state = client.get("/v1/consent/a1").json()["purposes"]
    assert state["analytics"]["allowed"] and not state["marketing_email"]["allowed"]
    receipts = client.get("/v1/consent/a1/receipts").json()["receipts"]
    assert len(receipts) == 3 and all(r["signature"] for r in receipts)
    # Sensitive purposes cannot be granted in an "accept all" bundle.
    r = client.post("/v1/consent", json={"user_id": "a1", "purposes": {"location": True}, "source": "bundle-all"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "separate_consent_required"
    assert client.post("/v1/consent", json={"user_id": "a1", "purposes": {}}).status_code == 422


def test_admin_endpoints_need_the_token(client: TestClient) -> None:
    for method, path in [("post", "/v1/privacy/export/u1"), ("post", "/v1/privacy/erase/u1"),
                         ("get", "/v1/compliance/alerts"), ("get", "/v1/privacy/ropa"),
                         ("get", "/v1/aggregates/segments"), ("post", "/v1/compliance/pauses/web%7C%2A/resume")]:
        r = getattr(client, method)(path)
        assert r.status_code == 401, (path, r.status_code)


def test_identity_export_erase_over_http(client: TestClient) -> None:
    h = admin(client)
    u9 = client.app.state.container.privacy.pseudonymise("u9")  # type: ignore[attr-defined]
    r = client.post("/v1/identity/u9", json={"fields": {"email": "ann@example.com", "phone": "+33612345678"}},
                    headers=h)
    # Sent by the shop's customer id: stored under its pseudonym, with the customer id itself encrypted (L1).
    assert r.status_code == 200 and r.json() == {"user_id": u9, "stored": ["customer_id", "email", "phone"]}
    r = client.post("/v1/identity/u9", json={"fields": {"item_id": "x"}}, headers=h)
    assert r.status_code == 422 and r.json()["error"]["code"] == "not_identity_field"
    client.post("/v1/consent", json={"user_id": "u9", "purposes": {"personalisation": True}})
    out = client.post("/v1/privacy/export/u9", headers=h).json()
    assert out["identity_L1"][u9]["email"] == "ann@example.com" and len(out["consent_receipts"]) == 1
    assert out["identity_L1"][u9]["customer_id"] == "u9"
    assert client.post(f"/v1/privacy/export/{u9}", headers=h).json()["identity_L1"] == out["identity_L1"]
    rep = client.post("/v1/privacy/erase/u9", headers=h).json()
    assert rep["erased"] and rep["data_keys_deleted"] == 1 and rep["removed"]["consents"] == 1
    out = client.post("/v1/privacy/export/u9", headers=h).json()
    assert out["identity_L1"] == {} and out["consent_receipts"] == []


def test_withdrawal_over_http_stops_collection_and_a_violation_can_be_resumed(client: TestClient) -> None:
    ctr = client.app.state.container  # type: ignore[attr-defined]
    _, key, _ = ctr.ingest.add_source("web", "ops@shop.example")
    client.post("/v1/consent", json={"user_id": "s1", "purposes": {"analytics": True}, "source": "sdk"})
    r = client.post("/v1/batch", json={"batch": [view("e1", "s1", phone="+8613800138000")]}, headers=basic(key))
    assert r.json()["stored"] == 1
    stored = ctr.stores.events.get("web:e1")
    assert stored is not None and "phone" not in stored.properties and stored.properties["_purposes"] == ["analytics"]
    # The stripped value is kept, encrypted under the shopper's data key, for the DPO's review.
    kept = ctr.privacy.stripped_values(ctr.privacy.pseudonymise("s1"))  # stored under the pseudonym
    assert [(k["field"], k["value"]) for k in kept] == [("phone", "+8613800138000")]
    client.post("/v1/consent", json={"user_id": "s1", "purposes": {"analytics": False}, "source": "sdk"})
    r = client.post("/v1/batch", json={"batch": [view("e2", "s1")]}, headers=basic(key))
    assert (r.json()["stored"], r.json()["withheld"]) == (0, 1)
    h = admin(client)
    body = client.get("/v1/compliance/alerts", headers=h).json()
    assert [a["pause_key"] for a in body["alerts"]] == ["web|field:phone"]
    assert any(d["reason"] == "no_consent" for d in body["dropped"])
    r = client.post("/v1/compliance/pauses/web%7Cfield%3Aphone/resume", json={"by": "ops@shop.example"}, headers=h)
    assert r.status_code == 200 and r.json()["status"] == "resolved" and r.json()["resumed_by"] == "ops@shop.example"
    r = client.post("/v1/compliance/pauses/web%7Cfield%3Aphone/resume", json={"by": "x"}, headers=h)
    assert r.status_code == 404
    r = client.post("/v1/compliance/pauses", json={"key": "web|*", "reason": "investigation"}, headers=h)
    assert r.status_code == 200 and r.json()["rule"] == "manual"
    r = client.post("/v1/batch", json={"batch": [view("e3", "s2")]}, headers=basic(key))
    assert r.json()["stored"] == 0


def test_ropa_and_dp_segments(client: TestClient) -> None:
    h = admin(client)
    ropa = client.get("/v1/privacy/ropa", headers=h).json()
    assert "personalisation" in str(ropa)
    r = client.get("/v1/aggregates/segments", headers=h)
    assert r.status_code in (409, 503) and r.json()["error"]["code"] == "not_trained"
