"""Load a catalog, shoppers and their events into the stores (the demo's simulated shop, or any import)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from fitloop.data import Event, Item, User
from fitloop.store import Stores

__all__ = ["load_shop"]

Progress = Callable[[int], None]


def load_shop(
    stores: Stores,
    items: Sequence[Item],
    users: Sequence[User],
    events: Iterable[Event],
    *,
    batch_size: int = 20_000,
    on_events: Progress | None = None,
) -> tuple[int, int]:
    """Upsert items and users, append events in batches. Returns ``(inserted, duplicates)``.

    Idempotent: events are keyed by id, so a second load stores nothing twice.
    """
    stores.catalog.upsert_items(list(items))
    stores.users.upsert_users(list(users))
    inserted = dupes = 0
    batch: list[Event] = []
    for ev in events:
        batch.append(ev)
        if len(batch) >= batch_size:
            r = stores.events.append(batch)
            inserted, dupes = inserted + r.inserted, dupes + r.duplicates
            if on_events:
                on_events(len(batch))
            batch = []
    if batch:
        r = stores.events.append(batch)
        inserted, dupes = inserted + r.inserted, dupes + r.duplicates
        if on_events:
            on_events(len(batch))
    return inserted, dupes
