"""JSON-ready dicts for events, as published on the event bus and exported to data subjects.

>>> from datetime import datetime, timezone
>>> e = Event("e1", EventType.CART_ADDED, "u1", datetime(2025, 1, 1, tzinfo=timezone.utc), item_id="i1", size="M")
>>> event_from_dict(event_to_dict(e)) == e
True
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from fitloop.data.types import Event, EventType
from fitloop.errors import InvalidInput

__all__ = ["event_to_dict", "event_from_dict"]


def event_to_dict(ev: Event) -> dict[str, Any]:
    return {
        "event_id": ev.event_id,
        "type": ev.type.value,
        "user_id": ev.user_id,
        "ts": ev.ts.isoformat(),
        "item_id": ev.item_id,
        "size": ev.size,
        "quantity": ev.quantity,
        "price": ev.price,
        "properties": dict(ev.properties),
        "source": ev.source,
        "anonymous_id": ev.anonymous_id,
    }


def event_from_dict(d: Mapping[str, Any]) -> Event:
    try:
        ts = datetime.fromisoformat(str(d["ts"]))
        if ts.tzinfo is None:
            ts = ts.replace(tzinfo=UTC)
        return Event(
            event_id=str(d["event_id"]),
            type=EventType(d["type"]),
            user_id=str(d["user_id"]),
            ts=ts,
            item_id=d.get("item_id"),
            size=d.get("size"),
            quantity=int(d.get("quantity") or 1),
            price=None if d.get("price") is None else float(d["price"]),
            properties=dict(d.get("properties") or {}),
            source=str(d.get("source") or "default"),
            anonymous_id=d.get("anonymous_id"),
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise InvalidInput(f"not an event dict: {exc}") from exc
