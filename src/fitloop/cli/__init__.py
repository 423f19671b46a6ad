"""The ``fitloop`` command line.

Every command has ``--help``. Errors a user can fix print one line and exit
with status 2, without a traceback.
"""

from __future__ import annotations

import sys

import typer

from fitloop import __version__
from fitloop.cli import (
    bandit,
    console_users,
    context,
    db,
    events,
    privacy,
    profiles,
    recsys,
    secrets_cmd,
    segments,
    server,
    simulator,
    size,
    sources,
)
from fitloop.cli._common import err_console
from fitloop.errors import FitloopError

__all__ = ["app", "main"]

app = typer.Typer(
    name="fitloop",
    help="fitloop: lawful precision marketing for fashion e-commerce.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"fitloop {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """fitloop: collect lawfully, understand shoppers, recommend what they keep, market precisely."""


for _module in (server, db, secrets_cmd, simulator, privacy, bandit, sources, events, context, size, segments,
                console_users, recsys, profiles):
    _module.register(app)


def main() -> None:
    """Console entry point: run the app, turning fitloop errors into a one-line message."""
    try:
        app(standalone_mode=True)
    except FitloopError as exc:
        err_console.print(f"[bold red]error:[/] {exc.message}")
        sys.exit(2)
