"""``GET /sdk/fitloop.js``: the browser SDK, served by fitloop itself (no CDN)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse

from fitloop.web import STATIC_DIR

router = APIRouter(include_in_schema=False)

SDK_PATH = STATIC_DIR / "sdk" / "fitloop.js"


@router.get("/sdk/fitloop.js")
def sdk() -> FileResponse:
    return FileResponse(SDK_PATH, media_type="application/javascript; charset=utf-8",
                        headers={"Cache-Control": "public, max-age=300", "Access-Control-Allow-Origin": "*"})
