"""The coupon-targeting page over HTTP: roles, the evaluation charts, the consent-filtered CSV (checked again at
export), the marketer's own share, campaign trials that are too small, and form messages."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime

from fastapi.testclient import TestClient

from fitloop.data import Consent
from fitloop.marketing.campaigns import CHANNEL_PURPOSE
from fitloop.testing.console_shop import ConsoleShop
from tests.web.conftest import login, page_csrf


def _value(html: str, testid: str) -> str:
    m = re.search(rf'data-testid="{testid}">([^<]*)<', html)
    assert m, f"no {testid} on the page"
    return m.group(1).strip()


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_roles_see_what_they_may(app_client: TestClient) -> None:
    login(app_client, "analyst")
    page = app_client.get("/console/coupons")
    assert page.status_code == 200 and 'href="/console/coupons"' in page.text  # in the menu
    assert 'data-testid="recommended-share"' in page.text and 'data-testid="coupon-export"' not in page.text
    assert app_client.get("/console/coupons/export.csv").status_code == 403  # analysts read, marketers send
    for role in ("merchandiser", "dpo"):
        login(app_client, role)
        assert app_client.get("/console/coupons").status_code == 403


def test_marketer_scores_an_audience_and_exports_only_consenting_shoppers(app_client: TestClient,
                                                                          console_shop: ConsoleShop) -> None:
    login(app_client, "marketer")
    params = {"segment": "*", "channel": "push", "discount_pct": "25", "margin_pct": "50"}
    page = app_client.get("/console/coupons", params=params)
    assert page.status_code == 200
    for chart in ("chart-qini", "chart-uplift", "chart-profit"):  # the uplift chart: the simulated truth is known
        assert f'id="{chart}"' in page.text
    assert "oracle" in page.text and "Simulated coupon trial" in page.text
    n_targets = int(_value(page.text, "n-targets").replace(",", ""))
    stores = console_shop.container.stores
    privacy = console_shop.container.privacy
    assert privacy is not None
    everyone = list(stores.users.iter_user_ids())
    consenting = [u for u in everyone if privacy.ledger(u).allowed(u, CHANNEL_PURPOSE["push"])]
    assert 0 < len(consenting) < len(everyone)
    share = int(_value(page.text, "recommended-share").rstrip(" %")) / 100
    assert n_targets == round(share * len(consenting))

    export = app_client.get("/console/coupons/export.csv", params=params)
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    rows = _rows(export.text)
    assert len(rows) == n_targets and set(rows[0]) == {"user_id", "channel", "coupon_campaign",
                                                       "estimated_uplift_pts", "rank"}
    assert {r["user_id"] for r in rows} <= set(consenting) and all(r["user_id"].startswith("p1_") for r in rows)
    uplift = [float(r["estimated_uplift_pts"]) for r in rows]
    assert uplift == sorted(uplift, reverse=True) and [int(r["rank"]) for r in rows] == list(range(1, len(rows) + 1))

    # The marketer's own share, and a withdrawal after scoring: that shopper is left out of the next export.
    mine = app_client.get("/console/coupons/export.csv", params={**params, "share_pct": "20"})
    rows20 = _rows(mine.text)
    assert len(rows20) == round(0.2 * len(consenting))
    quitter = rows20[0]["user_id"]
    stores.users.append_consents([Consent(quitter, CHANNEL_PURPOSE["push"], 1, False, datetime.now(UTC), "test")])
    privacy.invalidate(quitter)  # this process recorded it: no waiting for the consent cache
    again = _rows(app_client.get("/console/coupons/export.csv", params={**params, "share_pct": "20"}).text)
    assert quitter not in {r["user_id"] for r in again}
    audit = [a for a in console_shop.container.stores.audit.list(limit=20)  # type: ignore[union-attr]
             if a.action == "coupon_export"]
    assert audit and audit[0].allowed and "channel push" in audit[0].detail


def test_form_errors_and_a_campaign_trial_that_is_too_small(app_client: TestClient,
                                                            console_shop: ConsoleShop) -> None:
    login(app_client, "marketer")
    r = app_client.get("/console/coupons", params={"trial": "nope", "segment": "moon", "channel": "fax",
                                                   "discount_pct": "95", "margin_pct": "x", "share_pct": "120"})
    assert r.status_code == 422
    for msg in ("trial: choose one of", "audience: all shoppers or one of", "channel: choose one of",
                "coupon (% off): a percentage between 1 and 90", "gross margin %", "share to target"):
        assert msg in r.text, msg
    # A launched campaign with a holdout is offered as a trial, and refused while its groups are too small.
    model = console_shop.container.segments.current() if console_shop.container.segments else None
    if model is None:
        login(app_client, "analyst")
        app_client.post("/console/segments/build", data={"csrf_token": page_csrf(app_client, "/console/segments"),
                                                         "k_min": "2", "k_max": "3"})
        login(app_client, "marketer")
        model = console_shop.container.segments.current() if console_shop.container.segments else None
    assert model is not None
    seg = model.segments[0].segment_id
    token = page_csrf(app_client, "/console/campaigns")
    r = app_client.post("/console/campaigns", data={"csrf_token": token, "name": "Spring coupon", "segment": seg,
                                                    "channel": "in_app", "holdout_pct": "20", "k_items": "3",
                                                    "message": "20 % off this week"}, follow_redirects=False)
    assert r.status_code == 303
    cid = r.headers["location"].rsplit("/", 1)[1]
    app_client.post(f"/console/campaigns/{cid}/launch", data={"csrf_token": page_csrf(app_client, f"/console/campaigns/{cid}")})
    page = app_client.get("/console/coupons")
    assert f"campaign:{cid}" in page.text and "Spring coupon" in page.text
    r = app_client.get("/console/coupons", params={"trial": f"campaign:{cid}", "channel": "in_app"})
    assert r.status_code == 422 and "uplift needs at least 30 in each group" in r.text
