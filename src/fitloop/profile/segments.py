"""Segments found in the data: shoppers clustered by what they buy, named in plain words.

Pipeline of :func:`build_segments` (pure: it returns a complete
:class:`SegmentModel` or raises, and never writes anywhere):

1. :func:`user_features` turns events and item attributes into one row per shopper:
   shares of their (weighted) events per tag (``"colour:Black"``, ``"style:casual"`` …;
   the ``top_values`` most common values per attribute) and behaviour measures
   (``price_level``: mean log price paid vs the article type's median; ``discount_share``;
   ``eco_share``; ``frequency``: log of purchase days; ``recency``: days since last event).
   Optional interest vectors (:mod:`fitloop.profile.sequence`) are appended.
2. Standardise, reduce with PCA, cluster with k-means for every k in
   ``[k_min, k_max]``; the data picks k (best silhouette, or lowest BIC of a Gaussian
   mixture with ``selection="bic"``). Deterministic for a given ``rng``.
3. Each cluster gets a label from its most distinguishing tags
   (:mod:`fitloop.profile.segment_labels`), its size, share, growth (members whose first
   event falls in the last ``growth_period_days`` vs the period before), typical items
   (most over-represented among members) and centroid.
4. Stability: adjusted Rand index between this clustering and reruns with other seeds
   and on 80 % subsamples.

>>> import numpy as np, pandas as pd
>>> rows = []
>>> for u in range(40):
...     colour = "Black" if u < 20 else "Pink"
...     for j in range(4):
...         rows.append((f"u{u}", f"{colour[0]}{j}", pd.Timestamp("2024-01-01") + pd.Timedelta(days=j)))
>>> inter = pd.DataFrame(rows, columns=["user_id", "item_id", "ts"])
>>> items = pd.DataFrame({"item_id": [f"{c}{j}" for c in "BP" for j in range(4)],
...                       "colour": ["Black"] * 4 + ["Pink"] * 4})
>>> model = build_segments(inter, items, SegmentConfig(k_max=4, stability_runs=0))
>>> len(model.segments), sorted(s.label for s in model.segments)
(2, ['black', 'pink'])
>>> model.segment_of("u3") == model.segments[model.index_of("u3")].segment_id
True
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np
import pandas as pd

from fitloop.data import Item, check_interactions
from fitloop.errors import InvalidInput, NotFound
from fitloop.profile.segment_labels import BEHAVIOUR_WORDS, distinguishing_tags, label_clusters, tag_words

__all__ = [
    "DEFAULT_TAG_COLUMNS",
    "SegmentConfig",
    "UserFeatures",
    "Segment",
    "SegmentModel",
    "items_frame",
    "user_features",
    "build_segments",
    "clustering_stability",
    "feature_weights",
]

DEFAULT_TAG_COLUMNS: tuple[str, ...] = ("category", "article_type", "colour", "pattern", "material", "style", "occasion")
_FORMAT_VERSION = 1


@dataclass(frozen=True)
class SegmentConfig:
    """How segments are built.

    - ``event_weights``: event kind → weight in the tag shares (purchases only by default).
    - ``tag_columns``: item attributes turned into tags (those present in the items frame are used).
    - ``top_values``/``min_share``: per attribute keep at most ``top_values`` values, each with
      at least ``min_share`` of all weighted events.
    - ``k_min``/``k_max``: range of cluster counts tried; ``selection``: "silhouette" or "bic".
    - ``min_segment_share``: a k whose smallest cluster is below this share of shoppers is skipped.
    - ``n_components``: PCA dimensions (capped by the data); ``interest_weight``: weight of
      the interest vector (all its dimensions together, like one attribute).
    - ``balance_groups``/``column_weights``: see :func:`feature_weights` (e.g.
      ``{"style": 3.0}`` for segments driven mostly by style).
    - ``stability_runs``: reruns (other seeds, and 80 % subsamples) whose ARI is reported.
    """

    event_weights: Mapping[str, float] = field(default_factory=lambda: {"order_completed": 1.0})
    tag_columns: tuple[str, ...] = DEFAULT_TAG_COLUMNS
    top_values: int = 12
    min_share: float = 0.01
    k_min: int = 2
    k_max: int = 10
    selection: str = "silhouette"
    min_segment_share: float = 0.02
    n_components: int = 12
    n_init: int = 4
    interest_weight: float = 1.0
    balance_groups: bool = True
    column_weights: Mapping[str, float] = field(default_factory=dict)
    max_tags: int = 3
    n_typical_items: int = 5
    growth_period_days: int = 90
    stability_runs: int = 3
    silhouette_sample: int = 4000
    rng: int = 0

    def __post_init__(self) -> None:
        for name in ("top_values", "k_min", "k_max", "n_components", "n_init", "max_tags",
                     "n_typical_items", "growth_period_days", "silhouette_sample"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise InvalidInput(f"{name} must be a positive integer, got {v!r}")
        if not isinstance(self.stability_runs, int) or self.stability_runs < 0:
            raise InvalidInput(f"stability_runs must be an integer >= 0, got {self.stability_runs!r}")
        if self.k_min < 2 or self.k_max < self.k_min:
            raise InvalidInput(f"need 2 <= k_min <= k_max, got k_min={self.k_min}, k_max={self.k_max}")
        if self.selection not in ("silhouette", "bic"):
            raise InvalidInput(f"selection must be 'silhouette' or 'bic', got {self.selection!r}")
        for name in ("min_share", "min_segment_share"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not 0.0 <= v < 1.0:
                raise InvalidInput(f"{name} must be in [0, 1), got {v!r}")
        if not isinstance(self.interest_weight, (int, float)) or self.interest_weight < 0:
            raise InvalidInput(f"interest_weight must be >= 0, got {self.interest_weight!r}")
        if not self.event_weights:
            raise InvalidInput("event_weights must name at least one event kind, e.g. {'order_completed': 1.0}")
        for k, w in self.event_weights.items():
            if not isinstance(w, (int, float)) or not math.isfinite(w) or w <= 0:
                raise InvalidInput(f"event weight of {k!r} must be a positive number, got {w!r}")
        object.__setattr__(self, "event_weights", {str(k): float(w) for k, w in self.event_weights.items()})
        for k, w in self.column_weights.items():
            if not isinstance(w, (int, float)) or not math.isfinite(w) or w < 0:
                raise InvalidInput(f"column weight of {k!r} must be a number >= 0, got {w!r}")
        object.__setattr__(self, "column_weights", {str(k): float(w) for k, w in self.column_weights.items()})
        object.__setattr__(self, "tag_columns", tuple(str(c) for c in self.tag_columns))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["event_weights"] = dict(self.event_weights)
        d["column_weights"] = dict(self.column_weights)
        d["tag_columns"] = list(self.tag_columns)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SegmentConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise InvalidInput(f"unknown SegmentConfig fields {unknown}; known: {sorted(known)}")
        kw = dict(d)
        if "tag_columns" in kw:
            kw["tag_columns"] = tuple(kw["tag_columns"])
        return cls(**kw)


@dataclass(frozen=True)
class UserFeatures:
    """One row per shopper: ``values[i, j]`` is feature ``names[j]`` of ``user_ids[i]``.

    ``first_seen``/``last_seen`` are epoch seconds of each shopper's first/last counted event;
    ``items`` maps each shopper to the items they interacted with (for typical items).
    """

    user_ids: list[str]
    names: list[str]
    values: np.ndarray
    first_seen: np.ndarray
    end_ts: float
    items: dict[str, list[str]]

    def row(self, user_id: str) -> dict[str, float]:
        """The named features of one shopper."""
        try:
            i = self.user_ids.index(user_id)
        except ValueError as exc:
            raise NotFound(f"shopper {user_id!r} has no features (no counted events)") from exc
        return {n: float(v) for n, v in zip(self.names, self.values[i], strict=True)}


def items_frame(items: pd.DataFrame | Iterable[Item]) -> pd.DataFrame:
    """Items as a frame with ``item_id`` and attribute columns (``Item`` objects are converted)."""
    if isinstance(items, pd.DataFrame):
        if "item_id" not in items.columns:
            raise InvalidInput(f"items frame needs an 'item_id' column; it has {list(items.columns)[:12]}")
        out = items.copy()
        out["item_id"] = out["item_id"].astype(str)
        return out.drop_duplicates("item_id")
    rows = [
        {"item_id": it.item_id, "category": it.category, "article_type": it.article_type, "colour": it.colour,
         "pattern": it.pattern, "material": it.material, "style": it.style, "occasion": it.occasion,
         "eco": bool(it.eco), "price": float(it.price), "product_code": it.product_code}
        for it in items
    ]
    if not rows:
        raise InvalidInput("no items given; segments need item attributes to describe shoppers")
    return pd.DataFrame(rows).drop_duplicates("item_id")


def user_features(
    interactions: pd.DataFrame,
    items: pd.DataFrame | Iterable[Item],
    config: SegmentConfig | None = None,
) -> UserFeatures:
    """Per-shopper tag shares and behaviour measures (see the module docstring)."""
    cfg = config or SegmentConfig()
    check_interactions(interactions)
    it = items_frame(items)
    ev = interactions
    if "kind" in ev.columns:
        ev = ev[ev["kind"].astype(str).isin(cfg.event_weights)]
        weight = ev["kind"].astype(str).map(cfg.event_weights).to_numpy(dtype=float)
    else:
        weight = np.ones(len(ev))
    if "value" in ev.columns and "kind" in ev.columns:
        # Quantities count for orders; other kinds (dwell ms …) count once.
        qty = np.where(ev["kind"].astype(str) == "order_completed", ev["value"].fillna(1.0).clip(lower=0), 1.0)
        weight = weight * qty
    ev = ev.assign(_w=weight, user_id=ev["user_id"].astype(str), item_id=ev["item_id"].astype(str))
    ev = ev[ev["_w"] > 0]
    if ev.empty:
        raise InvalidInput(f"no events of kinds {sorted(cfg.event_weights)} to build segments from")
    ev = ev.merge(it, on="item_id", how="left", suffixes=("", "_item"))
    users, uidx = np.unique(ev["user_id"].to_numpy(), return_inverse=True)
    n = len(users)
    wsum = np.bincount(uidx, weights=ev["_w"].to_numpy(), minlength=n)
    names: list[str] = []
    cols: list[np.ndarray] = []

    tag_cols = [c for c in cfg.tag_columns if c in it.columns and c != "eco"]
    for c in tag_cols:
        vals = ev[c].astype("string").fillna("").str.strip()
        known = vals != ""
        if not known.any():
            continue
        totals = ev.loc[known.to_numpy(), "_w"].groupby(vals[known]).sum().sort_values(ascending=False)
        totals = totals[totals >= cfg.min_share * ev["_w"].sum()].head(cfg.top_values)
        for value in sorted(totals.index, key=lambda v: (-totals[v], v)):
            mask = (vals == value).to_numpy()
            share = np.bincount(uidx[mask], weights=ev["_w"].to_numpy()[mask], minlength=n) / wsum
            names.append(f"{c}:{value}")
            cols.append(share)

    if "eco" in it.columns and bool(it["eco"].astype("boolean").fillna(False).any()):
        eco = ev["eco"].astype("boolean").fillna(False).to_numpy(dtype=bool)
        names.append("eco_share")
        cols.append(np.bincount(uidx, weights=ev["_w"].to_numpy() * eco, minlength=n) / wsum)

    price = _paid_price(ev, it)
    if price is not None:
        group_col = next((c for c in ("article_type", "category") if c in ev.columns), None)
        group = ev[group_col].astype(str) if group_col else pd.Series("all", index=ev.index)
        med = price.groupby(group).transform("median")
        ok = (price > 0) & (med > 0)
        logrel = np.where(ok, np.log(price.where(ok, 1.0) / med.where(ok, 1.0)), 0.0)
        cnt = np.bincount(uidx, weights=ok.to_numpy(dtype=float), minlength=n)
        level = np.bincount(uidx, weights=logrel, minlength=n) / np.maximum(cnt, 1)
        names.append("price_level")
        cols.append(level)
        disc = _discounted(ev, price)
        if disc is not None:
            names.append("discount_share")
            cols.append(np.bincount(uidx, weights=disc * ok.to_numpy(dtype=float), minlength=n) / np.maximum(cnt, 1))

    ts = pd.to_datetime(ev["ts"]).to_numpy("datetime64[ns]").astype(np.int64) / 1e9
    first = np.full(n, np.inf)
    last = np.full(n, -np.inf)
    np.minimum.at(first, uidx, ts)
    np.maximum.at(last, uidx, ts)
    end = float(ts.max())
    days = pd.DataFrame({"u": uidx, "d": np.floor(ts / 86400.0)})
    if "kind" in ev.columns and (ev["kind"].astype(str) == "order_completed").any():
        days = days[(ev["kind"].astype(str) == "order_completed").to_numpy()]
    active = np.bincount(days.drop_duplicates()["u"].to_numpy(), minlength=n)
    names += ["frequency", "recency"]
    cols += [np.log1p(active.astype(float)), (end - last) / 86400.0]

    values = np.column_stack(cols).astype(np.float64)
    bought = ev.groupby("user_id", sort=True)["item_id"].agg(lambda s: sorted(set(s)))
    return UserFeatures(
        user_ids=[str(u) for u in users], names=names, values=values, first_seen=first, end_ts=end,
        items={str(u): list(v) for u, v in bought.items()},
    )


def _paid_price(ev: pd.DataFrame, it: pd.DataFrame) -> pd.Series | None:
    """Price paid per event: the event's price, else the item's list price."""
    p = ev["price"].astype(float) if "price" in ev.columns else pd.Series(np.nan, index=ev.index)
    if "price_item" in ev.columns:
        p = p.fillna(ev["price_item"].astype(float))
    if p.notna().sum() == 0:
        return None
    return p


def _discounted(ev: pd.DataFrame, price: pd.Series) -> np.ndarray | None:
    """1.0 for events bought on discount: an explicit ``discount`` > 0, else a price at least
    10 % under the highest price seen for that item (H&M marks no discounts)."""
    if "discount" in ev.columns and ev["discount"].notna().any():
        return (ev["discount"].fillna(0.0).astype(float) > 0).to_numpy(dtype=float)
    top = price.groupby(ev["item_id"]).transform("max")
    if price.notna().sum() == 0:
        return None
    return (price < 0.9 * top).fillna(False).to_numpy(dtype=float)


@dataclass(frozen=True)
class Segment:
    """One discovered segment (JSON-ready through :meth:`SegmentModel.to_dict`)."""

    segment_id: str
    label: str
    tags: list[str]
    size: int
    share: float
    new_last_period: int
    new_previous_period: int
    growth: float | None
    typical_items: list[str]
    centroid: list[float]
    profile: dict[str, float]


class SegmentModel:
    """Discovered segments plus what is needed to assign and explain shoppers.

    Use :func:`build_segments` to make one; :meth:`to_dict`/:meth:`from_dict` round-trip
    it through JSON.
    """

    def __init__(
        self,
        config: SegmentConfig,
        feature_names: list[str],
        feature_mean: np.ndarray,
        feature_std: np.ndarray,
        components: np.ndarray,
        centroids: np.ndarray,
        segments: list[Segment],
        members: dict[str, int],
        member_tags: dict[str, list[str]],
        k_scores: dict[int, float],
        stability: dict[str, float | None],
        n_interest: int = 0,
    ) -> None:
        self.config = config
        self.feature_names = feature_names
        self.feature_mean = np.asarray(feature_mean, dtype=np.float64)
        self.feature_std = np.asarray(feature_std, dtype=np.float64)
        self.components = np.asarray(components, dtype=np.float64)
        self.centroids = np.asarray(centroids, dtype=np.float64)
        self.segments = segments
        self.members = members
        self.member_tags = member_tags
        self.k_scores = k_scores
        self.stability = stability
        self.n_interest = n_interest

    @property
    def k(self) -> int:
        return len(self.segments)

    def index_of(self, user_id: str) -> int:
        try:
            return self.members[str(user_id)]
        except KeyError as exc:
            raise NotFound(f"shopper {user_id!r} was not in the data these segments were built from") from exc

    def segment_of(self, user_id: str) -> str:
        """The segment id of a shopper seen when the model was built."""
        return self.segments[self.index_of(user_id)].segment_id

    def segment(self, segment_id: str) -> Segment:
        for s in self.segments:
            if s.segment_id == segment_id:
                return s
        raise NotFound(f"no segment {segment_id!r}; known: {[s.segment_id for s in self.segments]}")

    def members_of(self, segment_id: str) -> list[str]:
        idx = [i for i, s in enumerate(self.segments) if s.segment_id == segment_id]
        if not idx:
            raise NotFound(f"no segment {segment_id!r}; known: {[s.segment_id for s in self.segments]}")
        return sorted(u for u, i in self.members.items() if i == idx[0])

    def _project(self, z: np.ndarray) -> np.ndarray:
        return z @ self.components.T

    def _standardise(self, features: Mapping[str, float], interest: Sequence[float] | None = None) -> np.ndarray:
        base = [n for n in self.feature_names if not n.startswith("interest:")]
        unknown = sorted(set(features) - set(base))
        if unknown:
            raise InvalidInput(f"unknown segment features {unknown[:5]}; known: {base[:8]} …")
        x = np.array([float(features.get(n, 0.0 if ":" in n else self.feature_mean[j]))
                      for j, n in enumerate(base)])
        if self.n_interest:
            if interest is None:
                iv = self.feature_mean[len(base):]
            else:
                iv = np.asarray(interest, dtype=float)
                if iv.shape != (self.n_interest,):
                    raise InvalidInput(f"interest vector must have {self.n_interest} values, got {iv.shape}")
            x = np.concatenate([x, iv])
        if not np.all(np.isfinite(x)):
            raise InvalidInput("segment features must be finite numbers")
        return (x - self.feature_mean) / self.feature_std * feature_weights(self.feature_names, self.config)

    def assign(self, user_features: Mapping[str, float], interest: Sequence[float] | None = None) -> str:
        """Segment id for one shopper's features (names as in :attr:`feature_names`; a missing
        tag share counts 0, a missing behaviour measure counts as the population mean)."""
        z = self._standardise(user_features, interest)
        d = ((self.centroids - self._project(z)[None]) ** 2).sum(axis=1)
        return self.segments[int(np.argmin(d))].segment_id

    def explain(self, user_id: str) -> list[str]:
        """Why this shopper is in their segment: their strongest tags next to the segment's label."""
        seg = self.segments[self.index_of(user_id)]
        lines = [f"in segment {seg.segment_id} “{seg.label}” ({seg.size} shoppers, {seg.share * 100:.0f} %)"]
        mine = self.member_tags.get(str(user_id), [])
        shared = [t for t in mine if t in seg.tags]
        for t in mine:
            words = _feature_words(t)
            mark = "shared with the segment" if t in shared else "own trait"
            lines.append(f"{words} ({mark})")
        if not shared and seg.tags:
            lines.append("closest segment overall; none of its label tags is among this shopper's strongest")
        return lines

    def summary(self) -> list[dict[str, Any]]:
        """One row per segment: id, label, size, share, growth, typical items."""
        return [
            {"segment_id": s.segment_id, "label": s.label, "size": s.size, "share": round(s.share, 4),
             "growth": s.growth, "typical_items": s.typical_items}
            for s in self.segments
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": _FORMAT_VERSION,
            "kind": "fitloop.segments.kmeans",
            "config": self.config.to_dict(),
            "feature_names": self.feature_names,
            "feature_mean": self.feature_mean.tolist(),
            "feature_std": self.feature_std.tolist(),
            "components": self.components.tolist(),
            "centroids": self.centroids.tolist(),
            "segments": [asdict(s) for s in self.segments],
            "members": self.members,
            "member_tags": self.member_tags,
            "k_scores": {str(k): v for k, v in self.k_scores.items()},
            "stability": self.stability,
            "n_interest": self.n_interest,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SegmentModel:
        if d.get("kind") != "fitloop.segments.kmeans" or d.get("format_version") != _FORMAT_VERSION:
            raise InvalidInput(f"not a fitloop segment model of format {_FORMAT_VERSION}")
        try:
            return cls(
                config=SegmentConfig.from_dict(d["config"]),
                feature_names=[str(n) for n in d["feature_names"]],
                feature_mean=np.asarray(d["feature_mean"], dtype=float),
                feature_std=np.asarray(d["feature_std"], dtype=float),
                components=np.asarray(d["components"], dtype=float),
                centroids=np.asarray(d["centroids"], dtype=float),
                segments=[Segment(**s) for s in d["segments"]],
                members={str(u): int(i) for u, i in d["members"].items()},
                member_tags={str(u): list(t) for u, t in d["member_tags"].items()},
                k_scores={int(k): float(v) for k, v in d["k_scores"].items()},
                stability=dict(d["stability"]),
                n_interest=int(d.get("n_interest", 0)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput(f"segment model document is incomplete or malformed: {exc}") from exc


def _feature_words(feature: str) -> str:
    if feature.startswith("-"):
        return tag_words(feature[1:], -1) or feature[1:]
    return tag_words(feature, 1) or feature


def _group(name: str) -> str:
    if name in BEHAVIOUR_WORDS:
        return "behaviour"
    return name.split(":", 1)[0] if ":" in name else name


def feature_weights(names: Sequence[str], cfg: SegmentConfig) -> np.ndarray:
    """Weight of each standardised feature in the clustering.

    With ``balance_groups`` every attribute (all its tag values together) weighs as much as
    all behaviour measures together (group "behaviour"): each member of a group gets
    1/sqrt(group size), so a group with many features does not drown the others.
    ``column_weights`` then scales groups (attribute names, "behaviour", or one behaviour
    measure by name); "interest" vectors are scaled by ``interest_weight``.
    """
    groups = [_group(n) for n in names]
    counts: dict[str, int] = {}
    for g in groups:
        counts[g] = counts.get(g, 0) + 1
    w = np.ones(len(names))
    for j, (n, g) in enumerate(zip(names, groups, strict=True)):
        if cfg.balance_groups:
            w[j] /= math.sqrt(counts[g])
        if g == "interest":
            w[j] *= cfg.interest_weight
        elif g == "behaviour":
            w[j] *= cfg.column_weights.get(n, cfg.column_weights.get("behaviour", 1.0))
        else:
            w[j] *= cfg.column_weights.get(g, 1.0)
    return w


def _fit_kmeans(x: np.ndarray, k: int, rng: int, n_init: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.cluster import KMeans
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        # Duplicate rows can leave a cluster empty; callers skip such fits by cluster size.
        warnings.simplefilter("ignore", ConvergenceWarning)
        km = KMeans(n_clusters=k, n_init=n_init, random_state=rng).fit(x)
    return km.labels_.astype(np.int64), km.cluster_centers_


def _choose_k(x: np.ndarray, cfg: SegmentConfig) -> tuple[int, dict[int, float], dict[int, tuple[np.ndarray, np.ndarray]]]:
    from sklearn.metrics import silhouette_score
    from sklearn.mixture import GaussianMixture

    n = len(x)
    distinct = len(np.unique(np.round(x, 9), axis=0))
    k_hi = min(cfg.k_max, n - 1, distinct)
    if k_hi < cfg.k_min:
        raise InvalidInput(
            f"{n} shoppers with {distinct} distinct feature rows are too few for at least {cfg.k_min} segments"
        )
    scores: dict[int, float] = {}
    fits: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for k in range(cfg.k_min, k_hi + 1):
        labels, centers = _fit_kmeans(x, k, cfg.rng, cfg.n_init)
        sizes = np.bincount(labels, minlength=k)
        if sizes.min() < max(2, cfg.min_segment_share * n):
            continue
        fits[k] = (labels, centers)
        if cfg.selection == "silhouette":
            scores[k] = float(silhouette_score(x, labels, sample_size=min(cfg.silhouette_sample, n),
                                               random_state=cfg.rng))
        else:
            gm = GaussianMixture(k, covariance_type="diag", random_state=cfg.rng, n_init=1,
                                 means_init=centers, reg_covar=1e-4).fit(x)
            scores[k] = -float(gm.bic(x))
    if not scores:
        raise InvalidInput(
            f"no k in [{cfg.k_min}, {k_hi}] gives segments of at least {cfg.min_segment_share:.0%} of "
            f"{n} shoppers; lower min_segment_share or k_min"
        )
    best = max(scores, key=lambda k: (scores[k], -k))
    return best, scores, fits


def clustering_stability(x: np.ndarray, k: int, labels: np.ndarray, cfg: SegmentConfig) -> dict[str, float | None]:
    """Mean ARI of ``labels`` vs k-means reruns with other seeds, and vs fits on 80 % subsamples
    (assigned back to every shopper by the nearest centroid)."""
    from sklearn.metrics import adjusted_rand_score

    if cfg.stability_runs == 0:
        return {"seed_ari": None, "subsample_ari": None, "runs": 0}
    gen = np.random.default_rng(cfg.rng + 7919)
    seed_ari, sub_ari = [], []
    for r in range(1, cfg.stability_runs + 1):
        other, _ = _fit_kmeans(x, k, cfg.rng + 1000 * r, cfg.n_init)
        seed_ari.append(adjusted_rand_score(labels, other))
        rows = gen.choice(len(x), size=max(k + 1, int(0.8 * len(x))), replace=False)
        _, centers = _fit_kmeans(x[rows], k, cfg.rng + 1000 * r, cfg.n_init)
        back = ((x[:, None, :] - centers[None]) ** 2).sum(axis=2).argmin(axis=1)
        sub_ari.append(adjusted_rand_score(labels, back))
    return {"seed_ari": float(np.mean(seed_ari)), "subsample_ari": float(np.mean(sub_ari)),
            "runs": cfg.stability_runs}


def build_segments(
    interactions: pd.DataFrame,
    items: pd.DataFrame | Iterable[Item],
    config: SegmentConfig | None = None,
    interests: Mapping[str, Sequence[float]] | None = None,
) -> SegmentModel:
    """Cluster shoppers into labelled segments; returns a complete model or raises.

    ``interests`` optionally maps user id → interest vector (e.g. from
    :meth:`fitloop.profile.sequence.SequenceModel.interest_vectors`); shoppers without one
    get the population mean.
    """
    cfg = config or SegmentConfig()
    uf = user_features(interactions, items, cfg)
    return build_segments_from_features(uf, cfg, interests)


def build_segments_from_features(
    uf: UserFeatures, config: SegmentConfig | None = None, interests: Mapping[str, Sequence[float]] | None = None
) -> SegmentModel:
    """:func:`build_segments` on features already computed with :func:`user_features`."""
    from threadpoolctl import threadpool_limits

    # Many small k-means fits: threads only add contention (40x slower on a busy 2-core box).
    with threadpool_limits(1):
        return _build(uf, config or SegmentConfig(), interests)


def _build(uf: UserFeatures, cfg: SegmentConfig, interests: Mapping[str, Sequence[float]] | None) -> SegmentModel:
    from sklearn.decomposition import PCA

    x = uf.values
    names = list(uf.names)
    n_interest = 0
    if interests:
        dims = {len(v) for v in interests.values()}
        if len(dims) != 1:
            raise InvalidInput(f"interest vectors must all have the same length, got lengths {sorted(dims)}")
        n_interest = dims.pop()
        iv = np.full((len(uf.user_ids), n_interest), np.nan)
        for i, u in enumerate(uf.user_ids):
            if u in interests:
                iv[i] = np.asarray(interests[u], dtype=float)
        fill = np.nanmean(iv, axis=0) if np.isfinite(iv).any() else np.zeros(n_interest)
        iv = np.where(np.isnan(iv), fill[None], iv)
        x = np.hstack([x, iv])
        names += [f"interest:{j}" for j in range(n_interest)]
    if not np.all(np.isfinite(x)):
        raise InvalidInput("shopper features contain non-finite values; check prices and timestamps")
    mean = x.mean(axis=0)
    std = x.std(axis=0)
    std = np.where(std > 1e-12, std, 1.0)
    z = (x - mean) / std * feature_weights(names, cfg)[None]
    n_comp = max(1, min(cfg.n_components, z.shape[1], len(z) - 1))
    with warnings.catch_warnings():
        # PCA on nearly constant columns can warn about tiny variances; the result is still valid.
        warnings.simplefilter("ignore", RuntimeWarning)
        pca = PCA(n_components=n_comp, random_state=cfg.rng, svd_solver="full").fit(z)
    components = pca.components_
    xr = z @ components.T
    k, scores, fits = _choose_k(xr, cfg)
    labels, centers = fits[k]

    # Order segments by size (largest first) so ids are stable for a given input.
    sizes = np.bincount(labels, minlength=k)
    order = np.lexsort((np.arange(k), -sizes))
    remap = np.empty(k, dtype=np.int64)
    remap[order] = np.arange(k)
    labels = remap[labels]
    centers = centers[order]
    sizes = sizes[order]
    stability = clustering_stability(xr, k, labels, cfg)

    raw = uf.values
    pop_mean = raw.mean(axis=0)
    pop_std = raw.std(axis=0)
    cands = [distinguishing_tags(raw[labels == c].mean(axis=0), pop_mean, pop_std, uf.names) for c in range(k)]
    named = label_clusters(cands, cfg.max_tags, _redundancy(raw, uf.names))
    typical = _typical_items(uf, labels, k, cfg.n_typical_items)
    end = uf.end_ts
    period = cfg.growth_period_days * 86400.0
    segments: list[Segment] = []
    for c in range(k):
        m = labels == c
        new_last = int(((uf.first_seen > end - period) & m).sum())
        new_prev = int(((uf.first_seen > end - 2 * period) & (uf.first_seen <= end - period) & m).sum())
        growth = (new_last - new_prev) / new_prev if new_prev else None
        label, tags = named[c]
        segments.append(Segment(
            segment_id=f"seg-{c + 1}", label=label, tags=tags, size=int(sizes[c]), share=float(sizes[c] / len(labels)),
            new_last_period=new_last, new_previous_period=new_prev, growth=growth,
            typical_items=typical[c], centroid=[float(v) for v in centers[c]],
            profile={n: float(v) for n, v in zip(uf.names, raw[m].mean(axis=0), strict=True)},
        ))
    member_tags = _member_tags(raw, pop_mean, pop_std, uf.names)
    return SegmentModel(
        config=cfg, feature_names=names, feature_mean=mean, feature_std=std, components=components,
        centroids=centers, segments=segments,
        members={u: int(labels[i]) for i, u in enumerate(uf.user_ids)},
        member_tags={u: member_tags[i] for i, u in enumerate(uf.user_ids)},
        k_scores=scores, stability=stability, n_interest=n_interest,
    )


def _redundancy(raw: np.ndarray, names: Sequence[str], threshold: float = 0.6) -> Callable[[str, str], bool]:
    """Two features are redundant when their shares correlate strongly across shoppers."""
    std = raw.std(axis=0)
    ok = std > 1e-12
    zc = np.zeros_like(raw)
    zc[:, ok] = (raw[:, ok] - raw[:, ok].mean(axis=0)) / std[ok]
    corr = (zc.T @ zc) / max(len(raw), 1)
    pos = {n: j for j, n in enumerate(names)}

    def redundant(a: str, b: str) -> bool:
        ia, ib = pos.get(a), pos.get(b)
        return ia is not None and ib is not None and bool(abs(corr[ia, ib]) >= threshold)

    return redundant


def _member_tags(raw: np.ndarray, mean: np.ndarray, std: np.ndarray, names: Sequence[str], top: int = 3) -> list[list[str]]:
    """Each shopper's strongest labelable features (a leading "-" marks a low behaviour measure)."""
    safe = np.where(std > 1e-12, std, np.inf)
    z = (raw - mean) / safe
    labelable = np.array([tag_words(n, 1) is not None for n in names])
    low_ok = np.array([n in BEHAVIOUR_WORDS and BEHAVIOUR_WORDS[n][1] is not None for n in names])
    score = np.where(labelable, z, -np.inf)
    score_low = np.where(low_ok, -z, -np.inf)
    out: list[list[str]] = []
    for i in range(len(raw)):
        both = [(score[i, j], names[j]) for j in range(len(names)) if score[i, j] > 0.5]
        both += [(score_low[i, j], "-" + names[j]) for j in range(len(names)) if score_low[i, j] > 0.5]
        both.sort(key=lambda t: (-t[0], t[1]))
        out.append([name for _, name in both[:top]])
    return out


def _typical_items(uf: UserFeatures, labels: np.ndarray, k: int, n_top: int) -> list[list[str]]:
    """Items bought by the most members relative to the population (count × log lift, ≥ 2 members)."""
    rows = [(labels[i], it) for i, u in enumerate(uf.user_ids) for it in uf.items.get(u, ())]
    if not rows:
        return [[] for _ in range(k)]
    df = pd.DataFrame(rows, columns=["c", "item"])
    total = df.groupby("item").size()
    n_users = len(uf.user_ids)
    sizes = np.bincount(labels, minlength=k)
    out: list[list[str]] = []
    for c in range(k):
        cnt = df[df["c"] == c].groupby("item").size()
        cnt = cnt[cnt >= 2]
        if cnt.empty:
            out.append([])
            continue
        lift = (cnt / sizes[c]) / (total.reindex(cnt.index) / n_users)
        score = cnt * np.log(lift.clip(lower=1.0))
        score = score[score > 0]
        out.append(sorted(score.index, key=lambda i: (-score[i], i))[:n_top])
    return out
