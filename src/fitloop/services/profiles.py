"""Shopper profiles kept current from the event stream, and rebuilt from the raw log.

Real time: a background thread follows the event log in storage order (``EventStore.tail``),
folds each event into its shopper's profile and writes the changed profiles in one transaction
together with the sequence number reached — a profile reflects an event within a second of its
acknowledgement while the updater keeps up (an idle updater looks every 0.1 s; a busy one takes up
to half a second of events at a time, so that a shopper's events in that window cost one profile read
and write), and a crash can neither skip an event nor count one twice. Only one process
of an installation runs the updater (a lease in the shared cache). Batch: :meth:`rebuild` replays the
whole log and gives the identical result (the profile library guarantees incremental == batch).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from fitloop.data import Event
from fitloop.profile.features import Profile, ProfileBuilder, ProfileConfig, category_medians
from fitloop.store import Stores

__all__ = ["ProfileService", "OFFSET_DOC"]

log = logging.getLogger(__name__)

# The log position is written in the same transaction as the profiles it produced.
OFFSET_DOC = "__offset__:events"
_LEASE_KEY = "profiles:updater-lease"
_LEASE_S = 10.0


class ProfileService:
    def __init__(self, stores: Stores, *, config: ProfileConfig | None = None, poll_interval_s: float = 0.1,
                 usable: Callable[[Event], bool] | None = None, max_batch: int = 20_000,
                 batch_window_s: float = 0.5) -> None:
        self._stores = stores
        # Profiles serve personalisation: only events the shopper consented to use for it count.
        self._usable = usable or (lambda _ev: True)
        self._config = config or ProfileConfig()
        self._poll = poll_interval_s
        # Coalescing: each touched profile is read, decoded, updated, encoded and written once per batch,
        # whatever the number of its events in it, so under load the updater takes everything that
        # arrived in the last `batch_window_s` (at most `max_batch` events) rather than polling back to
        # back: fewer, larger transactions, and far less work per event (docs/benchmarks/ingest.md).
        self._max_batch = max_batch
        self._window = batch_window_s
        self._reference_prices: dict[str, float] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.RLock()
        self._token = uuid.uuid4().hex.encode()

    # ------------------------------------------------------------------ reading
    def profile(self, user_id: str, *, as_of: datetime | None = None) -> dict[str, Any]:
        """The shopper's features and plain-words summary; an unknown shopper gets an empty profile that says so."""
        doc = self._stores.profiles.get(user_id)
        p = Profile.from_dict(doc, self._config) if doc else Profile.empty(user_id, self._config)
        return {"user_id": user_id, "known": p.known, "features": p.features(as_of), "summary": p.explain(as_of)}

    # ------------------------------------------------------------------ batch
    def _prices(self) -> dict[str, float]:
        if self._reference_prices is None:
            self._reference_prices = category_medians(self._stores.catalog.iter_items(batch_size=5000))
        return self._reference_prices

    def rebuild(self) -> int:
        """Recompute every profile from the raw events; all written in one transaction. Returns the count."""
        with self._lock:
            self._reference_prices = None
            items = {it.item_id: it for it in self._stores.catalog.iter_items(batch_size=5000)}
            builder = ProfileBuilder(self._config, category_medians(items.values()))
            events: list[Event] = []
            reached = 0
            while True:
                chunk = self._stores.events.tail(reached, limit=50_000)
                if not chunk:
                    break
                events.extend(e for _, e in chunk)
                reached = chunk[-1][0]
            profiles = builder.build([e for e in events if self._usable(e)], items)
            docs: dict[str, Any] = {uid: p.to_dict() for uid, p in profiles.items()}
            docs[OFFSET_DOC] = {"seq": reached}
            self._stores.profiles.put_many(docs)
            return len(profiles)

    # ------------------------------------------------------------------ incremental
    def apply(self, events: list[Event], *, reached_seq: int | None = None) -> int:
        """Fold ``events`` (in order) into the stored profiles; returns how many profiles changed.

        ``reached_seq`` (the log position of the last event) is stored with the profiles, atomically.
        """
        events = [e for e in events if self._usable(e)]
        if not events:
            if reached_seq is not None:
                self._stores.profiles.put_many({OFFSET_DOC: {"seq": reached_seq}})
            return 0
        with self._lock:
            prices = self._prices()
            item_ids = sorted({e.item_id for e in events if e.item_id})
            items = self._stores.catalog.get_items(item_ids) if item_ids else {}
            stored = self._stores.profiles.get_many(sorted({e.user_id for e in events}))
            touched: dict[str, Profile] = {}
            for ev in events:
                p = touched.get(ev.user_id)
                if p is None:
                    doc = stored.get(ev.user_id)
                    p = Profile.from_dict(doc, self._config) if doc else Profile(ev.user_id, self._config)
                    touched[ev.user_id] = p
                item = items.get(ev.item_id) if ev.item_id else None
                p.learn_one(ev, item, reference_price=prices.get(item.category) if item else None)
            docs: dict[str, Any] = {uid: p.to_dict() for uid, p in touched.items()}
            if reached_seq is not None:
                docs[OFFSET_DOC] = {"seq": reached_seq}
            self._stores.profiles.put_many(docs)
            return len(touched)

    def poll_once(self) -> int:
        """Apply what was stored since the last position; returns how many profiles changed."""
        return self._poll_batch()[1]

    def _poll_batch(self) -> tuple[int, int]:
        """``(events read, profiles changed)`` for one batch from the last position."""
        with self._lock:  # read position, apply, write position: one step, never interleaved
            doc = self._stores.profiles.get(OFFSET_DOC)
            after = int(doc["seq"]) if doc else 0
            batch = self._stores.events.tail(after, limit=self._max_batch)
            if not batch:
                return 0, 0
            return len(batch), self.apply([e for _, e in batch], reached_seq=batch[-1][0])

    def start(self) -> None:
        if self._thread and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="profile-updater", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(5)

    def _hold_lease(self) -> bool:
        """Only one process of an installation updates profiles (the others stand by)."""
        cache = self._stores.cache
        if cache.add(_LEASE_KEY, self._token, ttl_s=_LEASE_S):
            return True
        if cache.get(_LEASE_KEY) == self._token:
            cache.set(_LEASE_KEY, self._token, ttl_s=_LEASE_S)
            return True
        return False

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if not self._hold_lease():
                    self._stop.wait(_LEASE_S / 2)
                    continue
                started = time.monotonic()
                n_events, _ = self._poll_batch()
                if n_events == 0:
                    self._stop.wait(self._poll)  # idle: a new event is picked up within poll_interval_s
                elif n_events < self._max_batch:
                    # Busy but keeping up: let the next window's events accumulate (see __init__).
                    self._stop.wait(max(0.0, started + self._window - time.monotonic()))
            except Exception:  # noqa: BLE001 - keep consuming after a store hiccup
                log.exception("profile update failed; retrying")
                self._stop.wait(1.0)
