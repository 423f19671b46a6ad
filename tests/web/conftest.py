"""One small simulated shop per test module, served by the real app; helpers to sign in per role."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from fitloop.api import create_app
from fitloop.services.console_auth import DEMO_PASSWORD
from fitloop.testing.console_shop import ConsoleShop, build_console_shop


@pytest.fixture(scope="module")
def console_shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleShop]:
    cs = build_console_shop(Path(tmp_path_factory.mktemp("console")))
    yield cs
    cs.container.close()


@pytest.fixture(scope="module")
def app_client(console_shop: ConsoleShop) -> Iterator[TestClient]:
    app = create_app(console_shop.container.settings, container=console_shop.container, configure_logs=False)
    with TestClient(app) as c:
        yield c


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "page has no CSRF token"
    return m.group(1)


def login(client: TestClient, role: str, password: str = DEMO_PASSWORD) -> TestClient:
    """Sign ``client`` in as the demo user of ``role`` (cookies kept on the client)."""
    client.cookies.clear()
    page = client.get("/console/login")
    r = client.post("/console/login", data={"email": f"{role}@demo.fitloop", "password": password,
                                            "csrf_token": csrf_of(page.text), "next": "/console/"},
                    follow_redirects=False)
    assert r.status_code == 303, r.text[:500]
    return client


def page_csrf(client: TestClient, path: str) -> str:
    r = client.get(path)
    assert r.status_code == 200, (path, r.status_code, r.text[:300])
    return csrf_of(r.text)
