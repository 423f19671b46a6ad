"""The Segment-compatible ingest API: ``POST /v1/batch``, ``/v1/track``, ``/v1/identify``, ``/v1/page`` …

Authentication is Segment's: the source's write key as the HTTP Basic user
name with an empty password, or ``writeKey`` in the body (what ``sendBeacon``
can send). Sources with an HMAC secret must also sign the body
(``X-Fitloop-Timestamp`` + ``X-Fitloop-Signature: sha256=…``).

The answer comes only after the events are durably committed. Status codes:
200 (with per-event errors for the quarantined ones), 401 (key), 413 (size),
422 (malformed body), 503 + ``Retry-After`` (store unavailable: retry, it is
idempotent on ``messageId``). CORS is open on these endpoints: browser write
keys are public, as Segment's are.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from fitloop.api.errors import error_body
from fitloop.collect import MAX_BATCH_BYTES, check_batch_size
from fitloop.collect.segment import Message
from fitloop.errors import FitloopError, StoreUnavailable
from fitloop.services.ingest import IngestService

router = APIRouter(prefix="/v1", tags=["collect"])

_CORS = {"Access-Control-Allow-Origin": "*"}
_PREFLIGHT = {
    **_CORS,
    "Access-Control-Allow-Methods": "POST, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type, X-Fitloop-Timestamp, X-Fitloop-Signature",
    "Access-Control-Max-Age": "86400",
}

_MESSAGE_SCHEMA = Message.model_json_schema(ref_template="#/components/schemas/{model}")
_REPORT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "success": {"type": "boolean"},
        "received": {"type": "integer"},
        "stored": {"type": "integer"},
        "duplicates": {"type": "integer"},
        "quarantined": {"type": "integer"},
        "withheld": {"type": "integer"},
        "errors": {"type": "array", "items": {"type": "object"}},
    },
}
_ERR = {"content": {"application/json": {"schema": {"type": "object"}}}}
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "Stored (durably) or quarantined with a reason per event",
          "content": {"application/json": {"schema": _REPORT_SCHEMA}}},
    401: {"description": "missing, unknown or revoked write key; bad signature", **_ERR},
    413: {"description": "over 500 KB per batch or 32 KB per event", **_ERR},
    422: {"description": "the body is not JSON or not a Segment call", **_ERR},
    503: {"description": "the store is unavailable; retry after Retry-After seconds", **_ERR},
}


def _body_schema(batch: bool) -> dict[str, Any]:
    msg = {k: v for k, v in _MESSAGE_SCHEMA.items() if k != "$defs"}
    if batch:
        schema: dict[str, Any] = {"type": "object", "required": ["batch"], "properties": {
            "batch": {"type": "array", "items": msg}, "sentAt": {"type": "string", "format": "date-time"},
            "context": {"type": "object"}, "writeKey": {"type": "string"}}}
    else:
        schema = msg
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


async def _read_body(request: Request) -> bytes:
    """The body, refusing more than 500 KB without reading it all."""
    cl = request.headers.get("content-length")
    if cl is not None and cl.isdigit():
        check_batch_size(int(cl))
    parts: list[bytes] = []
    n = 0
    async for chunk in request.stream():
        n += len(chunk)
        if n > MAX_BATCH_BYTES:
            check_batch_size(n)
        parts.append(chunk)
    return b"".join(parts)


def _basic_user(request: Request) -> str | None:
    auth = request.headers.get("authorization")
    if not auth or auth[:6].lower() != "basic ":
        return None
    try:
        decoded = base64.b64decode(auth[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return decoded.split(":", 1)[0] or None


def _error(exc: FitloopError) -> JSONResponse:
    headers = dict(_CORS)
    if isinstance(exc, StoreUnavailable):
        headers["Retry-After"] = str(exc.retry_after_s)
    return JSONResponse(error_body(exc.code, exc.message, exc.details), status_code=exc.http_status, headers=headers)


async def _ingest(request: Request, kind: str) -> Response:
    service: IngestService = request.app.state.container.ingest
    try:
        body = await _read_body(request)
        key = _basic_user(request)
        if key is not None:
            source = service.authenticate(key)
            payload = service.parse_body(body)
        else:
            payload = service.parse_body(body)
            source = service.authenticate(service.write_key_in_body(payload))
        service.verify_signature(source, body, request.headers.get("x-fitloop-timestamp"),
                                 request.headers.get("x-fitloop-signature"))
        prepared = service.prepare(source, payload, kind=kind, body_size=len(body))
        report = await service.commit_async(prepared)
    except FitloopError as exc:
        return _error(exc)
    return JSONResponse(report.to_dict(), headers=_CORS)


@router.post("/batch", summary="Send a batch of Segment calls", responses=_RESPONSES, openapi_extra=_body_schema(True))
async def batch(request: Request) -> Response:
    return await _ingest(request, "batch")


@router.post("/import", summary="Alias of /v1/batch (Segment's import endpoint)", responses=_RESPONSES,
             openapi_extra=_body_schema(True))
async def import_(request: Request) -> Response:
    return await _ingest(request, "batch")


@router.post("/track", summary="Record one event", responses=_RESPONSES, openapi_extra=_body_schema(False))
async def track(request: Request) -> Response:
    return await _ingest(request, "track")


@router.post("/identify", summary="Tie an anonymous id to a user id, with traits", responses=_RESPONSES,
             openapi_extra=_body_schema(False))
async def identify(request: Request) -> Response:
    return await _ingest(request, "identify")


@router.post("/page", summary="Record a page view", responses=_RESPONSES, openapi_extra=_body_schema(False))
async def page(request: Request) -> Response:
    return await _ingest(request, "page")


@router.post("/screen", summary="Record an app screen view (stored as a page view)", responses=_RESPONSES,
             openapi_extra=_body_schema(False))
async def screen(request: Request) -> Response:
    return await _ingest(request, "screen")


@router.post("/alias", summary="Link a previous id to a user id", responses=_RESPONSES,
             openapi_extra=_body_schema(False))
async def alias(request: Request) -> Response:
    return await _ingest(request, "alias")


@router.options("/{path:path}", include_in_schema=False)
async def preflight(path: str) -> Response:
    return Response(status_code=204, headers=_PREFLIGHT)
