"""The console's pages. Each handler checks the role first, then calls one service."""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlparse

import plotly
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from fitloop.data import Context
from fitloop.errors import Conflict, FitloopError, InvalidInput, NotFound, NotTrained, Unauthorized
from fitloop.marketing.campaigns import CHANNEL_PURPOSE
from fitloop.privacy.tiers import Tier, can_see, redact_for
from fitloop.services.campaigns import validate_campaign_form
from fitloop.services.console_auth import PERMISSIONS, ROLES, SessionInfo
from fitloop.services.console_experiments import STRATEGIES, parse_live_form, parse_look_form, parse_plan_form
from fitloop.services.coupon_targeting import CouponTargetingService, parse_targeting_form
from fitloop.services.merchandising import ACTIONS
from fitloop.services.recommend import SLOTS
from fitloop.services.traffic_split import STRATEGIES as LIVE_STRATEGIES
from fitloop.services.traffic_split import available_strategies
from fitloop.web.console.base import (
    COOKIE,
    LOGIN_CSRF_COOKIE,
    NAV,
    ConsoleRoute,
    console_of,
    current,
    form_of,
    render,
)

__all__ = ["router", "PLOTLY_JS"]

router = APIRouter(prefix="/console", include_in_schema=False, route_class=ConsoleRoute)

PLOTLY_JS = Path(plotly.__file__).with_name("package_data") / "plotly.min.js"


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _safe_next(nxt: str | None) -> str:
    # Only same-site console paths: an open redirect would let a phishing link land on another site.
    if nxt and nxt.startswith("/console/") and not nxt.startswith("//") and not urlparse(nxt).netloc:
        return nxt
    return "/console/"


def _pseudo(user_id: str) -> str:
    """A short stable label for a shopper in lists (the stored id is already a pseudonym)."""
    return "shopper-" + hashlib.sha256(user_id.encode()).hexdigest()[:8]


# ---------------------------------------------------------------------------------------------- assets & login
@router.get("/static/plotly.min.js")
def plotly_js() -> Response:
    """Plotly from the installed Python wheel: no CDN, nothing copied into the repository."""
    return FileResponse(PLOTLY_JS, media_type="text/javascript", headers={"Cache-Control": "public, max-age=86400"})


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> Response:
    info = current(request)
    for path, _label, perm in NAV:
        if info.can(perm):
            return _see_other(path)
    return _see_other("/console/login")


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "") -> Response:
    token = secrets.token_urlsafe(24)
    resp = render(request, "login.html", {"next": _safe_next(next), "login_csrf": token, "errors": []})
    resp.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", path="/console/login",
                    secure=request.app.state.settings.is_production)
    return resp


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    con = console_of(request)
    nxt = _safe_next(form.get("next"))
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE) or ""
    errors: list[str] = []
    if not cookie or not secrets.compare_digest(cookie, form.get("csrf_token") or ""):
        errors.append("the login form expired; it has been reloaded, please sign in again")
    elif not form.get("email") or not form.get("password"):
        errors.append("enter your e-mail and password")
    else:
        try:
            token, _info = con.auth.login(form["email"], form["password"])
        except Unauthorized as exc:
            errors.append(exc.message)
        else:
            ok = _see_other(nxt)
            ok.set_cookie(COOKIE, token, httponly=True, samesite="lax", path="/",
                            secure=request.app.state.settings.is_production, max_age=8 * 3600)
            ok.delete_cookie(LOGIN_CSRF_COOKIE, path="/console/login")
            return ok
    token = secrets.token_urlsafe(24)
    resp = render(request, "login.html", {"next": nxt, "login_csrf": token, "errors": errors,
                                          "email": form.get("email", "")}, status_code=401)
    resp.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", path="/console/login",
                    secure=request.app.state.settings.is_production)
    return resp


@router.post("/logout")
async def logout(request: Request) -> Response:
    info = current(request)
    await form_of(request, info)
    console_of(request).auth.logout(info)
    resp = _see_other("/console/login")
    resp.delete_cookie(COOKIE, path="/")
    return resp


# ---------------------------------------------------------------------------------------------- overview
def _fig(data: list[dict[str, Any]], title: str, **layout: Any) -> str:
    return json.dumps({"data": data, "layout": {"title": {"text": title}, "margin": {"t": 40, "r": 10, "l": 50, "b": 40},
                                                 "height": 300, **layout}})


@router.get("/overview", response_class=HTMLResponse)
def overview(request: Request) -> Response:
    info = current(request, "view_overview")
    rep = console_of(request).insights.kpis()
    t = rep.totals
    cards = [
        ("Click rate", f"{t['click_rate'] * 100:.2f} %", "clicks on recommended items ÷ recommended items shown"),
        ("Conversion", f"{t['conversion'] * 100:.1f} %", "shoppers who ordered ÷ shoppers who browsed"),
        ("Average order value", f"{t['average_order_value']:,.2f}", "revenue ÷ orders"),
        ("Repurchase rate", f"{t['repurchase_rate'] * 100:.1f} %", "buyers with orders on two or more days"),
        ("Return rate", f"{t['return_rate'] * 100:.1f} %", "returned lines ÷ ordered lines"),
        ("Revenue from recommendations", f"{t['revenue_from_recommendations']:,.0f}",
         "orders of items recommended to that shopper in the 7 days before"),
    ]
    by_day = rep.by_day.reset_index() if len(rep.by_day) else None
    charts = []
    if by_day is not None:
        days = [str(d)[:10] for d in by_day["day"]]
        charts.append(("chart-revenue", _fig([{"type": "bar", "x": days, "y": [float(v) for v in by_day["revenue"]],
                                               "name": "revenue", "marker": {"color": "#b0413e"}}], "Revenue per day")))
        charts.append(("chart-conversion", _fig([{"type": "scatter", "mode": "lines", "x": days,
                                                  "y": [None if v != v else float(v) for v in by_day["conversion"]],
                                                  "name": "conversion"}], "Conversion per day",
                                                yaxis={"tickformat": ".1%"})))
    slots = rep.by_slot.reset_index().to_dict(orient="records") if len(rep.by_slot) else []
    if slots:
        charts.append(("chart-slots", _fig([{"type": "bar", "x": [s["slot"] for s in slots],
                                             "y": [float(s["click_rate"] or 0) for s in slots], "name": "click rate"}],
                                           "Click rate by slot", yaxis={"tickformat": ".1%"})))
    return render(request, "overview.html", {"cards": cards, "charts": charts, "slots": slots, "totals": t}, info=info)


# ---------------------------------------------------------------------------------------------- segments
@router.get("/segments", response_class=HTMLResponse)
def segments(request: Request) -> Response:
    info = current(request, "view_segments")
    con = console_of(request)
    model = con.segments.current()
    chart = None
    rows: list[dict[str, Any]] = []
    if model is not None:
        rows = [{**s, "growth_text": "—" if s["growth"] is None else f"{s['growth'] * 100:+.0f} %"}
                for s in model.summary()]
        xs = [float(c[0]) for c in model.centroids]
        ys = [float(c[1]) if len(c) > 1 else 0.0 for c in model.centroids]
        chart = _fig([{"type": "scatter", "mode": "markers+text", "x": xs, "y": ys,
                       "text": [s.label for s in model.segments], "textposition": "top center", "cliponaxis": False,
                       "customdata": [s.segment_id for s in model.segments],
                       "marker": {"size": [max(14, min(80, (s.share ** 0.5) * 140)) for s in model.segments],
                                  "color": list(range(model.k)), "colorscale": "Viridis", "opacity": 0.7},
                       "hovertemplate": "%{text}<extra></extra>"}],
                     "Segment map (closer = more alike; bubble = size)", xaxis={"visible": False},
                     yaxis={"visible": False}, height=380)
    return render(request, "segments.html", {"model": model, "rows": rows, "chart": chart,
                                             "can_build": info.can("build_segments"),
                                             "version": con.segments.version if model else None}, info=info)


@router.post("/segments/build")
async def build_segments(request: Request) -> Response:
    info = current(request, "build_segments")
    form = await form_of(request, info)
    errors = []
    try:
        k_min, k_max = int(form.get("k_min", "3")), int(form.get("k_max", "8"))
    except ValueError:
        k_min = k_max = 0
        errors.append("number of segments: whole numbers, e.g. from 3 to 8")
    if not errors and not 2 <= k_min <= k_max <= 20:
        errors.append("number of segments: at least 2, at most 20, and 'from' no larger than 'to'")
    con = console_of(request)
    if errors:
        return render(request, "segments.html", {"model": con.segments.current(), "rows": [], "chart": None,
                                                 "can_build": True, "errors": errors}, info=info, status_code=422)
    model = con.segments.build(k_min=k_min, k_max=k_max)
    con.merchandising.invalidate()
    con.auth.audit(info.email, info.role, "build_segments", f"k={model.k}", True)
    return _see_other("/console/segments")


@router.get("/segments/{segment_id}", response_class=HTMLResponse)
def segment_detail(request: Request, segment_id: str) -> Response:
    info = current(request, "view_segments")
    con = console_of(request)
    model = con.segments.require()
    seg = model.segment(segment_id)
    members = model.members_of(segment_id)
    items = con.container.stores.catalog.get_items(seg.typical_items[:12])
    typical = [items[i] for i in seg.typical_items[:12] if i in items]
    sample = [{"id": u, "label": _pseudo(u), "tags": model.member_tags.get(u, [])[:3]} for u in members[:25]]
    return render(request, "segment.html", {"seg": seg, "typical": typical, "sample": sample, "n": len(members),
                                            "profile": sorted(seg.profile.items(), key=lambda kv: -abs(kv[1]))[:10]},
                  info=info)


# ---------------------------------------------------------------------------------------------- inspector
def _float_or_none(raw: str | None, label: str, lo: float, hi: float, problems: list[str]) -> float | None:
    if raw is None or not raw.strip():
        return None
    try:
        v = float(raw)
        if not lo <= v <= hi:
            raise ValueError
        return v
    except ValueError:
        problems.append(f"{label}: a number between {lo:g} and {hi:g}, or empty")
        return None


@router.get("/inspector", response_class=HTMLResponse)
def inspector(request: Request, user_id: str = "", slot: str = "home", temperature: str = "", rain: str = "",
              day: str = "") -> Response:
    info = current(request, "view_inspector")
    con = console_of(request)
    stores = con.container.stores
    ctx_out: dict[str, Any] = {"user_id": user_id, "slot": slot, "temperature": temperature, "rain": rain, "day": day,
                               "slots": SLOTS, "errors": [], "recs": None, "whatif": None}
    if not user_id.strip():
        ctx_out["examples"] = [u for _, u in zip(range(5), stores.users.iter_user_ids(), strict=False)]
        return render(request, "inspector.html", ctx_out, info=info)
    problems: list[str] = []
    privacy = con.container.privacy
    if privacy is not None:
        # A pasted pseudonym (p1_…) is used as is; the shop's customer id is pseudonymised like at the API.
        try:
            user_id = privacy.resolve_operator_input(user_id)
        except InvalidInput as exc:
            ctx_out["errors"] = [f"shopper: {exc.message}"]
            return render(request, "inspector.html", ctx_out, info=info, status_code=422)
        ctx_out["pseudonym"] = user_id
    if slot not in SLOTS:
        problems.append(f"slot: choose one of {', '.join(SLOTS)}")
    temp = _float_or_none(temperature, "temperature (°C)", -40, 50, problems)
    rain_mm = _float_or_none(rain, "rain (mm)", 0, 300, problems)
    day_v: date | None = None
    if day.strip():
        try:
            day_v = date.fromisoformat(day.strip())
        except ValueError:
            problems.append("day: a date like 2026-07-15, or empty for today")
    user = stores.users.get_user(user_id)
    if user is None and not stores.events.scan(user_id=user_id, limit=1):
        problems.append(f"shopper: no shopper {ctx_out['user_id']!r}; paste a pseudonymous id from the Segments page "
                        "or the shop's customer id")
    ctx_out["errors"] = problems
    if problems:
        return render(request, "inspector.html", ctx_out, info=info, status_code=422)
    traits = dict(user.traits) if user else {}
    shown_traits = redact_for(info.role, {**traits, **({"city": user.city} if user and user.city else {})})
    ctx_out["traits"] = shown_traits
    ctx_out["hidden_traits"] = len(traits) + (1 if user and user.city else 0) - len(shown_traits)
    ctx_out["profile"] = con.profiles.profile(user_id)
    seg = con.segments.segment_of(user_id)
    model = con.segments.current()
    ctx_out["segment"] = (model.segment(seg), model.explain(user_id)) if seg and model else None
    history = stores.events.scan(user_id=user_id)[-12:]
    hist_items = stores.catalog.get_items([e.item_id for e in history if e.item_id])
    ctx_out["history"] = [(e, hist_items.get(e.item_id or "")) for e in reversed(history)]
    rs = con.container.recommendations
    try:
        base = rs.recommend(user_id, slot=slot, k=8, context=Context(slot=slot, city=user.city if user else None),
                            log_impression=False)
        ctx_out["recs"] = _with_items(stores, base.items)
        if temp is not None or rain_mm is not None or day_v is not None:
            what = Context(slot=slot, city=user.city if user else None, temperature_c=temp, rain_mm=rain_mm, day=day_v)
            ctx_out["whatif"] = _with_items(stores, rs.recommend(user_id, slot=slot, k=8, context=what,
                                                                 log_impression=False).items)
    except NotTrained as exc:
        ctx_out["not_trained"] = exc.message
    return render(request, "inspector.html", ctx_out, info=info)


def _with_items(stores: Any, scored: Any) -> list[tuple[Any, Any]]:
    items = stores.catalog.get_items([s.item_id for s in scored])
    return [(s, items.get(s.item_id)) for s in scored]


# ---------------------------------------------------------------------------------------------- merchandising
def _merch_page(request: Request, info: SessionInfo, *, errors: list[str] | None = None,
                form: dict[str, str] | None = None, status_code: int = 200) -> Response:
    con = console_of(request)
    model = con.segments.current()
    segs = [(s.segment_id, s.label) for s in model.segments] if model else []
    return render(request, "merchandising.html", {
        "rules": con.merchandising.list(), "actions": ACTIONS, "slots": SLOTS, "segments": segs,
        "errors": errors or [], "form": form or {}, "can_edit": info.can("edit_merchandising")},
        info=info, status_code=status_code)


@router.get("/merchandising", response_class=HTMLResponse)
def merchandising(request: Request) -> Response:
    return _merch_page(request, current(request, "view_merchandising"))


@router.post("/merchandising")
async def add_rule(request: Request) -> Response:
    info = current(request, "edit_merchandising")
    form = await form_of(request, info)
    con = console_of(request)
    try:
        days = int(form.get("days") or 0)
    except ValueError:
        days = -1
    try:
        rule = con.merchandising.add(action=form.get("action", ""), item_id=form.get("item_id", ""),
                                     slot=form.get("slot", "*"), segment=form.get("segment", "*"), days=days,
                                     note=form.get("note", ""), anchor=form.get("anchor", ""), by=info.email)
    except InvalidInput as exc:
        return _merch_page(request, info, errors=exc.message.split("; "), form=form, status_code=422)
    con.auth.audit(info.email, info.role, "merch_rule_add", f"{rule.action} {rule.item_id or rule.days}", True,
                   f"slot={rule.slot} segment={rule.segment}")
    return _see_other("/console/merchandising")


@router.post("/merchandising/{rule_id}/delete")
async def delete_rule(request: Request, rule_id: str) -> Response:
    info = current(request, "edit_merchandising")
    await form_of(request, info)
    con = console_of(request)
    con.merchandising.delete(rule_id)
    con.auth.audit(info.email, info.role, "merch_rule_delete", rule_id, True)
    return _see_other("/console/merchandising")


@router.get("/stock", response_class=HTMLResponse)
def stock(request: Request) -> Response:
    info = current(request, "view_stock")
    slow, shoppers = console_of(request).insights.slow_stock()
    items = console_of(request).container.stores.catalog.get_items([s.item_id for s in slow])
    rows = [(s, items.get(s.item_id), [(_pseudo(u), u, sc) for u, sc in shoppers.get(s.item_id, [])[:5]])
            for s in slow]
    return render(request, "stock.html", {"rows": rows}, info=info)


# ---------------------------------------------------------------------------------------------- campaigns
def _segment_choices(request: Request) -> list[tuple[str, str, int]]:
    model = console_of(request).segments.current()
    return [(s.segment_id, s.label, s.size) for s in model.segments] if model else []


def _campaigns_page(request: Request, info: SessionInfo, *, errors: list[str] | None = None,
                    form: dict[str, str] | None = None, status_code: int = 200) -> Response:
    con = console_of(request)
    return render(request, "campaigns.html", {
        "campaigns": con.campaigns.list(), "segments": _segment_choices(request), "channels": CHANNEL_PURPOSE,
        "errors": errors or [], "form": form or {}, "can_edit": info.can("edit_campaigns")},
        info=info, status_code=status_code)


@router.get("/campaigns", response_class=HTMLResponse)
def campaigns(request: Request) -> Response:
    return _campaigns_page(request, current(request, "view_campaigns"))


@router.post("/campaigns")
async def create_campaign(request: Request) -> Response:
    info = current(request, "edit_campaigns")
    form = await form_of(request, info)
    values, problems = validate_campaign_form(form, [s for s, _, _ in _segment_choices(request)])
    if problems:
        return _campaigns_page(request, info, errors=problems, form=form, status_code=422)
    con = console_of(request)
    doc = con.campaigns.create(values, by=info.email)
    con.auth.audit(info.email, info.role, "campaign_create", doc.doc_id, True, doc.name)
    return _see_other(f"/console/campaigns/{doc.doc_id}")


@router.get("/campaigns/{campaign_id}", response_class=HTMLResponse)
def campaign_detail(request: Request, campaign_id: str) -> Response:
    info = current(request, "view_campaigns")
    con = console_of(request)
    doc = con.campaigns.get(campaign_id)
    labels = {sid: label for sid, label, _ in _segment_choices(request)}
    ctx: dict[str, Any] = {"c": doc, "d": doc.data, "can_edit": info.can("edit_campaigns"), "preview": None,
                           "outcome": None, "content": [], "segment_label": labels.get(doc.data["segment"])}
    if doc.status == "draft":
        try:
            aud = con.campaigns.audience(campaign_id)
            ctx["preview"] = {"recipients": len(aud.recipients), "holdout": len(aud.holdout),
                              "no_consent": len(aud.no_consent)}
        except FitloopError as exc:
            ctx["preview_error"] = exc.message
    else:
        content = doc.data.get("content", {})
        sample = list(content.items())[:8]
        items = con.container.stores.catalog.get_items([i for _, its in sample for i in its])
        ctx["content"] = [(_pseudo(u), [items.get(i) or i for i in its]) for u, its in sample]
        try:
            ctx["outcome"] = con.campaigns.outcome(campaign_id)
        except FitloopError as exc:
            ctx["outcome_error"] = exc.message
    return render(request, "campaign.html", ctx, info=info)


@router.post("/campaigns/{campaign_id}/launch")
async def launch_campaign(request: Request, campaign_id: str) -> Response:
    info = current(request, "edit_campaigns", f"campaign:{campaign_id}")
    await form_of(request, info)
    con = console_of(request)
    try:
        doc = con.campaigns.launch(campaign_id, by=info.email)
    except Conflict as exc:
        raise InvalidInput(exc.message) from exc
    con.auth.audit(info.email, info.role, "campaign_launch", campaign_id, True,
                   f"{len(doc.data['recipients'])} recipients, {len(doc.data['holdout'])} holdout, "
                   f"{doc.data['no_consent']} without consent excluded")
    return _see_other(f"/console/campaigns/{campaign_id}")


@router.get("/campaigns/{campaign_id}/export.csv")
def export_campaign(request: Request, campaign_id: str) -> Response:
    info = current(request, "edit_campaigns", f"campaign:{campaign_id}")
    con = console_of(request)
    privacy = con.container.privacy
    # The shop's customer ids are identity data (L1): only roles that may see L1 get that column; marketers keep
    # the pseudonyms, which the shop's own systems cannot map to people without asking an admin.
    lookup = privacy.customer_id if privacy is not None and can_see(info.role, Tier.L1) else None
    text, dropped = con.campaigns.export(campaign_id, customer_id=lookup)
    notes = [f"{dropped} dropped for withdrawn consent"] if dropped else []
    if lookup is not None:
        notes.append("with customer ids (L1)")
    con.auth.audit(info.email, info.role, "campaign_export", campaign_id, True, "; ".join(notes))
    return Response(text, media_type="text/csv", headers={
        "Content-Disposition": f'attachment; filename="campaign-{campaign_id}.csv"'})


# ---------------------------------------------------------------------------------------------- experiments
def _experiments_page(request: Request, info: SessionInfo, *, errors: list[str] | None = None,
                      form: dict[str, str] | None = None, preflight: dict[str, Any] | None = None,
                      preflight_error: str | None = None, status_code: int = 200) -> Response:
    con = console_of(request)
    launched = [c for c in con.campaigns.list() if c.status == "launched"]
    running = con.experiments.splits.current() if con.experiments.splits is not None else None
    return render(request, "experiments.html", {
        "experiments": con.experiments.list(), "errors": errors or [], "form": form or {},
        "can_edit": info.can("edit_experiments"), "strategies": STRATEGIES, "campaigns": launched,
        "live_strategies": _live_strategies(request), "slots": SLOTS, "running_split": running,
        "preflight": preflight, "preflight_error": preflight_error}, info=info, status_code=status_code)


def _live_strategies(request: Request) -> dict[str, str]:
    """Strategies the serving configuration can switch to per request (see services/traffic_split.py)."""
    policies = console_of(request).container.recommendations.policies
    return available_strategies(policies.stages() if policies is not None else None)


@router.get("/experiments", response_class=HTMLResponse)
def experiments(request: Request) -> Response:
    return _experiments_page(request, current(request, "view_experiments"))


@router.post("/experiments")
async def create_experiment(request: Request) -> Response:
    info = current(request, "edit_experiments")
    form = await form_of(request, info)
    values, problems = parse_plan_form(form)
    con = console_of(request)
    live_traffic = values["kind"] == "strategy" and form.get("traffic") == "live"
    live: dict[str, Any] = {}
    if live_traffic:
        live, live_problems = parse_live_form(form, _live_strategies(request), SLOTS)
        problems += live_problems
    if not problems and live_traffic:
        try:
            doc = con.experiments.start_live(values, live, by=info.email)
        except (Conflict, InvalidInput) as exc:
            problems.append(f"live traffic: {exc.message}")
        else:
            con.auth.audit(info.email, info.role, "experiment_create", doc.doc_id, True,
                           f"{doc.name}; live split {live['arms']['A']} / {live['arms']['B']} "
                           f"at {live['share_b'] * 100:.0f} % to B")
            return _see_other(f"/console/experiments/{doc.doc_id}")
    if not problems and values["campaign_id"]:
        try:
            if con.campaigns.get(values["campaign_id"]).status != "launched":
                problems.append("campaign: launch the campaign before measuring it")
        except NotFound:
            problems.append("campaign: choose one of the listed campaigns")
    if problems:
        return _experiments_page(request, info, errors=problems, form=form, status_code=422)
    doc = con.experiments.create(values, by=info.email)
    con.auth.audit(info.email, info.role, "experiment_create", doc.doc_id, True, doc.name)
    return _see_other(f"/console/experiments/{doc.doc_id}")


@router.post("/experiments/preflight", response_class=HTMLResponse)
async def preflight(request: Request) -> Response:
    info = current(request, "view_experiments")
    form = await form_of(request, info)
    try:
        result = console_of(request).experiments.preflight(form.get("strategy", ""))
    except InvalidInput as exc:
        return _experiments_page(request, info, preflight_error=exc.message, status_code=422)
    return _experiments_page(request, info, preflight=result)


def _experiment_page(request: Request, info: SessionInfo, experiment_id: str, *, errors: list[str] | None = None,
                     form: dict[str, str] | None = None, status_code: int = 200) -> Response:
    con = console_of(request)
    doc = con.experiments.get(experiment_id)
    res = con.experiments.result(dict(doc.data))
    looks = doc.data.get("looks", [])
    chart = None
    if looks:
        xs = list(range(1, len(looks) + 1))
        chart = _fig([{"type": "scatter", "mode": "lines+markers", "x": xs,
                       "y": [lk["x_a"] / lk["n_a"] for lk in looks], "name": "A (control)"},
                      {"type": "scatter", "mode": "lines+markers", "x": xs,
                       "y": [lk["x_b"] / lk["n_b"] for lk in looks], "name": "B (treatment)"}],
                     "Conversion at each look", yaxis={"tickformat": ".1%"}, xaxis={"title": {"text": "look"}})
    live = doc.data.get("live")
    live_arms = next((lk["arms"] for lk in reversed(looks) if lk.get("arms")), None) if live else None
    return render(request, "experiment.html", {"e": doc, "d": doc.data, "res": res, "looks": looks, "chart": chart,
                                               "errors": errors or [], "form": form or {},
                                               "can_edit": info.can("edit_experiments"), "live": live,
                                               "live_arms": live_arms, "strategy_labels": {
                                                   k: v.label for k, v in LIVE_STRATEGIES.items()},
                                               "live_revenue": next((lk.get("revenue") for lk in reversed(looks)
                                                                     if lk.get("source") == "live"), None)},
                  info=info, status_code=status_code)


@router.get("/experiments/{experiment_id}", response_class=HTMLResponse)
def experiment_detail(request: Request, experiment_id: str) -> Response:
    return _experiment_page(request, current(request, "view_experiments"), experiment_id)


@router.post("/experiments/{experiment_id}/live/refresh")
async def refresh_live(request: Request, experiment_id: str) -> Response:
    """A look read from live traffic: exposures from the impression log, outcomes from the event log."""
    info = current(request, "edit_experiments", f"experiment:{experiment_id}")
    await form_of(request, info)
    con = console_of(request)
    try:
        doc = con.experiments.look_from_live(experiment_id)
    except InvalidInput as exc:
        return _experiment_page(request, info, experiment_id, errors=[exc.message], status_code=422)
    con.auth.audit(info.email, info.role, "experiment_look", experiment_id, True, f"live traffic; {doc.status}")
    return _see_other(f"/console/experiments/{experiment_id}")


@router.post("/experiments/{experiment_id}/live/end")
async def end_live(request: Request, experiment_id: str) -> Response:
    """End the live split: every process serves normally again within a second."""
    info = current(request, "edit_experiments", f"experiment:{experiment_id}")
    await form_of(request, info)
    con = console_of(request)
    con.experiments.end_live(experiment_id, by=info.email)
    con.auth.audit(info.email, info.role, "experiment_end", experiment_id, True, "live split ended")
    return _see_other(f"/console/experiments/{experiment_id}")


@router.post("/experiments/{experiment_id}/looks")
async def add_look(request: Request, experiment_id: str) -> Response:
    info = current(request, "edit_experiments", f"experiment:{experiment_id}")
    form = await form_of(request, info)
    con = console_of(request)
    doc = con.experiments.get(experiment_id)
    if doc.data.get("live"):
        raise InvalidInput("this experiment reads its numbers from live traffic: use 'Read the latest numbers'")
    if form.get("from_campaign") and doc.data.get("campaign_id"):
        con.experiments.look_from_campaign(experiment_id, con.campaigns.get(doc.data["campaign_id"]))
    else:
        counts, problems = parse_look_form(form)
        if problems:
            return _experiment_page(request, info, experiment_id, errors=problems, form=form, status_code=422)
        try:
            con.experiments.add_look(experiment_id, counts)
        except InvalidInput as exc:
            return _experiment_page(request, info, experiment_id, errors=[exc.message], form=form, status_code=422)
    con.auth.audit(info.email, info.role, "experiment_look", experiment_id, True)
    return _see_other(f"/console/experiments/{experiment_id}")


# ---------------------------------------------------------------------------------------------- coupon targeting
def _coupons(request: Request) -> CouponTargetingService:
    svc = console_of(request).coupons
    if svc is None:  # pragma: no cover - console_of always builds it
        raise NotTrained("coupon targeting is not part of this server")
    return svc


def _targeting(request: Request, params: dict[str, str]) -> tuple[dict[str, Any], list[str], Any]:
    """Parse the form and score the audience; returns ``(values, problems, result or None)``."""
    svc = _coupons(request)
    trials = svc.trials()
    values, problems = parse_targeting_form(params, [t for t, _ in trials], [s for s, _, _ in _segment_choices(request)])
    values["trials"] = trials
    if problems:
        return values, problems, None
    try:
        result = svc.target(values["trial"], values["segment"], values["channel"], discount=values["discount"],
                            margin=values["margin"], share=values["share"])
    except InvalidInput as exc:
        return values, [exc.message], None
    return values, [], result


def _targeting_charts(ev: Any) -> list[tuple[str, str]]:
    pct = [x * 100 for x in ev.qini_x]
    qini = [{"type": "scatter", "mode": "lines", "x": pct, "y": ev.qini_model, "name": "uplift model",
             "line": {"color": "#b0413e", "width": 3}},
            {"type": "scatter", "mode": "lines", "x": pct, "y": ev.qini_random, "name": "random targeting",
             "line": {"color": "#888", "dash": "dot"}}]
    if ev.qini_oracle is not None:
        qini.append({"type": "scatter", "mode": "lines", "x": pct, "y": ev.qini_oracle,
                     "name": "oracle (true uplift)", "line": {"color": "#2e7d32", "dash": "dash"}})
    legend = {"orientation": "h", "y": -0.3}
    charts = [("chart-qini", _fig(qini, "Qini curve (held-out shoppers)", xaxis={"title": {"text": "% targeted"}},
                                  yaxis={"title": {"text": "extra buyers"}}, height=340, legend=legend))]
    if ev.true_uplift_model is not None:
        ux = [x * 100 for x in ev.uplift_x]
        charts.append(("chart-uplift", _fig([
            {"type": "scatter", "mode": "lines", "x": ux, "y": ev.true_uplift_model, "name": "uplift model",
             "line": {"color": "#b0413e", "width": 3}},
            {"type": "scatter", "mode": "lines", "x": ux, "y": [ev.true_uplift_mean] * len(ux), "name": "random",
             "line": {"color": "#888", "dash": "dot"}},
            {"type": "scatter", "mode": "lines", "x": ux, "y": ev.true_uplift_oracle, "name": "oracle",
             "line": {"color": "#2e7d32", "dash": "dash"}}],
            "True uplift of those targeted", xaxis={"title": {"text": "% targeted"}},
            yaxis={"tickformat": ".1%"}, height=340, legend=legend)))
    shares = [s * 100 for s in ev.shares]
    profit = [{"type": "bar", "x": shares, "y": ev.profit, "name": "observed (held out)",
               "marker": {"color": ["#b0413e" if abs(s - ev.recommended_share) < 1e-9 else "#d9a7a5"
                                    for s in ev.shares]}}]
    if ev.true_profit is not None:
        profit.append({"type": "scatter", "mode": "lines+markers", "x": shares, "y": ev.true_profit,
                       "name": "true (simulated)", "line": {"color": "#2e7d32"}})
    charts.append(("chart-profit", _fig(profit, "Profit per 1,000 shoppers",
                                        xaxis={"title": {"text": "% targeted"}}, height=340, legend=legend)))
    return charts


@router.get("/coupons", response_class=HTMLResponse)
def coupons(request: Request) -> Response:
    """Coupon targeting: who buys only with the coupon, judged on held-out shoppers, and whom to send it."""
    info = current(request, "view_campaigns")
    params = {k: v for k, v in request.query_params.items()}
    ctx: dict[str, Any] = {"segments": _segment_choices(request), "channels": CHANNEL_PURPOSE, "form": params,
                           "can_export": info.can("edit_campaigns"), "result": None, "charts": [], "errors": []}
    values, problems, result = _targeting(request, params)
    ctx["trials"] = values["trials"]
    if not values["trials"]:
        return render(request, "coupons.html", ctx, info=info)
    if params and problems:
        ctx["errors"] = problems
        return render(request, "coupons.html", ctx, info=info, status_code=422)
    if result is not None:
        ctx["result"] = result
        ctx["v"] = values
        ctx["top"] = [(_pseudo(u), s) for u, s in result.targets[:15]]
        ctx["charts"] = _targeting_charts(result.evaluation)
        ctx["query"] = urlencode({k: v for k, v in params.items() if v} or {"trial": values["trial"]})
    elif problems:
        ctx["errors"] = problems
    return render(request, "coupons.html", ctx, info=info)


@router.get("/coupons/export.csv")
def export_coupons(request: Request) -> Response:
    """The targeted shoppers (pseudonymous ids, consent for the channel checked again now) as CSV."""
    info = current(request, "edit_campaigns", "coupons:export")
    params = {k: v for k, v in request.query_params.items()}
    values, problems, result = _targeting(request, params)
    if problems or result is None:
        raise InvalidInput("; ".join(problems) or "nothing to export")
    label = f"coupon-{values['trial'].replace(':', '-')}"
    text = _coupons(request).export(result, label=label)
    n = text.count("\n") - 1
    console_of(request).auth.audit(info.email, info.role, "coupon_export", values["trial"], True,
                                   f"{n} shoppers, channel {values['channel']}, segment {values['segment']}, "
                                   f"share {result.share * 100:.0f} %")
    return Response(text, media_type="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{label}.csv"'})


# ---------------------------------------------------------------------------------------------- compliance & users
@router.get("/compliance", response_class=HTMLResponse)
def compliance(request: Request) -> Response:
    info = current(request, "view_compliance")
    con = console_of(request)
    from fitloop.privacy.ropa import records_of_processing

    privacy = getattr(con.container, "privacy", None)
    alerts = pauses = drops = None
    if privacy is not None:  # the privacy service runs the compliance monitor for this process
        privacy.sync_pauses(force=True)
        alerts = privacy.alerts(limit=50)
        pauses = [str(p) for p in privacy.monitor.pauses()]
        drops = privacy.drop_counts()
    stores = con.container.stores
    sources = stores.sources.list() if stores.sources is not None else []
    quarantined = stores.quarantine.count() if stores.quarantine is not None else 0
    return render(request, "compliance.html", {
        "alerts": alerts, "pauses": pauses, "drops": drops, "sources": sources, "quarantined": quarantined,
        "consent": con.insights.consent_rates(), "ropa": records_of_processing(con.insights.manifest),
        "audit": con.auth.audit_log(limit=50) if info.can("view_audit") else [],
        "can_resume": info.can("manage_pauses")}, info=info)


@router.post("/compliance/resume")
async def resume_pause(request: Request) -> Response:
    info = current(request, "manage_pauses")
    form = await form_of(request, info)
    con = console_of(request)
    privacy = getattr(con.container, "privacy", None)
    if privacy is None:
        raise NotTrained("the privacy service is not part of this server; nothing to resume")
    key = (form.get("key") or "").strip()
    if not key:
        raise InvalidInput("key: choose the paused collection to resume")
    privacy.resume(key, by=info.email)
    con.auth.audit(info.email, info.role, "resume_collection", key, True)
    return _see_other("/console/compliance")


@router.get("/users", response_class=HTMLResponse)
def users(request: Request) -> Response:
    info = current(request, "manage_users")
    return render(request, "users.html", {"users": console_of(request).auth.users(), "roles": ROLES, "errors": [],
                                          "form": {}, "permissions": PERMISSIONS}, info=info)


@router.post("/users")
async def add_user(request: Request) -> Response:
    info = current(request, "manage_users")
    form = await form_of(request, info)
    con = console_of(request)
    try:
        user = con.auth.add_user(form.get("email", ""), form.get("role", ""), form.get("password", ""))
    except (InvalidInput, Conflict) as exc:
        return render(request, "users.html", {"users": con.auth.users(), "roles": ROLES,
                                              "errors": exc.message.split("; "), "form": form,
                                              "permissions": PERMISSIONS}, info=info, status_code=422)
    con.auth.audit(info.email, info.role, "user_add", user.email, True, f"role={user.role}")
    return _see_other("/console/users")
