"""A strategy experiment on live traffic, over HTTP: the console starts the split, ``GET /v1/recommendations``
serves each shopper their arm and logs it, outcomes sent through the ingest API are attributed per arm, the
console reads them into a look, and ending the experiment restores normal serving."""

from __future__ import annotations

import base64
import time
from typing import Any

from fastapi.testclient import TestClient

from fitloop.store import Impression
from fitloop.testing.console_shop import ConsoleShop
from tests.web.conftest import login, page_csrf

PLAN = {"name": "Popular for everyone", "hypothesis": "Personal lists beat the popular list", "kind": "strategy",
        "baseline_pct": "5", "mde_pct": "20", "alpha": "0.05", "power": "0.8", "guardrail_pts": "5"}


def _basic(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


def _track(mid: str, user: str, event: str, **props: Any) -> dict[str, Any]:
    return {"type": "track", "event": event, "messageId": mid, "userId": user, "properties": props}


def _wait_for(scan: Any, n: int) -> list[Impression]:
    deadline = time.monotonic() + 10
    got: list[Impression] = scan()
    while len(got) < n and time.monotonic() < deadline:  # the impression writer flushes every 0.2 s
        time.sleep(0.05)
        got = scan()
    return got


def _create(client: TestClient, **fields: str) -> Any:
    token = page_csrf(client, "/console/experiments")
    return client.post("/console/experiments", data={"csrf_token": token, **PLAN, **fields}, follow_redirects=False)


def test_live_form_says_what_to_fix(app_client: TestClient) -> None:
    login(app_client, "analyst")
    page = app_client.get("/console/experiments")
    assert 'data-testid="live-fields"' in page.text and "popular items for everyone" in page.text
    r = _create(app_client, traffic="live", arm_a="current", arm_b="", share_b_pct="150", window_h="0", slot="moon")
    assert r.status_code == 422
    for msg in ("arm B (treatment): choose one of", "traffic to B %", "attribution window", "slot: all slots"):
        assert msg in r.text
    r = _create(app_client, traffic="live", arm_a="current", arm_b="current", share_b_pct="50", window_h="24")
    assert r.status_code == 422 and "must serve a different strategy" in r.text
    # A strategy the serving configuration cannot switch to is not offered (re-ranking is off in this shop).
    r = _create(app_client, traffic="live", arm_a="current", arm_b="no_diversity", share_b_pct="50", window_h="24")
    assert r.status_code == 422 and "arm B (treatment): choose one of" in r.text


def test_live_split_from_start_to_end(app_client: TestClient, console_shop: ConsoleShop) -> None:
    stores = console_shop.container.stores
    login(app_client, "analyst")
    r = _create(app_client, traffic="live", arm_a="current", arm_b="popularity", share_b_pct="50", window_h="24",
                slot="*")
    assert r.status_code == 303, r.text[:500]
    exp_id = r.headers["location"].rsplit("/", 1)[1]
    page = app_client.get(f"/console/experiments/{exp_id}")
    assert 'data-testid="live-split"' in page.text and "splitting now" in page.text
    assert 'data-testid="look-form"' not in page.text  # numbers come from traffic, not typed in

    # A second live split while this one runs is refused with a reason.
    r = _create(app_client, traffic="live", arm_a="current", arm_b="popularity", share_b_pct="50", window_h="24",
                name="Second split")
    assert r.status_code == 422 and "splitting live traffic" in r.text

    # Traffic: shoppers consent, get lists, and some of them act on what they were shown.
    _, key, _ = console_shop.container.ingest.add_source("live-test", "ops@shop.example")  # type: ignore[union-attr]
    catalog = [it.item_id for it in console_shop.shop.items if it.sizes_in_stock()]
    served: dict[int, dict[str, Any]] = {}
    for i in range(40):
        user = f"live-shopper-{i}"
        assert app_client.post("/v1/consent", json={"user_id": user, "purposes": {
            "personalisation": True, "analytics": True}}).status_code == 200
        rec = app_client.get("/v1/recommendations", params={"user_id": user, "k": 5})
        assert rec.status_code == 200, rec.text
        served[i] = rec.json()
    logged = _wait_for(lambda: stores.impressions.scan(experiment_id=exp_id), len(served))
    arm_of = {imp.request_id: imp.arm for imp in logged}
    arms = {i: arm_of[s["request_id"]] for i, s in served.items()}
    assert set(arms.values()) == {"A", "B"}

    batch: list[dict[str, Any]] = []
    expected = {a: {"shoppers": 0, "buyers": 0, "returns": 0, "clicks": 0, "carts": 0, "revenue": 0.0} for a in "AB"}
    for i, s in served.items():
        user, arm = f"live-shopper-{i}", arms[i]
        shown = [it["item_id"] for it in s["items"]]
        other = next(x for x in catalog if x not in shown)
        expected[arm]["shoppers"] += 1
        if i % 3 == 0:  # clicks, adds to cart and buys a recommended item (2 × 20) plus one it was not shown
            batch += [_track(f"c{i}", user, "Product Clicked", item_id=shown[0]),
                      _track(f"a{i}", user, "Product Added", item_id=shown[0], price=20.0),
                      _track(f"o{i}", user, "Order Completed", order_id=f"o{i}", products=[
                          {"item_id": shown[0], "price": 20.0, "quantity": 2}, {"item_id": other, "price": 50.0}])]
            expected[arm]["buyers"] += 1
            expected[arm]["clicks"] += 1
            expected[arm]["carts"] += 1
            expected[arm]["revenue"] += 40.0
            if i % 6 == 0:
                batch.append(_track(f"r{i}", user, "Product Returned", order_id=f"o{i}", item_id=shown[0],
                                    reason="too_small"))
                expected[arm]["returns"] += 1
        elif i % 3 == 1:  # buys only something that was not recommended: not attributed
            batch.append(_track(f"o{i}", user, "Order Completed", order_id=f"o{i}",
                                products=[{"item_id": other, "price": 50.0}]))
    r = app_client.post("/v1/batch", json={"batch": batch}, headers=_basic(key))
    assert r.status_code == 200 and r.json()["stored"] >= len(batch), r.text

    r = app_client.post(f"/console/experiments/{exp_id}/live/refresh",
                        data={"csrf_token": page_csrf(app_client, f"/console/experiments/{exp_id}")},
                        follow_redirects=False)
    assert r.status_code == 303, r.text[:500]
    doc = console_shop.container.stores.documents.get(exp_id)  # type: ignore[union-attr]
    assert doc is not None
    look = doc.data["looks"][-1]
    for arm in "AB":
        got, want = look["arms"][arm], expected[arm]
        assert (got["shoppers"], got["buyers"], got["orders"], got["returns"], got["clicks"], got["carts"]) == (
            want["shoppers"], want["buyers"], want["buyers"], want["returns"], want["clicks"], want["carts"]), arm
        assert got["revenue"] == want["revenue"] and got["items_shown"] == 5 * want["shoppers"]
        k = arm.lower()
        assert (look[f"n_{k}"], look[f"x_{k}"], look[f"orders_{k}"], look[f"returns_{k}"]) == (
            want["shoppers"], want["buyers"], want["buyers"], want["returns"])
    page = app_client.get(f"/console/experiments/{exp_id}")
    assert 'data-testid="arms"' in page.text and 'data-testid="verdict"' in page.text
    assert "Always-valid p-value" in page.text

    # Typed-in looks are refused for a live experiment.
    token = page_csrf(app_client, f"/console/experiments/{exp_id}")
    r = app_client.post(f"/console/experiments/{exp_id}/looks", data={"csrf_token": token, "n_a": "9"})
    assert r.status_code == 422 and "live traffic" in r.text

    # Ending: a role without the experiments permission is refused; the analyst ends it.
    login(app_client, "merchandiser")
    r = app_client.post(f"/console/experiments/{exp_id}/live/end", data={"csrf_token": "x"}, follow_redirects=False)
    assert r.status_code == 403
    login(app_client, "analyst")
    r = app_client.post(f"/console/experiments/{exp_id}/live/end",
                        data={"csrf_token": page_csrf(app_client, f"/console/experiments/{exp_id}")},
                        follow_redirects=False)
    assert r.status_code == 303
    doc = console_shop.container.stores.documents.get(exp_id)  # type: ignore[union-attr]
    assert doc is not None and doc.data["live"]["ended_at"] and doc.status in ("ended", "decided")
    before = len(stores.impressions.scan(experiment_id=exp_id))
    b_shopper = next(i for i, a in arms.items() if a == "B")
    after = app_client.get("/v1/recommendations", params={"user_id": f"live-shopper-{b_shopper}", "k": 5}).json()
    plain = _wait_for(lambda: [imp for imp in stores.impressions.scan() if imp.request_id == after["request_id"]], 1)
    assert plain and plain[0].experiment_id is None and plain[0].arm is None
    assert len(stores.impressions.scan(experiment_id=exp_id)) == before
    assert "ended" in app_client.get(f"/console/experiments/{exp_id}").text
    # With the split ended a new live experiment may start.
    r = _create(app_client, traffic="live", arm_a="current", arm_b="popularity", share_b_pct="20", window_h="24",
                name="Next split")
    assert r.status_code == 303
    next_id = r.headers["location"].rsplit("/", 1)[1]
    app_client.post(f"/console/experiments/{next_id}/live/end",
                    data={"csrf_token": page_csrf(app_client, f"/console/experiments/{next_id}")})
