"""``GET /v1/recommendations``: a personalised list with a plain-language reason per item.

The caller (the shop's page or backend) sends its own shopper id: the browser's anonymous id or the shop's
customer id. The server always maps it to its pseudonym, the only id the stores know; the answer names
that pseudonym.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

import anyio
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from fitloop.api.logs import request_id_var
from fitloop.data import Context
from fitloop.services.recommend import MAX_K, SLOTS

router = APIRouter(prefix="/v1", tags=["recommendations"])

#: Recommendation calls run at most this many at a time, in worker threads. Each is a few milliseconds of
#: Python that holds the interpreter lock; with one thread per concurrent request (FastAPI's default for a
#: sync route) they take turns every switch interval, so every request of a burst finishes late and the
#: switching itself costs about a millisecond more per request. Two keeps a slow weather lookup from
#: holding up the others while the rest wait their turn in arrival order.
MAX_CONCURRENT_RECOMMENDATIONS = 2


def _limiter(request: Request) -> anyio.CapacityLimiter:
    # One per application, kept on its state and made inside its running event loop on first use.
    state = request.app.state
    lim: anyio.CapacityLimiter | None = getattr(state, "recommend_limiter", None)
    if lim is None:
        lim = state.recommend_limiter = anyio.CapacityLimiter(MAX_CONCURRENT_RECOMMENDATIONS)
    return lim


class RecommendedItem(BaseModel):
    item_id: str
    score: float
    reason: str = Field(description="Why this item, in plain words.")
    propensity: float = Field(description="Probability with which the policy showed this item here.")
    source: str = Field("", description="The candidate source that proposed it.")


class RecommendationList(BaseModel):
    user_id: str = Field(description="The shopper's pseudonym: the id the engine stores and logs.")
    request_id: str
    policy_version: str
    cold_start: bool = Field(description="True when the shopper is unknown and the list is not personalised.")
    items: list[RecommendedItem]


@router.get(
    "/recommendations",
    response_model=RecommendationList,
    summary="Recommend items for a shopper",
    responses={422: {"description": "a parameter is malformed"}, 503: {"description": "no model trained yet"}},
)
async def recommendations(
    request: Request,
    user_id: Annotated[str, Query(min_length=1, max_length=128,
                                  description="The shop's id for the shopper (customer or anonymous id); "
                                              "the server pseudonymises it.")],
    slot: Annotated[str, Query(description=f"Where the list is shown: {', '.join(SLOTS)}.")] = "home",
    k: Annotated[int, Query(ge=1, le=MAX_K, description="How many items.")] = 12,
    size: Annotated[str | None, Query(max_length=32, description="Only items in stock in this size.")] = None,
    exclude: Annotated[list[str] | None, Query(description="Item ids never to show (repeat or comma-separate).")] = None,
    item_id: Annotated[str | None, Query(max_length=128, description="The item on the page (product/cart slots).")] = None,
    city: Annotated[str | None, Query(max_length=64)] = None,
    day: Annotated[date | None, Query(description="Date in the shopper's city (YYYY-MM-DD).")] = None,
    temperature_c: Annotated[float | None, Query(ge=-60, le=60)] = None,
    rain_mm: Annotated[float | None, Query(ge=0, le=500)] = None,
) -> RecommendationList:
    service = request.app.state.container.recommendations
    excluded = {x.strip() for raw in (exclude or []) for x in raw.split(",") if x.strip()}
    ctx = Context(slot=slot, city=city, day=day, temperature_c=temperature_c, rain_mm=rain_mm, item_id=item_id)
    privacy = request.app.state.container.privacy
    pid = privacy.pseudonymise(user_id) if privacy is not None else user_id
    request_id = request_id_var.get()
    recs = await anyio.to_thread.run_sync(
        lambda: service.recommend(pid, slot=slot, k=k, context=ctx, exclude=excluded, size=size, request_id=request_id),
        limiter=_limiter(request))
    return RecommendationList(
        user_id=recs.user_id,
        request_id=recs.request_id,
        policy_version=recs.policy_version,
        cold_start=recs.cold_start,
        items=[RecommendedItem(item_id=i.item_id, score=i.score, reason=i.reason, propensity=i.propensity, source=i.source)
               for i in recs.items],
    )
