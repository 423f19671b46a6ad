"""Exponential decay with half-lives, stored so that updates are O(1) and order-independent.

The trick is *forward decay* (Cormode, Shkapenyuk, Srivastava and Xu, ICDE 2009): instead of
shrinking every stored weight each time time moves on, an event at time ``t`` is stored with the
weight ``w * 2 ** ((t - landmark) / half_life)`` and the whole counter is multiplied by
``2 ** (-(as_of - landmark) / half_life)`` only when it is read. A sum of such terms does not depend
on the order in which events arrive, so a profile updated live, event by event (even out of order),
equals a profile rebuilt from the raw log, up to float rounding.

>>> c = DecayedCounter(half_life_days=7.0)
>>> c.add("floral", 1.0, ts=0.0)
>>> round(c.value("floral", as_of=7 * DAY), 6)    # one half-life later: half the weight
0.5
>>> c.add("floral", 1.0, ts=7 * DAY)
>>> round(c.value("floral", as_of=7 * DAY), 6)
1.5
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from fitloop.errors import InvalidInput

__all__ = ["DAY", "DecayedCounter", "decay_factor"]

#: Seconds in a day; timestamps in this module are POSIX seconds (floats).
DAY: float = 86_400.0

# Rebase the landmark before 2**exponent can overflow a float (about 2**1023).
_MAX_EXPONENT = 600.0
# Events older than this many half-lives before the landmark are below float resolution anyway.
_MIN_EXPONENT = -1000.0


def decay_factor(age_seconds: float, half_life_days: float) -> float:
    """The weight left after ``age_seconds`` with a half-life of ``half_life_days``.

    >>> decay_factor(14 * DAY, 7.0)
    0.25
    """
    return float(2.0 ** (-age_seconds / (half_life_days * DAY)))


class DecayedCounter:
    """A dict of decaying weights, one half-life for all keys; O(1) per update.

    Values are kept relative to ``landmark`` (the first timestamp the counter saw). Reading at
    ``as_of`` applies the decay since then. Negative weights are allowed (a return can lower an
    affinity); readers clip at zero where a share is wanted.
    """

    __slots__ = ("half_life_days", "landmark", "_w")

    def __init__(self, half_life_days: float, landmark: float | None = None) -> None:
        if half_life_days <= 0:
            raise InvalidInput(f"half_life_days must be positive, got {half_life_days}")
        self.half_life_days = float(half_life_days)
        self.landmark: float | None = landmark
        self._w: dict[str, float] = {}

    def _exponent(self, ts: float) -> float:
        assert self.landmark is not None
        return (ts - self.landmark) / (self.half_life_days * DAY)

    def add(self, key: str, weight: float, ts: float) -> None:
        """Add ``weight`` for ``key`` at time ``ts`` (POSIX seconds)."""
        if self.landmark is None:
            self.landmark = ts
        e = self._exponent(ts)
        if e > _MAX_EXPONENT:
            self._rebase(ts)
            e = 0.0
        if e < _MIN_EXPONENT:
            return
        self._w[key] = self._w.get(key, 0.0) + weight * 2.0**e

    def _rebase(self, new_landmark: float) -> None:
        # Rare (every few hundred half-lives): costs O(keys) once, keeps updates O(1) amortised.
        shift = 2.0 ** (-self._exponent(new_landmark))
        self._w = {k: v * shift for k, v in self._w.items()}
        self.landmark = new_landmark

    def value(self, key: str, as_of: float) -> float:
        """The decayed weight of ``key`` at ``as_of``."""
        if self.landmark is None or key not in self._w:
            return 0.0
        return self._w[key] * 2.0 ** (-self._exponent(as_of))

    def values(self, as_of: float) -> dict[str, float]:
        """All decayed weights at ``as_of``."""
        if self.landmark is None:
            return {}
        f = 2.0 ** (-self._exponent(as_of))
        return {k: v * f for k, v in self._w.items()}

    def shares(self, as_of: float) -> dict[str, float]:
        """Positive weights as shares summing to 1, largest first (empty when nothing is positive)."""
        vals = self.values(as_of)
        # Weights lost in float rounding (an event cancelled by its reversal, say) are not a taste:
        # below this floor they count as zero, so the result does not hang on the order of the sums.
        floor = 1e-9 * max((abs(v) for v in vals.values()), default=0.0)
        pos = {k: v for k, v in vals.items() if v > floor}
        total = math.fsum(pos.values())
        if total <= 0:
            return {}
        return dict(sorted(((k, v / total) for k, v in pos.items()), key=lambda kv: (-kv[1], kv[0])))

    def total(self, as_of: float) -> float:
        """Sum of all decayed weights at ``as_of``."""
        return math.fsum(self.values(as_of).values())

    def to_dict(self) -> dict[str, Any]:
        return {"half_life_days": self.half_life_days, "landmark": self.landmark, "w": dict(self._w)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DecayedCounter:
        c = cls(float(d["half_life_days"]), None if d.get("landmark") is None else float(d["landmark"]))
        c._w = {str(k): float(v) for k, v in dict(d.get("w", {})).items()}
        return c
