"""Live A/B split of recommendation strategies: which arm serves each shopper right now.

While a strategy experiment runs, :class:`~fitloop.services.recommend.RecommendationService` asks
:meth:`TrafficSplitService.assignment` on every served (logged) list. The shopper's arm comes from a
salted hash of experiment and shopper id (:func:`fitloop.marketing.splits.assign_arm`): sticky, the same
in every API process, nothing stored per shopper. The arm's :class:`Strategy` decides what is served,
and the impression log records experiment id and arm, from which outcomes are attributed.

Only one split runs at a time: two concurrent splits would mix their arms' effects. The running split is
one small document (kind ``traffic_split``) re-read at most once a second, so every process follows a
start or an end within a second. Shoppers who did not consent to personalisation are never enrolled
(they get the non-personalised list in both arms, so the test could not tell the arms apart for them),
and console previews and campaign content (lists not logged as impressions) are served normally.

>>> STRATEGIES["no_diversity"].without
frozenset({'diversity'})
>>> sorted(available_strategies(frozenset({"bandit"})))
['current', 'no_bandit', 'no_rerank', 'popularity']
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fitloop.errors import Conflict, InvalidInput
from fitloop.marketing.splits import ARMS, assign_arm
from fitloop.store import Stores
from fitloop.store.protocols import ConsoleDocument

__all__ = ["Strategy", "STRATEGIES", "Assignment", "SplitConfig", "TrafficSplitService", "available_strategies",
           "SPLIT_DOC_ID"]

SPLIT_DOC_ID = "traffic-split"
_KIND = "traffic_split"


@dataclass(frozen=True, slots=True)
class Strategy:
    """How one arm serves: personalised or the new-visitor list, re-ranked or not, which stages skipped."""

    name: str
    label: str
    personalised: bool = True
    rerank: bool = True
    without: frozenset[str] = field(default_factory=frozenset)

    def changes_serving(self, stages: frozenset[str] | None) -> bool:
        """Whether this strategy serves differently from the current one, given the re-ranking stages in use
        (``None``: no re-ranking configured)."""
        if not self.personalised:
            return True
        if not self.rerank:
            return bool(stages)
        return bool(self.without & (stages or frozenset()))


#: The strategies an arm can serve (all switchable per request by the recommendation service).
STRATEGIES: dict[str, Strategy] = {s.name: s for s in (
    Strategy("current", "current serving (model, re-ranking, merchandising)"),
    Strategy("no_rerank", "the model's own ranking, no re-ranking", rerank=False),
    Strategy("no_diversity", "re-ranking without the diversity stage", without=frozenset({"diversity"})),
    Strategy("no_bandit", "re-ranking without the bandit (no exploration)", without=frozenset({"bandit"})),
    Strategy("no_context", "re-ranking without weather, season and trends", without=frozenset({"context"})),
    Strategy("popularity", "popular items for everyone (not personalised)", personalised=False, rerank=False),
)}


def available_strategies(stages: frozenset[str] | None) -> dict[str, str]:
    """``{name: label}`` of the strategies this installation can serve: ``current`` plus every strategy that
    serves differently from it (switching off a stage that is not configured would test nothing)."""
    return {s.name: s.label for s in STRATEGIES.values() if s.name == "current" or s.changes_serving(stages)}


@dataclass(frozen=True, slots=True)
class Assignment:
    """The arm one shopper is in, and the strategy it serves."""

    experiment_id: str
    arm: str
    strategy: Strategy


@dataclass(frozen=True, slots=True)
class SplitConfig:
    """A running (or ended) split: ``share_b`` of shoppers get arm B; ``slot`` ``"*"`` covers every slot."""

    experiment_id: str
    arms: dict[str, str]
    share_b: float
    slot: str
    salt: str
    started_at: datetime
    ended_at: datetime | None = None

    @property
    def live(self) -> bool:
        return self.ended_at is None

    def to_data(self) -> dict[str, Any]:
        return {"experiment_id": self.experiment_id, "arms": dict(self.arms), "share_b": self.share_b,
                "slot": self.slot, "salt": self.salt, "started_at": self.started_at.isoformat(),
                "ended_at": self.ended_at.isoformat() if self.ended_at else None}

    @classmethod
    def from_data(cls, d: Any) -> SplitConfig:
        return cls(str(d["experiment_id"]), {str(k): str(v) for k, v in d["arms"].items()}, float(d["share_b"]),
                   str(d["slot"]), str(d["salt"]), datetime.fromisoformat(d["started_at"]),
                   datetime.fromisoformat(d["ended_at"]) if d.get("ended_at") else None)


class TrafficSplitService:
    """Starts and ends the live split and answers, per request, which arm serves a shopper."""

    def __init__(self, stores: Stores, *, max_age_s: float = 1.0) -> None:
        if stores.documents is None:
            raise InvalidInput("these stores have no console tables; run `fitloop db upgrade`")
        self._docs = stores.documents
        self._max_age_s = max_age_s
        self._lock = threading.Lock()
        self._cached: SplitConfig | None = None
        self._cached_at = -1e9

    # ------------------------------------------------------------------ serving path
    def current(self) -> SplitConfig | None:
        """The live split, re-read from the store at most every ``max_age_s`` seconds (None when none runs)."""
        now = time.monotonic()
        with self._lock:
            if now - self._cached_at < self._max_age_s:
                return self._cached
            doc = self._docs.get(SPLIT_DOC_ID)
            cfg = SplitConfig.from_data(doc.data) if doc is not None and doc.kind == _KIND else None
            self._cached = cfg if cfg is not None and cfg.live else None
            self._cached_at = now
            return self._cached

    def assignment(self, user_id: str, slot: str) -> Assignment | None:
        """The arm serving ``user_id`` in ``slot`` now, or None (no split, or the split covers another slot)."""
        cfg = self.current()
        if cfg is None or cfg.slot not in ("*", slot):
            return None
        arm = assign_arm(cfg.experiment_id, user_id, cfg.share_b, salt=cfg.salt)
        return Assignment(cfg.experiment_id, arm, STRATEGIES[cfg.arms[arm]])

    def invalidate(self) -> None:
        with self._lock:
            self._cached_at = -1e9

    # ------------------------------------------------------------------ console
    def start(self, experiment_id: str, name: str, *, arms: dict[str, str], share_b: float, slot: str, by: str,
              salt: str | None = None, now: datetime | None = None) -> SplitConfig:
        """Start splitting traffic; refused (:class:`Conflict`) while another experiment's split runs.

        ``salt``: the experiment's own (kept in its document), so shoppers keep their arm if it is started again.
        """
        if set(arms) != set(ARMS) or any(a not in STRATEGIES for a in arms.values()):
            raise InvalidInput(f"arms: A and B, each one of {', '.join(STRATEGIES)}")
        if arms["A"] == arms["B"]:
            raise InvalidInput("arms: A and B must serve different strategies")
        if not 0.0 < share_b < 1.0:
            raise InvalidInput("allocation: B's share must be strictly between 0 and 100 %")
        running = self.stored()
        if running is not None and running.live:
            if running.experiment_id == experiment_id:
                return running
            raise Conflict(f"experiment {running.experiment_id} is splitting traffic; end it first",
                           code="split_running")
        now = now or datetime.now(UTC)
        cfg = SplitConfig(experiment_id, dict(arms), share_b, slot, salt or secrets.token_hex(8), now)
        self._docs.put(ConsoleDocument(SPLIT_DOC_ID, _KIND, name[:200], "live", by, now, now, cfg.to_data()))
        self.invalidate()
        return cfg

    def end(self, experiment_id: str, *, by: str, now: datetime | None = None) -> SplitConfig | None:
        """Stop the split of ``experiment_id`` (normal serving again); returns it, or None if it was not live."""
        running = self.stored()
        if running is None or not running.live or running.experiment_id != experiment_id:
            return None
        now = now or datetime.now(UTC)
        ended = SplitConfig(running.experiment_id, running.arms, running.share_b, running.slot, running.salt,
                            running.started_at, now)
        doc = self._docs.get(SPLIT_DOC_ID)
        self._docs.put(ConsoleDocument(SPLIT_DOC_ID, _KIND, doc.name if doc else experiment_id, "ended", by,
                                       running.started_at, now, ended.to_data()))
        self.invalidate()
        return ended

    def stored(self) -> SplitConfig | None:
        """The split document as stored now (uncached; ``live`` False once ended), or None if there never was one."""
        doc = self._docs.get(SPLIT_DOC_ID)
        return SplitConfig.from_data(doc.data) if doc is not None and doc.kind == _KIND else None
