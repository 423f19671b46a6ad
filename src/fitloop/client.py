"""A server-side Python client for sending orders, returns and other events to fitloop.

It speaks the same Segment-compatible API as the browser SDK, signs each
request with the source's HMAC secret (``X-Fitloop-Signature``) when given one,
and retries with exponential backoff on network errors, 429 and 5xx (honouring
``Retry-After``). Every call carries a ``messageId``, so a retry after a lost
acknowledgement is stored once.

>>> c = FitloopClient("http://127.0.0.1:8000", "fl_key")
>>> m = c.message("track", event="order_completed", user_id="u1",
...               properties={"order_id": "o1", "lines": [{"item_id": "sku-1", "price": 30.0}]})
>>> sorted(m)
['event', 'messageId', 'properties', 'timestamp', 'type', 'userId']
>>> c.close()
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import time
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx

__all__ = ["FitloopClient", "FitloopClientError"]

_RETRY_STATUS = {408, 429, 500, 502, 503, 504}


class FitloopClientError(Exception):
    """The server refused the request for good (4xx), or retries ran out."""

    def __init__(self, message: str, *, status: int | None = None, body: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class FitloopClient:
    """``FitloopClient(base_url, write_key, hmac_secret=None)``.

    ``client`` lets you pass your own :class:`httpx.Client` (connection pooling, proxies, tests).
    """

    def __init__(self, base_url: str, write_key: str, hmac_secret: str | None = None, *, timeout_s: float = 10.0,
                 max_retries: int = 6, backoff_s: float = 0.2, max_backoff_s: float = 30.0,
                 client: httpx.Client | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._auth = "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()
        self._secret = hmac_secret
        self._max_retries = max_retries
        self._backoff = backoff_s
        self._max_backoff = max_backoff_s
        self._own = client is None
        self._http = client or httpx.Client(timeout=timeout_s)

    def close(self) -> None:
        if self._own:
            self._http.close()

    def __enter__(self) -> FitloopClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ messages
    @staticmethod
    def message(type: str, *, event: str | None = None, user_id: str | None = None, anonymous_id: str | None = None,
                properties: Mapping[str, Any] | None = None, traits: Mapping[str, Any] | None = None,
                timestamp: datetime | None = None, message_id: str | None = None) -> dict[str, Any]:
        """One Segment call as a dict (``message_id`` defaults to a fresh UUID: keep it to retry safely)."""
        m: dict[str, Any] = {"type": type, "messageId": message_id or str(uuid.uuid4()),
                             "timestamp": (timestamp or datetime.now(UTC)).isoformat()}
        if event is not None:
            m["event"] = event
        if user_id is not None:
            m["userId"] = user_id
        if anonymous_id is not None:
            m["anonymousId"] = anonymous_id
        if properties is not None:
            m["properties"] = dict(properties)
        if traits is not None:
            m["traits"] = dict(traits)
        return m

    # ------------------------------------------------------------------ sending
    def batch(self, messages: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """Send up to a few hundred messages in one request; returns the server's report."""
        return self._post("/v1/batch", {"batch": list(messages), "sentAt": datetime.now(UTC).isoformat()})

    def track(self, event: str, properties: Mapping[str, Any], *, user_id: str | None = None,
              anonymous_id: str | None = None, message_id: str | None = None,
              timestamp: datetime | None = None) -> dict[str, Any]:
        return self.batch([self.message("track", event=event, user_id=user_id, anonymous_id=anonymous_id,
                                        properties=properties, message_id=message_id, timestamp=timestamp)])

    def identify(self, user_id: str, *, anonymous_id: str | None = None, traits: Mapping[str, Any] | None = None,
                 message_id: str | None = None) -> dict[str, Any]:
        return self.batch([self.message("identify", user_id=user_id, anonymous_id=anonymous_id, traits=traits or {},
                                        message_id=message_id)])

    def order_completed(self, order_id: str, user_id: str, lines: Sequence[Mapping[str, Any]], *,
                        currency: str | None = None, message_id: str | None = None, **extra: Any) -> dict[str, Any]:
        """``lines``: ``{"item_id", "size", "quantity", "price", "discount"}`` dicts."""
        props: dict[str, Any] = {"order_id": order_id, "lines": [dict(x) for x in lines], **extra}
        if currency:
            props["currency"] = currency
        return self.track("order_completed", props, user_id=user_id, message_id=message_id or f"order-{order_id}")

    def order_cancelled(self, order_id: str, user_id: str, *, reason: str | None = None,
                        message_id: str | None = None) -> dict[str, Any]:
        props: dict[str, Any] = {"order_id": order_id}
        if reason:
            props["reason"] = reason
        return self.track("order_cancelled", props, user_id=user_id, message_id=message_id or f"cancel-{order_id}")

    def product_returned(self, order_id: str, user_id: str, item_id: str, reason: str, *, size: str | None = None,
                         quantity: int = 1, price: float | None = None, message_id: str | None = None) -> dict[str, Any]:
        """``reason``: too_small, too_large, not_as_pictured, quality or changed_mind."""
        props: dict[str, Any] = {"order_id": order_id, "item_id": item_id, "reason": reason, "quantity": quantity}
        if size:
            props["size"] = size
        if price is not None:
            props["price"] = price
        return self.track("product_returned", props, user_id=user_id,
                          message_id=message_id or f"return-{order_id}-{item_id}-{size or ''}")

    def _headers(self, body: bytes) -> dict[str, str]:
        h = {"Authorization": self._auth, "Content-Type": "application/json"}
        if self._secret:
            ts = str(int(time.time()))
            mac = hmac.new(self._secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
            h["X-Fitloop-Timestamp"] = ts
            h["X-Fitloop-Signature"] = f"sha256={mac}"
        return h

    def _post(self, path: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        body = json.dumps(payload, separators=(",", ":"), default=str).encode()
        delay = self._backoff
        last: str = ""
        for attempt in range(self._max_retries + 1):
            try:
                # Signed per attempt: the timestamp must stay fresh across long backoffs.
                resp = self._http.post(self.base_url + path, content=body, headers=self._headers(body))
            except httpx.TransportError as exc:
                last = f"{type(exc).__name__}: {exc}"
            else:
                if resp.status_code < 300:
                    return dict(resp.json())
                try:
                    data = resp.json()
                except ValueError:
                    data = resp.text
                if resp.status_code not in _RETRY_STATUS:
                    msg = data.get("error", {}).get("message") if isinstance(data, dict) else str(data)
                    raise FitloopClientError(f"HTTP {resp.status_code}: {msg}", status=resp.status_code, body=data)
                last = f"HTTP {resp.status_code}"
                ra = resp.headers.get("retry-after")
                if ra and ra.isdigit():
                    delay = max(delay, float(ra))
            if attempt == self._max_retries:
                break
            time.sleep(min(delay, self._max_backoff) * (0.5 + random.random() / 2))
            delay = min(delay * 2, self._max_backoff)
        raise FitloopClientError(f"gave up after {self._max_retries + 1} attempts: {last}")
