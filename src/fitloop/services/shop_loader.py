"""Load a catalog, shoppers and their events into the stores (the demo's simulated shop, or any import).

An import is a boundary where shopper ids enter: pass ``pseudonymise`` (the installation's
``container.privacy.pseudonymise``) and users and events are stored under their pseudonyms, like
everything that arrives through the API. ``fitloop demo`` does so; the simulated shop's own ids
(``u000001`` …) then play the part of the shop's customer ids.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from fitloop.data import Event, Item, User
from fitloop.services.pseudonyms import pseudonymise_event, pseudonymise_users
from fitloop.store import Stores

__all__ = ["load_shop", "simulated_sample"]

Progress = Callable[[int], None]


def load_shop(
    stores: Stores,
    items: Sequence[Item],
    users: Sequence[User],
    events: Iterable[Event],
    *,
    batch_size: int = 20_000,
    on_events: Progress | None = None,
    pseudonymise: Callable[[str], str] | None = None,
) -> tuple[int, int]:
    """Upsert items and users, append events in batches. Returns ``(inserted, duplicates)``.

    Idempotent: events are keyed by id, so a second load stores nothing twice. With ``pseudonymise``,
    user and anonymous ids are replaced by their pseudonyms before anything is stored.
    """
    stores.catalog.upsert_items(list(items))
    stores.users.upsert_users(list(users) if pseudonymise is None else list(pseudonymise_users(users, pseudonymise)))
    inserted = dupes = 0
    batch: list[Event] = []
    for ev in events:
        batch.append(ev if pseudonymise is None else pseudonymise_event(ev, pseudonymise))
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


def simulated_sample(stores: Stores, pseudonymise: Callable[[str], str], n: int = 3, *,
                     keep: Callable[[str], bool] | None = None, scan: int = 500) -> list[str]:
    """Up to ``n`` simulated shoppers by their *own* ids (``u000001`` …) whose pseudonyms are in the stores.

    The stores keep pseudonyms only, and a shop-facing link (``/v1/recommendations?user_id=…``) must carry
    the shop's id, so the demo finds sample ids by trying the simulator's naming (the first ``scan``
    shoppers). ``keep(pseudonym)`` filters further, e.g. shoppers who consented to personalisation.
    """
    out: list[str] = []
    for i in range(scan):
        raw = f"u{i + 1:06d}"  # the simulator's ids: fitloop.evaluate.simulator.shoppers
        pid = pseudonymise(raw)
        if stores.users.get_user(pid) is not None and (keep is None or keep(pid)):
            out.append(raw)
            if len(out) >= n:
                break
    return out
