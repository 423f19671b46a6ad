"""Shared fixtures: where the real public data lives, and skipping politely when it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def _real_data_dir() -> Path:
    env = os.environ.get("FITLOOP_DATA_DIR")
    return Path(env) if env else (REPO_ROOT.parent / "shared" / "data")


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    """The folder of real public data (../shared/data or $FITLOOP_DATA_DIR); skips when absent."""
    d = _real_data_dir()
    if not d.is_dir():
        pytest.skip(f"real data not found at {d}; set FITLOOP_DATA_DIR to run this test")
    return d


def require_data_file(data_dir: Path, relative: str) -> Path:
    """Return ``data_dir/relative`` or skip the calling test with the reason."""
    p = data_dir / relative
    if not p.exists():
        pytest.skip(f"real data file {p} is absent; this test needs it")
    return p
