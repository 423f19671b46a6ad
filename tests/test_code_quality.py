"""The code stays lint-clean (ruff) and type-clean (mypy), as the design's conventions ask."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _run(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_is_clean(tmp_path: Path) -> None:
    proc = _run([str(BIN / "ruff"), "check", "src", "tests", "benchmarks"], tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.slow
def test_mypy_is_clean(tmp_path: Path) -> None:
    proc = _run([str(BIN / "mypy"), "--cache-dir", str(tmp_path / "mypy-cache")], tmp_path)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr
