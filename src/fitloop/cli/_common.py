"""What every CLI command shares: settings from options and the environment, and error printing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console

from fitloop.config import Settings

console = Console()
err_console = Console(stderr=True)


def make_settings(*, data_dir: Path | None = None, database_url: str | None = None, demo: bool | None = None,
                  **overrides: Any) -> Settings:
    """Environment (FITLOOP_*) first, then explicit command-line options on top."""
    values: dict[str, Any] = {k: v for k, v in overrides.items() if v is not None}
    if data_dir is not None:
        values["data_dir"] = data_dir
    if database_url is not None:
        values["database_url"] = database_url
    if demo is not None:
        values["demo"] = demo
    return Settings(**values)
