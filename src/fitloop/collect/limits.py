"""Size limits, the same as Segment's HTTP API: 32 KB per event, 500 KB per batch.

>>> check_event_size(b"x" * 100)
>>> check_batch_size(600 * 1024)
Traceback (most recent call last):
...
fitloop.errors.PayloadTooLarge: the request body is 614400 bytes; the limit is 512000 bytes (500 KB) per batch: send smaller batches
"""

from __future__ import annotations

from fitloop.errors import PayloadTooLarge

__all__ = ["MAX_EVENT_BYTES", "MAX_BATCH_BYTES", "MAX_BATCH_EVENTS", "check_event_size", "check_batch_size"]

MAX_EVENT_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024
#: More events than this cannot each be a valid event inside 500 KB; refusing early keeps the work bounded.
MAX_BATCH_EVENTS = 5000


def check_batch_size(n_bytes: int) -> None:
    if n_bytes > MAX_BATCH_BYTES:
        raise PayloadTooLarge(
            f"the request body is {n_bytes} bytes; the limit is {MAX_BATCH_BYTES} bytes (500 KB) per batch: "
            "send smaller batches", code="batch_too_large", details={"limit_bytes": MAX_BATCH_BYTES, "bytes": n_bytes})


def check_event_size(raw: bytes | int) -> None:
    n = raw if isinstance(raw, int) else len(raw)
    if n > MAX_EVENT_BYTES:
        raise PayloadTooLarge(
            f"the event is {n} bytes; the limit is {MAX_EVENT_BYTES} bytes (32 KB) per event: "
            "leave large data (images, HTML) out and send a reference", code="event_too_large",
            details={"limit_bytes": MAX_EVENT_BYTES, "bytes": n})
