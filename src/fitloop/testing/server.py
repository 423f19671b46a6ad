"""A real ``fitloop serve`` in a subprocess, for crash tests and benchmarks that need one.

>>> port = free_port(); 1024 < port < 65536
True
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Mapping

import httpx

__all__ = ["free_port", "start_serve"]


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
