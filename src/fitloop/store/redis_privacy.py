"""Erasing a person from Redis: keys that name them, and values, hash fields, list/set members and stream
entries that contain them, under this installation's prefix only.

Erasure is rare, so a full ``SCAN`` of the namespace is acceptable; it never blocks Redis for long
(``SCAN`` and ``XRANGE`` work in pages).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import redis

from fitloop.store.memory_privacy import id_matcher

__all__ = ["RedisEraser"]

_PAGE = 500


class RedisEraser:
    """An :class:`~fitloop.store.protocols.OnlineEraser` for everything under ``prefix``."""

    def __init__(self, client: redis.Redis, *, prefix: str) -> None:
        self._r = client
        self._p = prefix

    @staticmethod
    def _hit(blob: Any, raw: re.Pattern[bytes]) -> bool:
        b = blob.encode() if isinstance(blob, str) else bytes(blob or b"")
        return raw.search(b) is not None

    def erase(self, needles: Sequence[str]) -> int:
        if not any(needles):
            return 0
        raw = id_matcher(needles)  # whole ids only: erasing u1 must not touch u10
        r: Any = self._r
        n = 0
        for key in r.scan_iter(match=f"{self._p}*", count=_PAGE):
            kind = r.type(key)
            kind = kind.decode() if isinstance(kind, bytes) else str(kind)
            if self._hit(key, raw):
                n += int(r.delete(key))
                continue
            if kind == "string":
                v = r.get(key) or b""
                if self._hit(v, raw):
                    n += int(r.delete(key))
            elif kind == "hash":
                doomed = [f for f, v in r.hscan_iter(key, count=_PAGE) if self._hit(f, raw) or self._hit(v, raw)]
                if doomed:
                    n += int(r.hdel(key, *doomed))
            elif kind == "set":
                doomed = [m for m in r.sscan_iter(key, count=_PAGE) if self._hit(m, raw)]
                if doomed:
                    n += int(r.srem(key, *doomed))
            elif kind == "zset":
                doomed = [m for m, _ in r.zscan_iter(key, count=_PAGE) if self._hit(m, raw)]
                if doomed:
                    n += int(r.zrem(key, *doomed))
            elif kind == "list":
                for m in set(r.lrange(key, 0, -1)):
                    if self._hit(m, raw):
                        n += int(r.lrem(key, 0, m))
            elif kind == "stream":
                n += self._erase_stream(key, raw)
        return n

    def _erase_stream(self, key: bytes, raw: re.Pattern[bytes]) -> int:
        r: Any = self._r
        n = 0
        start = b"-"
        while True:
            entries = r.xrange(key, min=start, max="+", count=_PAGE)
            if not entries:
                return n
            doomed = [eid for eid, fields in entries
                      if any(self._hit(k, raw) or self._hit(v, raw) for k, v in (fields or {}).items())]
            if doomed:
                n += int(r.xdel(key, *doomed))
            last = entries[-1][0]
            start = b"(" + (last if isinstance(last, bytes) else str(last).encode())
            if len(entries) < _PAGE:
                return n
