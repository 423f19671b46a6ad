"""The online loop on the simulated shop: recommend, show, observe, learn, retrain — for many days.

Each *arm* is a policy stacked on the trained recommender. :func:`run_online_loop` runs every arm
on its own, identically generated copy of :class:`~fitloop.evaluate.simulator.SimulatedShop`
(same :class:`ShopConfig`, so the same catalog, shoppers, weather and history), with common random
numbers: on each day the same shoppers visit in every arm, the simulator's dice for a shopper on a
day are seeded by (seed, day, shopper), and so are the policies' own dice (the request id, which
seeds the bandit's exploration, is the day and shopper, not the arm), so two arms differ only by
what they chose to show.

One day of one arm:

1. late feedback arrives: returns of earlier orders whose return date is today go to the policy as
   ``Feedback(..., correction=True)`` (the bandit subtracts them from the item's reward);
2. every ``retrain_every_days`` days the recommender is retrained on the history plus the events
   this arm's own slates produced (a feedback loop: each arm learns from its own exposure);
3. each visiting shopper gets ``n_candidates`` from the recommender — only items that are launched
   and in stock right now (the shop's live stock, ``in_stock=``) — the policy picks ``k`` of them,
   the harness drops anything unavailable a policy might still return, and
   :meth:`SimulatedShop.respond` says what the shopper did (clicks, carts, orders, later returns);
4. the policy learns one :class:`~fitloop.rerank.bandit.Feedback` per shown item (the events that
   followed it that day: click, cart, order), and the day's metrics are recorded.

Metrics per arm and day (:class:`DayMetrics`): reward with :class:`RewardWeights` (returns of the
day's orders included when they eventually arrive, so late days are not flattered), click rate per
impression, orders per impression and per shopper-day, return rate (returned / ordered lines),
catalog coverage (distinct items shown / items launched), repetition (share of impressions of an
item the same shopper was shown within the previous ``repetition_days`` days), intra-list
similarity (mean pairwise attribute cosine within a slate, what MMR lowers) and the mean *true*
utility of what was shown (the simulator's hidden truth, boredom included).

>>> from fitloop.recommend import RecommenderConfig
>>> shop_cfg = ShopConfig(n_items=120, n_shoppers=40, n_events=4_000, n_days=14, seed=2, target_ctr=0.03)
>>> loop_cfg = OnlineLoopConfig(days=2, shoppers_per_day=10, k=6, n_candidates=20, retrain_every_days=0,
...                             recommender=RecommenderConfig(als=None, content=None), seed=2)
>>> result = run_online_loop(shop_cfg, {"static": static_arm(), "context": context_arm()}, loop_cfg)
>>> sorted(result.arms), len(result.arms["static"]), int(result.summary().loc["static", "impressions"])
(['context', 'static'], 2, 120)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date, timedelta

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from fitloop.catalog.features import ItemFeatures
from fitloop.catalog.season_suitability import SuitabilityModel
from fitloop.data import Context, Event, EventType, Item, ScoredItem, make_interactions
from fitloop.errors import InvalidInput
from fitloop.evaluate.simulator import ShopConfig, SimulatedShop
from fitloop.recommend import Recommender, RecommenderConfig, items_frame, train_recommender
from fitloop.rerank import (
    BanditConfig,
    Chain,
    ContextBoost,
    ContextBoostConfig,
    ExposureConfig,
    ExposureMemory,
    Feedback,
    LinUCBBandit,
    MMRDiversifier,
    Policy,
    RewardWeights,
    intra_list_similarity,
)
from fitloop.rerank.diversity import PaddedRows

__all__ = [
    "OnlineLoopConfig",
    "ArmSetup",
    "PolicyFactory",
    "DayMetrics",
    "LoopResult",
    "run_online_loop",
    "static_arm",
    "context_arm",
    "full_arm",
    "default_arms",
    "ablation_arms",
    "lambda_arms",
]


@dataclass(frozen=True)
class OnlineLoopConfig:
    """How long and how busy the online experiment is.

    ``days`` online days after the shop's history; ``shoppers_per_day`` distinct visitors a day
    (each gets one slate of ``k`` items chosen from ``n_candidates`` recommender candidates);
    ``retrain_every_days``: retrain the recommender on the accumulated events this often (0: never);
    ``repetition_days``: the look-back of the repetition metric; ``reward``: the weights of the
    reported reward and of the bandit's reward; ``recommender``: its config (``None``: defaults);
    ``keep_impressions``: keep one row per impression (with its logged propensity) in the result.
    """

    days: int = 28
    shoppers_per_day: int = 200
    k: int = 12
    n_candidates: int = 60
    retrain_every_days: int = 7
    repetition_days: int = 7
    seed: int = 0
    reward: RewardWeights = field(default_factory=RewardWeights)
    recommender: RecommenderConfig | None = None
    keep_impressions: bool = True

    def __post_init__(self) -> None:
        if self.days < 1:
            raise InvalidInput(f"OnlineLoopConfig.days must be at least 1, got {self.days}")
        if self.shoppers_per_day < 1:
            raise InvalidInput(f"OnlineLoopConfig.shoppers_per_day must be at least 1, got {self.shoppers_per_day}")
        if not 1 <= self.k <= 24:
            raise InvalidInput(f"OnlineLoopConfig.k must be between 1 and 24 (a slate), got {self.k}")
        if self.n_candidates < self.k:
            raise InvalidInput(f"OnlineLoopConfig.n_candidates ({self.n_candidates}) must be at least k ({self.k})")
        if self.retrain_every_days < 0 or self.repetition_days < 1:
            raise InvalidInput("retrain_every_days must be >= 0 and repetition_days >= 1")


@dataclass(frozen=True)
class ArmSetup:
    """What a policy factory gets: the arm's own shop, its catalog (attributes) and the loop's reward."""

    shop: SimulatedShop
    catalog: Mapping[str, Item]
    reward: RewardWeights
    seed: int


#: Builds an arm's re-ranking policy on top of the recommender; ``None`` means "the recommender's top k".
PolicyFactory = Callable[[ArmSetup], Policy | None]


@dataclass
class DayMetrics:
    """Counts of one arm on one day (rates are computed by :meth:`LoopResult.summary`)."""

    arm: str
    day: int
    date: date
    shoppers: int = 0
    impressions: int = 0
    clicks: int = 0
    carts: int = 0
    orders: int = 0
    returns: int = 0  # returns of this day's orders, whenever they arrive
    reward: float = 0.0  # reward of this day's slates, eventual returns included
    true_utility: float = 0.0  # sum over impressions
    distinct_items: int = 0
    new_items: int = 0  # items shown for the first time in this run
    repeated: int = 0  # impressions of an item this shopper was shown within repetition_days
    slate_similarity: float = 0.0  # sum over slates of their mean pairwise attribute similarity
    dropped_unavailable: int = 0  # items a policy returned that were not available (never shown)
    retrained: bool = False


@dataclass
class LoopResult:
    """Per-day metrics of every arm, the impression log, and run facts."""

    shop_config: ShopConfig
    config: OnlineLoopConfig
    arms: dict[str, list[DayMetrics]]
    catalog_size: int
    impressions: dict[str, pd.DataFrame] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def frame(self) -> pd.DataFrame:
        """One row per arm and day with the counts and the daily rates."""
        df = pd.DataFrame([asdict(m) for ms in self.arms.values() for m in ms])
        imp = df["impressions"].where(df["impressions"] > 0)
        df["ctr"] = df["clicks"] / imp
        df["orders_per_impression"] = df["orders"] / imp
        df["reward_per_shopper"] = df["reward"] / df["shoppers"].where(df["shoppers"] > 0)
        df["cum_reward"] = df.groupby("arm", sort=False)["reward"].cumsum()
        df["coverage"] = df.groupby("arm", sort=False)["new_items"].cumsum() / self.catalog_size
        df["repetition"] = df["repeated"] / imp
        df["intra_list_similarity"] = df["slate_similarity"] / df["shoppers"].where(df["shoppers"] > 0)
        df["mean_true_utility"] = df["true_utility"] / imp
        return df

    def summary(self) -> pd.DataFrame:
        """One row per arm over the whole run (index: arm)."""
        rows = {}
        for arm, ms in self.arms.items():
            t = {f: sum(getattr(m, f) for m in ms) for f in (
                "shoppers", "impressions", "clicks", "carts", "orders", "returns", "reward", "true_utility",
                "new_items", "repeated", "slate_similarity", "dropped_unavailable")}
            imp = max(t["impressions"], 1)
            rows[arm] = {
                "shopper_days": t["shoppers"],
                "impressions": t["impressions"],
                "reward": t["reward"],
                "reward_per_shopper_day": t["reward"] / max(t["shoppers"], 1),
                "ctr": t["clicks"] / imp,
                "orders_per_impression": t["orders"] / imp,
                "orders_per_shopper_day": t["orders"] / max(t["shoppers"], 1),
                "return_rate": t["returns"] / t["orders"] if t["orders"] else float("nan"),
                "coverage": t["new_items"] / self.catalog_size,
                "repetition": t["repeated"] / imp,
                "intra_list_similarity": t["slate_similarity"] / max(t["shoppers"], 1),
                "mean_true_utility": t["true_utility"] / imp,
                "orders": t["orders"],
                "returns": t["returns"],
                "dropped_unavailable": t["dropped_unavailable"],
            }
        return pd.DataFrame.from_dict(rows, orient="index")


# ---------------------------------------------------------------------------------------- arms
def _suitability() -> SuitabilityModel:
    # The model memoises each item's slope itself (item attributes never change in the shop).
    return SuitabilityModel.default()


def static_arm() -> PolicyFactory:
    """The trained recommender alone: its top ``k`` (propensity 1)."""

    def make(setup: ArmSetup) -> Policy | None:
        return None

    return make


def context_arm(config: ContextBoostConfig | None = None) -> PolicyFactory:
    """Recommender + :class:`ContextBoost` with the weather of the shopper's city and day."""

    def make(setup: ArmSetup) -> Policy | None:
        return ContextBoost(setup.catalog, _suitability(), config=config)

    return make


def full_arm(
    bandit: BanditConfig | None = None,
    *,
    mmr_lambda: float | None = None,
    exposure: ExposureConfig | None = None,
    context: ContextBoostConfig | None = None,
    with_diversity: bool = True,
    with_exposure: bool = True,
    with_bandit: bool = True,
) -> PolicyFactory:
    """Recommender + context boost + MMR diversity + exposure memory + LinUCB bandit (last).

    The bandit learns the loop's reward (:attr:`OnlineLoopConfig.reward`) and is seeded by the loop.
    ``mmr_lambda``: ``None`` is :class:`fitloop.rerank.MMRConfig`'s default. The ``with_*`` switches leave a stage
    out (for ablations).
    """

    def make(setup: ArmSetup) -> Policy | None:
        items = list(setup.catalog.values())
        stages: list[Policy] = [ContextBoost(setup.catalog, _suitability(), config=context)]
        if with_diversity:
            stages.append(MMRDiversifier(ItemFeatures.fit(items), mmr_lambda, catalog=setup.catalog))
        if with_exposure:
            stages.append(ExposureMemory(setup.catalog, config=exposure))
        if with_bandit:
            bcfg = replace(bandit or BanditConfig(), reward=setup.reward, rng=setup.seed)
            stages.append(LinUCBBandit(bcfg, catalog=setup.catalog))
        return Chain(stages)

    return make


def ablation_arms(bandit: BanditConfig | None = None) -> dict[str, PolicyFactory]:
    """The full arm with its learning or its variety stages left out: which part costs or pays?"""
    return {
        "context+bandit": full_arm(bandit, with_diversity=False, with_exposure=False),
        "context+exposure+bandit": full_arm(bandit, with_diversity=False),
        "context+diversity+exposure": full_arm(bandit, with_bandit=False),
    }


def lambda_arms(lambdas: Sequence[float], bandit: BanditConfig | None = None) -> dict[str, PolicyFactory]:
    """The full arm at other MMR ``lambda_`` values (named ``full@λ``): the relevance/variety curve."""
    return {f"full@{lam:g}": full_arm(bandit, mmr_lambda=lam) for lam in lambdas}


def default_arms(bandit: BanditConfig | None = None) -> dict[str, PolicyFactory]:
    """The three arms of docs/evaluation/online_loop.md: static, + context, + context/diversity/bandit."""
    return {"static": static_arm(), "context": context_arm(), "full": full_arm(bandit)}


# ---------------------------------------------------------------------------------------- loop
_ROLE = {
    EventType.PRODUCT_CLICKED: "clicks",
    EventType.CART_ADDED: "carts",
    EventType.ORDER_COMPLETED: "orders",
    EventType.PRODUCT_RETURNED: "returns",
}


class _Availability:
    """Live view of what can be shown on a day: launched and in stock in at least one size."""

    def __init__(self, shop: SimulatedShop) -> None:
        self.shop = shop
        self.index = {iid: k for k, iid in enumerate(shop.catalog.item_ids)}
        self.day = 0

    def __call__(self, item_id: str) -> bool:
        k = self.index.get(item_id)
        if k is None:
            return False
        # state.stock is the array respond() and checkout() decrement, so this is always current.
        return bool(self.shop.catalog.created_day[k] <= self.day and self.shop.state.stock[k].sum() > 0)


def _slate_similarity(features: ItemFeatures) -> Callable[[Sequence[str]], float]:
    """Mean pairwise attribute cosine of a slate, with the features MMR uses (the same dense fast path)."""
    padded = PaddedRows.build(features)
    pairwise: Callable[[Sequence[str]], np.ndarray] = padded.pairwise if padded is not None else features.pairwise

    def mean_similarity(ids: Sequence[str]) -> float:
        return intra_list_similarity(ids, pairwise)

    return mean_similarity


def _train(interactions: pd.DataFrame, items: pd.DataFrame, cfg: RecommenderConfig, as_of: date) -> Recommender:
    # implicit warns (and slows down) unless BLAS runs single-threaded.
    with threadpool_limits(1, "blas"):
        return train_recommender(interactions, items, cfg, as_of=pd.Timestamp(as_of))


_Rows = tuple[list[str], list[str], list[object], list[str], list[float], list[float]]


def _event_rows(events: Sequence[Event]) -> _Rows:
    """The item events of a slate as interactions columns (impressions left out, like the history's)."""
    u: list[str] = []
    i: list[str] = []
    ts: list[object] = []
    kind: list[str] = []
    value: list[float] = []
    price: list[float] = []
    for e in events:
        if e.item_id is None or e.type == EventType.IMPRESSION:
            continue
        u.append(e.user_id)
        i.append(e.item_id)
        ts.append(e.ts)
        kind.append(e.type.value)
        if e.type == EventType.ORDER_COMPLETED:
            value.append(float(e.quantity))
        elif e.type == EventType.DWELL:
            value.append(float((e.properties or {}).get("dwell_ms", 0.0)))
        else:
            value.append(1.0)
        price.append(float("nan") if e.price is None else float(e.price))
    return u, i, ts, kind, value, price


def run_online_loop(
    shop_config: ShopConfig,
    policies: Mapping[str, PolicyFactory],
    config: OnlineLoopConfig | None = None,
    *,
    shop_factory: Callable[[ShopConfig], SimulatedShop] = SimulatedShop.generate,
    progress: Callable[[str], None] | None = None,
) -> LoopResult:
    """Run every arm in ``policies`` for ``config.days`` online days; see the module doc.

    ``shop_factory`` builds each arm's shop from ``shop_config`` (a subclass of SimulatedShop can
    watch what is shown, as the tests do). The recommender trained on the shared history is trained
    once and reused by every arm (identical data gives an identical model).
    """
    cfg = config or OnlineLoopConfig()
    if not policies:
        raise InvalidInput("run_online_loop needs at least one arm in policies")
    if shop_config.online_days < cfg.days + 1:
        raise InvalidInput(f"ShopConfig.online_days ({shop_config.online_days}) must exceed the loop's days ({cfg.days})")
    say = progress or (lambda _msg: None)
    rec_cfg = cfg.recommender or RecommenderConfig()
    t0 = time.perf_counter()
    first = shop_factory(shop_config)
    history = first.events.to_interactions()
    items_df = items_frame(first.items)
    start_day = shop_config.n_days
    say("training the recommender on the shared history")
    base_rec = _train(history, items_df, rec_cfg, shop_config.start + timedelta(days=start_day - 1))
    seconds = {"initial_training": time.perf_counter() - t0}
    catalog_size = len(first.item_ids(start_day + cfg.days - 1))
    similarity = _slate_similarity(ItemFeatures.fit(first.items))
    arms: dict[str, list[DayMetrics]] = {}
    impressions: dict[str, pd.DataFrame] = {}
    for n, (name, factory) in enumerate(policies.items()):
        t1 = time.perf_counter()
        shop = first if n == 0 else shop_factory(shop_config)
        arms[name], impressions[name] = _run_arm(name, shop, factory, base_rec, history, items_df, rec_cfg, cfg, say,
                                                 similarity)
        seconds[name] = time.perf_counter() - t1
    if not cfg.keep_impressions:
        impressions = {}
    return LoopResult(shop_config, cfg, arms, catalog_size, impressions, seconds)


def _run_arm(
    name: str,
    shop: SimulatedShop,
    factory: PolicyFactory,
    rec: Recommender,
    history: pd.DataFrame,
    items_df: pd.DataFrame,
    rec_cfg: RecommenderConfig,
    cfg: OnlineLoopConfig,
    say: Callable[[str], None],
    similarity: Callable[[Sequence[str]], float],
) -> tuple[list[DayMetrics], pd.DataFrame]:
    start_day = shop.config.n_days
    catalog = {it.item_id: it for it in shop.items}
    policy = factory(ArmSetup(shop, catalog, cfg.reward, cfg.seed))
    available = _Availability(shop)
    user_ids = [u.user_id for u in shop.shoppers]
    user_pos = {u: k for k, u in enumerate(user_ids)}
    pending: dict[int, list[Feedback]] = {}  # day -> late corrections (returns)
    online: _Rows = ([], [], [], [], [], [])  # this arm's own events, as interactions columns
    last_seen: dict[str, dict[str, int]] = {}
    ever_shown: set[str] = set()
    imp_rows: dict[str, list[object]] = {c: [] for c in ("day", "user_id", "item_id", "position", "propensity")}
    days: list[DayMetrics] = []
    for offset in range(cfg.days):
        day = start_day + offset
        the_date = shop.config.start + timedelta(days=day)
        m = DayMetrics(arm=name, day=offset, date=the_date)
        if policy is not None:
            for fb in pending.pop(day, []):
                policy.learn_one(fb)
        if cfg.retrain_every_days and offset > 0 and offset % cfg.retrain_every_days == 0:
            say(f"{name}: retraining on day {offset}")
            new = pd.concat([history, make_interactions(*online)], ignore_index=True)
            new["ts"] = new["ts"].astype("datetime64[ns]")
            rec = _train(new, items_df, rec_cfg, the_date - timedelta(days=1))
            m.retrained = True
        available.day = day
        visit_rng = np.random.default_rng([cfg.seed, 7_919, day])
        visitors = visit_rng.choice(len(user_ids), size=min(cfg.shoppers_per_day, len(user_ids)), replace=False)
        shown_today: set[str] = set()
        for uk in sorted(visitors.tolist()):
            user = user_ids[uk]
            # Not the arm's name: a policy's dice (the bandit's exploration) are seeded by the request, so
            # every arm flips the same coins for the same shopper-day (common random numbers).
            request = f"{day}-{user}"
            ctx = shop.context(user, day)
            ctx = replace(ctx, extra={"user_id": user, "request_id": request})
            cands = rec.recommend(user, k=cfg.n_candidates, context=ctx, in_stock=available)
            if policy is None:
                slate: list[ScoredItem] = cands[: cfg.k]
            else:
                slate = policy.rerank(ctx, cands, cfg.k, user_id=user, request_id=request)
            # The harness is the last guard: nothing unavailable or duplicated reaches the shopper.
            seen: set[str] = set()
            kept = []
            for s in slate:
                if s.item_id in seen or not available(s.item_id):
                    m.dropped_unavailable += 1
                    continue
                seen.add(s.item_id)
                kept.append(s)
            slate = kept[: cfg.k]
            if not slate:
                continue
            ids = [s.item_id for s in slate]
            m.shoppers += 1
            m.impressions += len(ids)
            m.true_utility += float(shop.true_utility(user, ids, day).sum())
            m.slate_similarity += similarity(ids)
            seen_by = last_seen.setdefault(user, {})
            for iid in ids:
                prev = seen_by.get(iid)
                if prev is not None and day - prev <= cfg.repetition_days:
                    m.repeated += 1
                seen_by[iid] = day
                if iid not in ever_shown:
                    ever_shown.add(iid)
                    m.new_items += 1
            shown_today.update(ids)
            rng = np.random.default_rng([cfg.seed, day, user_pos[user]])
            events = shop.respond(user, ids, day, rng, propensities=[s.propensity for s in slate])
            for col, part in zip(online, _event_rows(events), strict=True):
                col.extend(part)  # type: ignore[attr-defined]
            _score(events, ids, ctx, user, request, day, shop, cfg, m, policy, pending, imp_rows)
        m.distinct_items = len(shown_today)
        days.append(m)
    return days, pd.DataFrame(imp_rows)


def _score(
    events: Sequence[Event],
    ids: Sequence[str],
    ctx: Context,
    user: str,
    request: str,
    day: int,
    shop: SimulatedShop,
    cfg: OnlineLoopConfig,
    m: DayMetrics,
    policy: Policy | None,
    pending: dict[int, list[Feedback]],
    imp_rows: dict[str, list[object]],
) -> None:
    """Count the slate's outcomes, queue late returns, and give the policy its feedback."""
    now: dict[str, list[EventType]] = {i: [] for i in ids}
    for e in events:
        if e.type == EventType.IMPRESSION:
            if cfg.keep_impressions:
                p = e.properties or {}
                imp_rows["day"].append(day)
                imp_rows["user_id"].append(e.user_id)
                imp_rows["item_id"].append(e.item_id)
                imp_rows["position"].append(int(p.get("position", 0)))
                imp_rows["propensity"].append(float(p.get("propensity", float("nan"))))
            continue
        role = _ROLE.get(e.type)
        if role is not None:
            setattr(m, role, getattr(m, role) + 1)
            m.reward += cfg.reward.reward([e.type])
        if e.item_id not in now:
            continue
        if e.type == EventType.PRODUCT_RETURNED:
            # Returns carry future timestamps: the policy hears of them on their day, not now.
            due = (e.ts.date() - shop.config.start).days
            pending.setdefault(max(due, day + 1), []).append(
                Feedback(e.item_id, ctx, (EventType.PRODUCT_RETURNED,), user_id=user, request_id=request,
                         correction=True))
        else:
            now[e.item_id].append(e.type)
    if policy is not None:
        for iid in ids:
            policy.learn_one(Feedback(iid, ctx, tuple(now[iid]), user_id=user, request_id=request))
