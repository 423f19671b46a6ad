"""``fitloop events``: ingest statistics, the quarantine (list, show, replay) and the admin token."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from fitloop.cli._collect_common import DataDirOpt, UrlOpt, collect_container
from fitloop.cli._common import console
from fitloop.services.ingest import derive_admin_token

app = typer.Typer(help="Collected events: statistics and the quarantine.", no_args_is_help=True)
quarantine_app = typer.Typer(help="Events refused with a reason: inspect and replay after a fix.", no_args_is_help=True)
app.add_typer(quarantine_app, name="quarantine")


@app.command("stats")
def events_stats(database_url: UrlOpt = None, data_dir: DataDirOpt = None) -> None:
    """Events stored, duplicates dropped and events quarantined, by source and type."""
    with collect_container(database_url, data_dir) as (ctr, svc):
        stats = svc.stats()
        open_q = svc.open_quarantine()
        total_events = ctr.stores.events.count()
    table = Table("source", "type", "stored", "duplicates dropped", "quarantined")
    tot = [0, 0, 0]
    for s in stats:
        table.add_row(s.source, s.type, f"{s.stored:,}", f"{s.duplicates:,}", f"{s.quarantined:,}")
        tot = [tot[0] + s.stored, tot[1] + s.duplicates, tot[2] + s.quarantined]
    table.add_row("[bold]all[/]", "", f"[bold]{tot[0]:,}[/]", f"[bold]{tot[1]:,}[/]", f"[bold]{tot[2]:,}[/]")
    console.print(table)
    console.print(f"events in the log (including imports and the demo): {total_events:,}; "
                  f"quarantine still open: {open_q:,}")


@app.command("admin-token")
def events_admin_token(database_url: UrlOpt = None, data_dir: DataDirOpt = None) -> None:
    """Print the bearer token of the admin API (/v1/quarantine, /v1/collect/stats)."""
    with collect_container(database_url, data_dir) as (ctr, _):
        s = ctr.settings
        typer.echo(derive_admin_token(s.secret("secret_key"), s.secret("admin_token")))


@quarantine_app.command("list")
def quarantine_list(
    source: Annotated[str | None, typer.Option(help="Only this source.")] = None,
    code: Annotated[str | None, typer.Option(help="Only this error code.")] = None,
    status: Annotated[str, typer.Option(help="open, replayed or all.")] = "open",
    limit: Annotated[int, typer.Option(min=1, max=100_000)] = 50,
    database_url: UrlOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Quarantined events with their code and reason (payloads stay sealed; `show` opens one)."""
    with collect_container(database_url, data_dir) as (_, svc):
        rows = svc.quarantine_list(source=source, code=code, status=None if status == "all" else status, limit=limit)
    table = Table("id", "received", "source", "event", "code", "reason", "status")
    for r in rows:
        table.add_row(r.quarantine_id, r.received_at.strftime("%Y-%m-%d %H:%M:%S"), r.source, r.event_type or "",
                      r.code, r.reason[:80], r.status)
    console.print(table)


@quarantine_app.command("show")
def quarantine_show(quarantine_id: str, database_url: UrlOpt = None, data_dir: DataDirOpt = None) -> None:
    """One quarantined event with its decrypted payload (it may hold personal data: handle with care)."""
    with collect_container(database_url, data_dir) as (_, svc):
        view = svc.quarantine_show(quarantine_id)
    typer.echo(json.dumps(view.to_dict(), indent=2, ensure_ascii=False))


@quarantine_app.command("replay")
def quarantine_replay(
    quarantine_id: Annotated[str | None, typer.Argument(help="One record; omit with --all.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Replay every open record (of --source / --code).")] = False,
    source: Annotated[str | None, typer.Option(help="With --all: only this source.")] = None,
    code: Annotated[str | None, typer.Option(help="With --all: only this error code.")] = None,
    database_url: UrlOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Re-validate quarantined events with today's schemas and store those that now pass (exactly once)."""
    from fitloop.errors import InvalidInput

    if (quarantine_id is None) == (not all_):
        raise InvalidInput("give one quarantine id, or --all")
    with collect_container(database_url, data_dir, start=True) as (_, svc):
        results = [svc.replay(quarantine_id)] if quarantine_id else svc.replay_all(source=source, code=code)
    ok = sum(r.status == "replayed" for r in results)
    for r in results:
        if r.status != "replayed":
            console.print(f"{r.quarantine_id}: still open — {r.code}: {r.reason}")
    console.print(f"replayed {ok} of {len(results)}; stored {sum(r.stored for r in results)} events "
                  f"({sum(r.duplicates for r in results)} were already stored)")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="events")
