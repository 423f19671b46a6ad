"""Admin API of the collector: quarantine (list, show, replay), ingest statistics, sources, the event catalogue.

The quarantine holds raw payloads, which may carry personal data, so these
endpoints need the admin bearer token (``FITLOOP_ADMIN_TOKEN``, or the one
derived from the secret key that ``fitloop events admin-token`` prints).
The event catalogue (``/v1/collect/schemas``) is public.
"""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request

from fitloop.collect.schemas import catalogue_json_schema
from fitloop.errors import Unauthorized
from fitloop.services.ingest import IngestService, derive_admin_token

router = APIRouter(prefix="/v1", tags=["collect admin"])

_QID = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9]+$")]


def require_admin(request: Request) -> None:
    settings = request.app.state.container.settings
    expected = derive_admin_token(settings.secret("secret_key"), settings.secret("admin_token"))
    auth = request.headers.get("authorization", "")
    token = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
    if not token or not hmac.compare_digest(token.encode(), expected.encode()):
        raise Unauthorized("the admin endpoints need 'Authorization: Bearer <admin token>' "
                           "(`fitloop events admin-token` prints it)", code="admin_token_required")


def _service(request: Request) -> IngestService:
    svc: IngestService = request.app.state.container.ingest
    return svc


_Admin = [Depends(require_admin)]
_R401: dict[int | str, dict[str, Any]] = {401: {"description": "missing or wrong admin token"}}


@router.get("/quarantine", summary="Quarantined events (without payloads)", dependencies=_Admin, responses=_R401)
def quarantine_list(
    request: Request,
    source: Annotated[str | None, Query(max_length=20)] = None,
    code: Annotated[str | None, Query(max_length=40)] = None,
    status: Annotated[str, Query(pattern="^(open|replayed|all)$")] = "open",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> dict[str, Any]:
    svc = _service(request)
    items = svc.quarantine_list(source=source, code=code, status=None if status == "all" else status, limit=limit,
                                offset=offset)
    return {"items": [v.to_dict() for v in items], "open": svc.open_quarantine()}


@router.get("/quarantine/{quarantine_id}", summary="One quarantined event with its decrypted payload",
            dependencies=_Admin, responses={**_R401, 404: {"description": "no such record"}})
def quarantine_show(request: Request, quarantine_id: _QID) -> dict[str, Any]:
    return _service(request).quarantine_show(quarantine_id).to_dict()


@router.post("/quarantine/{quarantine_id}/replay", summary="Re-validate one quarantined event and store it if it passes",
             dependencies=_Admin, responses={**_R401, 404: {"description": "no such record"}})
def quarantine_replay(request: Request, quarantine_id: _QID) -> dict[str, Any]:
    return _service(request).replay(quarantine_id).to_dict()


@router.post("/quarantine/replay", summary="Replay every open quarantined event (optionally of one source or code)",
             dependencies=_Admin, responses=_R401)
def quarantine_replay_all(
    request: Request,
    source: Annotated[str | None, Query(max_length=20)] = None,
    code: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many records per call (oldest first).")] = 100,
) -> dict[str, Any]:
    results = _service(request).replay_all(source=source, code=code, limit=limit)
    return {"replayed": sum(r.status == "replayed" for r in results), "still_open": sum(r.status == "open" for r in results),
            "results": [r.to_dict() for r in results]}


@router.get("/collect/stats", summary="Events stored, duplicates dropped and quarantined, by source and type",
            dependencies=_Admin, responses=_R401)
def collect_stats(request: Request) -> dict[str, Any]:
    svc = _service(request)
    return {"by_source_type": [{"source": s.source, "type": s.type, "stored": s.stored, "duplicates": s.duplicates,
                                "quarantined": s.quarantined} for s in svc.stats()],
            "open_quarantine": svc.open_quarantine()}


@router.get("/collect/schemas", summary="The event catalogue: JSON Schema of every event's properties per version")
def collect_schemas() -> dict[str, Any]:
    return catalogue_json_schema()
