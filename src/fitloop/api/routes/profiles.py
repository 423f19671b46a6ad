"""Shopper profiles and segments over HTTP (pseudonymous ids only; never identity data).

These endpoints expose derived personal data, so they need the admin bearer token (the console
has its own role-checked pages for marketers). A shopper is named by a pseudonym (``p1_…``, as in the
member lists) or by the shop's customer id, which is pseudonymised first.
"""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from fitloop.api.routes.quarantine import require_admin

router = APIRouter(prefix="/v1", tags=["profiles and segments"], dependencies=[Depends(require_admin)])

_User = Annotated[str, Path(min_length=1, max_length=128,
                            description="The shopper's pseudonym (p1_…) or the shop's customer id.")]
_Seg = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
_R401: dict[int | str, dict[str, Any]] = {401: {"description": "missing or wrong admin token"}}


@router.get("/profiles/{user_id}", summary="A shopper's profile in plain words and numbers", responses=_R401)
def profile(request: Request, user_id: _User) -> dict[str, Any]:
    """Features and a plain-words summary. An unknown shopper gets an empty profile (``known: false``) that says so."""
    ctr = request.app.state.container
    user_id = ctr.privacy.resolve_operator_input(user_id)
    body: dict[str, Any] = ctr.profiles.profile(user_id)
    seg = ctr.segments.segment_of(user_id) if ctr.segments is not None else None
    body["segment"] = seg
    if seg is not None:
        body["segment_reasons"] = ctr.segments.require().explain(user_id)
    return body


@router.post("/profiles/rebuild", summary="Recompute every profile from the raw events", responses=_R401)
def rebuild_profiles(request: Request) -> dict[str, Any]:
    """All profiles are replaced in one transaction: readers see the old set or the new one, never half."""
    return {"profiles": request.app.state.container.profiles.rebuild()}


@router.get("/segments", summary="Segments with their plain-words labels, sizes and growth", responses=_R401)
def segments(request: Request) -> dict[str, Any]:
    model = request.app.state.container.segments.require()
    return {"version": request.app.state.container.segments.version, "segments": model.summary(),
            "stability": model.stability}


@router.get("/segments/{segment_id}", summary="One segment: label, tags, typical items", responses=_R401)
def segment(request: Request, segment_id: _Seg) -> dict[str, Any]:
    model = request.app.state.container.segments.require()
    seg = model.segment(segment_id)
    return {"segment_id": seg.segment_id, "label": seg.label, "tags": seg.tags, "size": seg.size,
            "share": seg.share, "growth": seg.growth, "typical_items": seg.typical_items, "profile": seg.profile}


@router.get("/segments/{segment_id}/members.csv", summary="Members as CSV (pseudonymous ids)", responses=_R401,
            response_class=Response)
def segment_members(
    request: Request,
    segment_id: _Seg,
    consented_for: Annotated[str | None, Query(max_length=64, description="Only shoppers with this purpose's consent.")] = None,
) -> Response:
    ctr = request.app.state.container
    members = ctr.segments.require().members_of(segment_id)
    if consented_for:
        members = [u for u in members if consented_for in ctr.privacy.allowed_purposes(u)]
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["user_id", "segment_id"])
    for u in members:
        w.writerow([u, segment_id])
    return Response(buf.getvalue(), media_type="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="segment-{segment_id}.csv"'})


@router.post("/segments/rebuild", summary="Re-cluster shoppers; the new segments serve at once", responses=_R401)
def rebuild_segments(
    request: Request,
    k_min: Annotated[int, Query(ge=2, le=20)] = 3,
    k_max: Annotated[int, Query(ge=2, le=20)] = 8,
) -> dict[str, Any]:
    model = request.app.state.container.segments.build(k_min=k_min, k_max=k_max)
    return {"k": model.k, "segments": model.summary()}
