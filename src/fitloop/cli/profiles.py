"""``fitloop profiles`` and the store-backed ``fitloop segments rebuild / export``."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from fitloop.cli._common import console, make_settings
from fitloop.wiring import Container, build

app = typer.Typer(help="Shopper profiles of this installation (pseudonymous ids, never identity data).",
                  no_args_is_help=True)

HomeOpt = Annotated[Path | None, typer.Option("--home", help="Overrides FITLOOP_HOME (the installation folder).")]


def _container(home: Path | None) -> Container:
    return build(make_settings(data_dir=home))


@app.command("show")
def show(user_id: Annotated[str, typer.Argument(help="The shopper's pseudonym (p1_…) or the shop's customer id.")],
         home: HomeOpt = None,
         as_json: Annotated[bool, typer.Option("--json", help="Print the features as JSON.")] = False) -> None:
    """A shopper's profile in plain words (an unknown shopper gets an empty profile that says so)."""
    ctr = _container(home)
    try:
        assert ctr.profiles is not None and ctr.privacy is not None
        user_id = ctr.privacy.resolve_operator_input(user_id)  # a customer id is pseudonymised; a pseudonym kept
        p = ctr.profiles.profile(user_id)
        seg = ctr.segments.segment_of(user_id) if ctr.segments is not None else None
    finally:
        ctr.close()
    if as_json:
        typer.echo(json.dumps({**p, "segment": seg}, indent=2, default=str))
        return
    console.print(f"[bold]{user_id}[/]" + ("" if p["known"] else " (no data yet for this shopper)"))
    for line in p["summary"]:
        console.print(f"  • {line}")
    if seg is not None:
        console.print(f"  segment: {seg}")


@app.command("rebuild")
def rebuild(home: HomeOpt = None) -> None:
    """Recompute every profile from the raw events (all replaced in one transaction)."""
    ctr = _container(home)
    try:
        assert ctr.profiles is not None
        n = ctr.profiles.rebuild()
    finally:
        ctr.close()
    console.print(f"rebuilt {n:,} profiles")


def rebuild_segments(home: HomeOpt = None,
                     k_min: Annotated[int, typer.Option(min=2, max=20)] = 3,
                     k_max: Annotated[int, typer.Option(min=2, max=20)] = 8) -> None:
    """Re-cluster this installation's shoppers; the new segments serve at once."""
    ctr = _container(home)
    try:
        assert ctr.segments is not None
        model = ctr.segments.build(k_min=k_min, k_max=k_max)
    finally:
        ctr.close()
    for s in model.summary():
        console.print(f"{s['segment_id']:>6}  {s['size']:>6,}  {s['label']}")


def export_segment(segment_id: Annotated[str, typer.Argument(help="Segment id (see `fitloop segments rebuild`).")],
                   home: HomeOpt = None,
                   out: Annotated[Path | None, typer.Option(help="CSV file (default: standard output).")] = None) -> None:
    """Members of one segment as CSV (pseudonymous ids)."""
    ctr = _container(home)
    try:
        assert ctr.segments is not None
        members = ctr.segments.require().members_of(segment_id)
    finally:
        ctr.close()
    fh = out.open("w", newline="") if out else sys.stdout
    w = csv.writer(fh)
    w.writerow(["user_id", "segment_id"])
    w.writerows([u, segment_id] for u in members)
    if out:
        fh.close()
        console.print(f"wrote {len(members):,} members to {out}")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="profiles")


def register_segment_commands(segments_app: typer.Typer) -> None:
    segments_app.command("rebuild")(rebuild_segments)
    segments_app.command("export")(export_segment)
