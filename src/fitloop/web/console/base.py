"""Console plumbing: the session cookie, permission checks, CSRF, HTML error pages, the shared services.

Every console route uses :class:`ConsoleRoute`, which turns errors into pages instead of the API's JSON:
no session → redirect to the login page; a refused permission → a 403 page (already audited);
any other :class:`~fitloop.errors.FitloopError` → a page with its message and status.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute

from fitloop.errors import FitloopError, Forbidden, InvalidInput
from fitloop.services.campaigns import CampaignService
from fitloop.services.console_auth import PERMISSIONS, ConsoleAuth, SessionInfo
from fitloop.services.console_experiments import ExperimentService
from fitloop.services.console_insights import InsightService
from fitloop.services.console_segments import SegmentService
from fitloop.services.coupon_targeting import CouponTargetingService
from fitloop.services.merchandising import MerchandisingService
from fitloop.services.profiles import ProfileService
from fitloop.services.traffic_split import TrafficSplitService
from fitloop.web.templating import templates
from fitloop.wiring import Container

__all__ = ["COOKIE", "ConsoleRoute", "Console", "LoginRequired", "console_of", "current", "render", "NAV"]

log = logging.getLogger("fitloop.console")

COOKIE = "fitloop_console"
LOGIN_CSRF_COOKIE = "fitloop_login_csrf"

#: Navigation: (path, label, permission). A link shows only when the role holds the permission.
NAV: tuple[tuple[str, str, str], ...] = (
    ("/console/overview", "Overview", "view_overview"),
    ("/console/segments", "Segments", "view_segments"),
    ("/console/inspector", "Shopper inspector", "view_inspector"),
    ("/console/campaigns", "Campaigns", "view_campaigns"),
    ("/console/experiments", "Experiments", "view_experiments"),
    ("/console/coupons", "Coupon targeting", "view_campaigns"),
    ("/console/merchandising", "Merchandising", "view_merchandising"),
    ("/console/stock", "Slow stock", "view_stock"),
    ("/console/compliance", "Compliance", "view_compliance"),
    ("/console/users", "Users", "manage_users"),
)
assert all(p in PERMISSIONS for _, _, p in NAV)


class LoginRequired(Exception):
    """No live session: the route answers with a redirect to the login page."""


@dataclass
class Console:
    """The services the console uses, built once per app on first use."""

    container: Container
    auth: ConsoleAuth
    insights: InsightService
    segments: SegmentService
    merchandising: MerchandisingService
    campaigns: CampaignService
    experiments: ExperimentService
    profiles: ProfileService
    coupons: CouponTargetingService | None = None


def console_of(request: Request) -> Console:
    state = request.app.state
    con: Console | None = getattr(state, "console", None)
    if con is None:
        ctr: Container = state.container
        stores = ctr.stores
        segments = ctr.segments or SegmentService(stores, ctr.settings.model_path())
        merch = ctr.merchandising or MerchandisingService(stores, segment_of=segments.segment_of)
        if ctr.recommendations.rules_provider is None:
            ctr.recommendations.rules_provider = merch.current
        # The live A/B split of strategy experiments: the container's, so that serving follows it at once.
        splits = ctr.splits or TrafficSplitService(stores)
        if ctr.recommendations.split is None:
            ctr.recommendations.split = splits.assignment

        def members_of(segment_id: str) -> list[str]:
            return segments.require().members_of(segment_id)

        def recommend(user_id: str, k: int, slot: str) -> list[str]:
            recs = ctr.recommendations.recommend(user_id, slot=slot, k=k, log_impression=False)
            return [it.item_id for it in recs.items]

        privacy = getattr(ctr, "privacy", None)
        has_consent = None
        if privacy is not None:  # the privacy service's cached ledger (same latest-entry-wins rule)
            def has_consent(user_id: str, purpose: str) -> bool:
                return bool(privacy.ledger(user_id).allowed(user_id, purpose))

        con = Console(ctr, ConsoleAuth(stores),
                      InsightService(stores, manifest=privacy.manifest if privacy is not None else None), segments,
                      merch, CampaignService(stores, members_of=members_of, recommend=recommend, has_consent=has_consent),
                      ExperimentService(stores, splits), ProfileService(stores))
        con.coupons = CouponTargetingService(stores, members_of=members_of, has_consent=con.campaigns.has_consent)
        state.console = con
    return con


def current(request: Request, permission: str | None = None, target: str = "") -> SessionInfo:
    """The logged-in user; raises :class:`LoginRequired` or an audited :class:`Forbidden`."""
    con = console_of(request)
    info = con.auth.session(request.cookies.get(COOKIE))
    if info is None:
        raise LoginRequired()
    if permission is not None:
        con.auth.require(info, permission, target or request.url.path)
    return info


async def form_of(request: Request, info: SessionInfo) -> dict[str, str]:
    """The posted form, after its CSRF token was checked against the session's."""
    form = await request.form()
    data = {k: v for k, v in form.items() if isinstance(v, str)}
    try:
        ConsoleAuth.check_csrf(info, data.get("csrf_token"))
    except Forbidden:
        console_of(request).auth.audit(info.email, info.role, "csrf_check", request.url.path, False,
                                       "missing or wrong CSRF token")
        raise
    return data


def render(request: Request, template: str, ctx: dict[str, Any], *, info: SessionInfo | None = None,
           status_code: int = 200) -> HTMLResponse:
    nav = [(p, label) for p, label, perm in NAV if info is not None and info.can(perm)]
    resp = templates.TemplateResponse(request, f"console/{template}",
                                      {"info": info, "nav": nav, "path": request.url.path, **ctx},
                                      status_code=status_code)
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["X-Frame-Options"] = "DENY"
    return resp


def _error_page(request: Request, status: int, title: str, message: str) -> HTMLResponse:
    info = None
    try:
        info = console_of(request).auth.session(request.cookies.get(COOKIE))
    except FitloopError:
        pass
    return render(request, "error.html", {"title": title, "message": message, "status": status},
                  info=info, status_code=status)


class ConsoleRoute(APIRoute):
    """An APIRoute whose errors become console pages (the API's JSON handlers stay for /v1)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return await original(request)
            except LoginRequired:
                nxt = quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""), safe="")
                return RedirectResponse(f"/console/login?next={nxt}", status_code=303)
            except Forbidden as exc:
                return _error_page(request, 403, "Not allowed", exc.message)
            except InvalidInput as exc:
                return _error_page(request, 422, "Please check your input", exc.message)
            except FitloopError as exc:
                if exc.http_status >= 500:
                    log.error("console page failed: %s", exc.message, extra={"path": request.url.path})
                return _error_page(request, exc.http_status, "Not available", exc.message)

        return handler
