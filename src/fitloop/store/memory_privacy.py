"""Erasing a person from the in-process cache and event bus (the embedded default's online stores).

>>> from fitloop.store.memory import MemoryCache, MemoryEventBus
>>> cache, bus = MemoryCache(), MemoryEventBus()
>>> cache.set("profile:u1", b"{}"); cache.set("x", b'{"user": "u1"}'); cache.set("y", b"keep")
>>> _ = bus.publish("events", {"user_id": "u1"}); _ = bus.publish("events", {"user_id": "u2"})
>>> MemoryEraser(cache, bus).erase(["u1"]), cache.scan_keys(""), len(bus.read("events"))
(3, ['y'], 1)
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from fitloop.store.memory import MemoryCache, MemoryEventBus

__all__ = ["MemoryEraser", "id_matcher"]


def id_matcher(needles: Sequence[str]) -> re.Pattern[bytes]:
    """Matches any of ``needles`` as a whole id: not as part of a longer id (erasing ``u1`` keeps ``u10``).

    >>> m = id_matcher(["u1"])
    >>> bool(m.search(b"profile:u1")), bool(m.search(b'{"user": "u1"}')), bool(m.search(b"profile:u10"))
    (True, True, False)
    """
    alts = b"|".join(re.escape(n.encode()) for n in sorted(set(needles), key=len, reverse=True) if n)
    return re.compile(rb"(?<![A-Za-z0-9_\-])(?:" + alts + rb")(?![A-Za-z0-9_\-])")


class MemoryEraser:
    """An :class:`~fitloop.store.protocols.OnlineEraser` for :class:`MemoryCache` and :class:`MemoryEventBus`."""

    def __init__(self, cache: MemoryCache | None, bus: MemoryEventBus | None) -> None:
        self._cache = cache
        self._bus = bus

    def erase(self, needles: Sequence[str]) -> int:
        wanted = [n for n in needles if n]
        if not wanted:
            return 0
        match = id_matcher(wanted)
        n = 0
        if self._cache is not None:
            doomed = []
            for key in self._cache.scan_keys(""):
                value = self._cache.get(key) or b""
                if match.search(key.encode()) or match.search(value):
                    doomed.append(key)
            self._cache.delete(*doomed)
            n += len(doomed)
        if self._bus is not None:
            bus = self._bus
            with bus._lock:  # noqa: SLF001 - same package; the bus has no public delete by design
                for topic, stream in bus._streams.items():  # noqa: SLF001
                    keep = [(i, m) for i, m in stream
                            if not match.search(json.dumps(m, default=str).encode())]
                    n += len(stream) - len(keep)
                    stream.clear()
                    stream.extend(keep)
                    _ = topic
        return n
