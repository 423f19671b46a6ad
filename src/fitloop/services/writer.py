"""A background batch writer: callers enqueue, one thread writes in groups.

Used where a write must not sit on a shopper's request path (impression logs).
Items are flushed when ``max_batch`` accumulate or ``max_delay_s`` passes, and on
:meth:`close`. A failed write is retried with backoff and logged; nothing is
dropped while the process lives.

>>> seen = []
>>> w = BatchWriter(seen.extend, max_delay_s=0.01); w.start()
>>> w.put(1); w.put(2); w.put_many([3, 4]); w.close()
>>> seen
[1, 2, 3, 4]
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["BatchWriter"]

T = TypeVar("T")
log = logging.getLogger(__name__)
_STOP = object()


class _Many(list):
    """Several items queued at once (one lock round-trip instead of one per item)."""


class BatchWriter(Generic[T]):
    def __init__(self, write: Callable[[list[T]], None], *, max_batch: int = 500, max_delay_s: float = 0.2,
                 name: str = "batch-writer") -> None:
        self._write = write
        self._q: queue.Queue[object] = queue.Queue()
        self._max_batch = max_batch
        self._max_delay_s = max_delay_s
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        if not self._thread.is_alive():
            self._thread.start()

    def put(self, item: T) -> None:
        self._q.put(item)

    def put_many(self, items: list[T]) -> None:
        """Queue several items with one queue operation (the group committer hands over hundreds at a time)."""
        if items:
            self._q.put(_Many(items))

    def close(self, timeout_s: float = 10.0) -> None:
        """Flush what is queued and stop the thread."""
        if self._thread.is_alive():
            self._q.put(_STOP)
            self._thread.join(timeout_s)

    def _flush(self, batch: list[T]) -> None:
        delay = 0.05
        while batch:
            try:
                self._write(batch)
                return
            except Exception:  # noqa: BLE001 - keep the data, retry, tell the operator
                log.exception("batch write failed; retrying in %.2fs", delay)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)

    def _run(self) -> None:
        batch: list[T] = []
        deadline = None
        while True:
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                item = self._q.get(timeout=timeout)
            except queue.Empty:
                item = None
            if item is _STOP:
                self._flush(batch)
                return
            if isinstance(item, _Many):
                batch.extend(item)
            elif item is not None:
                batch.append(item)  # type: ignore[arg-type]
            if item is not None and deadline is None:
                deadline = time.monotonic() + self._max_delay_s
            if batch and (len(batch) >= self._max_batch or (deadline is not None and time.monotonic() >= deadline)):
                self._flush(batch)
                batch, deadline = [], None
