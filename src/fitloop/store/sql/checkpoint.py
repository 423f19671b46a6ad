"""Background WAL checkpoints for a SQLite file, so that group commits never copy pages themselves.

In WAL mode every commit appends the pages it changed to the ``-wal`` file; a *checkpoint* copies
them back into the database file and fsyncs it. SQLite's default runs that checkpoint inside the
commit that pushes the WAL past 1,000 pages, i.e. on the request path: with the event log's random
keys (message ids, shopper ids) a group commit of 400 events dirties about 1,000 pages, so nearly
every group commit also did a checkpoint, doubling its time.

:class:`WalCheckpointer` runs ``PRAGMA wal_checkpoint(PASSIVE)`` on its own connection every
``interval_s``: a passive checkpoint never blocks writers or readers, and the whole copy is one SQLite
call that runs without the GIL. The writers' own automatic checkpoint (``wal_autocheckpoint``, set to
:data:`~fitloop.store.sql.engine.SQLITE_AUTOCHECKPOINT_PAGES` by :func:`~fitloop.store.sql.make_engine`)
stays as the safety net: it then finds almost everything already copied, and its completing lets
SQLite restart the WAL from the beginning, so the file stays bounded. Durability is SQLite's own:
checkpoints are crash-safe, and this connection uses ``synchronous=FULL`` as well.

>>> import tempfile, pathlib, sqlite3
>>> path = str(pathlib.Path(tempfile.mkdtemp()) / "x.db")
>>> db = sqlite3.connect(path, isolation_level=None); _ = db.execute("PRAGMA journal_mode=WAL")
>>> _ = db.execute("CREATE TABLE t (x)"); _ = db.execute("INSERT INTO t VALUES (1)")
>>> c = WalCheckpointer(path, interval_s=0.01)
>>> busy, frames, copied = c.checkpoint()   # what SQLite reports
>>> busy == 0 and frames == copied > 0
True
>>> c.start(); c.stop(); c.running
False
"""

from __future__ import annotations

import logging
import sqlite3
import threading

__all__ = ["WalCheckpointer"]

log = logging.getLogger(__name__)


class WalCheckpointer:
    """A daemon thread running passive WAL checkpoints on the SQLite file at ``path``."""

    def __init__(self, path: str, *, interval_s: float = 0.05) -> None:
        self.path = path
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self.passes = 0

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=5)
            conn.execute("PRAGMA synchronous=FULL")  # the checkpoint fsyncs the WAL and then the database
            self._conn = conn
        return self._conn

    def checkpoint(self) -> tuple[int, int, int]:
        """One passive checkpoint now: ``(busy, frames in the WAL, frames checkpointed)`` as SQLite reports them."""
        with self._lock:
            row = self._connection().execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        self.passes += 1
        return int(row[0]), int(row[1]), int(row[2])

    def start(self) -> None:
        with self._lock:
            if self.running:
                return
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="wal-checkpointer", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the thread and close its connection (SQLite checkpoints again when the last connection closes)."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(5)
        self._thread = None
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.checkpoint()
            except sqlite3.Error as exc:  # busy, disk full …: the writers' own checkpoints still run
                log.debug("background WAL checkpoint skipped: %s", exc)
                self._stop.wait(1.0)
