"""The one place where errors become HTTP responses.

Every :class:`~fitloop.errors.FitloopError` maps to its ``http_status`` with a
body ``{"error": {"code", "message", "details"?}, "request_id"}``; request
validation errors become 422 with the offending fields named; anything
unexpected becomes a 500 that names only the request id (details go to the log).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from fitloop.api.logs import request_id_var
from fitloop.errors import FitloopError, StoreUnavailable

__all__ = ["install_error_handlers", "error_body"]

log = logging.getLogger("fitloop.api")


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    err: dict[str, Any] = {"code": code, "message": message}
    if details:
        err["details"] = details
    return {"error": err, "request_id": request_id_var.get()}


def _validation_message(errors: list[Any]) -> tuple[str, list[dict[str, Any]]]:
    fields = []
    parts = []
    for e in errors:
        loc = ".".join(str(x) for x in e.get("loc", ()) if x not in ("body",))
        msg = e.get("msg", "invalid")
        fields.append({"field": loc, "problem": msg})
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts[:5]) + (" …" if len(parts) > 5 else ""), fields


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(FitloopError)
    async def _fitloop(request: Request, exc: FitloopError) -> JSONResponse:
        headers: dict[str, str] = {}
        if isinstance(exc, StoreUnavailable):
            headers["Retry-After"] = str(exc.retry_after_s)
        if exc.http_status >= 500:
            log.error("request failed: %s", exc.message, extra={"code": exc.code, "path": request.url.path})
        return JSONResponse(error_body(exc.code, exc.message, exc.details), status_code=exc.http_status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        message, fields = _validation_message(list(exc.errors()))
        return JSONResponse(error_body("invalid_input", message, {"fields": fields}), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 403: "forbidden"}.get(exc.status_code, "http_error")
        detail = exc.detail if isinstance(exc.detail, str) else "request refused"
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no such endpoint: {request.method} {request.url.path}; see /docs for the API"
        return JSONResponse(error_body(code, detail), status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(
            error_body("internal_error", "an unexpected error occurred; the request id identifies it in the logs"),
            status_code=500,
        )
