"""The landing page and static assets."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

from fitloop.services.shop_loader import simulated_sample
from fitloop.web import STATIC_DIR, templates

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def landing(request: Request) -> Response:
    ctr = request.app.state.container
    stores = ctr.stores
    active = stores.models.active("recommender")
    stats = {
        "n_items": stores.catalog.count_items(),
        "n_users": stores.users.count_users(),
        "n_events": stores.events.count(),
        "model": active.version if active else None,
        "health": [(h.name, h.ok) for h in stores.health()],
        # Links to /v1/recommendations must carry the shop's own id (the endpoint pseudonymises it), and the
        # stores know pseudonyms only: in demo mode the simulated shoppers' ids are known; otherwise none.
        "sample_users": simulated_sample(stores, ctr.privacy.pseudonymise, scan=10)
        if ctr.settings.demo and ctr.privacy is not None else [],
        "links": [
            {"href": "/console/", "title": "Marketer console (segments, campaigns, experiments, compliance)"},
            {"href": "/shop", "title": "Demo shop (uses the browser SDK; click around and watch events arrive)"},
            {"href": "/sdk/fitloop.js", "title": "Browser SDK fitloop.js"},
        ],
    }
    return templates.TemplateResponse(request, "landing.html", {"stats": stats})


def static_files() -> StaticFiles:
    """The shared CSS/JS, served locally (no CDN: the console works offline)."""
    return StaticFiles(directory=str(STATIC_DIR))
