"""The FastAPI application factory.

>>> from fitloop.config import Settings
>>> app = create_app(Settings(database_url="sqlite:///:memory:", demo=True, log_json=False))
>>> app.title
'fitloop'
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from fitloop import __version__
from fitloop.api.errors import install_error_handlers
from fitloop.api.logs import configure_logging
from fitloop.api.middleware import RequestContextMiddleware
from fitloop.api.routes import health, ingest, pages, profiles, quarantine, recommendations, sdk, shop
from fitloop.api.routes import privacy as privacy_routes
from fitloop.config import Settings
from fitloop.web import console
from fitloop.wiring import Container, build

__all__ = ["create_app"]

log = logging.getLogger("fitloop.api")

_DESCRIPTION = """
fitloop collects shopper behaviour lawfully, understands each shopper, and recommends the clothes
they will buy **and keep**. Every error body has the form
`{"error": {"code": "...", "message": "what to fix"}, "request_id": "..."}`.
"""


def create_app(settings: Settings, *, container: Container | None = None, configure_logs: bool = True) -> FastAPI:
    """Build the API for ``settings``. Pass ``container`` to share stores with the caller (tests, the demo)."""
    if configure_logs:
        configure_logging(settings.log_level, json_logs=settings.log_json)
    owned = container is None
    ctr = container or build(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ctr.start()
        log.info("fitloop started", extra={"database": ctr.stores.health()[0].detail if ctr.stores.checks else ""})
        try:
            yield
        finally:
            ctr.stop()
            if owned:
                ctr.close()
            log.info("fitloop stopped")

    app = FastAPI(
        title="fitloop",
        version=__version__,
        description=_DESCRIPTION,
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url="/redoc",
        openapi_url="/openapi.json",
    )
    app.state.container = ctr
    app.state.settings = settings
    install_error_handlers(app)
    app.add_middleware(RequestContextMiddleware)
    app.include_router(health.router)
    app.include_router(recommendations.router)
    app.include_router(profiles.router)
    app.include_router(pages.router)
    app.include_router(ingest.router)
    app.include_router(quarantine.router)
    app.include_router(privacy_routes.router)
    app.include_router(sdk.router)
    app.include_router(shop.router)
    app.include_router(console.router)
    app.mount("/static", pages.static_files(), name="static")
    return app
