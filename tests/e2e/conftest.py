"""A real fitloop server (uvicorn, in a thread) with a small demo catalog, and headless Chromium."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn

from fitloop.api import create_app
from fitloop.config import Settings
from fitloop.data import Item, Variant
from fitloop.wiring import Container, build

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@dataclass
class Server:
    base_url: str
    container: Container


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp("e2e")
    settings = Settings(data_dir=data_dir, demo=True, log_json=True, log_level="WARNING")
    ctr = build(settings)
    colours = ["black", "white", "navy", "red", "green", "beige"]
    ctr.stores.catalog.upsert_items([
        Item(f"sku-{i:03d}", f"Demo item {i}", "tops", "t-shirt", 10.0 + i, colour=colours[i % len(colours)],
             style="casual", variants=(Variant("S", 3), Variant("M", 2), Variant("L", 0))) for i in range(40)])
    app = create_app(settings, container=ctr, configure_logs=False)
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.started, "uvicorn did not start"
    yield Server(f"http://127.0.0.1:{port}", ctr)
    srv.should_exit = True
    thread.join(15)
    ctr.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()
