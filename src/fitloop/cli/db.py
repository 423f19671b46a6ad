"""``fitloop db``: schema migrations."""

from __future__ import annotations

from typing import Annotated

import typer

from fitloop.cli._common import console, make_settings
from fitloop.store.sql import current_revision, head_revision, make_engine, upgrade

app = typer.Typer(help="Database schema: apply and inspect migrations.", no_args_is_help=True)

UrlOpt = Annotated[str | None, typer.Option("--database-url", help="Overrides FITLOOP_DATABASE_URL.")]


@app.command("upgrade")
def db_upgrade(database_url: UrlOpt = None, revision: str = typer.Option("head", help="Target revision.")) -> None:
    """Apply migrations up to REVISION (default: the latest)."""
    settings = make_settings(database_url=database_url)
    engine = make_engine(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous)
    before = current_revision(engine)
    upgrade(engine, revision)
    after = current_revision(engine)
    engine.dispose()
    console.print(f"database {engine.url.render_as_string(hide_password=True)}: {before or 'empty'} → [bold]{after}[/]")


@app.command("current")
def db_current(database_url: UrlOpt = None) -> None:
    """Show the schema revision of the database and the one this code expects."""
    settings = make_settings(database_url=database_url)
    engine = make_engine(settings.database_url)
    cur, head = current_revision(engine), head_revision()
    engine.dispose()
    state = "up to date" if cur == head else "run `fitloop db upgrade`"
    console.print(f"current: {cur or 'empty'}  expected: {head}  ({state})")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="db")
