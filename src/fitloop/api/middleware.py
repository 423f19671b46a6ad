"""Pure-ASGI middleware: request ids and one structured access-log line per request.

Pure ASGI (not ``BaseHTTPMiddleware``) keeps the per-request overhead to a few
microseconds, which matters for the serving latency budget.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from fitloop.api.logs import request_id_var

__all__ = ["RequestContextMiddleware"]

log = logging.getLogger("fitloop.access")

_VALID_ID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class RequestContextMiddleware:
    """Adopt a caller's ``X-Request-ID`` (when well-formed) or mint one; echo it; log the request."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = None
        for k, v in scope.get("headers", ()):
            if k == b"x-request-id":
                cand = v.decode("latin-1")
                rid = cand if _VALID_ID.match(cand) else None
                break
        rid = rid or uuid.uuid4().hex
        token = request_id_var.set(rid)
        status = 500
        t0 = time.perf_counter()

        async def send_wrapper(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + [(b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            # Routes with parameters are logged by their template (/v1/consent/{user_id}): the shopper ids in
            # such paths are the shop's own, and the log must not keep what the stores only keep pseudonymised.
            template = getattr(scope.get("route"), "path", None)
            log.info(
                "request",
                extra={
                    "method": scope.get("method"),
                    "path": template if isinstance(template, str) and "{" in template else scope.get("path"),
                    "status": status,
                    "ms": round((time.perf_counter() - t0) * 1000, 2),
                },
            )
            request_id_var.reset(token)
