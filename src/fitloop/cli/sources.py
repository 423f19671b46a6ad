"""``fitloop sources``: create, list and revoke event sources (write keys)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from fitloop.cli._collect_common import DataDirOpt, UrlOpt, collect_container
from fitloop.cli._common import console

app = typer.Typer(help="Event sources: who may send events, with which write key.", no_args_is_help=True)


@app.command("add")
def sources_add(
    name: Annotated[str, typer.Argument(help="Short name: lowercase letters, digits, '-' (max 20).")],
    owner: Annotated[str, typer.Option("--owner", help="E-mail of the person responsible for this source.")],
    hmac: Annotated[bool, typer.Option("--hmac/--no-hmac", help="Also create an HMAC secret: every request must then be signed (server-side senders).")] = False,
    database_url: UrlOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Create a source and print its write key (shown only once: only its hash is stored)."""
    with collect_container(database_url, data_dir) as (_, svc):
        src, key, secret = svc.add_source(name, owner, hmac_secret=hmac)
    console.print(f"source [bold]{src.name}[/] (owner {src.owner}) created")
    console.print("write key (keep it; it is shown only now):")
    typer.echo(key)
    if secret:
        console.print("HMAC secret (sign each request with it; shown only now):")
        typer.echo(secret)


@app.command("list")
def sources_list(database_url: UrlOpt = None, data_dir: DataDirOpt = None) -> None:
    """List sources (never their keys)."""
    with collect_container(database_url, data_dir) as (_, svc):
        rows = svc.list_sources()
    table = Table("name", "owner", "signed", "created", "revoked")
    for s in rows:
        table.add_row(s.name, s.owner, "yes" if s.hmac_secret else "no", s.created_at.strftime("%Y-%m-%d %H:%M"),
                      s.revoked_at.strftime("%Y-%m-%d %H:%M") if s.revoked_at else "")
    console.print(table)


@app.command("revoke")
def sources_revoke(name: str, database_url: UrlOpt = None, data_dir: DataDirOpt = None) -> None:
    """Revoke a source's write key: its requests get 401 from then on (within 30 s on other API processes)."""
    with collect_container(database_url, data_dir) as (_, svc):
        svc.revoke_source(name)
    console.print(f"source [bold]{name}[/] revoked")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="sources")
