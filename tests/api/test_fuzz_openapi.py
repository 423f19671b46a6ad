"""Fuzzing the collection API from its OpenAPI spec: no input, valid or malformed, may cause a 5xx.

Schemathesis generates requests for every collection operation (the ingest
endpoints with a valid write key, the admin endpoints with the admin token),
both conforming to the schema and deliberately malformed ones.
"""

from __future__ import annotations

import base64
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from fitloop.api import create_app
from fitloop.config import Settings
from fitloop.services.ingest import derive_admin_token
from fitloop.wiring import build

_DIR = Path(tempfile.mkdtemp(prefix="fitloop-fuzz-"))
_SETTINGS = Settings(data_dir=_DIR, demo=True, log_json=True, log_level="CRITICAL")
_CTR = build(_SETTINGS)
_APP = create_app(_SETTINGS, container=_CTR, configure_logs=False)
assert _CTR.ingest is not None
_, _KEY, _ = _CTR.ingest.add_source("fuzz", "fuzz@example.com")
_ADMIN = derive_admin_token(_CTR.settings.secret("secret_key"), _CTR.settings.secret("admin_token"))



async def _app_without_lifespan(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The app, with the container started once for the module instead of around every call."""
    if scope["type"] == "lifespan":
        await receive()
        await send({"type": "lifespan.startup.complete"})
        await receive()
        await send({"type": "lifespan.shutdown.complete"})
        return
    await _APP(scope, receive, send)


schema = schemathesis.openapi.from_asgi("/openapi.json", _app_without_lifespan).include(
    path_regex=r"^/v1/(batch|import|track|identify|page|screen|alias|quarantine|collect)")


@pytest.fixture(scope="module", autouse=True)
def _running_container():
    _CTR.start()
    yield
    _CTR.close()
    shutil.rmtree(_DIR, ignore_errors=True)


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_error_on_any_input(case: schemathesis.Case) -> None:
    if case.path.startswith("/v1/quarantine") or case.path.startswith("/v1/collect"):
        auth = f"Bearer {_ADMIN}"
    else:
        auth = "Basic " + base64.b64encode(f"{_KEY}:".encode()).decode()
    response = case.call(headers={"Authorization": auth})
    assert response.status_code < 500, (case.method, case.path, response.status_code, response.text[:500])
