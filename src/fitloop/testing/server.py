"""Real servers for tests and benchmarks: ``fitloop serve`` in a subprocess (crash tests, benchmarks) or an
app under uvicorn in a thread (browser tests, which also need the app's container in the test process).

>>> port = free_port(); 1024 < port < 65536
True
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import httpx

__all__ = ["free_port", "serve_in_thread", "start_serve"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_serve(env: Mapping[str, str], port: int, *, timeout_s: float = 90.0) -> subprocess.Popen[bytes]:
    """Start ``fitloop serve --port PORT`` with ``env`` on top of this process's environment; return once
    ``/readyz`` answers 200. Raises :class:`RuntimeError` (after killing it) when it is not ready in time."""
    proc = subprocess.Popen([sys.executable, "-c", "from fitloop.cli import main; main()", "serve", "--port", str(port)],
                            env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"fitloop serve did not become ready in {timeout_s:.0f} s")


@contextmanager
def serve_in_thread(app: Any, *, timeout_s: float = 30.0, **config: Any) -> Iterator[str]:
    """Serve the ASGI ``app`` with uvicorn in a daemon thread on a free port; yield its base URL once started
    (lifespan start-up done) and stop it on exit. ``config``: more ``uvicorn.Config`` options."""
    import uvicorn  # only the browser tests need it here; the subprocess helpers must not pay for it

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, **config))
    thread = threading.Thread(target=server.run, name="uvicorn-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout_s
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    if not server.started:
        server.should_exit = True
        raise RuntimeError(f"uvicorn did not start within {timeout_s:.0f} s")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)
