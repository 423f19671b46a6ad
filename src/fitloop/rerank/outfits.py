"""Complete the outfit: complementary items across garment slots, learned from co-purchase.

Every article type belongs to a slot (:data:`SLOT_KEYWORDS`): ``top``, ``bottom``, ``dress``,
``outerwear``, ``shoes`` or ``accessory`` (underwear, socks, swimwear and nightwear have none and
are never suggested). An outfit holds at most one item per slot, and a dress takes the place of a
top and a bottom.

From baskets (one shopper's orders on one day) the completer learns the **lift** of each pair of
article types: how much more often they are bought together than chance, shrunk towards the lift
of their two slots when a pair is rare. For an anchor item (``ctx.item_id``, or the items in
``ctx.extra["outfit_of"]``, e.g. the cart) it keeps candidates that fill an open slot and are in
stock in the shopper's size (``ctx.extra["size"]``), scores them by

    1 - rank / m  +  weight * log(lift(anchor type, candidate type))

and lists the best item of each open slot first. The reason names the pairing: "completes the
look with your dress: cardigans are bought with dresses 2.1× as often as chance".

>>> import pandas as pd
>>> from fitloop.data import Context, Item, ScoredItem, Variant, make_interactions
>>> cat = {"d": Item("d", "Dress", "c", "Dress", 30), "k": Item("k", "Cardigan", "c", "Cardigan", 20),
...        "t": Item("t", "Top", "c", "Top", 10), "s": Item("s", "Sandals", "c", "Sandals", 25,
...        variants=(Variant("38", 0), Variant("39", 2)))}
>>> baskets = make_interactions(["u1", "u1", "u2", "u2", "u3", "u3", "u4"], ["d", "k", "d", "k", "t", "s", "d"],
...                             ["2024-01-01"] * 7)
>>> oc = OutfitCompleter(cat, OutfitConfig(min_pair_count=1)); oc.train(baskets)
>>> ctx = Context(item_id="d", extra={"size": "38"})
>>> [s.item_id for s in oc.rerank(ctx, [ScoredItem("t", 3), ScoredItem("s", 2), ScoredItem("k", 1)], 3)]
['k']
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from fitloop.catalog.season_suitability import type_key
from fitloop.data import Context, Item, ScoredItem
from fitloop.errors import InvalidInput, ModelBundleError, NotTrained
from fitloop.rerank.policy import add_reason, check_n, eligible, shopper_sizes

__all__ = ["SLOTS", "SLOT_KEYWORDS", "slot_of", "OutfitConfig", "OutfitCompleter"]

SLOTS: tuple[str, ...] = ("top", "bottom", "dress", "outerwear", "shoes", "accessory")

#: Words of a normalised article type (see :func:`fitloop.catalog.type_key`) -> slot; first match wins,
#: so the more specific words come first.
SLOT_KEYWORDS: tuple[tuple[str, str], ...] = (
    ("underwear", ""), ("bra", ""), ("sock", ""), ("tight", ""), ("pyjama", ""), ("nightgown", ""),
    ("swim", ""), ("bikini", ""), ("robe", ""), ("brief", ""), ("boxer", ""), ("night", ""),
    ("sandal", "shoes"), ("sneaker", "shoes"), ("boot", "shoes"), ("shoe", "shoes"), ("pump", "shoes"),
    ("ballerina", "shoes"), ("heel", "shoes"), ("flat", "shoes"), ("loafer", "shoes"), ("wedge", "shoes"),
    ("slipper", "shoes"), ("flipflop", "shoes"), ("trainer", "shoes"),
    ("cardigan", "outerwear"), ("coat", "outerwear"), ("jacket", "outerwear"), ("blazer", "outerwear"),
    ("waistcoat", "outerwear"), ("parka", "outerwear"), ("gilet", "outerwear"), ("poncho", "outerwear"),
    ("dress", "dress"), ("jumpsuit", "dress"), ("playsuit", "dress"), ("dungaree", "dress"), ("gown", "dress"),
    ("saree", "dress"), ("kurta", "dress"),
    ("trouser", "bottom"), ("jean", "bottom"), ("short", "bottom"), ("skirt", "bottom"), ("legging", "bottom"),
    ("chino", "bottom"), ("jogger", "bottom"), ("capri", "bottom"), ("pant", "bottom"),
    ("shirt", "top"), ("top", "top"), ("blouse", "top"), ("sweater", "top"), ("hoodie", "top"),
    ("polo", "top"), ("tunic", "top"), ("bodysuit", "top"), ("camisole", "top"), ("jumper", "top"),
    ("sweatshirt", "top"), ("kurti", "top"),
    ("bag", "accessory"), ("scarf", "accessory"), ("belt", "accessory"), ("hat", "accessory"),
    ("cap", "accessory"), ("sunglass", "accessory"), ("earring", "accessory"), ("necklace", "accessory"),
    ("bracelet", "accessory"), ("ring", "accessory"), ("glove", "accessory"), ("watch", "accessory"),
    ("wallet", "accessory"), ("clutch", "accessory"), ("backpack", "accessory"), ("hair", "accessory"),
    ("beanie", "accessory"), ("tie", "accessory"),
)

# Slots an anchor fills: a dress is also the top and the bottom.
_FILLS = {"dress": ("dress", "top", "bottom"), "top": ("top", "dress"), "bottom": ("bottom", "dress")}


def slot_of(item: Item) -> str:
    """The outfit slot of an item ("" for none), from its article type, else its category.

    >>> slot_of(Item("x", "x", "c", "Light cardigan", 1)), slot_of(Item("y", "y", "c", "Bra", 1))
    ('outerwear', '')
    """
    for name in (item.article_type, item.category):
        k = type_key(name or "")
        if not k:
            continue
        for word, slot in SLOT_KEYWORDS:
            if word in k:
                return slot
    return ""


def _plural(label: str) -> str:
    label = label.lower()
    if label.endswith(("ss", "sh", "ch", "x")):
        return label + "es"
    return label if label.endswith("s") else label + "s"


@dataclass(frozen=True, slots=True)
class OutfitConfig:
    weight: float = 1.0  # per unit of log-lift; the upstream rank score spans 0..1
    shrinkage: float = 5.0  # pseudo-count (in expected co-purchases) pulling a type pair to its slot pair
    min_pair_count: int = 2
    kinds: tuple[str, ...] = ("order_completed",)


class OutfitCompleter:
    """Learns type-pair lifts from co-purchase; re-ranks candidates into a complementary outfit."""

    def __init__(self, catalog: Mapping[str, Item], config: OutfitConfig | None = None) -> None:
        self.catalog = catalog
        self.config = config or OutfitConfig()
        self._type_lift: dict[tuple[str, str], float] = {}
        self._slot_lift: dict[tuple[str, str], float] = {}
        self._labels: dict[str, str] = {}
        self.trained = False

    # -- learning -------------------------------------------------------------------------------
    def train(self, interactions: pd.DataFrame) -> None:
        """Learn lifts from ``interactions`` (user_id, item_id, ts, kind); baskets are shopper × day."""
        cfg = self.config
        df = interactions
        if "kind" in df.columns:
            df = df[df["kind"].isin(cfg.kinds)]
        rows = []
        for uid, iid, ts in zip(df["user_id"], df["item_id"], df["ts"], strict=True):
            item = self.catalog.get(str(iid))
            if item is None:
                continue
            slot = slot_of(item)
            if slot:
                rows.append((f"{uid}|{pd.Timestamp(ts).date()}", type_key(item.article_type), slot))
                self._labels.setdefault(type_key(item.article_type), item.article_type)
        if not rows:
            raise InvalidInput("no purchases of catalog items with an outfit slot; cannot learn outfits")
        b = pd.DataFrame(rows, columns=["basket", "type", "slot"]).drop_duplicates()
        n_baskets = b["basket"].nunique()
        self._slot_lift = self._lifts(b, "slot", n_baskets, {})
        self._type_lift = self._lifts(b, "type", n_baskets, self._slot_lift,
                                      slot_of_type=dict(zip(b["type"], b["slot"], strict=False)))
        self.trained = True

    def _lifts(self, b: pd.DataFrame, col: str, n_baskets: int, prior: Mapping[tuple[str, str], float],
               slot_of_type: Mapping[str, str] | None = None) -> dict[tuple[str, str], float]:
        cfg = self.config
        per = b.drop_duplicates(["basket", col])
        counts = per[col].value_counts()
        pairs = per.merge(per, on="basket")
        pairs = pairs[pairs[f"{col}_x"] != pairs[f"{col}_y"]]
        n_ab = pairs.groupby([f"{col}_x", f"{col}_y"]).size()
        out = {}
        for (a, c), n in n_ab.items():
            if n < cfg.min_pair_count:
                continue
            expected = counts[a] * counts[c] / n_baskets
            base = 1.0
            if slot_of_type is not None:
                base = prior.get((slot_of_type[a], slot_of_type[c]), 1.0)
            # Shrink towards the slot pair's lift with `shrinkage` pseudo expected co-purchases.
            k = cfg.shrinkage if slot_of_type is not None else 0.0
            out[(str(a), str(c))] = float((n + k * base) / (expected + k))
        return out

    def lift(self, anchor: Item, other: Item) -> float:
        """Learned lift of the pair (type pair, else slot pair, else 1.0)."""
        ka, kb = type_key(anchor.article_type), type_key(other.article_type)
        if (ka, kb) in self._type_lift:
            return self._type_lift[(ka, kb)]
        return self._slot_lift.get((slot_of(anchor), slot_of(other)), 1.0)

    def complements(self, article_type: str, k: int = 5) -> list[tuple[str, float]]:
        """The ``k`` article types bought most (by lift) with ``article_type``, for the console and docs."""
        a = type_key(article_type)
        rows = [(self._labels.get(c, c), v) for (x, c), v in self._type_lift.items() if x == a]
        return sorted(rows, key=lambda r: -r[1])[:k]

    # -- serving --------------------------------------------------------------------------------
    def _anchors(self, ctx: Context) -> list[Item]:
        ids = list((ctx.extra or {}).get("outfit_of", ()) or ())
        if ctx.item_id:
            ids.insert(0, ctx.item_id)
        return [self.catalog[i] for i in ids if i in self.catalog]

    def rerank(self, ctx: Context, candidates: Sequence[ScoredItem], n: int, *, user_id: str | None = None,
               request_id: str | None = None) -> list[ScoredItem]:
        check_n(n)
        items = eligible(ctx, candidates, self.catalog)
        anchors = self._anchors(ctx)
        if not anchors or n == 0:
            return items[:n]
        if not self.trained:
            raise NotTrained("OutfitCompleter has no lifts yet; call train(interactions) first")
        filled = {s for a in anchors for s in _FILLS.get(slot_of(a), (slot_of(a),))}
        anchor_ids = {a.item_id for a in anchors}
        sizes = shopper_sizes(ctx)
        m = len(items)
        scored: list[tuple[float, int, str, ScoredItem]] = []
        for rank, c in enumerate(items):
            it = self.catalog.get(c.item_id)
            if it is None or c.item_id in anchor_ids:
                continue
            slot = slot_of(it)
            if not slot or slot in filled:
                continue
            if sizes and it.variants and not any(it.in_stock(s) for s in sizes):
                continue
            best_anchor = max(anchors, key=lambda a: self.lift(a, it))
            lift = self.lift(best_anchor, it)
            score = 1.0 - rank / m + self.config.weight * math.log(max(lift, 1e-3))
            reason = f"completes the look with your {best_anchor.article_type.lower()}"
            if lift > 1.05:
                reason += (f": {_plural(it.article_type)} are bought with {_plural(best_anchor.article_type)} "
                           f"{lift:.1f}× as often as chance")
            if sizes and it.variants:
                reason += f"; in stock in your size {'/'.join(sizes)}"
            scored.append((score, rank, slot, add_reason(c, reason)))
        scored.sort(key=lambda r: (-r[0], r[1]))
        # One per open slot first (the outfit), then the rest as alternatives.
        first: list[tuple[float, ScoredItem]] = []
        rest: list[tuple[float, ScoredItem]] = []
        seen: set[str] = set()
        for s, _, slot, c in scored:
            if slot in seen or (slot == "dress" and {"top", "bottom"} & seen) or \
                    (slot in ("top", "bottom") and "dress" in seen):
                rest.append((s, c))
            else:
                seen.add(slot)
                first.append((s, c))
        return [replace(c, score=float(s)) for s, c in (first + rest)[:n]]

    def complete(self, ctx: Context, candidates: Sequence[ScoredItem]) -> dict[str, ScoredItem]:
        """The outfit itself: the best candidate for each open slot."""
        out: dict[str, ScoredItem] = {}
        for c in self.rerank(ctx, candidates, len(candidates)):
            slot = slot_of(self.catalog[c.item_id])
            if slot not in out and not (slot == "dress" and {"top", "bottom"} & out.keys()) and \
                    not (slot in ("top", "bottom") and "dress" in out):
                out[slot] = c
        return out

    def learn_one(self, feedback: Any) -> None:
        return None

    # -- persistence ----------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        if not self.trained:
            raise NotTrained("nothing to save: train the OutfitCompleter first")
        body = {"format": "fitloop.outfits/1", "config": asdict(self.config),
                "type_lift": [[a, b, v] for (a, b), v in sorted(self._type_lift.items())],
                "slot_lift": [[a, b, v] for (a, b), v in sorted(self._slot_lift.items())],
                "labels": self._labels}
        Path(path).write_text(json.dumps(body, indent=1))

    @classmethod
    def load(cls, path: str | Path, catalog: Mapping[str, Item]) -> OutfitCompleter:
        try:
            raw = json.loads(Path(path).read_text())
            if not isinstance(raw, dict) or raw.get("format") != "fitloop.outfits/1":
                raise ValueError("wrong format tag")
            cfg = raw["config"]
            cfg["kinds"] = tuple(cfg["kinds"])
            oc = cls(catalog, OutfitConfig(**cfg))
            oc._type_lift = {(a, b): float(v) for a, b, v in raw["type_lift"]}
            oc._slot_lift = {(a, b): float(v) for a, b, v in raw["slot_lift"]}
            oc._labels = dict(raw["labels"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelBundleError(f"outfit model {path} is not readable: {exc}; retrain it") from exc
        oc.trained = True
        return oc
