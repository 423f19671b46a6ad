"""Login, sessions, CSRF and role checks of the console, over the real app."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from fitloop.errors import Forbidden, InvalidInput, Unauthorized
from fitloop.services.console_auth import PERMISSIONS, ROLES, ConsoleAuth, allowed, hash_password, verify_password
from fitloop.testing.console_shop import ConsoleShop
from fitloop.web.console.base import NAV
from tests.web.conftest import csrf_of, login, page_csrf


@settings(max_examples=15, deadline=None)
@given(st.text(min_size=1, max_size=40), st.text(min_size=1, max_size=40))
def test_password_hash_verifies_only_the_same_password(a: str, b: str) -> None:
    h = hash_password(a, n=2**8)
    assert verify_password(a, h)
    assert verify_password(b, h) == (a == b)
    assert h.startswith("scrypt$256$8$1$")


def test_each_hash_has_its_own_salt() -> None:
    assert hash_password("same password!", n=2**8) != hash_password("same password!", n=2**8)
    assert not verify_password("x", "not-a-hash") and not verify_password("x", "bcrypt$1$2$3$4$5")


def test_permission_matrix_fails_closed() -> None:
    assert not allowed("marketer", "no_such_permission")
    assert not allowed("nobody", "view_overview")
    assert all(allowed("admin", p) for p in PERMISSIONS)
    assert not allowed("marketer", "view_identity") and not allowed("analyst", "view_identity")
    assert allowed("dpo", "view_compliance") and not allowed("dpo", "edit_campaigns")


def test_login_sets_an_httponly_lax_cookie_and_logout_ends_the_session(app_client: TestClient) -> None:
    app_client.cookies.clear()
    page = app_client.get("/console/login")
    r = app_client.post("/console/login", data={"email": "marketer@demo.fitloop", "password": "fitloop-demo-2026",
                                                "csrf_token": csrf_of(page.text), "next": "/console/campaigns"},
                        follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console/campaigns"
    cookie = r.headers["set-cookie"]
    assert "fitloop_console=" in cookie and "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
    assert app_client.get("/console/campaigns").status_code == 200
    token = page_csrf(app_client, "/console/campaigns")
    assert app_client.post("/console/logout", data={"csrf_token": token}, follow_redirects=False).status_code == 303
    r = app_client.get("/console/campaigns", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/console/login")


def test_wrong_password_is_refused_with_one_message_and_audited(app_client: TestClient,
                                                                console_shop: ConsoleShop) -> None:
    app_client.cookies.clear()
    for email in ("marketer@demo.fitloop", "nobody@demo.fitloop"):
        page = app_client.get("/console/login")
        r = app_client.post("/console/login", data={"email": email, "password": "wrong-password",
                                                    "csrf_token": csrf_of(page.text)}, follow_redirects=False)
        assert r.status_code == 401 and "wrong e-mail or password" in r.text
    assert console_shop.container.stores.audit is not None
    refused = console_shop.container.stores.audit.list(allowed=False, limit=5)
    assert any(a.action == "login" and a.target == "nobody@demo.fitloop" for a in refused)


def test_login_form_without_its_token_is_refused(app_client: TestClient) -> None:
    app_client.cookies.clear()
    r = app_client.post("/console/login", data={"email": "admin@demo.fitloop", "password": "fitloop-demo-2026"},
                        follow_redirects=False)
    assert r.status_code == 401 and "expired" in r.text


def test_open_redirect_after_login_is_neutralised(app_client: TestClient) -> None:
    app_client.cookies.clear()
    page = app_client.get("/console/login")
    r = app_client.post("/console/login", data={"email": "admin@demo.fitloop", "password": "fitloop-demo-2026",
                                                "csrf_token": csrf_of(page.text), "next": "https://evil.example/"},
                        follow_redirects=False)
    assert r.headers["location"] == "/console/"


def test_post_without_or_with_a_wrong_csrf_token_is_403_and_audited(app_client: TestClient,
                                                                   console_shop: ConsoleShop) -> None:
    login(app_client, "merchandiser")
    item = console_shop.shop.items[0].item_id
    for data in ({"action": "pin", "item_id": item}, {"action": "pin", "item_id": item, "csrf_token": "forged"}):
        r = app_client.post("/console/merchandising", data=data)
        assert r.status_code == 403 and "security token" in r.text
    assert console_shop.container.stores.merchandising is not None
    assert not any(r.item_id == item for r in console_shop.container.stores.merchandising.list())
    assert console_shop.container.stores.audit is not None
    assert any(a.action == "csrf_check" for a in console_shop.container.stores.audit.list(allowed=False, limit=10))


@pytest.mark.parametrize("role", ROLES)
def test_each_role_sees_only_its_pages_and_is_refused_the_rest(app_client: TestClient, role: str,
                                                               console_shop: ConsoleShop) -> None:
    login(app_client, role)
    home = app_client.get("/console/")
    assert home.status_code == 200
    for path, _label, perm in NAV:
        shown = f'href="{path}"' in home.text
        assert shown == allowed(role, perm), (role, path)
        r = app_client.get(path)
        assert r.status_code == (200 if allowed(role, perm) else 403), (role, path, r.text[:300])
        if r.status_code == 403:
            assert "may not" in r.text
    assert console_shop.container.stores.audit is not None
    refusals = [a for a in console_shop.container.stores.audit.list(allowed=False, limit=50) if a.actor.startswith(role)]
    assert len(refusals) >= sum(not allowed(role, p) for _, _, p in NAV)


def test_a_forbidden_post_is_403_audited_and_changes_nothing(app_client: TestClient, console_shop: ConsoleShop) -> None:
    login(app_client, "marketer")
    token = page_csrf(app_client, "/console/campaigns")
    item = console_shop.shop.items[1].item_id
    r = app_client.post("/console/merchandising", data={"csrf_token": token, "action": "block", "item_id": item})
    assert r.status_code == 403
    stores = console_shop.container.stores
    assert stores.merchandising is not None and stores.audit is not None
    assert not any(x.item_id == item for x in stores.merchandising.list())
    last = stores.audit.list(allowed=False, limit=1)[0]
    assert (last.actor, last.action, last.allowed) == ("marketer@demo.fitloop", "edit_merchandising", False)


def test_service_level_rules(console_shop: ConsoleShop) -> None:
    auth = ConsoleAuth(console_shop.container.stores, scrypt_n=2**8, max_failures=3)
    with pytest.raises(InvalidInput, match="e-mail.*role.*password"):
        auth.add_user("not-an-email", "boss", "short")
    auth.add_user("Lock@Test.io", "analyst", "long enough pw")
    for _ in range(3):
        with pytest.raises(Unauthorized):
            auth.login("lock@test.io", "nope")
    with pytest.raises(Unauthorized, match="too many"):
        auth.login("lock@test.io", "long enough pw")
    auth2 = ConsoleAuth(console_shop.container.stores, scrypt_n=2**8, session_ttl=timedelta(seconds=1))
    token, info = auth2.login("analyst@demo.fitloop", "fitloop-demo-2026")
    assert auth2.session(token) is not None
    assert auth2.session(token, now=datetime.now(UTC) + timedelta(seconds=2)) is None
    with pytest.raises(Forbidden):
        ConsoleAuth.check_csrf(info, "x")
    with pytest.raises(Forbidden):
        auth2.require(info, "edit_campaigns")
