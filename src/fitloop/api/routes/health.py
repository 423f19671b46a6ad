"""Liveness and readiness.

``/healthz`` answers as long as the process serves requests; ``/readyz`` checks
every store (and the schema version) and answers 503 until all are usable, so a
load balancer only sends traffic to replicas that can serve it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from fitloop import __version__

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness: the process is up")
def healthz() -> dict[str, Any]:
    return {"status": "ok", "version": __version__}


@router.get("/readyz", summary="Readiness: every store answers", responses={503: {"description": "a store is not ready"}})
def readyz(request: Request) -> JSONResponse:
    container = request.app.state.container
    checks = container.stores.health()
    ok = all(c.ok for c in checks)
    body = {
        "status": "ready" if ok else "not_ready",
        "checks": {c.name: {"ok": c.ok, "detail": c.detail, "latency_ms": c.latency_ms} for c in checks},
    }
    return JSONResponse(body, status_code=200 if ok else 503)
