"""Group commit: one writer thread turns many concurrent requests into one durable transaction.

Each request hands its events to :meth:`GroupCommitter.submit` and waits. The
writer takes everything queued (up to ``max_events``), commits it in one
transaction and then releases every waiting request with its own result, so
a request is acknowledged only after its events are on disk, while the disk
sees one fsync per group instead of one per request.

Failure handling is the point of this module:

* A retryable store failure (down, busy, disk full: :class:`~fitloop.errors.StoreUnavailable`)
  fails every request of the group with that error (HTTP 503 + ``Retry-After``);
  nothing was committed, so the client's retry is safe, and the next group
  tries the store again: the committer recovers by itself when the store does.
* Any other failure of a multi-request group is retried request by request, so
  one poisonous request cannot fail its neighbours.
* The writer thread never dies: every exception is caught, reported to the
  waiting requests and logged. (A prototype whose writer died on "disk full"
  left every later request hanging.)
* A full queue answers 503 at once (back-pressure) instead of growing without bound.

>>> from fitloop.store import CommitResult
>>> gc = GroupCommitter(lambda ev, q, links, received_at: CommitResult(tuple(ev), frozenset(), len(q), 0))
>>> gc.start()
>>> gc.submit_wait([], [], [])
JobResult(inserted=0, duplicates=0, quarantined=0)
>>> gc.stop()
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from fitloop.collect.quarantine import QuarantineRecord
from fitloop.data import Event
from fitloop.errors import FitloopError, StoreError, StoreUnavailable
from fitloop.store import CommitResult

__all__ = ["GroupCommitter", "JobResult", "CommitFn", "Done"]

log = logging.getLogger(__name__)

CommitFn = Callable[..., CommitResult]
"""``commit(events, quarantine, links, received_at=...) -> CommitResult`` (an :class:`IngestLog` method)."""


@dataclass(frozen=True, slots=True)
class JobResult:
    """One request's share of a group commit."""

    inserted: int
    duplicates: int
    quarantined: int


Done = Callable[[JobResult | BaseException], None]


@dataclass(slots=True)
class _Job:
    events: Sequence[Event]
    quarantine: Sequence[QuarantineRecord]
    links: Sequence[tuple[str, str, str]]
    done: Done


class GroupCommitter:
    """A single writer thread committing the work of concurrent requests in groups."""

    def __init__(
        self,
        commit: CommitFn,
        *,
        on_committed: Callable[[CommitResult], None] | None = None,
        max_events: int = 5000,
        max_pending_events: int = 200_000,
        name: str = "group-commit",
    ) -> None:
        self._commit = commit
        self._on_committed = on_committed
        self._max_events = max_events
        self._max_pending = max_pending_events
        self._name = name
        self._queue: deque[_Job] = deque()
        self._pending_events = 0
        self._cond = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.groups = 0
        self.last_error: str | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        with self._cond:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Commit what is queued, then stop the thread."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._stopping

    # ------------------------------------------------------------------ submitting
    def submit(self, events: Sequence[Event], quarantine: Sequence[QuarantineRecord],
               links: Sequence[tuple[str, str, str]], done: Done) -> None:
        """Queue one request's work; ``done`` is called from the writer thread with the result or the error."""
        n = len(events) + len(quarantine)
        with self._cond:
            if not self.running:
                raise StoreUnavailable("the event writer is not running (starting or shutting down); retry shortly",
                                       code="writer_unavailable", retry_after_s=2)
            if self._pending_events + n > self._max_pending and self._queue:
                raise StoreUnavailable("too many events are waiting to be written; retry shortly",
                                       code="overloaded", retry_after_s=1)
            self._queue.append(_Job(events, quarantine, links, done))
            self._pending_events += n
            self._cond.notify()

    def submit_wait(self, events: Sequence[Event], quarantine: Sequence[QuarantineRecord],
                    links: Sequence[tuple[str, str, str]], *, timeout_s: float = 30.0) -> JobResult:
        """Blocking :meth:`submit` for synchronous callers (replay, tests, CLI)."""
        box: list[JobResult | BaseException] = []
        ready = threading.Event()

        def done(r: JobResult | BaseException) -> None:
            box.append(r)
            ready.set()

        self.submit(events, quarantine, links, done)
        if not ready.wait(timeout_s):
            raise StoreUnavailable("the event store did not confirm the write in time; retry (it is idempotent)",
                                   code="commit_timeout", retry_after_s=2)
        r = box[0]
        if isinstance(r, BaseException):
            raise r
        return r

    # ------------------------------------------------------------------ the writer
    def _take(self) -> list[_Job] | None:
        with self._cond:
            while not self._queue:
                if self._stopping:
                    return None
                self._cond.wait()
            jobs: list[_Job] = []
            n = 0
            while self._queue and (not jobs or n + len(self._queue[0].events) <= self._max_events):
                job = self._queue.popleft()
                jobs.append(job)
                n += len(job.events) + len(job.quarantine)
            self._pending_events -= sum(len(j.events) + len(j.quarantine) for j in jobs)
            return jobs

    def _run(self) -> None:
        while True:
            try:
                jobs = self._take()
                if jobs is None:
                    return
                self._commit_group(jobs)
            except BaseException:  # noqa: BLE001 - the writer must never die; see the module docstring
                log.exception("group commit loop error (continuing)")
                time.sleep(0.01)

    @staticmethod
    def _release(job: _Job, result: JobResult | BaseException) -> None:
        try:
            job.done(result)
        except Exception:  # noqa: BLE001 - a broken callback must not take the writer down
            log.exception("group commit callback failed")

    def _commit_jobs(self, jobs: list[_Job]) -> CommitResult:
        events = [e for j in jobs for e in j.events]
        quarantine = [q for j in jobs for q in j.quarantine]
        links = [lk for j in jobs for lk in j.links]
        return self._commit(events, quarantine, links, received_at=datetime.now(UTC))

    def _commit_group(self, jobs: list[_Job]) -> None:
        try:
            result = self._commit_jobs(jobs)
        except StoreUnavailable as exc:
            self.last_error = exc.message
            log.warning("group commit failed, %d requests get 503: %s", len(jobs), exc.message)
            for job in jobs:
                self._release(job, exc)
            return
        except Exception as exc:  # noqa: BLE001
            if len(jobs) > 1:
                # Isolate a poisonous request: commit each alone so the others still succeed.
                for job in jobs:
                    self._commit_group([job])
                return
            log.exception("commit failed for one request")
            err = exc if isinstance(exc, FitloopError) else StoreError(
                f"the events could not be stored ({type(exc).__name__}); nothing was acknowledged")
            self._release(jobs[0], err)
            return
        self.groups += 1
        self.last_error = None
        inserted_ids = {e.event_id for e in result.inserted}
        for job in jobs:
            n_in = sum(1 for e in job.events if e.event_id in inserted_ids)
            self._release(job, JobResult(n_in, len(job.events) - n_in, len(job.quarantine)))
        if self._on_committed is not None and result.inserted:
            try:
                self._on_committed(result)
            except Exception:  # noqa: BLE001 - stored is stored; consumers can catch up from the log
                log.exception("post-commit hook failed")
