"""The service skeleton: health, readiness, OpenAPI, error mapping, request ids and JSON logs."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from fitloop.api import create_app
from fitloop.api.logs import JsonFormatter
from fitloop.config import Settings
from fitloop.errors import ConfigError


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    r = client.get("/readyz")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ready" and body["checks"]["database"]["ok"] is True
    assert "sqlite" in body["checks"]["database"]["detail"]


def test_readiness_is_503_when_a_store_is_down(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, demo=True, redis_url="redis://127.0.0.1:1/0")
    with TestClient(create_app(settings, configure_logs=False)) as c:
        r = c.get("/readyz")
    assert r.status_code == 503
    assert r.json()["checks"]["redis"]["ok"] is False


def test_openapi_and_docs(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert spec["info"]["title"] == "fitloop"
    assert "/v1/recommendations" in spec["paths"]
    assert client.get("/docs").status_code == 200


def test_landing_page_links_to_docs(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200 and 'href="/docs"' in r.text
    assert client.get("/static/fitloop.css").status_code == 200


def test_unknown_route_gets_a_json_404_that_says_what_to_do(client: TestClient) -> None:
    r = client.get("/no/such/page")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found" and "/docs" in r.json()["error"]["message"]


def test_request_id_is_echoed_or_minted(client: TestClient) -> None:
    r = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    minted = client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"}).headers["x-request-id"]
    assert minted != "bad id with spaces" and len(minted) == 32


def test_validation_errors_name_the_field(client: TestClient) -> None:
    r = client.get("/v1/recommendations", params={"user_id": "u1", "k": 0})
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "invalid_input" and "k" in err["message"]
    assert r.json()["request_id"] == r.headers["x-request-id"]


def test_no_model_yet_is_503_with_how_to_train(client: TestClient) -> None:
    r = client.get("/v1/recommendations", params={"user_id": "u1"})
    assert r.status_code == 503
    assert r.json()["error"]["code"] == "not_trained" and "fitloop train" in r.json()["error"]["message"]


def test_weak_secrets_are_refused_outside_demo_mode(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="FITLOOP_SECRET_KEY"):
        create_app(Settings(data_dir=tmp_path, secret_key="changeme"), configure_logs=False)
    strong = "x" * 40
    app = create_app(Settings(data_dir=tmp_path, secret_key=strong, pseudonym_key=strong + "p", master_key=strong + "m"),
                     configure_logs=False)
    assert app.title == "fitloop"


def test_demo_secrets_are_generated_once_and_kept(tmp_path: Path) -> None:
    s1 = Settings(data_dir=tmp_path, demo=True).with_secrets()
    s2 = Settings(data_dir=tmp_path, demo=True).with_secrets()
    assert s1.secret("master_key") == s2.secret("master_key") and len(s1.secret("master_key")) >= 32
    assert (tmp_path / "secrets.json").stat().st_mode & 0o077 == 0


def test_access_log_is_json_with_request_id(client: TestClient) -> None:
    buf = io.StringIO()
    handler = logging.StreamHandler(buf)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("fitloop.access")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        client.get("/healthz", headers={"X-Request-ID": "log-check-1"})
    finally:
        logger.removeHandler(handler)
    line = json.loads(buf.getvalue().strip().splitlines()[-1])
    assert line["request_id"] == "log-check-1" and line["path"] == "/healthz" and line["status"] == 200
