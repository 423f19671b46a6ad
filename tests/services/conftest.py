"""Fixtures shared by the service tests: a fresh installation's stores (SQLite, demo settings) per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fitloop.config import Settings
from fitloop.store import Stores
from fitloop.wiring import build_stores


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[Stores]:
    s = build_stores(Settings(data_dir=tmp_path, demo=True))
    yield s
    s.close()
