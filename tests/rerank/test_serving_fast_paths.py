"""The serving stages, made cheaper per request, serve exactly what they served before.

Each reference below is the stage's code before the optimisation (per-request weather lookups and
suitability scoring, sparse similarity slicing, ``dataclasses.replace`` per change, one lock per
candidate); the tests run both on random catalogs, candidate lists and contexts — with exact ties,
duplicates, unknown and out-of-stock items — and require equal results: same items, same order,
same scores to the last bit, same reasons.
"""

from __future__ import annotations

import math
import random
from dataclasses import fields, replace
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from fitloop.catalog import ItemFeatures
from fitloop.catalog.features import FeatureConfig
from fitloop.context.season import FashionCalendar
from fitloop.context.trends import TrendTracker
from fitloop.context.weather import ClimateNormalsProvider, FallbackWeather
from fitloop.data import Context, Event, EventType, Item, ScoredItem, Variant
from fitloop.rerank.bandit import _context_x, context_features
from fitloop.rerank.context_boost import ContextBoost, ContextBoostConfig, item_tags
from fitloop.rerank.diversity import MMRDiversifier, PaddedRows, _difference
from fitloop.rerank.exposure import ExposureMemory, _keys
from fitloop.rerank.policy import eligible, rescored

TYPES = ["Dress", "T-shirt", "Coat", "Shorts", "Sweater", "Swimwear bottom", "Trousers", "Gizmo"]
COLOURS = ["black", "white", "red", "navy", "light beige", ""]
PATTERNS = ["solid", "stripe", "floral", ""]
MATERIALS = ["wool", "linen", "cotton", ""]


def _catalog(rnd: random.Random, n: int = 60) -> dict[str, Item]:
    out = {}
    for i in range(n):
        variants: tuple[Variant, ...] = ()
        if rnd.random() < 0.2:  # some sized items, some of them sold out
            variants = (Variant("M", rnd.choice([0, 3])), Variant("L", rnd.choice([0, 0, 2])))
        out[f"i{i}"] = Item(f"i{i}", f"Item {i}", "c", rnd.choice(TYPES), 20.0, colour=rnd.choice(COLOURS),
                            pattern=rnd.choice(PATTERNS), material=rnd.choice(MATERIALS),
                            style=rnd.choice(["", "casual"]), product_code=f"p{i // 3}", variants=variants)
    return out


def _candidates(rnd: random.Random, catalog: dict[str, Item], m: int) -> list[ScoredItem]:
    ids = rnd.sample(sorted(catalog), m) + ["ghost"]  # an id the catalog does not know
    ids += rnd.sample(ids, 2)  # duplicates
    rnd.shuffle(ids)
    return [ScoredItem(i, 1.0 - k / 40, reason=rnd.choice(["", "popular this week", "bought before"]),
                       propensity=1.0, source=rnd.choice(["popular", "mf"])) for k, i in enumerate(ids)]


# ---------------------------------------------------------------------------------------- references
def _ref_add_reason(item: ScoredItem, text: str) -> ScoredItem:
    if not text or text in item.reason:
        return item
    return replace(item, reason=f"{item.reason}; {text}" if item.reason else text)


def _ref_reorder(items: list[ScoredItem], new_scores: list[float], reasons: list[str], n: int,
                 moved_down_reason: list[str] | None = None) -> list[ScoredItem]:
    order = sorted(range(len(items)), key=lambda i: (-new_scores[i], i))[:n]
    out = []
    for new_rank, i in enumerate(order):
        it = replace(items[i], score=float(new_scores[i]))
        if new_rank < i and reasons[i]:
            it = _ref_add_reason(it, reasons[i])
        elif new_rank > i and moved_down_reason is not None and moved_down_reason[i]:
            it = _ref_add_reason(it, moved_down_reason[i])
        out.append(it)
    return out


def _ref_context_boost(b: ContextBoost, ctx: Context, candidates: list[ScoredItem], n: int) -> list[ScoredItem]:
    items = eligible(ctx, candidates, b.catalog)
    if not items or n == 0:
        return []
    cfg = b.config
    m = max(len(items), cfg.min_span)
    if ctx.temperature_c is not None:
        temp, rain, note = float(ctx.temperature_c), ctx.rain_mm, ""
    elif b.weather is None:
        temp, rain, note = None, None, ""
    else:
        r = b.weather.daily(ctx.city, ctx.day or date.today())
        note = "" if r.source == "open_meteo" else r.reason
        temp, rain = r.temperature_c, r.rain_mm if ctx.rain_mm is None else ctx.rain_mm
    city = ctx.city if ctx.city and temp is not None else None
    if note and "unknown city" in note:
        city = None
    day = ctx.day or date.today()
    region = str((ctx.extra or {}).get("region") or cfg.region or "") or None
    events = b.calendar.active(day, region=region) if b.calendar else []
    now = datetime.combine(day, datetime.min.time()) if ctx.day else None
    scores, up, down = [], [], []
    for rank, c in enumerate(items):
        item = b.catalog.get(c.item_id)
        delta = 0.0
        plus: list[str] = []
        minus: list[str] = []
        if item is not None and temp is not None:
            s = b.model.score(item, temp, rain, city=city)
            if s.known_type or s.beta:
                delta += cfg.weight * s.score
                (plus if s.score > 0 else minus).append(s.reason + (f" ({note})" if note else ""))
        if item is not None and b.trends is not None:
            best_tag, best_v = "", 1.0
            for tag in item_tags(item):
                v = b.trends.velocity(tag, now)
                if v > best_v:
                    best_tag, best_v = tag, v
            if best_v >= cfg.min_velocity:
                delta += cfg.trend_weight * math.tanh(math.log(best_v))
                feeds = ", ".join(sorted(b.trends.sources(best_tag)))
                plus.append(f"trending: {best_tag} ({best_v:.1f}× its usual pace" + (f"; feed: {feeds})" if feeds else ")"))
        if item is not None and events:
            tags = set(item_tags(item))
            for ev in events:
                if tags & set(ev.tags) or (ev.tags and any(b.model.occasion_share(item, t) >= 0.3 for t in ev.tags)):
                    delta += cfg.calendar_weight
                    plus.append(f"for {ev.name}")
                    break
        scores.append(1.0 - rank / m + delta)
        up.append("; ".join(plus))
        down.append("; ".join(minus))
    return _ref_reorder(items, scores, up, n, moved_down_reason=down)


def _ref_exposure(mem: ExposureMemory, ctx: Context, candidates: list[ScoredItem], n: int,
                  user: str) -> list[ScoredItem]:
    items = eligible(ctx, candidates, mem.catalog)
    m = len(items)
    if m == 0 or n == 0:
        return []
    cfg = mem.config
    counts = mem._counts.get(user, {})
    scores, down = [], []
    for rank, c in enumerate(items):
        best, which = 0, ""
        for k in _keys(c.item_id, mem.catalog.get(c.item_id)):
            if counts.get(k, 0) > best:
                best, which = counts[k], k[0]
        what = {"i": "this item", "p": "the same style", "t": "items much like it"}.get(which, "")
        extra = max(0, best - cfg.free_impressions)
        scores.append(1.0 - rank / m - (1.0 - cfg.damping**extra))
        down.append(f"moved down: {what} was shown {best} times without a click" if extra else "")
    return _ref_reorder(items, scores, [""] * m, n, moved_down_reason=down)


def _ref_sparse_similarity(features: ItemFeatures, ids: list[str]) -> np.ndarray:
    known = [i for i in ids if features.has(i)]
    out = np.zeros((len(ids), len(ids)))
    if known:
        pos = [k for k, i in enumerate(ids) if features.has(i)]
        out[np.ix_(pos, pos)] = features.pairwise(known)
    np.fill_diagonal(out, 1.0)
    return out


def _ref_mmr(features: ItemFeatures, lam: float, catalog: dict[str, Item], ctx: Context,
             candidates: list[ScoredItem], n: int, ties: list[int]) -> list[ScoredItem]:
    head = eligible(ctx, candidates, catalog)
    m = len(head)
    k = min(n, m)
    if k == 0:
        return []
    rel = 1.0 - np.arange(m) / m
    sim = _ref_sparse_similarity(features, [c.item_id for c in head])
    chosen: list[int] = []
    scores: list[float] = []
    max_sim = np.zeros(m)
    left = np.ones(m, dtype=bool)
    for _ in range(k):
        val = lam * rel - (1 - lam) * max_sim
        val[~left] = -np.inf
        j = int(np.argmax(val))
        ties.append(int((val == val[j]).sum() > 1))  # an exact tie, broken by position
        chosen.append(j)
        scores.append(float(val[j]))
        left[j] = False
        max_sim = np.maximum(max_sim, sim[j])
    out = []
    for new_rank, i in enumerate(chosen):
        it = replace(head[i], score=float(scores[new_rank]))
        if new_rank < i:
            above = [catalog.get(head[j].item_id) for j in chosen[:new_rank]]
            what = _difference(catalog.get(it.item_id), above)
            it = _ref_add_reason(it, f"adds variety: a different {what} from the items above" if what
                                 else "adds variety to the list")
        elif new_rank > i:
            it = _ref_add_reason(it, "moved down: much like an item above")
        out.append(it)
    return out[:n]


# ---------------------------------------------------------------------------------------- tests
def test_rescored_copies_every_field_of_scored_item() -> None:
    # rescored() spells the fields out for speed: a new field must be added there too.
    assert [f.name for f in fields(ScoredItem)] == ["item_id", "score", "reason", "propensity", "source"]
    it = ScoredItem("a", 1.0, "why", 0.25, "als")
    assert rescored(it) == it
    assert rescored(it, score=2.0, reason="x", propensity=0.5) == ScoredItem("a", 2.0, "x", 0.5, "als")


@pytest.mark.parametrize("seed", range(4))
def test_padded_similarity_is_bit_for_bit_the_sparse_one(seed: int) -> None:
    rnd = random.Random(seed)
    catalog = _catalog(rnd, 200)
    features = ItemFeatures.fit(catalog.values())
    rows = PaddedRows.build(features)
    assert rows is not None
    for _ in range(50):
        ids = rnd.sample(sorted(catalog), rnd.randint(1, 40)) + (["ghost"] if rnd.random() < 0.3 else [])
        rnd.shuffle(ids)
        assert np.array_equal(rows.pairwise(ids), _ref_sparse_similarity(features, ids))


def test_wide_feature_rows_keep_the_sparse_path() -> None:
    items = [Item(f"t{i}", " ".join(f"word{j}" for j in range(i, i + 80)), "c", "Dress", 1.0) for i in range(5)]
    features = ItemFeatures.fit(items, FeatureConfig(text_weight=1.0))
    assert PaddedRows.build(features) is None
    mmr = MMRDiversifier(features, 0.5)
    ids = ["t0", "t3", "t1"]
    assert np.array_equal(mmr.similarity(ids), _ref_sparse_similarity(features, ids))


def _one_hot_catalog(rnd: random.Random, n: int = 60) -> dict[str, Item]:
    # Type, colour and pattern only, from few values (as in the H&M catalog): many equal similarities.
    return {f"h{i}": Item(f"h{i}", f"Item {i}", "c", rnd.choice(TYPES[:4]), 20.0, colour=rnd.choice(COLOURS[:3]),
                          pattern=rnd.choice(PATTERNS[:2])) for i in range(n)}


@pytest.mark.parametrize("lam", [0.0, 0.5, 0.8, 1.0])
@pytest.mark.parametrize("one_hot", [False, True])
def test_mmr_serves_what_the_sparse_reference_served(lam: float, one_hot: bool) -> None:
    rnd = random.Random(int(lam * 10))
    catalog = _one_hot_catalog(rnd) if one_hot else _catalog(rnd)
    features = ItemFeatures.fit(catalog.values())
    mmr = MMRDiversifier(features, lam, catalog=catalog)
    ties: list[int] = []
    for _ in range(150):
        # 24 candidates (k = 12, twice as many recalled, as served) often; other lengths too.
        cands = _candidates(rnd, catalog, 23 if rnd.random() < 0.5 else rnd.randint(2, 30))
        ctx = Context(extra={"exclude": rnd.sample([c.item_id for c in cands], 1)}) if rnd.random() < 0.2 else Context()
        n = rnd.randint(1, 30)
        assert mmr.rerank(ctx, cands, n) == _ref_mmr(features, lam, catalog, ctx, cands, n, ties)
    # Few one-hot attributes make exact ties common; breaking one differently would have shown above.
    assert not one_hot or lam == 1.0 or sum(ties) > 0


def _trends(rnd: random.Random, catalog: dict[str, Item]) -> TrendTracker:
    trends = TrendTracker()
    t0 = datetime(2026, 11, 1)
    ids = sorted(catalog)
    for k in range(400):
        iid = rnd.choice(ids[:15]) if k > 300 else rnd.choice(ids)  # a late burst on a few items
        ev = Event(f"e{k}", EventType.PRODUCT_CLICKED, "u", t0 + timedelta(hours=k), iid)
        trends.learn_one(ev, item_tags(catalog[iid]))
    trends.add_feed_tags(["floral"], source="influencer feed")
    return trends


def _contexts() -> list[Context]:
    return [
        Context(),
        Context(city="Stockholm", day=date(2026, 11, 27)),  # Black Friday: calendar events apply
        Context(city="Shanghai", day=date(2026, 7, 14), temperature_c=28.0, rain_mm=8.0),
        Context(city="Atlantis", day=date(2026, 4, 2)),  # unknown city: season defaults, no city named
        Context(city="London", day=date(2026, 12, 20), extra={"region": "GB"}),
        Context(temperature_c=-5.0),
    ]


@pytest.mark.parametrize("with_trends", [False, True])
def test_context_boost_serves_what_the_per_request_reference_served(with_trends: bool) -> None:
    rnd = random.Random(7 + with_trends)
    catalog = _catalog(rnd)
    trends = _trends(rnd, catalog) if with_trends else None
    version = [0]
    boost = ContextBoost(catalog, weather=FallbackWeather(ClimateNormalsProvider(), budget_ms=500), trends=trends,
                         calendar=FashionCalendar(), trends_version=(lambda: version[0]) if with_trends else None)
    for round_ in range(3):
        for ctx in _contexts():
            for _ in range(15):
                cands = _candidates(rnd, catalog, rnd.randint(1, 30))
                n = rnd.randint(1, 35)
                assert boost.rerank(ctx, cands, n) == _ref_context_boost(boost, ctx, cands, n)
        if trends is not None:  # trends move on; the policy is told, and must follow
            iid = sorted(catalog)[20 + round_]
            for k in range(30):
                trends.learn_one(Event(f"r{round_}-{k}", EventType.PRODUCT_CLICKED, "u", datetime(2026, 11, 20, k % 24),
                                       iid), item_tags(catalog[iid]))
            version[0] += 1


def test_context_boost_without_a_version_never_reuses_velocities() -> None:
    rnd = random.Random(3)
    catalog = _catalog(rnd)
    trends = _trends(rnd, catalog)
    boost = ContextBoost(catalog, trends=trends)  # no trends_version: velocities are read per request
    cands = _candidates(rnd, catalog, 20)
    before = boost.rerank(Context(), cands, 10)
    assert before == _ref_context_boost(boost, Context(), cands, 10)
    iid = next(c.item_id for c in cands if c.item_id in catalog)
    for k in range(60):
        trends.learn_one(Event(f"z{k}", EventType.ORDER_COMPLETED, "u", datetime(2026, 11, 30), iid),
                         item_tags(catalog[iid]))
    assert boost.rerank(Context(), cands, 10) == _ref_context_boost(boost, Context(), cands, 10)


def test_context_boost_memo_follows_a_changed_catalog_item() -> None:
    catalog = {"a": Item("a", "Wool coat", "c", "Coat", 90.0, material="wool"),
               "b": Item("b", "Linen dress", "c", "Dress", 30.0, material="linen")}
    boost = ContextBoost(catalog)
    hot = Context(city="Shanghai", temperature_c=28.0)
    cands = [ScoredItem("a", 1.0), ScoredItem("b", 0.5)]
    assert [s.item_id for s in boost.rerank(hot, cands, 2)] == ["b", "a"]
    catalog["a"] = Item("a", "Linen shorts", "c", "Shorts", 20.0, material="linen")  # same id, new item
    out = boost.rerank(hot, cands, 2)
    assert out == _ref_context_boost(boost, hot, cands, 2)
    assert out[0].item_id == "a"  # scored as the shorts it is now, not as the coat the memo saw


def test_weather_is_asked_once_per_city_and_day_within_the_cache_time() -> None:
    calls: list[tuple[str | None, date]] = []

    class Counting(ClimateNormalsProvider):
        def daily(self, city: str | None, day: date) -> Any:
            calls.append((city, day))
            return super().daily(city, day)

    cands = [ScoredItem("a", 1.0)]
    catalog = {"a": Item("a", "Coat", "c", "Coat", 1.0)}
    cached = ContextBoost(catalog, weather=Counting())
    for _ in range(5):
        cached.rerank(Context(city="Paris", day=date(2026, 1, 5)), cands, 1)
        cached.rerank(Context(city="Rome", day=date(2026, 1, 5)), cands, 1)
    assert calls == [("Paris", date(2026, 1, 5)), ("Rome", date(2026, 1, 5))]
    calls.clear()
    uncached = ContextBoost(catalog, weather=Counting(), config=ContextBoostConfig(lookup_cache_s=0.0))
    for _ in range(3):
        uncached.rerank(Context(city="Paris", day=date(2026, 1, 5)), cands, 1)
    assert len(calls) == 3


@pytest.mark.parametrize("seed", range(3))
def test_exposure_serves_what_the_per_candidate_reference_served(seed: int) -> None:
    rnd = random.Random(seed)
    catalog = _catalog(rnd)
    mem = ExposureMemory(catalog, free_impressions=1, damping=0.6)
    ids = sorted(catalog)
    for k in range(300):
        kind = EventType.IMPRESSION if rnd.random() < 0.85 else EventType.PRODUCT_CLICKED
        mem.learn_one(Event(f"e{k}", kind, rnd.choice(["u1", "u2", "u3"]), datetime(2026, 1, 1), rnd.choice(ids)))
    for _ in range(100):
        user = rnd.choice(["u1", "u2", "u3", "new"])  # "new": nothing shown yet (the no-penalty path)
        cands = _candidates(rnd, catalog, rnd.randint(1, 30))
        n = rnd.randint(0, 35)
        ctx = Context(extra={"user_id": user})
        assert mem.rerank(ctx, cands, n) == _ref_exposure(mem, ctx, cands, n, user)


def test_bandit_context_vector_memo_is_the_plain_vector_and_read_only() -> None:
    for ctx in [*_contexts(), Context(slot="cart", channel="app"), Context(extra={"features": {"price": 2.0}})]:
        x = _context_x(ctx, 16)
        assert np.array_equal(x, context_features(ctx, 16))
        assert _context_x(ctx, 16) is x or ctx.extra.get("features")
        if not ctx.extra.get("features"):
            assert not x.flags.writeable
