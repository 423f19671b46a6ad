"""Profiles and segments over HTTP: admin token required, unknown shoppers get an empty profile, CSV export."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from fitloop.api import create_app
from fitloop.config import Settings
from fitloop.evaluate.simulator import ShopConfig, SimulatedShop
from fitloop.services.ingest import derive_admin_token
from fitloop.services.shop_loader import load_shop
from fitloop.wiring import build


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, dict[str, str]]]:
    tmp: Path = tmp_path_factory.mktemp("profiles")
    settings = Settings(data_dir=tmp, demo=True, rerank=False)
    ctr = build(settings)
    shop = SimulatedShop.generate(ShopConfig(n_items=300, n_shoppers=120, n_events=12_000, n_days=30, seed=3))
    assert ctr.privacy is not None  # an import is a boundary: the stores get the simulated shoppers' pseudonyms
    load_shop(ctr.stores, shop.items, shop.shoppers, shop.events.to_events(), pseudonymise=ctr.privacy.pseudonymise)
    token = derive_admin_token(ctr.settings.secret("secret_key"), ctr.settings.secret("admin_token"))
    with TestClient(create_app(ctr.settings, container=ctr, configure_logs=False)) as c:
        yield c, {"Authorization": f"Bearer {token}"}
    ctr.close()


def test_admin_token_is_required(client: tuple[TestClient, dict[str, str]]) -> None:
    c, _ = client
    r = c.get("/v1/profiles/u000001")
    assert r.status_code == 401 and r.json()["error"]["code"] == "admin_token_required"


def test_profile_after_rebuild_and_unknown_shopper(client: tuple[TestClient, dict[str, str]]) -> None:
    c, auth = client
    assert c.post("/v1/profiles/rebuild", headers=auth).json()["profiles"] > 50
    known = c.get("/v1/profiles/u000001", headers=auth).json()  # the shop's customer id …
    assert known["known"] is True and known["summary"]
    pid = c.app.state.container.privacy.pseudonymise("u000001")  # type: ignore[attr-defined]
    assert c.get(f"/v1/profiles/{pid}", headers=auth).json() == known  # … or its pseudonym, as in member lists
    unknown = c.get("/v1/profiles/nobody-here", headers=auth).json()
    assert unknown["known"] is False and unknown["segment"] is None
    assert c.get("/v1/profiles/" + "x" * 200, headers=auth).status_code == 422


def test_segments_rebuild_list_and_members_csv(client: tuple[TestClient, dict[str, str]]) -> None:
    c, auth = client
    assert c.get("/v1/segments", headers=auth).status_code == 503  # not built yet: says how
    built = c.post("/v1/segments/rebuild", headers=auth, params={"k_min": 2, "k_max": 4}).json()
    assert 2 <= built["k"] <= 4
    listing = c.get("/v1/segments", headers=auth).json()["segments"]
    assert all(s["label"] for s in listing)
    sid = listing[0]["segment_id"]
    detail = c.get(f"/v1/segments/{sid}", headers=auth).json()
    assert detail["label"] and detail["size"] > 0
    csv_text = c.get(f"/v1/segments/{sid}/members.csv", headers=auth).text.strip().splitlines()
    assert csv_text[0] == "user_id,segment_id" and len(csv_text) - 1 == detail["size"]
    assert c.post("/v1/segments/rebuild", headers=auth, params={"k_min": 1}).status_code == 422


def test_profile_reflects_newly_ingested_event(client: tuple[TestClient, dict[str, str]]) -> None:
    c, auth = client
    ctr = c.app.state.container  # type: ignore[attr-defined]
    from fitloop.data import Event, EventType

    ev = Event("fresh-1", EventType.PRODUCT_CLICKED, ctr.privacy.pseudonymise("newcomer-1"),
               datetime.now(UTC) - timedelta(seconds=1),
               item_id=ctr.stores.catalog.iter_items().__next__().item_id)
    ctr.stores.events.append([ev])
    ctr.profiles.poll_once()
    assert c.get("/v1/profiles/newcomer-1", headers=auth).json()["known"] is True
