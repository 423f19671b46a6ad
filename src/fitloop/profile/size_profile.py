"""A shopper's size per category, learned from purchases, keeps and size returns.

Every purchase is a vote for the size bought; a return marked ``too_small`` is a vote for one
size step up, ``too_large`` one step down. The shopper's *true size* in a category is the weighted
mean of those votes on the size scale, and the recommended size is the offered size nearest to it.
Votes are plain sums, so the profile does not depend on the order in which events arrive.

Letter sizes (XXS .. 4XL) are placed on a ladder (XS=2, S=3, M=4, …, one step apart); numeric
sizes (EU 34/36/38, US 0/2/4, shoe 38/39) are used as numbers, with a step of 2 when every size seen
in the category is even and 1 otherwise.

>>> sp = SizeProfile()
>>> sp.learn_one("order_completed", "dresses", "M")
>>> sp.learn_one("product_returned", "dresses", "M", reason="too_small")
>>> sp.learn_one("order_completed", "dresses", "L")
>>> sp.recommend("dresses", ["S", "M", "L", "XL"])
'L'
>>> sp.return_tendency("dresses")
'too_small'
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["SizeProfile", "size_value", "LETTER_SIZES"]

#: Letter sizes in order; aliases below map other spellings onto these.
LETTER_SIZES: tuple[str, ...] = ("XXXS", "XXS", "XS", "S", "M", "L", "XL", "XXL", "XXXL", "4XL", "5XL")
_ALIASES = {"2XS": "XXS", "3XS": "XXXS", "2XL": "XXL", "3XL": "XXXL", "XXXXL": "4XL", "XXXXXL": "5XL"}
_LETTER_INDEX = {s: i for i, s in enumerate(LETTER_SIZES)}

# Slots of one size cell: bought units, returned too small, returned too large, other returns.
_BOUGHT, _SMALL, _LARGE, _OTHER = 0, 1, 2, 3


def size_value(size: str) -> tuple[str, float] | None:
    """``("letter"|"numeric", position)`` of a size label, or None when it is not a size scale.

    >>> size_value("m"), size_value("2XL"), size_value("38"), size_value("one size")
    (('letter', 4.0), ('letter', 7.0), ('numeric', 38.0), None)
    """
    s = str(size).strip().upper()
    s = _ALIASES.get(s, s)
    if s in _LETTER_INDEX:
        return "letter", float(_LETTER_INDEX[s])
    try:
        v = float(s.replace(",", "."))
    except ValueError:
        return None
    return ("numeric", v) if math.isfinite(v) else None


class SizeProfile:
    """Size votes per category: ``cells[category][size] = [bought, too_small, too_large, other_returns]``."""

    __slots__ = ("cells",)

    def __init__(self) -> None:
        self.cells: dict[str, dict[str, list[float]]] = {}

    def learn_one(self, kind: str, category: str, size: str | None, quantity: float = 1.0,
                  reason: str | None = None) -> None:
        """Count a purchase (``order_completed``), cancellation or return of ``size`` in ``category``."""
        if not size or not category or size_value(size) is None:
            return
        cell = self.cells.setdefault(category, {}).setdefault(str(size).strip().upper(), [0.0, 0.0, 0.0, 0.0])
        if kind == "order_completed":
            cell[_BOUGHT] += quantity
        elif kind == "order_cancelled":
            cell[_BOUGHT] -= quantity
        elif kind == "product_returned":
            slot = {"too_small": _SMALL, "too_large": _LARGE}.get(reason or "", _OTHER)
            cell[slot] += quantity

    def _step(self, category: str, system: str) -> float:
        if system == "letter":
            return 1.0
        vals = [v[1] for s in self.cells.get(category, {}) if (v := size_value(s)) and v[0] == "numeric"]
        return 2.0 if vals and all(x == int(x) and int(x) % 2 == 0 for x in vals) else 1.0

    def true_size(self, category: str) -> tuple[str, float, float] | None:
        """``(system, position, weight)`` of the shopper's estimated size in ``category``, or None."""
        by_system: dict[str, list[tuple[float, float]]] = {}
        for size, (bought, small, large, other) in self.cells.get(category, {}).items():
            sv = size_value(size)
            if sv is None:
                continue
            system, v = sv
            step = self._step(category, system)
            kept = max(bought - small - large, 0.0)  # other returns still say the size was right
            votes = by_system.setdefault(system, [])
            votes += [(v, kept), (v + step, small), (v - step, large)]
            del other
        best: tuple[str, float, float] | None = None
        for system, votes in by_system.items():
            w = math.fsum(x for _, x in votes if x > 0)
            if w <= 0:
                continue
            pos = math.fsum(v * x for v, x in votes if x > 0) / w
            # Ties go to the system name, not to whichever came first: order-independent.
            if best is None or (w, system) > (best[2], best[0]):
                best = (system, pos, w)
        return best

    def recommend(self, category: str, sizes: Sequence[str]) -> str | None:
        """The offered size nearest to the shopper's true size in ``category`` (ties: the larger), or None.

        Falls back to the shopper's sizes in other categories on the same size system when the
        category has no votes (a shopper's M in tops is a better guess than nothing in knitwear).
        """
        offered = [(s, sv) for s in sizes if (sv := size_value(s)) is not None]
        if not offered:
            return None
        est = self.true_size(category)
        systems = {sv[0] for _, sv in offered}
        if est is None or est[0] not in systems:
            pooled = [t for c in self.cells if (t := self.true_size(c)) is not None and t[0] in systems]
            if not pooled:
                return None
            weight = {sys_: math.fsum(t[2] for t in pooled if t[0] == sys_) for sys_ in {t[0] for t in pooled}}
            chosen = max(weight, key=lambda k: (weight[k], k))
            pooled = [t for t in pooled if t[0] == chosen]
            w = math.fsum(t[2] for t in pooled)
            est = (chosen, math.fsum(t[1] * t[2] for t in pooled) / w, w)
        system, pos, _ = est
        cands = [(abs(sv[1] - pos), -sv[1], s) for s, sv in offered if sv[0] == system]
        return min(cands)[2] if cands else None

    def return_tendency(self, category: str | None = None) -> str | None:
        """``too_small``/``too_large`` when the shopper returns mostly for that reason, else None."""
        cats = [category] if category else list(self.cells)
        small = math.fsum(c[_SMALL] for k in cats for c in self.cells.get(k, {}).values())
        large = math.fsum(c[_LARGE] for k in cats for c in self.cells.get(k, {}).values())
        if small == large == 0:
            return None
        if small > large:
            return "too_small"
        return "too_large" if large > small else None

    def summary(self) -> dict[str, dict[str, Any]]:
        """Per category: usual size bought, estimated position, votes and size returns."""
        out: dict[str, dict[str, Any]] = {}
        for cat, cells in sorted(self.cells.items()):
            est = self.true_size(cat)
            if est is None:
                continue
            usual = max(cells.items(), key=lambda kv: (kv[1][_BOUGHT], kv[0]))[0]
            out[cat] = {
                "usual_size": usual,
                "system": est[0],
                "true_size": est[1],
                "votes": est[2],
                "too_small": math.fsum(c[_SMALL] for c in cells.values()),
                "too_large": math.fsum(c[_LARGE] for c in cells.values()),
            }
        return out

    def to_dict(self) -> dict[str, Any]:
        return {cat: {s: list(v) for s, v in cells.items()} for cat, cells in self.cells.items()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SizeProfile:
        sp = cls()
        sp.cells = {str(c): {str(s): [float(x) for x in v] for s, v in dict(cells).items()} for c, cells in d.items()}
        return sp
