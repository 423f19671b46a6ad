"""Redis adapters: shared cache and a Redis Streams event bus for many API processes."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any

import redis
from redis.exceptions import RedisError

from fitloop.errors import StoreUnavailable

__all__ = ["RedisCache", "RedisEventBus", "connect_redis"]


def connect_redis(url: str) -> redis.Redis:
    """A client with short timeouts: a slow Redis must not stall a shopper's request."""
    return redis.Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0, health_check_interval=30)


class RedisCache:
    """A :class:`~fitloop.store.protocols.Cache` on Redis; keys are namespaced by ``prefix``."""

    def __init__(self, client: redis.Redis, *, prefix: str = "fitloop:") -> None:
        self._r = client
        self._p = prefix

    def _call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except RedisError as exc:
            raise StoreUnavailable(f"Redis is unavailable: {exc}", code="cache_unavailable") from exc

    def get(self, key: str) -> bytes | None:
        value: bytes | None = self._call(self._r.get, self._p + key)
        return value

    def set(self, key: str, value: bytes, *, ttl_s: float | None = None) -> None:
        px = int(ttl_s * 1000) if ttl_s else None
        self._call(self._r.set, self._p + key, value, px=px)

    def add(self, key: str, value: bytes, *, ttl_s: float | None = None) -> bool:
        px = int(ttl_s * 1000) if ttl_s else None
        return bool(self._call(self._r.set, self._p + key, value, px=px, nx=True))

    def delete(self, *keys: str) -> None:
        if keys:
            self._call(self._r.delete, *[self._p + k for k in keys])

    def incr(self, key: str, amount: int = 1, *, ttl_s: float | None = None) -> int:
        k = self._p + key
        pipe = self._r.pipeline()
        pipe.incrby(k, amount)
        if ttl_s:
            # NX: the window starts at the first increment, as a rate limiter expects.
            pipe.pexpire(k, int(ttl_s * 1000), nx=True)
        res = self._call(pipe.execute)
        return int(res[0])

    def scan_keys(self, prefix: str) -> list[str]:
        keys = self._call(lambda: list(self._r.scan_iter(match=f"{self._p}{prefix}*", count=500)))
        return sorted(k.decode()[len(self._p):] for k in keys)

    def ping(self) -> None:
        self._call(self._r.ping)


class RedisEventBus:
    """An :class:`~fitloop.store.protocols.EventBus` on Redis Streams (capped with MAXLEN ~)."""

    def __init__(self, client: redis.Redis, *, prefix: str = "fitloop:stream:", maxlen: int = 1_000_000) -> None:
        self._r = client
        self._p = prefix
        self._maxlen = maxlen
        self._handlers: dict[str, list[Callable[[dict[str, Any]], None]]] = defaultdict(list)

    def publish(self, topic: str, message: Mapping[str, Any]) -> str:
        msg = dict(message)
        try:
            mid = self._r.xadd(self._p + topic, {"data": json.dumps(msg, default=str)}, maxlen=self._maxlen, approximate=True)
        except RedisError as exc:
            raise StoreUnavailable(f"Redis stream is unavailable: {exc}", code="stream_unavailable") from exc
        for h in list(self._handlers[topic]):
            h(msg)
        return mid.decode() if isinstance(mid, bytes) else str(mid)

    def read(self, topic: str, *, after: str = "0", count: int = 100) -> list[tuple[str, dict[str, Any]]]:
        try:
            res: Any = self._r.xread({self._p + topic: after}, count=count)
        except RedisError as exc:
            raise StoreUnavailable(f"Redis stream is unavailable: {exc}", code="stream_unavailable") from exc
        out: list[tuple[str, dict[str, Any]]] = []
        for _stream, entries in res or []:
            for mid, fields in entries:
                out.append((mid.decode(), json.loads(fields[b"data"])))
        return out

    def subscribe(self, topic: str, handler: Callable[[dict[str, Any]], None]) -> None:
        self._handlers[topic].append(handler)

    def ping(self) -> None:
        try:
            self._r.ping()
        except RedisError as exc:
            raise StoreUnavailable(f"Redis is unavailable: {exc}", code="stream_unavailable") from exc
