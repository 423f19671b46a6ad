"""In-process cache and event bus: the embedded defaults when no Redis is configured."""

from __future__ import annotations

import itertools
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["MemoryCache", "MemoryEventBus"]


class MemoryCache:
    """A thread-safe dict with expiry; a :class:`~fitloop.store.protocols.Cache`.

    >>> c = MemoryCache()
    >>> c.set("k", b"v"); c.get("k"), c.incr("n"), c.incr("n", 2)
    (b'v', 1, 3)
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._data: dict[str, tuple[bytes, float | None]] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def _live(self, key: str) -> tuple[bytes, float | None] | None:
        entry = self._data.get(key)
        if entry is None:
            return None
        if entry[1] is not None and entry[1] <= self._clock():
            del self._data[key]
            return None
        return entry

    def get(self, key: str) -> bytes | None:
        with self._lock:
            entry = self._live(key)
            return entry[0] if entry else None

    def set(self, key: str, value: bytes, *, ttl_s: float | None = None) -> None:
        with self._lock:
            self._data[key] = (bytes(value), self._clock() + ttl_s if ttl_s else None)

    def add(self, key: str, value: bytes, *, ttl_s: float | None = None) -> bool:
        with self._lock:
            if self._live(key) is not None:
                return False
            self._data[key] = (bytes(value), self._clock() + ttl_s if ttl_s else None)
            return True

    def delete(self, *keys: str) -> None:
        with self._lock:
            for k in keys:
                self._data.pop(k, None)

    def incr(self, key: str, amount: int = 1, *, ttl_s: float | None = None) -> int:
        with self._lock:
            entry = self._live(key)
            value = int(entry[0]) + amount if entry else amount
            expiry = entry[1] if entry else (self._clock() + ttl_s if ttl_s else None)
            self._data[key] = (str(value).encode(), expiry)
            return value

    def scan_keys(self, prefix: str) -> list[str]:
        with self._lock:
            return sorted(k for k in list(self._data) if k.startswith(prefix) and self._live(k))

    def ping(self) -> None:
        return None


class MemoryEventBus:
    """A bounded in-process stream per topic with synchronous subscribers; an :class:`~fitloop.store.protocols.EventBus`.

    >>> bus = MemoryEventBus()
    >>> seen = []; bus.subscribe("events", seen.append)
    >>> bus.publish("events", {"a": 1})
    '1-0'
    >>> seen, bus.read("events")
    ([{'a': 1}], [('1-0', {'a': 1})])
    """

    def __init__(self, *, maxlen: int = 100_000) -> None:
        self._streams: dict[str, deque[tuple[int, dict[str, Any]]]] = defaultdict(lambda: deque(maxlen=maxlen))
        self._handlers: dict[str, list[Callable[[dict[str, Any]], None]]] = defaultdict(list)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def publish(self, topic: str, message: Mapping[str, Any]) -> str:
        msg = dict(message)
        with self._lock:
            n = next(self._ids)
            self._streams[topic].append((n, msg))
            handlers = list(self._handlers[topic])
        for h in handlers:
            h(msg)
        return f"{n}-0"

    def read(self, topic: str, *, after: str = "0", count: int = 100) -> list[tuple[str, dict[str, Any]]]:
        start = int(after.split("-")[0])
        with self._lock:
            items = [(n, m) for n, m in self._streams[topic] if n > start][:count]
        return [(f"{n}-0", m) for n, m in items]

    def subscribe(self, topic: str, handler: Callable[[dict[str, Any]], None]) -> None:
        with self._lock:
            self._handlers[topic].append(handler)

    def ping(self) -> None:
        return None
