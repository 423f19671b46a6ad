"""Pure value types shared by every layer.

They hold no behaviour beyond validation and convenience accessors, and import
nothing from the rest of fitloop except :mod:`fitloop.errors`.

>>> from datetime import datetime, timezone
>>> item = Item(item_id="sku-1", title="Linen shirt", category="tops", article_type="shirt",
...             price=39.0, variants=(Variant("M", 3), Variant("L", 0)))
>>> item.in_stock("M"), item.in_stock("L"), item.sizes_in_stock()
(True, False, ('M',))
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

__all__ = [
    "EventType",
    "Event",
    "Variant",
    "Item",
    "User",
    "Consent",
    "Context",
    "ScoredItem",
    "Recommendations",
    "RETURN_REASONS",
]


class EventType(enum.StrEnum):
    """The behaviour fitloop understands. Values are the wire names."""

    PRODUCT_VIEWED = "product_viewed"
    PRODUCT_CLICKED = "product_clicked"
    IMPRESSION = "impression"
    DWELL = "dwell"
    SCROLL = "scroll"
    CART_ADDED = "cart_added"
    CART_REMOVED = "cart_removed"
    FAVOURITED = "favourited"
    ORDER_COMPLETED = "order_completed"
    ORDER_CANCELLED = "order_cancelled"
    PRODUCT_RETURNED = "product_returned"
    SEARCH = "search"
    SOCIAL_ENGAGEMENT = "social_engagement"
    PHOTO_UPLOADED = "photo_uploaded"
    PAGE = "page"
    IDENTIFY = "identify"


#: Return reasons the engine distinguishes (wire names).
RETURN_REASONS: tuple[str, ...] = ("too_small", "too_large", "not_as_pictured", "quality", "changed_mind")


@dataclass(frozen=True, slots=True)
class Event:
    """One behavioural event after validation.

    ``user_id`` is the (pseudonymised) shopper id, or the anonymous id when the
    shopper is not known yet. ``item_id``/``size``/``price``/``quantity`` are
    lifted out of ``properties`` for the events that have them because every
    consumer needs them.
    """

    event_id: str
    type: EventType
    user_id: str
    ts: datetime
    item_id: str | None = None
    size: str | None = None
    quantity: int = 1
    price: float | None = None
    properties: Mapping[str, Any] = field(default_factory=dict)
    source: str = "default"
    anonymous_id: str | None = None


@dataclass(frozen=True, slots=True)
class Variant:
    """A size of an item with its current stock."""

    size: str
    stock: int


@dataclass(frozen=True, slots=True)
class Item:
    """A catalog item (one style in one colour), with its sizes.

    ``product_code`` groups colourways of the same style (as H&M does).
    ``attributes`` carries anything shop-specific beyond the standard fields.
    """

    item_id: str
    title: str
    category: str
    article_type: str
    price: float
    colour: str = ""
    pattern: str = ""
    material: str = ""
    style: str = ""
    occasion: str = ""
    eco: bool = False
    seasons: tuple[str, ...] = ()
    product_code: str = ""
    description: str = ""
    created_at: datetime | None = None
    variants: tuple[Variant, ...] = ()
    attributes: Mapping[str, Any] = field(default_factory=dict)

    def in_stock(self, size: str | None = None) -> bool:
        """True when ``size`` (or, without a size, any size) has stock."""
        if size is None:
            return any(v.stock > 0 for v in self.variants) if self.variants else True
        return any(v.size == size and v.stock > 0 for v in self.variants)

    def sizes_in_stock(self) -> tuple[str, ...]:
        return tuple(v.size for v in self.variants if v.stock > 0)


@dataclass(frozen=True, slots=True)
class User:
    """A shopper as the engine sees them: a pseudonymous id and coarse, non-identifying traits."""

    user_id: str
    created_at: datetime | None = None
    city: str | None = None
    traits: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Consent:
    """One entry of the append-only consent ledger."""

    user_id: str
    purpose: str
    version: int
    granted: bool
    ts: datetime
    source: str = "api"


@dataclass(frozen=True, slots=True)
class Context:
    """Where and when a recommendation is asked for."""

    slot: str = "home"
    city: str | None = None
    day: date | None = None
    temperature_c: float | None = None
    rain_mm: float | None = None
    channel: str = "web"
    item_id: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ScoredItem:
    """An item in a served list, with its score, the reason in plain words and its propensity."""

    item_id: str
    score: float
    reason: str = ""
    propensity: float = 1.0
    source: str = ""


@dataclass(frozen=True, slots=True)
class Recommendations:
    """What ``GET /v1/recommendations`` returns, before serialisation."""

    user_id: str
    items: tuple[ScoredItem, ...]
    policy_version: str
    request_id: str
    cold_start: bool = False
