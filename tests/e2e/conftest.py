"""A real fitloop server (uvicorn, in a thread) with a small demo catalog, and headless Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from fitloop.api import create_app
from fitloop.config import Settings
from fitloop.data import Item, Variant
from fitloop.testing.server import serve_in_thread
from fitloop.wiring import Container, build

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@dataclass
class Server:
    base_url: str
    container: Container


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
    with serve_in_thread(app, log_config=None, access_log=False) as base_url:
        yield Server(base_url, ctr)
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
