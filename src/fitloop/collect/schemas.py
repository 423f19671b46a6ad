"""The event catalogue: one versioned pydantic schema per fashion event.

Each schema declares the property fields an event may carry. Fields nobody
declared are *not* silently accepted: :func:`validate_properties` returns them
as ``undeclared`` so the collection gate can refuse, strip or quarantine them
(the privacy manifest decides what happens next). Wrong types, missing
required fields and out-of-range values raise :class:`InvalidEvent` with a
stable code.

Event names are matched loosely: fitloop's wire names (``product_viewed``)
and the Segment e-commerce spec names (``Product Viewed``, ``Product Added``,
``Order Completed`` …) map to the same :class:`~fitloop.data.EventType`.

>>> et = resolve_event_type("Product Viewed"); et.value
'product_viewed'
>>> props, undeclared = validate_properties(et, {"product_id": "sku-1", "price": "19.5", "colour_mood": "x"})
>>> props["item_id"], props["price"], undeclared
('sku-1', 19.5, ('colour_mood',))
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError

from fitloop.data import EventType
from fitloop.errors import InvalidInput

__all__ = [
    "CATALOGUE",
    "CURRENT_VERSION",
    "InvalidEvent",
    "SURFACES",
    "SOCIAL_ACTIONS",
    "CONTENT_TYPES",
    "resolve_event_type",
    "validate_properties",
    "catalogue_json_schema",
]


class InvalidEvent(InvalidInput):
    """One event broke its schema; ``code`` says how (``invalid_properties``, ``unknown_event`` …)."""

    default_code = "invalid_event"


# ----------------------------------------------------------------------------------------- field types
Id = Annotated[str, Field(min_length=1, max_length=128)]
ItemId = Annotated[str, Field(min_length=1, max_length=128, validation_alias=AliasChoices("item_id", "product_id", "sku"))]
Size = Annotated[str, Field(min_length=1, max_length=32)]
Price = Annotated[float, Field(ge=0, le=1_000_000)]
Quantity = Annotated[int, Field(ge=1, le=1000)]
Short = Annotated[str, Field(max_length=200)]
Currency = Annotated[str, Field(min_length=3, max_length=3, pattern=r"^[A-Za-z]{3}$")]

SURFACES: tuple[str, ...] = ("card", "detail", "buyer_show")
SOCIAL_ACTIONS: tuple[str, ...] = ("like", "comment", "share")
CONTENT_TYPES: tuple[str, ...] = ("influencer", "buyer_show")


class _Props(BaseModel):
    # extra="allow" (not "forbid") so that every undeclared field is *reported*, in one pass,
    # to the collection gate, which decides between refusing, stripping and quarantining.
    model_config = ConfigDict(extra="allow", str_strip_whitespace=True, frozen=True)


class ProductProps(_Props):
    """``product_viewed`` / ``product_clicked`` / ``favourited``: an item seen, opened or saved."""

    item_id: ItemId
    size: Size | None = None
    price: Price | None = None
    category: Short | None = None
    list_id: Short | None = None
    request_id: Short | None = None
    position: Annotated[int, Field(ge=0, le=10_000)] | None = None
    slot: Short | None = None
    policy_version: Short | None = None


class ImpressionProps(_Props):
    """``impression``: an item card was visible (≥ 50 % for ≥ 1 s in the browser SDK)."""

    item_id: ItemId
    position: Annotated[int, Field(ge=0, le=10_000)] | None = None
    list_id: Short | None = None
    request_id: Short | None = None
    slot: Short | None = None
    policy_version: Short | None = None
    propensity: Annotated[float, Field(ge=0, le=1)] | None = None
    visible_ms: Annotated[int, Field(ge=0, le=86_400_000)] | None = None


class DwellProps(_Props):
    """``dwell``: milliseconds spent on a product card, detail page or buyer-show photo."""

    item_id: ItemId
    dwell_ms: Annotated[int, Field(ge=0, le=86_400_000, validation_alias=AliasChoices("dwell_ms", "ms"))]
    surface: Literal["card", "detail", "buyer_show"] = "card"
    path: Short | None = None


class ScrollProps(_Props):
    """``scroll``: the deepest point of a page the shopper reached, in percent."""

    depth_pct: Annotated[int, Field(ge=0, le=100)]
    path: Short | None = None


class CartProps(_Props):
    """``cart_added`` / ``cart_removed``."""

    item_id: ItemId
    size: Size | None = None
    quantity: Quantity = 1
    price: Price | None = None
    currency: Currency | None = None
    cart_id: Short | None = None
    list_id: Short | None = None
    request_id: Short | None = None


class OrderLine(_Props):
    """One line of an order: item, size, quantity, unit price paid and the discount on it."""

    item_id: ItemId
    size: Size | None = None
    quantity: Quantity = 1
    price: Price
    discount: Annotated[float, Field(ge=0, le=1_000_000)] = 0.0


class OrderProps(_Props):
    """``order_completed``: lines with item, size, price and discount."""

    order_id: Id
    lines: Annotated[list[OrderLine], Field(min_length=1, max_length=100, validation_alias=AliasChoices("lines", "products", "items"))]
    total: Price | None = None
    discount: Annotated[float, Field(ge=0, le=1_000_000)] | None = None
    currency: Currency | None = None
    coupon: Short | None = None
    shipping_method: Short | None = None


class OrderCancelledProps(_Props):
    """``order_cancelled``: the whole order (no lines) or some of its lines."""

    order_id: Id
    lines: Annotated[list[OrderLine], Field(max_length=100, validation_alias=AliasChoices("lines", "products", "items"))] = []
    reason: Short | None = None


class ReturnProps(_Props):
    """``product_returned``: with one of the reasons fitloop learns sizes and quality from."""

    order_id: Id | None = None
    item_id: ItemId
    size: Size | None = None
    quantity: Quantity = 1
    price: Price | None = None
    reason: Literal["too_small", "too_large", "not_as_pictured", "quality", "changed_mind"]


class SearchProps(_Props):
    """``search``: what the shopper typed."""

    query: Annotated[str, Field(min_length=1, max_length=200)]
    results_count: Annotated[int, Field(ge=0)] | None = None
    category: Short | None = None
    filters: dict[str, Short] | None = None


class SocialProps(_Props):
    """``social_engagement``: like, comment or share on influencer or buyer-show content, with its tags."""

    action: Literal["like", "comment", "share"]
    content_id: Id
    content_type: Literal["influencer", "buyer_show"]
    item_ids: Annotated[list[Id], Field(max_length=50)] = []
    style_tags: Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=50)] = []
    network: Short | None = None
    comment: Annotated[str, Field(max_length=2000)] | None = None


class PhotoProps(_Props):
    """``photo_uploaded``: a reference to an uploaded image (never the image itself)."""

    image_ref: Annotated[str, Field(min_length=1, max_length=512, validation_alias=AliasChoices("image_ref", "photo_id"))]
    item_id: Annotated[str, Field(max_length=128)] | None = None
    size: Size | None = None
    caption: Annotated[str, Field(max_length=2000)] | None = None
    fit_feedback: Literal["too_small", "true_to_size", "too_large"] | None = None


class PageProps(_Props):
    """``page``: a page view (Segment ``page`` calls)."""

    path: Annotated[str, Field(max_length=512)] | None = None
    url: Annotated[str, Field(max_length=2048)] | None = None
    title: Short | None = None
    referrer: Annotated[str, Field(max_length=2048)] | None = None
    name: Short | None = None
    search: Annotated[str, Field(max_length=512)] | None = None
    utm_source: Short | None = None
    utm_medium: Short | None = None
    utm_campaign: Short | None = None


class IdentifyTraits(_Props):
    """``identify`` traits fitloop understands. Identity fields are declared so that they validate; the
    collection gate keeps them out of the behaviour log (they belong to the encrypted identity tier)."""

    city: Annotated[str, Field(max_length=64)] | None = None
    usual_size: Size | None = None
    birth_year: Annotated[int, Field(ge=1900, le=2100)] | None = None
    name: Short | None = None
    email: Short | None = None
    phone: Annotated[str, Field(max_length=40)] | None = None
    push_token: Annotated[str, Field(max_length=512)] | None = None


CURRENT_VERSION = 1

#: ``{event type: {schema version: model}}``. A new version is added next to the old one, never in place,
#: so that events recorded (or quarantined) under an older version still validate on replay.
CATALOGUE: dict[EventType, dict[int, type[_Props]]] = {
    EventType.PRODUCT_VIEWED: {1: ProductProps},
    EventType.PRODUCT_CLICKED: {1: ProductProps},
    EventType.FAVOURITED: {1: ProductProps},
    EventType.IMPRESSION: {1: ImpressionProps},
    EventType.DWELL: {1: DwellProps},
    EventType.SCROLL: {1: ScrollProps},
    EventType.CART_ADDED: {1: CartProps},
    EventType.CART_REMOVED: {1: CartProps},
    EventType.ORDER_COMPLETED: {1: OrderProps},
    EventType.ORDER_CANCELLED: {1: OrderCancelledProps},
    EventType.PRODUCT_RETURNED: {1: ReturnProps},
    EventType.SEARCH: {1: SearchProps},
    EventType.SOCIAL_ENGAGEMENT: {1: SocialProps},
    EventType.PHOTO_UPLOADED: {1: PhotoProps},
    EventType.PAGE: {1: PageProps},
    EventType.IDENTIFY: {1: IdentifyTraits},
}

# Segment e-commerce spec names and common spellings → fitloop types.
_ALIASES: dict[str, EventType] = {
    "product_added": EventType.CART_ADDED,
    "product_removed": EventType.CART_REMOVED,
    "added_to_cart": EventType.CART_ADDED,
    "removed_from_cart": EventType.CART_REMOVED,
    "product_added_to_wishlist": EventType.FAVOURITED,
    "favorited": EventType.FAVOURITED,
    "products_searched": EventType.SEARCH,
    "product_searched": EventType.SEARCH,
    "product_impression": EventType.IMPRESSION,
    "product_returned": EventType.PRODUCT_RETURNED,
    "order_refunded": EventType.PRODUCT_RETURNED,
    "scroll_depth": EventType.SCROLL,
}
_TRACKABLE = {t.value: t for t in CATALOGUE if t not in (EventType.PAGE, EventType.IDENTIFY)}


def resolve_event_type(name: str) -> EventType:
    """The :class:`EventType` for a ``track`` call's event name, or :class:`InvalidEvent` (``unknown_event``)."""
    key = name.strip().lower().replace(" ", "_").replace("-", "_")
    et = _TRACKABLE.get(key) or _ALIASES.get(key)
    if et is None:
        known = ", ".join(sorted(_TRACKABLE))
        raise InvalidEvent(f"unknown event {name[:64]!r}; fitloop knows: {known} (and the Segment e-commerce names)",
                           code="unknown_event")
    return et


def _problems(exc: ValidationError) -> list[dict[str, str]]:
    return [{"field": ".".join(str(x) for x in e["loc"]), "problem": e["msg"]} for e in exc.errors()[:10]]


#: Fields holding lists of nested schemas (order lines), the only places undeclared fields can hide below the top.
_NESTED: dict[type[BaseModel], tuple[str, ...]] = {OrderProps: ("lines",), OrderCancelledProps: ("lines",)}


def _undeclared(model: BaseModel, prefix: str = "") -> list[str]:
    extra = model.model_extra
    names = [prefix + k for k in extra] if extra else []
    for fname in _NESTED.get(type(model), ()):
        for i, v in enumerate(getattr(model, fname)):
            names.extend(_undeclared(v, f"{prefix}{fname}.{i}."))
    return names


def validate_properties(
    event_type: EventType, properties: Mapping[str, Any] | None, version: int = CURRENT_VERSION
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """Validate ``properties`` against the schema of ``event_type`` at ``version``.

    Returns ``(declared fields as JSON-ready values without Nones, names of undeclared fields)``.
    Undeclared fields are left out of the returned dict.
    """
    versions = CATALOGUE[event_type]
    model = versions.get(version)
    if model is None:
        raise InvalidEvent(f"{event_type.value} has no schema version {version}; known: {sorted(versions)}",
                           code="unknown_schema_version")
    try:
        obj = model.model_validate(properties or {})
    except ValidationError as exc:
        problems = _problems(exc)
        summary = "; ".join(f"{p['field']}: {p['problem']}" for p in problems[:3])
        raise InvalidEvent(f"{event_type.value} properties do not match schema v{version}: {summary}",
                           code="invalid_properties", details={"fields": problems}) from None
    undeclared = tuple(_undeclared(obj))
    if model not in _NESTED:
        # Flat schemas hold only JSON-native values (str, int, float, lists and dicts of str), so the
        # declared fields are already what model_dump(mode="json") would return, at a third of the cost;
        # Nones are left out to keep the stored rows small, the extras are the gate's business.
        return {k: v for k, v in obj.__dict__.items() if v is not None}, undeclared
    data = obj.model_dump(mode="json", exclude_none=True, exclude=set(obj.model_extra or ()))
    if "lines" in data:
        data["lines"] = [{k: v for k, v in line.items() if k in OrderLine.model_fields} for line in data["lines"]]
    return data, undeclared


def catalogue_json_schema() -> dict[str, dict[str, Any]]:
    """``{"product_viewed@1": <JSON Schema>, …}`` for documentation and clients."""
    return {f"{et.value}@{v}": m.model_json_schema() for et, versions in CATALOGUE.items() for v, m in versions.items()}
