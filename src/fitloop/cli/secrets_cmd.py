"""``fitloop secrets``: generate strong secrets for a production installation."""

from __future__ import annotations

import typer

from fitloop.config import generate_secrets

app = typer.Typer(help="Secrets for FITLOOP_SECRET_KEY, FITLOOP_PSEUDONYM_KEY and FITLOOP_MASTER_KEY.", no_args_is_help=True)


@app.command("generate")
def generate() -> None:
    """Print a fresh set of secrets as environment lines (keep them in your secret manager)."""
    for name, value in generate_secrets().items():
        typer.echo(f"FITLOOP_{name.upper()}={value}")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="secrets")
