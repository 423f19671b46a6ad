"""A container for the collection commands (sources, events), built from the environment and options."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from fitloop.cli._common import make_settings
from fitloop.errors import ConfigError
from fitloop.services.ingest import IngestService
from fitloop.wiring import Container, build

UrlOpt = Annotated[str | None, typer.Option("--database-url", help="Overrides FITLOOP_DATABASE_URL.")]
DataDirOpt = Annotated[Path | None, typer.Option("--data-dir", help="Overrides FITLOOP_HOME (SQLite file, demo secrets).")]


@contextmanager
def collect_container(database_url: str | None, data_dir: Path | None, *, start: bool = False) -> Iterator[tuple[Container, IngestService]]:
    ctr = build(make_settings(database_url=database_url, data_dir=data_dir))
    if ctr.ingest is None:  # pragma: no cover - build always wires it
        raise ConfigError("this installation has no ingest service")
    try:
        if start:
            ctr.ingest.start()
        yield ctr, ctr.ingest
    finally:
        if start:
            ctr.ingest.stop()
        ctr.close()
