"""Segment / RudderStack HTTP payloads → validated fitloop :class:`~fitloop.data.Event` records.

A *message* is one Segment call (``track``, ``identify``, ``page``, ``screen``,
``alias``). :func:`normalise` checks its envelope, resolves the event type,
validates the properties against the catalogue, corrects the client clock and
returns the events to store (an order becomes one event per line, so each
line is an interaction with its own item, size and price).

Event ids are namespaced by source: ``f"{source}:{messageId}"`` (order lines
add ``#<line>``), so two shops that happen to pick the same ``messageId`` never
shadow each other, while a retry from the same source is recognised as the
same event.

Clock skew is corrected the way Segment does it: the stored time is
``timestamp + (receivedAt - sentAt)``, i.e. the client's event time shifted by
the difference between the server's and the client's clock at send time.

>>> from datetime import datetime, timezone
>>> now = datetime(2025, 5, 1, 12, 0, 10, tzinfo=timezone.utc)
>>> n = normalise({"type": "track", "event": "Product Viewed", "messageId": "m1", "anonymousId": "a1",
...                "timestamp": "2025-05-01T11:59:00Z", "sentAt": "2025-05-01T12:00:00Z",
...                "properties": {"product_id": "sku-1"}}, source="shop", received_at=now)
>>> e = n.events[0]
>>> e.event_id, e.type.value, e.user_id, e.item_id, e.ts.isoformat()
('shop:m1', 'product_viewed', 'a1', 'sku-1', '2025-05-01T11:59:10+00:00')
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fitloop.collect.schemas import CURRENT_VERSION, InvalidEvent, validate_properties
from fitloop.collect.schemas import resolve_event_type as _resolve
from fitloop.data import Event, EventType

__all__ = ["Message", "Normalised", "normalise", "corrected_ts", "event_id_for", "keep_context", "MAX_SOURCE_NAME"]

#: Source names are short so that ``source:messageId#line`` fits the 128-character event id column.
MAX_SOURCE_NAME = 20
MAX_MESSAGE_ID = 100


# Numeric user ids (which Segment accepts) become strings through the model's coerce_numbers_to_str:
# a plain constrained str keeps validation entirely in pydantic-core (a Python validator here cost
# about a fifth of the per-event validation time).
OptId = Annotated[str, Field(min_length=1, max_length=128)] | None


class Message(BaseModel):
    """One Segment call. Top-level fields fitloop does not use (``integrations``, ``version`` …) are ignored;
    the *properties* and *traits* are what the catalogue checks field by field."""

    model_config = ConfigDict(extra="ignore", frozen=True, coerce_numbers_to_str=True)

    type: Literal["track", "identify", "page", "screen", "alias"]
    event: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    messageId: Annotated[str, Field(min_length=1, max_length=MAX_MESSAGE_ID, pattern=r"^[\x21-\x7e]+$")] | None = None
    userId: OptId = None
    anonymousId: OptId = None
    previousId: OptId = None
    timestamp: datetime | None = None
    originalTimestamp: datetime | None = None
    sentAt: datetime | None = None
    name: Annotated[str, Field(max_length=200)] | None = None
    properties: dict[str, Any] | None = None
    traits: dict[str, Any] | None = None
    context: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Normalised:
    """What one message becomes: events to store, undeclared fields for the gate, an identity link."""

    message_id: str
    type: str
    events: tuple[Event, ...]
    undeclared: tuple[str, ...] = ()
    link: tuple[str, str] | None = None  # (anonymous_id, user_id)
    #: The undeclared fields with the values sent, so the gate can keep them (encrypted) for review.
    undeclared_values: Mapping[str, Any] = field(default_factory=dict)


def _lookup(props: Any, dotted: str) -> Any:
    """The value at a dotted path such as ``lines.0.colour`` (None when it is not there)."""
    cur = props
    for part in dotted.split("."):
        if isinstance(cur, Mapping):
            cur = cur.get(part)
        elif isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
            cur = cur[int(part)]
        else:
            return None
    return cur


def _utc(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def corrected_ts(timestamp: datetime | None, sent_at: datetime | None, received_at: datetime) -> datetime:
    """Event time on the server's clock: ``timestamp + (receivedAt - sentAt)``.

    Without a ``timestamp`` the receive time is used; without ``sentAt`` the timestamp is trusted as is.
    A corrected time in the future (a client that lies) is clamped to the receive time.

    >>> from datetime import datetime, timezone
    >>> r = datetime(2025, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
    >>> corrected_ts(datetime(2025, 1, 1, 13, 0, 0, tzinfo=timezone.utc),
    ...              datetime(2025, 1, 1, 13, 0, 5, tzinfo=timezone.utc), r).isoformat()
    '2025-01-01T11:59:55+00:00'
    """
    if timestamp is None:
        return received_at
    try:
        ts = _utc(timestamp)
        if sent_at is not None:
            ts = ts + (received_at - _utc(sent_at))
    except OverflowError:
        raise InvalidEvent("timestamp or sentAt is out of range (years 1970-2100)", code="invalid_envelope") from None
    if not _MIN_TS <= ts:
        raise InvalidEvent("the corrected event time is before 1970: check timestamp and sentAt",
                           code="invalid_envelope")
    return min(ts, received_at)


def event_id_for(source: str, message_id: str, line: int | None = None) -> str:
    """``source:messageId`` (``#line`` for order lines): unique per source, stable across retries."""
    return f"{source}:{message_id}" if line is None else f"{source}:{message_id}#{line}"


_MIN_TS = datetime(1970, 1, 1, tzinfo=UTC)
_KEEP_PAGE = ("path", "title")
_KEEP_CAMPAIGN = ("source", "medium", "name")


def _granted(consent: Any) -> list[str] | None:
    if not isinstance(consent, Mapping):
        return None
    prefs = consent.get("categoryPreferences", consent)  # Segment's consent spec nests them
    if not isinstance(prefs, Mapping):
        return None
    return sorted(str(k)[:64] for k, v in prefs.items() if v is True)[:32]


def keep_context(context: Mapping[str, Any] | None) -> dict[str, Any]:
    """Only the parts of a Segment ``context`` fitloop needs: granted purposes, GPC, page path and title,
    campaign, locale, library. IP, user agent, device ids and the like are dropped here, before storage.

    >>> keep_context({"ip": "1.2.3.4", "consent": {"analytics": True, "marketing_email": False}, "gpc": True,
    ...               "page": {"path": "/shop", "url": "https://x/shop?email=a@b"}})
    {'consent': ['analytics'], 'gpc': True, 'page': {'path': '/shop'}}
    """
    if not context:
        return {}
    out: dict[str, Any] = {}
    granted = _granted(context.get("consent"))
    if granted is not None:
        out["consent"] = granted
    if isinstance(context.get("gpc"), bool):
        out["gpc"] = context["gpc"]
    page = context.get("page")
    if isinstance(page, Mapping):
        kept = {k: str(page[k])[:200] for k in _KEEP_PAGE if isinstance(page.get(k), str)}
        if kept:
            out["page"] = kept
    campaign = context.get("campaign")
    if isinstance(campaign, Mapping):
        kept = {k: str(campaign[k])[:100] for k in _KEEP_CAMPAIGN if isinstance(campaign.get(k), str)}
        if kept:
            out["campaign"] = kept
    for key in ("locale", "timezone"):
        if isinstance(context.get(key), str):
            out[key] = context[key][:64]
    lib = context.get("library")
    if isinstance(lib, Mapping) and isinstance(lib.get("name"), str):
        out["library"] = f"{lib['name'][:40]}/{str(lib.get('version', ''))[:20]}"
    return out


def _schema_version(context: Mapping[str, Any] | None) -> int:
    v = (context or {}).get("schema_version", CURRENT_VERSION)
    if isinstance(v, bool) or not isinstance(v, int):
        raise InvalidEvent("context.schema_version must be an integer", code="invalid_envelope")
    return v


def _envelope(raw: Any) -> Message:
    if not isinstance(raw, Mapping):
        raise InvalidEvent("each event must be a JSON object", code="invalid_envelope")
    try:
        return Message.model_validate(raw)
    except ValidationError as exc:
        problems = [{"field": ".".join(str(x) for x in e["loc"]), "problem": e["msg"]} for e in exc.errors()[:10]]
        summary = "; ".join(f"{p['field']}: {p['problem']}" for p in problems[:3])
        raise InvalidEvent(f"the event envelope is malformed: {summary}", code="invalid_envelope",
                           details={"fields": problems}) from None


def normalise(
    raw: Any,
    *,
    source: str,
    received_at: datetime,
    batch_sent_at: datetime | None = None,
    batch_context: Mapping[str, Any] | None = None,
    default_type: str | None = None,
) -> Normalised:
    """Validate one message and turn it into events. Raises :class:`InvalidEvent` with a stable ``code``.

    ``default_type`` fills a missing ``type`` (``/v1/track`` implies ``track``); ``batch_sent_at`` and
    ``batch_context`` are the batch-level ``sentAt`` and ``context`` that a message may omit.
    """
    if default_type is not None and isinstance(raw, Mapping) and "type" not in raw:
        raw = {**raw, "type": default_type}
    msg = _envelope(raw)
    context: Mapping[str, Any] | None = msg.context if msg.context is not None else batch_context
    message_id = msg.messageId or f"gen-{uuid.uuid4().hex}"  # no id from the client: no dedupe possible
    user = msg.userId or msg.anonymousId
    if msg.type == "alias":
        if not (msg.userId and msg.previousId):
            raise InvalidEvent("alias needs userId and previousId", code="missing_identity")
        return Normalised(message_id, "alias", (), (), (msg.previousId, msg.userId))
    if user is None:
        raise InvalidEvent("every event needs a userId or an anonymousId", code="missing_identity")
    if msg.type == "track":
        if msg.event is None:
            raise InvalidEvent("a track call needs an event name", code="invalid_envelope")
        et = _resolve(msg.event)
        props_in = msg.properties
    elif msg.type in ("page", "screen"):
        et = EventType.PAGE
        props_in = dict(msg.properties or {})
        if msg.name and "name" not in props_in:
            props_in["name"] = msg.name
    else:
        et = EventType.IDENTIFY
        props_in = msg.traits if msg.traits is not None else (context or {}).get("traits")
    props, undeclared = validate_properties(et, props_in, _schema_version(context))
    ts = corrected_ts(msg.timestamp or msg.originalTimestamp, msg.sentAt or batch_sent_at, received_at)
    ctx = keep_context(context)
    link = (msg.anonymousId, msg.userId) if msg.anonymousId and msg.userId and msg.anonymousId != msg.userId else None
    common: dict[str, Any] = {"type": et, "user_id": user, "ts": ts, "source": source, "anonymous_id": msg.anonymousId}
    events = _to_events(et, props, ctx, message_id, common)
    values = {name: _lookup(props_in, name) for name in undeclared}
    return Normalised(message_id, msg.type, events, undeclared, link, values)


def _to_events(et: EventType, props: dict[str, Any], ctx: dict[str, Any], mid: str,
               common: dict[str, Any]) -> tuple[Event, ...]:
    source = common["source"]
    if ctx:
        props = {**props, "context": ctx}
    lines = props.get("lines") if et in (EventType.ORDER_COMPLETED, EventType.ORDER_CANCELLED) else None
    if lines:
        # One event per order line: each line is an interaction with its own item, size and price.
        head = {k: v for k, v in props.items() if k != "lines"}
        out = []
        for i, line in enumerate(lines):
            p = {**head, "line": i, "n_lines": len(lines), "discount": line.get("discount", 0.0)}
            out.append(Event(event_id=event_id_for(source, mid, i), item_id=line["item_id"], size=line.get("size"),
                             quantity=line.get("quantity", 1), price=line.get("price"), properties=p, **common))
        return tuple(out)
    item_id = props.get("item_id")
    if item_id is None and et is EventType.SOCIAL_ENGAGEMENT and len(props.get("item_ids", ())) == 1:
        item_id = props["item_ids"][0]
    return (Event(event_id=event_id_for(source, mid), item_id=item_id, size=props.get("size"),
                  quantity=props.get("quantity", 1), price=props.get("price"), properties=props, **common),)


def received_now() -> datetime:
    """The server's receive time (UTC, millisecond precision like Segment's)."""
    now = datetime.now(UTC)
    return now - timedelta(microseconds=now.microsecond % 1000)
