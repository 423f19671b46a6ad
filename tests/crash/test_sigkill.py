"""Crash test: SIGKILL the server three times under load; every acknowledged event is stored exactly once.

A real ``fitloop serve`` process (uvicorn, SQLite in WAL mode with
``synchronous=FULL``) takes batches of 50 from four concurrent senders that
behave like real clients: a batch is retried (same ``messageId``s) until it is
acknowledged. The server is killed with SIGKILL three times mid-load and
restarted. Afterwards every acknowledged message must be in the store, once.
"""

from __future__ import annotations

import base64
import os
import signal
import sqlite3
import subprocess
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest

from fitloop.config import Settings
from fitloop.testing.server import free_port, start_serve
from fitloop.wiring import build

pytestmark = pytest.mark.slow


def _start(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    return start_serve({"FITLOOP_HOME": str(data_dir), "FITLOOP_DEMO": "1", "FITLOOP_LOG_LEVEL": "WARNING",
                        "FITLOOP_DATABASE_URL": ""}, port, timeout_s=60)


# Set only when the test itself fails: senders then give up instead of retrying for ever.
ABORT = threading.Event()


class Sender(threading.Thread):
    """Sends unique batches; retries a batch until acknowledged (at-least-once delivery)."""

    def __init__(self, url: str, key: str, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.url, self.stop = url, stop
        self.auth = {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}
        self.acked: list[str] = []
        self.sent_batches = 0
        self.retries = 0

    def run(self) -> None:
        with httpx.Client(timeout=10) as client:
            while not self.stop.is_set():
                ids = [uuid.uuid4().hex for _ in range(50)]
                body = {"batch": [{"type": "track", "event": "product_viewed", "messageId": m, "anonymousId": "a",
                                   "properties": {"item_id": "sku-1"}} for m in ids]}
                self.sent_batches += 1
                while not ABORT.is_set():  # deliver this batch, whatever happens to the server
                    try:
                        r = client.post(self.url, json=body, headers=self.auth)
                        if r.status_code == 200:
                            j = r.json()
                            assert j["stored"] + j["duplicates"] == 50, j
                            self.acked.extend(ids)
                            break
                    except httpx.HTTPError:
                        pass
                    self.retries += 1
                    time.sleep(0.05)


def test_sigkill_three_times_loses_no_acknowledged_event(tmp_path: Path) -> None:
    ctr = build(Settings(data_dir=tmp_path, demo=True))
    assert ctr.ingest is not None
    _, key, _ = ctr.ingest.add_source("crash", "qa@example.com")
    ctr.close()
    port = free_port()
    proc = _start(tmp_path, port)
    # The shopper consented (the privacy gate checks the ledger before storing behaviour).
    r = httpx.post(f"http://127.0.0.1:{port}/v1/consent", json={"user_id": "a", "source": "sdk",
                                                                "purposes": {"analytics": True, "personalisation": True}})
    assert r.status_code == 200, r.text
    stop = threading.Event()
    senders = [Sender(f"http://127.0.0.1:{port}/v1/batch", key, stop) for _ in range(4)]
    for s in senders:
        s.start()
    try:
        for _ in range(3):
            time.sleep(2.0)
            acked_before = sum(len(s.acked) for s in senders)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
            assert acked_before > 0
            proc = _start(tmp_path, port)
        time.sleep(1.5)
        stop.set()
        for s in senders:
            s.join(60)
            assert not s.is_alive(), "a sender could not deliver its last batch after the restarts"
    except BaseException:
        ABORT.set()
        raise
    finally:
        stop.set()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
    acked = [m for s in senders for m in s.acked]
    assert len(acked) == len(set(acked)) and len(acked) >= 3 * 50
    conn = sqlite3.connect(tmp_path / "fitloop.db")
    stored = [r[0] for r in conn.execute("SELECT event_id FROM events WHERE source = 'crash'")]
    conn.close()
    stored_set = set(stored)
    assert len(stored) == len(stored_set)  # nothing twice
    missing = [m for m in acked if f"crash:{m}" not in stored_set]
    assert not missing, f"{len(missing)} acknowledged events were lost"
    # every batch was eventually acknowledged, so the store holds exactly the acknowledged events
    assert len(stored_set) == len(acked)
    assert sum(s.retries for s in senders) > 0  # the kills really interrupted deliveries
