"""Screenshots of every console page for docs/CONSOLE.md, taken in real headless Chromium.

Run: ``/work/venv/bin/python benchmarks/console_screenshots.py [--out docs/img]``

Runs the end-to-end console suites (``tests/e2e/test_console.py``, ``tests/e2e/test_console_targeting.py``:
live A/B split and coupon targeting) against small simulated shops with
``FITLOOP_SCREENSHOTS`` set, so the pictures show exactly what the tests check. Writes
``console-*.png`` (1280 × 900, about 20–200 kB each) and prints their sizes.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    a = ap.parse_args()
    env = {**os.environ, "FITLOOP_SCREENSHOTS": str(a.out.resolve())}
    rc = subprocess.call([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          str(ROOT / "tests" / "e2e" / "test_console.py"),
                          str(ROOT / "tests" / "e2e" / "test_console_targeting.py")], cwd=ROOT, env=env)
    for p in sorted(a.out.glob("console-*.png")):
        print(f"{p.relative_to(ROOT) if p.is_relative_to(ROOT) else p}  {p.stat().st_size / 1024:6.0f} kB")
    return rc


if __name__ == "__main__":
    raise SystemExit(main())
