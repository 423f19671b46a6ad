from __future__ import annotations

from datetime import datetime, timedelta

from fitloop.data import Context, Event, EventType, Item, ScoredItem, Variant
from fitloop.rerank.diagnosis import ClickNoBuyDiagnoser, DiagnosisConfig, style_of


def _v(m: int) -> tuple[Variant, ...]:
    return (Variant("S", 3), Variant("M", m))


CAT = {
    # Floral dresses: two out of stock in M, one in M, one cheap.
    "fd1": Item("fd1", "Floral dress", "c", "Dress", 80, pattern="floral", variants=_v(0)),
    "fd2": Item("fd2", "Floral dress", "c", "Dress", 90, pattern="floral", variants=_v(0)),
    "fd3": Item("fd3", "Floral dress", "c", "Dress", 85, pattern="floral", variants=_v(2)),
    "fd4": Item("fd4", "Floral dress", "c", "Dress", 35, pattern="floral", variants=_v(2)),
    "fs1": Item("fs1", "Floral skirt", "c", "Skirt", 30, pattern="floral", variants=_v(2)),
    "sd1": Item("sd1", "Solid dress", "c", "Dress", 30, pattern="solid", variants=_v(2)),
    "t1": Item("t1", "Tee", "c", "T-shirt", 10, pattern="solid", variants=_v(2)),
    "t2": Item("t2", "Tee", "c", "T-shirt", 12, pattern="solid", variants=_v(2)),
}
T0 = datetime(2026, 5, 1)


def _ev(k: int, kind: EventType, item: str, size: str | None = None, **props: object) -> Event:
    return Event(f"e{k}", kind, "u1", T0 + timedelta(hours=k), item, size=size, price=CAT[item].price,
                 properties=props)


def _history(dx: ClickNoBuyDiagnoser, clicked: list[str], size: str | None = None) -> None:
    # Past orders set the price band: tees around 10-12 (band top 12 x 1.2 = ~14) unless told otherwise.
    dx.learn_one(_ev(0, EventType.ORDER_COMPLETED, "t1", size="M"))
    dx.learn_one(_ev(1, EventType.ORDER_COMPLETED, "t2", size="M"))
    for k, i in enumerate(clicked):
        dx.learn_one(_ev(10 + k, EventType.PRODUCT_CLICKED, i, size=size))


def test_size_out_of_stock() -> None:
    dx = ClickNoBuyDiagnoser(CAT)
    _history(dx, ["fd1", "fd2", "fd1", "fd2"], size="M")
    [d] = dx.diagnose("u1")
    assert (d.style, d.cause) == ("floral dress", "size_out_of_stock")
    assert set(d.item_ids) == {"fd3", "fd4"} and "in stock in M" in d.explanation
    assert d.to_dict()["details"]["size"] == "M"


def test_price_above_band() -> None:
    dx = ClickNoBuyDiagnoser(CAT)
    _history(dx, ["fd3", "fd3", "fd3"])
    [d] = dx.diagnose("u1", price_band=(10, 50))
    assert d.cause == "price" and d.item_ids == ("fd4",)
    assert "above your usual 50" in d.evidence and "up to 50" in d.explanation
    # Without an explicit band, it is learned from past orders (tees: far below 85).
    assert dx.diagnose("u1")[0].cause == "price"


def test_style_itself_after_viewing_details_suggests_neighbouring_styles() -> None:
    dx = ClickNoBuyDiagnoser(CAT)
    _history(dx, ["fd4", "fd4", "fd4"])
    dx.learn_one(_ev(30, EventType.PRODUCT_VIEWED, "fd4"))
    dx.learn_one(_ev(31, EventType.DWELL, "fd4", dwell_ms=20000))
    [d] = dx.diagnose("u1", price_band=(10, 60), size="M")
    assert d.cause == "style" and d.item_ids == ("fs1",)
    assert "after looking at the details" in d.evidence and "floral skirts" in d.explanation


def test_no_diagnosis_when_bought_or_too_few_clicks() -> None:
    dx = ClickNoBuyDiagnoser(CAT)
    _history(dx, ["fd1", "fd2"])
    assert dx.diagnose("u1") == []
    dx = ClickNoBuyDiagnoser(CAT, DiagnosisConfig(min_clicks=2))
    _history(dx, ["fd1", "fd2", "fd3"])
    dx.learn_one(_ev(50, EventType.ORDER_COMPLETED, "fd4"))
    assert dx.diagnose("u1") == []
    assert dx.diagnose("nobody") == []
    assert style_of(CAT["sd1"]) == "dress" and style_of(CAT["fs1"]) == "floral skirt"


def test_as_policy_moves_the_action_items_up_with_the_explanation() -> None:
    dx = ClickNoBuyDiagnoser(CAT)
    _history(dx, ["fd1", "fd2", "fd1", "fd2"], size="M")
    cands = [ScoredItem(i, 1.0) for i in ("fd1", "t1", "sd1", "fd2", "fd3")]
    out = dx.rerank(Context(extra={"user_id": "u1", "size": "M"}), cands, 5)
    ids = [s.item_id for s in out]
    assert ids[0] == "fd3"
    assert out[0].reason.startswith("You looked at floral dresses 4 times")
    assert ids.index("fd1") > 0 and "not in stock in your size M" in out[ids.index("fd1")].reason
    # Another shopper's list is untouched.
    assert dx.rerank(Context(extra={"user_id": "u2"}), cands, 5) == cands
