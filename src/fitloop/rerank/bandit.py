"""An online contextual bandit that re-ranks a candidate list and learns from what shoppers do.

:class:`LinUCBBandit` keeps one small ridge regression per item (the "disjoint" LinUCB of Li et
al., 2010) over hashed context features (slot, channel, city, weekday, month, temperature band,
rain, and any numeric ``ctx.extra["features"]``). For each candidate it scores

    ``base_weight * (1 - rank / m)  +  theta_item . x  +  alpha * sqrt(x' A_item^-1 x)``

that is, the upstream ranking as a prior, the learned expected reward, and an optimism bonus that
shrinks as the item gathers feedback. Items without feedback cost no memory.

Exploration is uniform and its probabilities are exact: with probability ``1 - epsilon`` the list
is the top ``n`` by that score, otherwise a uniformly random ordering of ``n`` candidates. The
probability that candidate ``i`` is shown at slot ``j`` is therefore
``(1 - epsilon) * [i is the greedy choice for j] + epsilon / m``; it is written into each
:class:`~fitloop.data.ScoredItem`'s ``propensity``, so logged impressions can be used by the
off-policy estimators in :mod:`fitloop.evaluate.ope`. The coin flip and the random ordering are
seeded from (``rng``, user, request id), so a logged decision can be replayed.

The reward of an impression weighs what followed it (:class:`RewardWeights`): clicks, carts and
orders add, returns subtract. :meth:`LinUCBBandit.learn_one` is a rank-one Sherman-Morrison update
(tens of microseconds). A return that arrives weeks after the order is sent as a *correction*
(``Feedback(..., correction=True)``), which adjusts the reward without counting a new impression.

>>> from fitloop.data import Context, EventType, ScoredItem
>>> bandit = LinUCBBandit(BanditConfig(epsilon=0.0, alpha=0.5, rng=1))
>>> ctx = Context(slot="home")
>>> cands = [ScoredItem("a", 0.9), ScoredItem("b", 0.5), ScoredItem("c", 0.1)]
>>> for _ in range(20):
...     bandit.learn_one(Feedback("c", ctx, (EventType.PRODUCT_CLICKED, EventType.ORDER_COMPLETED)))
...     bandit.learn_one(Feedback("a", ctx, ()))
>>> [s.item_id for s in bandit.rerank(ctx, cands, 2, user_id="u1", request_id="r1")]
['c', 'b']
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from fitloop.data import Context, EventType, Item, ScoredItem
from fitloop.errors import InvalidInput, ModelBundleError
from fitloop.rerank.policy import eligible, rank_scores

__all__ = [
    "RewardWeights",
    "BanditConfig",
    "Feedback",
    "RerankPolicy",
    "LinUCBBandit",
    "PlainPolicy",
    "GuardedPolicy",
    "context_features",
    "decision_rng",
    "load_policy_or_plain",
]

logger = logging.getLogger(__name__)

STATE_FORMAT = "fitloop.bandit/1"

_EVENT_ROLE: dict[str, str] = {
    EventType.PRODUCT_CLICKED.value: "click",
    EventType.CART_ADDED.value: "cart",
    EventType.ORDER_COMPLETED.value: "order",
    EventType.PRODUCT_RETURNED.value: "returned",
}


@dataclass(frozen=True)
class RewardWeights:
    """What each event after an impression is worth. Returns count against the item.

    >>> RewardWeights().reward(["product_clicked", "order_completed", "product_returned"])
    2.0
    >>> RewardWeights(returned=0.0).reward([EventType.ORDER_COMPLETED, EventType.PRODUCT_RETURNED])
    5.0
    """

    click: float = 1.0
    cart: float = 2.0
    order: float = 5.0
    returned: float = -4.0

    def reward(self, events: Iterable[str | EventType]) -> float:
        """The summed weight of ``events``; events the bandit does not reward are ignored."""
        total = 0.0
        for ev in events:
            name = ev.value if isinstance(ev, EventType) else str(ev)
            role = _EVENT_ROLE.get(name)
            if role is not None:
                total += float(getattr(self, role))
        return total


@dataclass(frozen=True)
class BanditConfig:
    """Hyperparameters of :class:`LinUCBBandit`.

    ``alpha``: width of the optimism bonus; ``epsilon``: share of uniformly random lists;
    ``reg``: ridge strength (prior precision); ``context_dim``: hashed context size (bias included);
    ``base_weight``: weight of the upstream ranking, in reward units; ``rng``: exploration seed.
    ``alpha`` and ``base_weight`` are in reward units: with a few per cent click rate the mean
    reward per impression is around 0.05-0.1, so the defaults keep exploration modest (a larger
    ``alpha`` spent most of a simulated shop's traffic on exploring; docs/evaluation/bandits.md).
    """

    alpha: float = 0.05
    epsilon: float = 0.05
    reg: float = 1.0
    context_dim: int = 16
    base_weight: float = 0.3
    rng: int = 0
    reward: RewardWeights = RewardWeights()

    def __post_init__(self) -> None:
        if not 0.0 <= self.epsilon <= 1.0:
            raise InvalidInput("epsilon must lie in [0, 1]")
        if self.reg <= 0:
            raise InvalidInput("reg must be positive")
        if self.alpha < 0:
            raise InvalidInput("alpha must be non-negative")
        if not 2 <= self.context_dim <= 1024:
            raise InvalidInput("context_dim must lie in [2, 1024]")


@dataclass(frozen=True)
class Feedback:
    """What happened after ``item_id`` was shown in ``context``.

    ``events`` are the follow-up event types (none: shown and ignored, reward 0). With
    ``correction=True`` the reward adjusts an earlier impression (a late return) instead of
    counting as a new one.
    """

    item_id: str
    context: Context
    events: tuple[str | EventType, ...] = ()
    user_id: str = ""
    request_id: str = ""
    correction: bool = False


class RerankPolicy(Protocol):
    """What the recommendation pipeline needs from a re-ranking policy."""

    def rerank(
        self, ctx: Context, candidates: Sequence[ScoredItem], n: int, *, user_id: str | None = None,
        request_id: str | None = None,
    ) -> list[ScoredItem]: ...

    def learn_one(self, feedback: Feedback) -> None: ...


def _stable_hash(text: str) -> int:
    # Python's hash() is salted per process; decisions must replay across processes.
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")


def _temperature_band(t: float) -> str:
    return "cold" if t < 5 else "cool" if t < 15 else "mild" if t < 25 else "hot"


def context_features(ctx: Context, dim: int = 16) -> np.ndarray:
    """The unit-length hashed feature vector of a context (index 0 is a constant bias).

    >>> x = context_features(Context(slot="home", temperature_c=21.0), 16)
    >>> x.shape, round(float(np.linalg.norm(x)), 6), bool(x[0] > 0)
    ((16,), 1.0, True)
    """
    x = np.zeros(dim)
    x[0] = 1.0
    tokens = [f"slot={ctx.slot}", f"channel={ctx.channel}"]
    if ctx.city:
        tokens.append(f"city={ctx.city.lower()}")
    if ctx.day is not None:
        tokens += [f"weekday={ctx.day.weekday()}", f"month={ctx.day.month}"]
    if ctx.temperature_c is not None:
        tokens.append(f"temp={_temperature_band(float(ctx.temperature_c))}")
    if ctx.rain_mm is not None:
        tokens.append(f"rain={float(ctx.rain_mm) >= 1.0}")
    for tok in tokens:
        x[1 + _stable_hash(tok) % (dim - 1)] += 1.0
    extra = ctx.extra.get("features") if ctx.extra else None
    if isinstance(extra, dict):
        for name, value in extra.items():
            try:
                v = float(value)
            except (TypeError, ValueError):
                continue
            if np.isfinite(v):
                x[1 + _stable_hash(f"f={name}") % (dim - 1)] += v
    norm = np.linalg.norm(x)
    return x / norm if norm > 0 else x


_X_MEMO: dict[tuple[object, ...], np.ndarray] = {}


def _context_x(ctx: Context, dim: int) -> np.ndarray:
    """:func:`context_features`, memoised for contexts without ``extra["features"]`` (read-only array).

    Serving sees a handful of distinct contexts (slot, channel, city, day, weather); hashing their
    tokens again on every request was a tenth of the bandit's time.
    """
    if ctx.extra and ctx.extra.get("features") is not None:
        return context_features(ctx, dim)
    key = (dim, ctx.slot, ctx.channel, ctx.city, ctx.day, ctx.temperature_c, ctx.rain_mm)
    x = _X_MEMO.get(key)
    if x is None:
        x = context_features(ctx, dim)
        x.setflags(write=False)
        if len(_X_MEMO) > 10_000:
            _X_MEMO.clear()
        _X_MEMO[key] = x
    return x


def decision_rng(seed: int, user_id: str, request_id: str) -> np.random.Generator:
    """The generator behind one serving decision: same (seed, user, request) → same draws."""
    return np.random.default_rng([seed, _stable_hash(f"u:{user_id}"), _stable_hash(f"r:{request_id}")])


def _ids(ctx: Context, user_id: str | None, request_id: str | None) -> tuple[str, str]:
    extra = ctx.extra or {}
    return (
        str(user_id if user_id is not None else extra.get("user_id", "")),
        str(request_id if request_id is not None else extra.get("request_id", "")),
    )


class PlainPolicy:
    """The fallback: the upstream ranking as it came (first ``n``), deterministic, learns nothing.

    Duplicates and ``ctx.extra["exclude"]`` are still dropped: a fallback must not show what the
    shopper opted out of.

    >>> PlainPolicy().rerank(Context(), [ScoredItem("a", 1.0), ScoredItem("b", 0.5)], 1)
    [ScoredItem(item_id='a', score=1.0, reason='', propensity=1.0, source='')]
    """

    version = "plain"

    def rerank(
        self, ctx: Context, candidates: Sequence[ScoredItem], n: int, *, user_id: str | None = None,
        request_id: str | None = None,
    ) -> list[ScoredItem]:
        if n < 0:
            raise InvalidInput("n must be non-negative")
        return [ScoredItem(c.item_id, c.score, c.reason, 1.0, c.source) for c in eligible(ctx, candidates, None)[:n]]

    def learn_one(self, feedback: object) -> None:
        return None


class LinUCBBandit:
    """Disjoint LinUCB over hashed context features, with logged uniform exploration.

    Put it *last* in a :class:`fitloop.rerank.policy.Chain`: a later stage that reorders the list
    would make the logged propensities wrong. Candidates that are duplicates, excluded
    (``ctx.extra["exclude"]``) or out of stock in ``catalog`` (when given) are dropped first.
    """

    def __init__(self, config: BanditConfig | None = None, *, catalog: Mapping[str, Item] | None = None) -> None:
        self.config = config or BanditConfig()
        self.catalog = catalog
        d = self.config.context_dim
        self._index: dict[str, int] = {}
        self._a_inv = np.zeros((0, d, d))
        self._b = np.zeros((0, d))
        self._n = np.zeros(0, dtype=np.int64)
        self._updates = 0
        self._lock = threading.Lock()

    @property
    def version(self) -> str:
        """Changes with every update, so a logged decision names the state that made it."""
        return f"linucb-{self._updates}"

    @property
    def n_items(self) -> int:
        return len(self._index)

    def _row(self, item_id: str) -> int:
        idx = self._index.get(item_id)
        if idx is not None:
            return idx
        idx = len(self._index)
        if idx == len(self._b):
            # Grow geometrically so that adding items stays amortised O(1).
            cap = max(8, 2 * len(self._b))
            d = self.config.context_dim
            a_inv = np.zeros((cap, d, d))
            a_inv[: len(self._b)] = self._a_inv
            b = np.zeros((cap, d))
            b[: len(self._b)] = self._b
            n = np.zeros(cap, dtype=np.int64)
            n[: len(self._b)] = self._n
            self._a_inv, self._b, self._n = a_inv, b, n
        self._a_inv[idx] = np.eye(self.config.context_dim) / self.config.reg
        self._b[idx] = 0.0
        self._n[idx] = 0
        self._index[item_id] = idx
        return idx

    def learn_one(self, feedback: Feedback | object) -> None:
        """Update the shown item's model with the weighted reward of what followed.

        Anything but a :class:`Feedback` (a raw event forwarded by a policy chain) is ignored.
        """
        if not isinstance(feedback, Feedback):
            return None
        if not feedback.item_id:
            raise InvalidInput("feedback needs the item_id that was shown")
        x = context_features(feedback.context, self.config.context_dim)
        r = self.config.reward.reward(feedback.events)
        with self._lock:
            i = self._row(feedback.item_id)
            if not feedback.correction:
                a_inv = self._a_inv[i]
                ax = a_inv @ x
                a_inv -= np.outer(ax, ax) / (1.0 + x @ ax)
                self._n[i] += 1
            self._b[i] += r * x
            self._updates += 1

    def expected_rewards(self, ctx: Context, item_ids: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """The learned mean reward and its uncertainty (standard-deviation-like) per item."""
        x = _context_x(ctx, self.config.context_dim)
        mean = np.zeros(len(item_ids))
        width = np.full(len(item_ids), float(np.sqrt(x @ x / self.config.reg)))
        with self._lock:
            rows = [(j, self._index[i]) for j, i in enumerate(item_ids) if i in self._index]
            if rows:
                pos = np.array([j for j, _ in rows])
                idx = np.array([k for _, k in rows])
                a_inv = self._a_inv[idx]
                ax = a_inv @ x
                mean[pos] = np.einsum("md,md->m", ax, self._b[idx])
                width[pos] = np.sqrt(np.maximum(ax @ x, 0.0))
        return mean, width

    def rerank(
        self, ctx: Context, candidates: Sequence[ScoredItem], n: int, *, user_id: str | None = None,
        request_id: str | None = None,
    ) -> list[ScoredItem]:
        """Pick and order ``n`` of ``candidates``; each result carries its exact propensity.

        ``user_id``/``request_id`` default to ``ctx.extra["user_id"]``/``["request_id"]``.
        """
        if n < 0:
            raise InvalidInput("n must be non-negative")
        cands = eligible(ctx, candidates, self.catalog)
        m = len(cands)
        k = min(n, m)
        if k == 0:
            return []
        cfg = self.config
        mean, width = self.expected_rewards(ctx, [c.item_id for c in cands])
        prior = cfg.base_weight * rank_scores(m)
        score = prior + mean + cfg.alpha * width
        greedy = np.argsort(-score, kind="stable")[:k]
        user, request = _ids(ctx, user_id, request_id)
        gen = decision_rng(cfg.rng, user, request)
        explore = bool(gen.random() < cfg.epsilon)
        chosen = gen.permutation(m)[:k] if explore else greedy
        out = []
        for slot, j in enumerate(chosen):
            p = (1.0 - cfg.epsilon) * float(greedy[slot] == j) + cfg.epsilon / m
            c = cands[j]  # a direct copy: dataclasses.replace costs ten times as much on this hot path
            out.append(ScoredItem(c.item_id, float(score[j]), c.reason, p, c.source))
        return out

    # ------------------------------------------------------------------ state
    def to_state(self) -> tuple[dict[str, object], dict[str, np.ndarray]]:
        """JSON-able metadata and numpy arrays that :meth:`from_state` turns back into this policy."""
        with self._lock:
            k = len(self._index)
            ids = sorted(self._index, key=self._index.__getitem__)
            meta: dict[str, object] = {
                "format": STATE_FORMAT,
                "config": asdict(self.config),
                "updates": self._updates,
                "n_items": k,
            }
            arrays = {
                "item_ids": np.array(ids, dtype=str) if ids else np.zeros(0, dtype="<U1"),
                "a_inv": self._a_inv[:k].copy(),
                "b": self._b[:k].copy(),
                "n": self._n[:k].copy(),
            }
        return meta, arrays

    @classmethod
    def from_state(
        cls, meta: dict[str, object], arrays: dict[str, np.ndarray], *, catalog: Mapping[str, Item] | None = None
    ) -> LinUCBBandit:
        """Rebuild a policy; raise :class:`ModelBundleError` when the state is inconsistent."""
        if meta.get("format") != STATE_FORMAT:
            raise ModelBundleError(f"bandit state has format {meta.get('format')!r}, expected {STATE_FORMAT!r}")
        try:
            raw = dict(meta["config"])  # type: ignore[call-overload]
            raw["reward"] = RewardWeights(**raw.get("reward", {}))
            config = BanditConfig(**raw)
            ids = [str(i) for i in arrays["item_ids"].tolist()]
            a_inv = np.asarray(arrays["a_inv"], dtype=float)
            b = np.asarray(arrays["b"], dtype=float)
            n = np.asarray(arrays["n"], dtype=np.int64)
            updates = int(meta["updates"])  # type: ignore[call-overload]
        except (KeyError, TypeError, ValueError, InvalidInput) as exc:
            raise ModelBundleError(f"bandit state is incomplete or malformed: {exc}") from exc
        k, d = len(ids), config.context_dim
        if a_inv.shape != (k, d, d) or b.shape != (k, d) or n.shape != (k,) or len(set(ids)) != k:
            raise ModelBundleError(
                f"bandit state arrays disagree: {k} items, a_inv {a_inv.shape}, b {b.shape}, n {n.shape}, d={d}"
            )
        if not (np.isfinite(a_inv).all() and np.isfinite(b).all()):
            raise ModelBundleError("bandit state holds NaN or infinite values")
        policy = cls(config, catalog=catalog)
        policy._index = {item: i for i, item in enumerate(ids)}
        policy._a_inv, policy._b, policy._n = a_inv.copy(), b.copy(), n.copy()
        policy._updates = updates
        return policy

    def save(self, directory: str | Path) -> Path:
        """Write ``state.json`` and ``state.npz`` into ``directory`` (created if needed)."""
        meta, arrays = self.to_state()
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        # npz first, then json: a reader that finds the json finds matching arrays.
        np.savez(out / "state.npz", **arrays)  # type: ignore[arg-type]
        tmp = out / "state.json.tmp"
        tmp.write_text(json.dumps(meta, indent=2), encoding="utf-8")
        tmp.replace(out / "state.json")
        return out

    @classmethod
    def load(cls, directory: str | Path, *, catalog: Mapping[str, Item] | None = None) -> LinUCBBandit:
        """Load a folder written by :meth:`save`; raise :class:`ModelBundleError` if unusable."""
        d = Path(directory)
        try:
            meta = json.loads((d / "state.json").read_text(encoding="utf-8"))
            with np.load(d / "state.npz", allow_pickle=False) as data:
                arrays = {key: np.array(data[key]) for key in data.files}
        except (OSError, ValueError, EOFError) as exc:
            raise ModelBundleError(f"cannot read the bandit state in {d}: {exc}") from exc
        if not isinstance(meta, dict):
            raise ModelBundleError(f"{d / 'state.json'} does not hold a JSON object")
        return cls.from_state(meta, arrays, catalog=catalog)


class GuardedPolicy:
    """Serve through ``policy``; if it fails at serving time, serve the plain ranking and log it.

    Input errors (``n < 0``) still raise: they are the caller's bug, not the shopper's problem.

    >>> class Broken:
    ...     version = "broken"
    ...     def rerank(self, ctx, candidates, n, *, user_id=None, request_id=None): raise RuntimeError("boom")
    ...     def learn_one(self, feedback): raise RuntimeError("boom")
    >>> [s.item_id for s in GuardedPolicy(Broken()).rerank(Context(), [ScoredItem("a", 1.0)], 1)]
    ['a']
    """

    def __init__(self, policy: RerankPolicy) -> None:
        self.policy = policy
        self._plain = PlainPolicy()

    @property
    def version(self) -> str:
        return str(getattr(self.policy, "version", "unknown"))

    def rerank(
        self, ctx: Context, candidates: Sequence[ScoredItem], n: int, *, user_id: str | None = None,
        request_id: str | None = None,
    ) -> list[ScoredItem]:
        if n < 0:
            raise InvalidInput("n must be non-negative")
        try:
            return self.policy.rerank(ctx, candidates, n, user_id=user_id, request_id=request_id)
        except Exception as exc:  # a failing policy must not reach the shopper
            logger.warning("policy %s failed to rerank (%s); serving the plain ranking", self.version, exc)
            return self._plain.rerank(ctx, candidates, n)

    def learn_one(self, feedback: Feedback) -> None:
        try:
            self.policy.learn_one(feedback)
        except Exception as exc:  # feedback is best effort; losing one update beats failing the request
            logger.warning("policy %s failed to learn from feedback on %s (%s)", self.version, feedback.item_id, exc)


def load_policy_or_plain(
    directory: str | Path | None, *, catalog: Mapping[str, Item] | None = None
) -> LinUCBBandit | PlainPolicy:
    """The saved bandit, or — when it cannot be loaded — the plain ranking, with a warning.

    A shopper must never see an error because a bandit state is missing or corrupt.

    >>> type(load_policy_or_plain("/nonexistent/bandit")).__name__
    'PlainPolicy'
    """
    if directory is None:
        return PlainPolicy()
    try:
        return LinUCBBandit.load(directory, catalog=catalog)
    except Exception as exc:  # any failure must degrade to the plain ranking, never reach the shopper
        logger.warning("bandit state at %s cannot be loaded (%s); serving the plain ranking", directory, exc)
        return PlainPolicy()
