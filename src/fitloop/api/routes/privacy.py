"""Privacy API: consent (banner, SDK, shop backend), data-subject rights, compliance alerts, ROPA, DP aggregates.

Authentication:

* ``POST /v1/consent``, ``GET /v1/consent/{user}`` and ``…/receipts`` are public, like the browser SDK's
  write key: the browser records choices for its own (random, anonymous) id, and a ``Sec-GPC: 1`` header
  withdraws sharing and marketing. Consent can only be *recorded* here, never used to read data; the
  snapshot holds no personal data beyond the choices themselves. A shop backend sends the same calls.
* Everything else (export, erasure, identity, alerts, resume, ROPA, aggregates) needs the admin bearer
  token (``FITLOOP_ADMIN_TOKEN``, the same as the quarantine endpoints).

Shopper ids. Every store holds pseudonyms only (:mod:`fitloop.services.pseudonyms`). The public consent
endpoints always pseudonymise the id they are sent (the shop's or the browser's own id): a pseudonym sent
there is treated as an id like any other, so a browser cannot act under a pseudonym it has seen. The
admin endpoints take either the shop's customer id or a pseudonym (``p1_`` + 32 hex, e.g. from a segment's
member list), since the admin token already reaches every shopper. Responses name the pseudonym.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response
from pydantic import BaseModel, Field

from fitloop.api.routes.quarantine import require_admin
from fitloop.errors import InvalidInput, NotTrained
from fitloop.services.erasure import DataSubjectService
from fitloop.services.privacy import PrivacyService
from fitloop.services.pseudonyms import CUSTOMER_ID_FIELD

router = APIRouter(prefix="/v1", tags=["privacy"])

_User = Annotated[str, Path(min_length=1, max_length=128)]
_Admin = [Depends(require_admin)]
_R401: dict[int | str, dict[str, Any]] = {401: {"description": "missing or wrong admin token"}}
# The consent endpoints are called by the browser SDK from the shop's origin (the ingest router answers the
# CORS preflight for every /v1 path).
_CORS = {"Access-Control-Allow-Origin": "*"}


def _privacy(request: Request) -> PrivacyService:
    svc = request.app.state.container.privacy
    if svc is None:
        raise NotTrained("privacy is not configured in this process")
    return svc


def _subjects(request: Request) -> DataSubjectService:
    return request.app.state.container.subjects


def _operator_id(request: Request, user_id: str) -> str:
    """Admin endpoints: a pseudonym as is, the shop's customer id pseudonymised."""
    return _privacy(request).resolve_operator_input(user_id)


class ConsentIn(BaseModel):
    """Choices of one shopper: purpose → granted. Nothing is assumed for purposes left out."""

    user_id: str = Field(min_length=1, max_length=128)
    purposes: dict[str, bool] = Field(default_factory=dict, max_length=32)
    source: str = Field(default="api", min_length=1, max_length=64,
                        description="Where the choice was made: banner, api, …; 'bundle…' for 'accept all'.")


class IdentityIn(BaseModel):
    fields: dict[str, str] = Field(min_length=1, max_length=16,
                                   description="Identity (L1) fields: name, email, phone, address, payment_token …")


@router.post("/consent", summary="Record a shopper's consent choices (Sec-GPC: 1 withdraws sharing and marketing)")
def post_consent(request: Request, body: ConsentIn, response: Response) -> dict[str, Any]:
    gpc = request.headers.get("sec-gpc", "").strip() == "1"
    if not body.purposes and not gpc:
        raise InvalidInput("send at least one purpose choice in 'purposes' (or a Sec-GPC: 1 header)",
                           code="empty_consent")
    response.headers.update(_CORS)
    pv = _privacy(request)
    return pv.record_consent(pv.pseudonymise(body.user_id), body.purposes, source=body.source, gpc=gpc)


@router.get("/consent/{user_id}", summary="The shopper's current consent per purpose")
def get_consent(request: Request, user_id: _User, response: Response) -> dict[str, Any]:
    response.headers.update(_CORS)
    pv = _privacy(request)
    pid = pv.pseudonymise(user_id)
    return {"user_id": pid, "purposes": pv.consent(pid)}


@router.get("/consent/{user_id}/receipts", summary="Every consent entry as a signed receipt")
def get_receipts(request: Request, user_id: _User, response: Response) -> dict[str, Any]:
    response.headers.update(_CORS)
    pv = _privacy(request)
    pid = pv.pseudonymise(user_id)
    return {"user_id": pid, "receipts": pv.receipts(pid)}


@router.post("/privacy/export/{user_id}", summary="Everything held on a shopper, decrypted (JSON)",
             dependencies=_Admin, responses=_R401)
def export(request: Request, user_id: _User) -> dict[str, Any]:
    return _subjects(request).export(_operator_id(request, user_id))


@router.post("/privacy/erase/{user_id}", summary="Erase a shopper from every store (and shred their data key)",
             dependencies=_Admin, responses=_R401)
def erase(request: Request, user_id: _User) -> dict[str, Any]:
    return _subjects(request).erase(_operator_id(request, user_id), actor="admin-api").to_dict()


@router.post("/identity/{user_id}", summary="Store identity (L1) fields encrypted under the shopper's key",
             dependencies=_Admin, responses=_R401)
def put_identity(request: Request, user_id: _User, body: IdentityIn) -> dict[str, Any]:
    pv = _privacy(request)
    pid = _operator_id(request, user_id)
    fields: dict[str, str] = dict(body.fields)
    if pid != user_id.strip():  # the shop's customer id: keep it (encrypted) so the pseudonym resolves back to it
        fields.setdefault(CUSTOMER_ID_FIELD, user_id.strip())
    cid = fields.get(CUSTOMER_ID_FIELD)
    if cid is not None and pv.pseudonymise(cid) != pid:
        raise InvalidInput(f"{CUSTOMER_ID_FIELD} {cid!r} is not this shopper's customer id (its pseudonym differs)",
                           code="customer_id_mismatch")
    return {"user_id": pid, "stored": pv.store_identity(pid, fields)}


@router.get("/compliance/alerts", summary="Compliance alerts (newest first) and the audit trail",
            dependencies=_Admin, responses=_R401)
def alerts(request: Request, active: Annotated[bool, Query()] = False,
           limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> dict[str, Any]:
    svc = _privacy(request)
    return {"alerts": svc.alerts(active_only=active, limit=limit), "audit": svc.audit(limit=limit),
            "dropped": svc.drop_counts()}


class PauseIn(BaseModel):
    key: str = Field(min_length=3, max_length=200, description="'web|*', 'web|field:phone' or 'web|purpose:analytics'")
    reason: str = Field(min_length=1, max_length=500)
    by: str = Field(default="dpo", min_length=1, max_length=254)


@router.post("/compliance/pauses", summary="Pause a collection by hand (e.g. during an investigation)",
             dependencies=_Admin, responses=_R401)
def pause(request: Request, body: PauseIn) -> dict[str, Any]:
    return _privacy(request).pause(body.key, by=body.by, reason=body.reason)


@router.post("/compliance/pauses/{key:path}/resume", summary="Resume a paused collection (key: 'web|field:phone')",
             dependencies=_Admin, responses={**_R401, 404: {"description": "not paused"}})
def resume(request: Request, key: Annotated[str, Path(min_length=3, max_length=200)],
           by: Annotated[str, Body(embed=True, min_length=1, max_length=254)] = "admin") -> dict[str, Any]:
    return _privacy(request).resume(key, by)


@router.get("/privacy/ropa", summary="Records of processing (Art. 30), generated from the manifest",
            dependencies=_Admin, responses=_R401)
def ropa(request: Request) -> dict[str, Any]:
    return _privacy(request).ropa()


@router.get("/aggregates/segments", summary="Segment sizes with differential privacy (budget per month)",
            dependencies=_Admin, responses=_R401)
def segment_sizes(request: Request, epsilon: Annotated[float | None, Query(gt=0, le=10)] = None) -> dict[str, Any]:
    segments = request.app.state.container.segments
    model = segments.current() if segments is not None else None
    if model is None:
        raise NotTrained("no segment model yet: build segments in the console (or `fitloop segments build`)")
    counts: dict[str, int] = {}
    for seg in dict(model.members).values():
        counts[str(seg)] = counts.get(str(seg), 0) + 1
    return _privacy(request).dp_histogram(counts, epsilon=epsilon)
