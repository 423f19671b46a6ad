"""The trained recommendation pipeline: recall from many sources, rank with LambdaRank, serve fast.

Training (:func:`train_recommender`) fits every candidate source on behaviour before the
cut-off, learns the ranker on the last ``ranker.label_weeks`` weeks (for each of those weeks the
sources are refitted on the data before it and the week's purchases are the labels), then
ranks the candidates of every shopper to serve and keeps the best ``store_n`` per shopper.

Serving (:meth:`Recommender.recommend`) walks that precomputed list and the popularity lists with
the caller's filters: plain Python over a few dozen integers, no pandas, well under a millisecond.

>>> import pandas as pd
>>> from fitloop.data import make_interactions
>>> items = pd.DataFrame({"item_id": list("abcdef"), "product_type": list("xxyyzz"), "title": list("ABCDEF")})
>>> ev = make_interactions(["u1", "u1", "u2", "u2", "u3"], ["a", "c", "a", "c", "a"],
...                        ["2024-01-01", "2024-01-02", "2024-01-01", "2024-01-02", "2024-01-03"])
>>> rec = train_recommender(ev, items, RecommenderConfig(als=None, content=None))
>>> [(s.item_id, s.reason) for s in rec.recommend("u3", k=2)]
[('a', 'bought before'), ('c', 'often bought with A')]
>>> rec.recommend("stranger", k=1)[0].reason
"popular this week — we don't know you yet"
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from fitloop.data import Context, ScoredItem
from fitloop.errors import InvalidInput, NotTrained
from fitloop.recommend import explain
from fitloop.recommend.candidates import (
    SOURCE_PRIORITY,
    ALSCandidates,
    ALSConfig,
    BPRCandidates,
    BPRConfig,
    ContentCandidates,
    ContentConfig,
    CoPurchaseCandidates,
    CoPurchaseConfig,
    CoViewCandidates,
    CoViewConfig,
    PopularCandidates,
    PopularConfig,
    RepeatCandidates,
    RepeatConfig,
    SameStyleCandidates,
    SameStyleConfig,
    SequenceCandidates,
    SequenceHookConfig,
)
from fitloop.recommend.features import build_features, feature_columns
from fitloop.recommend.frames import DAY, TrainData, check_items
from fitloop.recommend.ranker import LambdaRanker, RankerConfig

__all__ = ["RecommenderConfig", "Recommender", "train_recommender", "candidate_recall", "DEFAULT_EVENT_WEIGHTS"]

DEFAULT_EVENT_WEIGHTS: dict[str, float] = {
    "order_completed": 1.0,
    "cart_added": 0.5,
    "favourited": 0.4,
    "product_clicked": 0.15,
    "product_viewed": 0.1,
    "dwell": 0.05,
    "product_returned": -0.5,
}

_FALLBACK_WEIGHTS: dict[str, float] = {"repeat": 3.0, "style": 1.5, "copurchase": 1.5, "coview": 1.0, "sequence": 1.0,
                                       "content": 0.5, "als": 1.0, "bpr": 1.0, "popular": 1.0}


@dataclass(frozen=True)
class RecommenderConfig:
    """Every component's config; ``None`` switches a candidate source off.

    ``store_n``: ranked items kept per shopper; ``homogeneity_cap``: the largest share of a list
    that may have the product type of the shopper's last item (1.0 switches the cap off);
    ``fallback_weights``: rank-fusion weights used when the ranker is off or had no labels.
    """

    repeat: RepeatConfig | None = field(default_factory=RepeatConfig)
    copurchase: CoPurchaseConfig | None = field(default_factory=CoPurchaseConfig)
    coview: CoViewConfig | None = field(default_factory=CoViewConfig)
    als: ALSConfig | None = field(default_factory=ALSConfig)
    bpr: BPRConfig | None = None
    content: ContentConfig | None = field(default_factory=ContentConfig)
    style: SameStyleConfig | None = field(default_factory=SameStyleConfig)
    popular: PopularConfig = field(default_factory=PopularConfig)
    sequence: SequenceHookConfig = field(default_factory=SequenceHookConfig)
    ranker: RankerConfig = field(default_factory=RankerConfig)
    event_weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_EVENT_WEIGHTS))
    target_kinds: tuple[str, ...] = ("order_completed",)
    store_n: int = 60
    max_k: int = 100
    homogeneity_cap: float = 0.25
    week_days: int = 7
    fallback_weights: Mapping[str, float] = field(default_factory=lambda: dict(_FALLBACK_WEIGHTS))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (tuples become lists)."""
        return json.loads(json.dumps(asdict(self)))

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RecommenderConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise :class:`InvalidInput`."""
        hints = {f.name: f for f in fields(cls)}
        unknown = sorted(set(d) - set(hints))
        if unknown:
            raise InvalidInput(f"unknown recommender config keys {unknown}; known: {sorted(hints)}")
        types = {"repeat": RepeatConfig, "copurchase": CoPurchaseConfig, "coview": CoViewConfig, "als": ALSConfig,
                 "bpr": BPRConfig, "content": ContentConfig, "style": SameStyleConfig, "popular": PopularConfig,
                 "sequence": SequenceHookConfig, "ranker": RankerConfig}
        kw: dict[str, Any] = {}
        for k, v in d.items():
            if k in types:
                kw[k] = None if v is None else _dc_from_dict(types[k], v)
            elif k == "target_kinds":
                kw[k] = tuple(v)
            else:
                kw[k] = v
        return cls(**kw)


def _dc_from_dict(tp: Any, d: Mapping[str, Any]) -> Any:
    names = {f.name for f in fields(tp)}
    unknown = sorted(set(d) - names)
    if unknown:
        raise InvalidInput(f"unknown keys {unknown} for {tp.__name__}; known: {sorted(names)}")
    return tp(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


def _build_sources(cfg: RecommenderConfig) -> list[Any]:
    out: list[Any] = []
    if cfg.repeat is not None:
        out.append(RepeatCandidates(cfg.repeat))
    if cfg.style is not None:
        out.append(SameStyleCandidates(cfg.style))
    if cfg.copurchase is not None:
        out.append(CoPurchaseCandidates(cfg.copurchase))
    if cfg.coview is not None:
        out.append(CoViewCandidates(cfg.coview))
    if cfg.sequence.enabled:
        out.append(SequenceCandidates(cfg.sequence))
    if cfg.content is not None:
        out.append(ContentCandidates(cfg.content))
    if cfg.als is not None:
        out.append(ALSCandidates(cfg.als))
    if cfg.bpr is not None:
        out.append(BPRCandidates(cfg.bpr))
    out.append(PopularCandidates(cfg.popular))
    return out


def generate_candidates(sources: Sequence[Any], user_ids: Sequence[str]) -> pd.DataFrame:
    """Union of every source's candidates: ``user_id, item_id, src_<name>_score/_rank, reason, anchor``."""
    merged: pd.DataFrame | None = None
    for src in sources:
        c = src.candidates(user_ids)
        if c.empty:
            continue
        c = c.assign(rank=c.groupby("user_id", sort=False).cumcount().astype(float))
        c = c.rename(columns={"score": f"src_{src.name}_score", "rank": f"src_{src.name}_rank", "anchor": f"anchor_{src.name}"})
        merged = c if merged is None else merged.merge(c, on=["user_id", "item_id"], how="outer")
    if merged is None:
        return pd.DataFrame({"user_id": [], "item_id": [], "reason": [], "anchor": []})
    names = [s.name for s in sources]
    n = len(merged)
    reason = np.full(n, -1, dtype=np.int64)
    anchor = np.full(n, "", dtype=object)
    for name in reversed([p for p in SOURCE_PRIORITY if p in names]):
        col = f"src_{name}_rank"
        if col not in merged.columns:
            continue
        has = merged[col].notna().to_numpy()
        anchors = merged[f"anchor_{name}"].fillna("").astype(str).to_numpy()
        codes = np.array([explain.reason_code(name, a) for a in anchors[has]], dtype=np.int64)
        reason[has] = codes
        anchor[has] = anchors[has]
    merged["reason"] = reason
    merged["anchor"] = anchor
    merged = merged.drop(columns=[c for c in merged.columns if c.startswith("anchor_")])
    merged["src_n_sources"] = merged[[c for c in merged.columns if c.endswith("_rank")]].notna().sum(axis=1).astype(float)
    return merged.sort_values(["user_id", "item_id"], kind="mergesort").reset_index(drop=True)


def _fit_sources(cfg: RecommenderConfig, data: TrainData) -> list[Any]:
    sources = _build_sources(cfg)
    for s in sources:
        s.train(data)
    return sources


def _content_of(sources: Sequence[Any]) -> ContentCandidates | None:
    return next((s for s in sources if isinstance(s, ContentCandidates)), None)


# Rows of one label week depend only on behaviour before the end of that week, so a rolling
# backtest (which retrains every week) reuses them instead of refitting every source again.
# The cache must hold every label week of one training run plus the weeks the next test week adds:
# evicting in insertion order with fewer entries than label weeks refits nearly every week each time.
_ROWS_CACHE: dict[str, pd.DataFrame | None] = {}
_ROWS_CACHE_SIZE = 160


def _recall_part(cfg: RecommenderConfig) -> RecommenderConfig:
    """The part of the config that shapes training rows (not ranker or serving settings)."""
    return replace(cfg, store_n=0, max_k=0, homogeneity_cap=0.0, fallback_weights={}, ranker=RankerConfig())


def _training_rows(interactions: pd.DataFrame, items: pd.DataFrame, cfg: RecommenderConfig,
                   label_start: pd.Timestamp) -> pd.DataFrame | None:
    week = pd.Timedelta(days=cfg.week_days)
    seen = interactions.loc[interactions["ts"] < label_start + week]
    key = hashlib.sha256(
        pd.util.hash_pandas_object(seen[["user_id", "item_id", "ts", "kind"]], index=False).to_numpy().tobytes()
        + repr((str(label_start), _recall_part(cfg), id(items), len(items))).encode()
    ).hexdigest()
    if key in _ROWS_CACHE:
        return _ROWS_CACHE[key]
    rows = _compute_training_rows(seen, items, cfg, label_start)
    if len(_ROWS_CACHE) >= _ROWS_CACHE_SIZE:
        _ROWS_CACHE.pop(next(iter(_ROWS_CACHE)))
    _ROWS_CACHE[key] = rows
    return rows


def _compute_training_rows(interactions: pd.DataFrame, items: pd.DataFrame, cfg: RecommenderConfig,
                           label_start: pd.Timestamp) -> pd.DataFrame | None:
    week = pd.Timedelta(days=cfg.week_days)
    data = TrainData.build(interactions, items, label_start, dict(cfg.event_weights), cfg.target_kinds)
    if data.purchases.empty:
        return None
    lab = interactions.loc[((interactions["ts"] >= label_start) & (interactions["ts"] < label_start + week)).to_numpy()
                           & np.isin(interactions["kind"].to_numpy(dtype=object), list(cfg.target_kinds))]
    known = set(data.events["user_id"].unique())
    buyers = sorted(set(lab["user_id"].unique()) & known)
    if not buyers:
        return None
    sources = _fit_sources(cfg, data)
    cands = generate_candidates(sources, buyers)
    if cands.empty:
        return None
    pos = set(zip(lab["user_id"], lab["item_id"], strict=True))
    cands["label"] = [int((u, i) in pos) for u, i in zip(cands["user_id"], cands["item_id"], strict=True)]
    has_pos = cands.groupby("user_id")["label"].transform("max") > 0
    cands = cands.loc[has_pos]
    if cands.empty:
        return None
    feats = build_features(cands, data, _content_of(sources))
    return feats.assign(label_week=str(label_start.date()))


@dataclass
class Recommender:
    """A trained pipeline, ready to serve. Build it with :func:`train_recommender` or ``load_bundle``."""

    config: RecommenderConfig
    item_ids: list[str]
    item_titles: list[str]
    item_type: list[int]
    type_names: list[str]
    user_ids: list[str]
    user_indptr: list[int]
    list_items: list[int]
    list_scores: list[float]
    list_reasons: list[int]
    list_anchors: list[int]
    user_last_type: list[int]
    popular: dict[str, tuple[list[int], list[float]]]
    trained_until: str
    created_at: str
    ranker: LambdaRanker | None = None
    feature_importance: dict[str, float] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    version: str = ""
    _user_index: dict[str, int] = field(init=False, repr=False)
    _item_index: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._user_index = {u: i for i, u in enumerate(self.user_ids)}
        self._item_index = {it: i for i, it in enumerate(self.item_ids)}
        if "" not in self.popular:
            raise NotTrained("this recommender has no popularity list; train it with fitloop train")
        if not self.version:
            digest = hashlib.sha256(json.dumps([self.config.to_dict(), self.trained_until, self.created_at,
                                                len(self.list_items)]).encode()).hexdigest()[:8]
            self.version = f"{self.created_at.replace('-', '').replace(':', '')[:15]}Z-{digest}"

    @property
    def policy_version(self) -> str:
        """The version logged with every served list (the bundle version)."""
        return self.version

    def is_known(self, user_id: str) -> bool:
        """True when the shopper has a personal list (else they get the cold-start list)."""
        return user_id in self._user_index

    def _group(self, context: Context | None) -> str:
        if context is None:
            return ""
        seg = context.extra.get("segment") if context.extra else None
        if seg is not None and f"segment:{seg}" in self.popular:
            return f"segment:{seg}"
        if f"channel:{context.channel}" in self.popular:
            return f"channel:{context.channel}"
        if context.channel in ("web", "app", "mobile", "email") and "channel:online" in self.popular:
            return "channel:online"
        return ""

    def recommend(
        self,
        user_id: str,
        k: int = 12,
        context: Context | None = None,
        exclude: Iterable[str] = frozenset(),
        in_stock: Callable[[str], bool] | None = None,
    ) -> list[ScoredItem]:
        """Up to ``k`` items for ``user_id``, best first, each with a score, a reason and propensity 1.0.

        ``exclude`` and items for which ``in_stock(item_id)`` is false are never returned. A shopper
        the model has not seen gets the popular list of the context's channel or segment.
        """
        if not isinstance(k, int) or not 1 <= k <= self.config.max_k:
            raise InvalidInput(f"k must be an integer between 1 and {self.config.max_k}; got {k!r}")
        ids = self.item_ids
        excl = exclude if isinstance(exclude, (set, frozenset)) else set(exclude)
        out: list[ScoredItem] = []
        seen: set[int] = set()
        row = self._user_index.get(user_id)
        types = self.item_type
        last_type = self.user_last_type[row] if row is not None else -1
        cap = k if (self.config.homogeneity_cap >= 1.0 or last_type < 0) else max(1, math.floor(k * self.config.homogeneity_cap))
        same = 0
        held: list[tuple[int, float, int, int]] = []

        def take(it: int, score: float, reason: int, anchor: int, capped: bool) -> bool:
            nonlocal same
            if it in seen:
                return False
            iid = ids[it]
            if iid in excl or (in_stock is not None and not in_stock(iid)):
                seen.add(it)
                return False
            if capped and last_type >= 0 and types[it] == last_type:
                if same >= cap:
                    held.append((it, score, reason, anchor))
                    return False
                same += 1
            seen.add(it)
            title = self.item_titles[anchor] if anchor >= 0 else ""
            out.append(ScoredItem(iid, score, explain.reason_text(reason, title), 1.0, explain.REASON_SOURCES[reason]))
            return True

        if row is not None:
            for j in range(self.user_indptr[row], self.user_indptr[row + 1]):
                if take(self.list_items[j], self.list_scores[j], self.list_reasons[j], self.list_anchors[j], True) and len(out) >= k:
                    return out
            pop_items, pop_scores = self.popular[""]
            reason = explain.POPULAR
        else:
            pop_items, pop_scores = self.popular[self._group(context)]
            reason = explain.POPULAR_COLD
        # Popular items fill what the personal list could not; their scores continue below it.
        floor = out[-1].score if out else 0.0
        for j, it in enumerate(pop_items):
            if take(it, floor - 1e-3 * (j + 1) if row is not None else pop_scores[j], reason, -1, True) and len(out) >= k:
                return out
        for it, score, r, a in held:  # the cap gives way before the list runs short
            if take(it, score, r, a, False) and len(out) >= k:
                return out
        return out

    def recommend_batch(self, user_ids: Iterable[str], k: int = 12, context: Context | None = None) -> dict[str, list[str]]:
        """Item ids for many shoppers (the batch/Kaggle path)."""
        return {u: [s.item_id for s in self.recommend(u, k, context)] for u in user_ids}


def _prepare_events(interactions: pd.DataFrame) -> pd.DataFrame:
    """Interactions with naive UTC timestamps, object-dtype ids and a ``value`` column (what training expects)."""
    missing = [c for c in ("user_id", "item_id", "ts", "kind") if c not in interactions.columns]
    if missing:
        raise InvalidInput(f"interactions lack columns {missing}; build them with fitloop.data.make_interactions")
    ev = interactions
    if not pd.api.types.is_datetime64_any_dtype(ev["ts"]):
        ev = ev.assign(ts=pd.to_datetime(ev["ts"]))
    if getattr(ev["ts"].dt, "tz", None) is not None:
        ev = ev.assign(ts=ev["ts"].dt.tz_convert("UTC").dt.tz_localize(None))
    # Object dtype: pandas' Arrow-backed strings make isin/map/groupby several times slower here.
    ev = ev.assign(user_id=ev["user_id"].astype(str).astype(object), item_id=ev["item_id"].astype(str).astype(object),
                   kind=ev["kind"].astype(str).astype(object))
    if "channel" in ev.columns:
        ev = ev.assign(channel=ev["channel"].astype(str).astype(object))
    if "value" not in ev.columns:
        ev = ev.assign(value=1.0)
    return ev


def candidate_recall(interactions: pd.DataFrame, items: pd.DataFrame, config: RecommenderConfig | None = None,
                     *, week_start: str | pd.Timestamp) -> dict[str, int]:
    """How many of one week's purchases the candidate sources recall at all (before any ranking).

    The sources are fitted on behaviour before ``week_start``; the week's distinct (shopper, item)
    purchases are ``pairs``, those of shoppers with some history ``pairs_known``, and those found
    among the shopper's candidates ``recalled``. No ranker can place an item the recall stage missed,
    so ``recalled / pairs`` bounds the recall of every list. The rows are the same as the ranker's
    training rows for that week, so a rolling backtest gets them from the cache.

    >>> from fitloop.data import make_interactions
    >>> items = pd.DataFrame({"item_id": list("abc"), "title": list("ABC")})
    >>> ev = make_interactions(["u", "u", "v", "u", "u"], ["a", "b", "a", "a", "c"],
    ...                        ["2024-01-01", "2024-01-02", "2024-01-02", "2024-01-09", "2024-01-10"])
    >>> candidate_recall(ev, items, RecommenderConfig(als=None, content=None), week_start="2024-01-08")
    {'pairs': 2, 'pairs_known': 2, 'recalled': 1}

    (``u`` buys ``a`` again, a candidate; ``c`` had never sold, so no source without content similarity finds it.)
    """
    cfg = config or RecommenderConfig()
    items = check_items(items)
    ev = _prepare_events(interactions)
    start = pd.Timestamp(week_start).normalize()
    week = pd.Timedelta(days=cfg.week_days)
    lab = ev.loc[(ev["ts"] >= start).to_numpy() & (ev["ts"] < start + week).to_numpy()
                 & np.isin(ev["kind"].to_numpy(dtype=object), list(cfg.target_kinds))
                 & ev["item_id"].isin(items["item_id"]).to_numpy()]
    pairs = lab[["user_id", "item_id"]].drop_duplicates()
    known = set(ev.loc[ev["ts"] < start, "user_id"].unique())
    rows = _training_rows(ev, items, cfg, start)
    return {"pairs": int(len(pairs)), "pairs_known": int(pairs["user_id"].isin(known).sum()),
            "recalled": 0 if rows is None else int(rows["label"].sum())}


def _default_now(interactions: pd.DataFrame) -> pd.Timestamp:
    if interactions.empty:
        raise InvalidInput("no interactions to train on; record some behaviour (or pass a dataset) first")
    return pd.Timestamp(interactions["ts"].max()).normalize() + DAY


def train_recommender(
    interactions: pd.DataFrame,
    items: pd.DataFrame,
    config: RecommenderConfig | None = None,
    *,
    as_of: str | pd.Timestamp | None = None,
    users: Iterable[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> Recommender:
    """Train the whole pipeline on ``interactions`` up to and including the day ``as_of``.

    ``users`` limits the shoppers who get a precomputed personal list (default: everyone seen);
    anyone else is served the cold-start list. ``progress`` receives short status lines.
    """
    cfg = config or RecommenderConfig()
    say = progress or (lambda _msg: None)
    items = check_items(items)
    ev = _prepare_events(interactions)
    now = (pd.Timestamp(as_of).normalize() + DAY) if as_of is not None else _default_now(ev)
    ev = ev.loc[ev["ts"] < now]
    if ev.empty:
        raise InvalidInput(f"no interactions before {now.date()}; pick a later as-of date")
    week = pd.Timedelta(days=cfg.week_days)

    ranker: LambdaRanker | None = None
    importance: dict[str, float] = {}
    info: dict[str, Any] = {"label_weeks": [], "n_training_rows": 0, "n_training_groups": 0}
    if cfg.ranker.enabled and cfg.ranker.label_weeks > 0:
        parts = []
        for w in range(cfg.ranker.label_weeks, 0, -1):
            start = now - w * week
            say(f"ranker labels: week from {start.date()}")
            rows = _training_rows(ev, items, cfg, start)
            if rows is not None:
                parts.append(rows)
        if parts:
            tr = pd.concat(parts, ignore_index=True)
            tr = tr.sort_values(["label_week", "user_id"], kind="mergesort")
            cols = sorted(feature_columns(tr))
            groups = tr.groupby(["label_week", "user_id"], sort=False).size().tolist()
            if sum(tr["label"]) > 0 and len(groups) >= 2:
                ranker = LambdaRanker(cfg.ranker)
                ranker.train(tr[cols], tr["label"].to_numpy(), groups)
                importance = ranker.feature_importance()
                info.update(label_weeks=sorted(tr["label_week"].unique().tolist()), n_training_rows=int(len(tr)),
                            n_training_groups=len(groups), n_positives=int(tr["label"].sum()))

    say("fitting candidate sources on all data")
    data = TrainData.build(ev, items, now, dict(cfg.event_weights), cfg.target_kinds)
    sources = _fit_sources(cfg, data)
    popular = next(s for s in sources if isinstance(s, PopularCandidates))
    serve = data.users() if users is None else sorted(set(map(str, users)) & set(data.events["user_id"].unique()))
    item_index = data.item_index
    lists_u: list[np.ndarray] = []
    lists_i: list[np.ndarray] = []
    lists_s: list[np.ndarray] = []
    lists_r: list[np.ndarray] = []
    lists_a: list[np.ndarray] = []
    chunk = 2000
    for start in range(0, len(serve), chunk):
        part = serve[start: start + chunk]
        say(f"ranking candidates for shoppers {start + 1}-{start + len(part)} of {len(serve)}")
        cands = generate_candidates(sources, part)
        if cands.empty:
            continue
        if ranker is not None:
            feats = build_features(cands, data, _content_of(sources))
            score = ranker.score(feats)
        else:
            score = np.zeros(len(cands))
            for name, wgt in cfg.fallback_weights.items():
                col = f"src_{name}_rank"
                if col in cands.columns:
                    score += float(wgt) / (1.0 + cands[col].fillna(np.inf).to_numpy())
        cands = cands.assign(score=score).sort_values(["user_id", "score", "item_id"], ascending=[True, False, True],
                                                      kind="mergesort")
        cands = cands.loc[cands.groupby("user_id", sort=False).cumcount() < cfg.store_n]
        lists_u.append(cands["user_id"].to_numpy(dtype=object))
        lists_i.append(cands["item_id"].map(item_index).to_numpy(dtype=np.int64))
        lists_s.append(cands["score"].to_numpy(dtype=np.float64))
        lists_r.append(cands["reason"].to_numpy(dtype=np.int64))
        lists_a.append(cands["anchor"].map(item_index).fillna(-1).to_numpy(dtype=np.int64))
    u_all = np.concatenate(lists_u) if lists_u else np.empty(0, dtype=object)
    user_ids, counts = (np.unique(u_all.astype(str), return_counts=True) if len(u_all) else (np.empty(0, dtype=str), np.empty(0, dtype=np.int64)))
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)

    type_names: list[str] = []
    item_type = np.full(len(items), -1, dtype=np.int64)
    if "product_type" in items.columns:
        codes, uniq = pd.factorize(items["product_type"].fillna("").astype(str), sort=True)
        item_type = codes.astype(np.int64)
        type_names = [str(t) for t in uniq]
    p = data.purchases if not data.purchases.empty else data.events
    last_item = p.sort_values(["ts"], kind="mergesort").drop_duplicates("user_id", keep="last").set_index("user_id")["item_id"]
    last_type = [int(item_type[item_index[last_item[u]]]) if u in last_item.index else -1 for u in user_ids.tolist()]
    pop: dict[str, tuple[list[int], list[float]]] = {}
    for g in popular.groups:
        lst = popular.popular(g, cfg.popular.list_size)
        pop[g] = ([item_index[i] for i, _ in lst], [float(s) for _, s in lst])
    if not pop[""][0]:
        raise InvalidInput("no purchases to learn popularity from; train on data with at least one order")
    return Recommender(
        config=cfg,
        item_ids=items["item_id"].tolist(),
        item_titles=items["title"].tolist(),
        item_type=item_type.tolist(),
        type_names=type_names,
        user_ids=user_ids.tolist(),
        user_indptr=indptr.tolist(),
        list_items=(np.concatenate(lists_i) if lists_i else np.empty(0, np.int64)).tolist(),
        list_scores=(np.concatenate(lists_s) if lists_s else np.empty(0)).tolist(),
        list_reasons=(np.concatenate(lists_r) if lists_r else np.empty(0, np.int64)).tolist(),
        list_anchors=(np.concatenate(lists_a) if lists_a else np.empty(0, np.int64)).tolist(),
        user_last_type=last_type,
        popular=pop,
        trained_until=str((now - DAY).date()),
        created_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
        ranker=ranker,
        feature_importance=importance,
        info={**info, "n_users": len(user_ids), "n_items": len(items), "n_events": int(len(data.events))},
    )

