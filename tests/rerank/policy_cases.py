"""Shared catalog and hypothesis strategies for the re-ranking policy tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from hypothesis import strategies as st

from fitloop.data import Context, Item, ScoredItem, Variant

TYPES = ["Dress", "Coat", "Shorts", "Sweater", "Cardigan", "Skirt", "Sandals", "Bag", "T-shirt", "Jacket"]
COLOURS = ["black", "white", "red", "light beige", "navy"]
PATTERNS = ["solid", "floral", "stripe"]


def make_catalog(n: int = 40) -> dict[str, Item]:
    cat = {}
    for i in range(n):
        t = TYPES[i % len(TYPES)]
        stock = 0 if i % 7 == 3 else 5  # a few items sold out entirely
        m_stock = 0 if i % 5 == 1 else 2  # size M missing in others
        cat[f"i{i}"] = Item(
            f"i{i}", f"{PATTERNS[i % 3]} {t}", "c", t, 10.0 + 7 * (i % 9), colour=COLOURS[i % 5],
            pattern=PATTERNS[i % 3], product_code=f"p{i // 2}",
            variants=(Variant("S", stock), Variant("M", min(stock, m_stock)), Variant("XXL", stock if i % 4 == 0 else 0)),
        )
    return cat


CATALOG = make_catalog()
IDS = sorted(CATALOG) + ["unknown-1", "unknown-2"]


@st.composite
def requests(draw: st.DrawFn) -> tuple[Context, list[ScoredItem], int]:
    ids = draw(st.lists(st.sampled_from(IDS), max_size=25))  # duplicates allowed on purpose
    scores = draw(st.lists(st.floats(-5, 5), min_size=len(ids), max_size=len(ids)))
    exclude = draw(st.lists(st.sampled_from(IDS), max_size=3))
    extra: dict[str, object] = {"user_id": draw(st.sampled_from(["u1", "u2", ""])), "exclude": exclude,
                                "request_id": draw(st.text(max_size=3))}
    if draw(st.booleans()):
        extra["size"] = draw(st.sampled_from(["S", "M", "XXL"]))
    ctx = Context(city=draw(st.sampled_from([None, "Shanghai", "Atlantis"])),
                  temperature_c=draw(st.one_of(st.none(), st.floats(-20, 40))),
                  item_id=draw(st.one_of(st.none(), st.sampled_from(IDS))), extra=extra)
    n = draw(st.integers(0, 12))
    return ctx, [ScoredItem(i, s) for i, s in zip(ids, scores, strict=True)], n


def check_invariants(out: Sequence[ScoredItem], ctx: Context, cands: Sequence[ScoredItem], n: int,
                     catalog: Mapping[str, Item] = CATALOG) -> None:
    ids = [s.item_id for s in out]
    assert len(ids) <= n
    assert len(set(ids)) == len(ids)
    assert set(ids) <= {c.item_id for c in cands}
    assert not set(ids) & set(ctx.extra.get("exclude", ()))
    for i in ids:
        if i in catalog:
            assert catalog[i].in_stock(), f"{i} is out of stock"
