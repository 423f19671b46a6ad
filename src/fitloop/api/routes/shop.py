"""The demo shop: a product grid and detail pages from the catalog, using the browser SDK.

Served in demo mode only (``FITLOOP_DEMO=1`` / ``fitloop demo``): it embeds the
public write key of the ``demo-shop`` source and shows, for the visitor's own
anonymous id, the events that arrived, so a person can click around and
watch them land.
"""

from __future__ import annotations

import hashlib
import json
from itertools import islice
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from fitloop.errors import NotFound
from fitloop.web import templates

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 24
_COLOURS = {"black": "#222", "white": "#f4f4f4", "grey": "#999", "navy": "#1f2a4d", "blue": "#3a6fd8", "red": "#c8323c",
            "green": "#3c8c4a", "beige": "#d9c7a7", "brown": "#7a5232", "pink": "#e8a0b4", "yellow": "#e8cf4a",
            "orange": "#e8883a", "purple": "#7c4ca8", "khaki": "#8f8a5a", "cream": "#f3ead2"}


def _demo_only(request: Request) -> None:
    if not request.app.state.container.settings.demo:
        raise NotFound("the demo shop runs in demo mode only (FITLOOP_DEMO=1 or `fitloop demo`)")


def _colour_css(colour: str) -> str:
    c = _COLOURS.get(colour.lower())
    if c:
        return c
    h = hashlib.sha256(colour.encode()).hexdigest()
    return f"#{h[:6]}"


def _ctx(request: Request, title: str, **extra: Any) -> dict[str, Any]:
    key = request.app.state.container.ingest.demo_write_key()
    return {"title": title, "write_key": key, **extra}


@router.get("/shop", response_class=HTMLResponse)
def shop(request: Request, page: Annotated[int, Query(ge=1, le=10_000)] = 1) -> Response:
    _demo_only(request)
    catalog = request.app.state.container.stores.catalog
    offset = (page - 1) * PAGE_SIZE
    chunk = list(islice(catalog.iter_items(batch_size=PAGE_SIZE * 2), offset, offset + PAGE_SIZE + 1))
    items = [{"item_id": it.item_id, "title": it.title, "article_type": it.article_type, "colour": it.colour,
              "price": it.price, "colour_css": _colour_css(it.colour)} for it in chunk[:PAGE_SIZE]]
    return templates.TemplateResponse(request, "shop/grid.html", _ctx(request, "New in", items=items, page=page,
                                                                       offset=offset, has_next=len(chunk) > PAGE_SIZE))


@router.get("/shop/items/{item_id}", response_class=HTMLResponse)
def shop_item(request: Request, item_id: str) -> Response:
    _demo_only(request)
    item = request.app.state.container.stores.catalog.get_item(item_id)
    if item is None:
        raise NotFound(f"no item {item_id!r} in the catalog")
    item_json = json.dumps({"item_id": item.item_id, "price": item.price, "category": item.category,
                            "style": item.style}).replace("<", "\\u003c")
    return templates.TemplateResponse(request, "shop/item.html", _ctx(request, item.title, item=item,
                                                                       item_json=item_json,
                                                                       colour_css=_colour_css(item.colour)))


@router.get("/shop/api/events")
def shop_events(request: Request, anonymous_id: Annotated[str, Query(min_length=1, max_length=128)]) -> dict[str, Any]:
    """The latest events stored for this visitor (their anonymous id, or the user it was linked to)."""
    _demo_only(request)
    ctr = request.app.state.container
    stores = ctr.stores
    # The browser's own id, pseudonymised like every id that arrives (never taken as a pseudonym).
    anonymous_id = ctr.privacy.pseudonymise(anonymous_id) if ctr.privacy is not None else anonymous_id
    user = stores.ingest.user_for(anonymous_id) if stores.ingest is not None else None
    events = stores.events.scan(user_id=user or anonymous_id)
    events = [e for e in events if e.source == "demo-shop"]
    out = [{"type": e.type.value, "item_id": e.item_id, "ts": e.ts.isoformat(),
            "properties": {k: v for k, v in e.properties.items() if k != "context"}} for e in reversed(events[-200:])]
    return {"count": len(events), "events": out}
