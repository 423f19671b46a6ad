"""``fitloop privacy``: the manifest, the records of processing, and the scrubber from the command line.

- ``fitloop privacy check-manifest [PATH]`` validates a manifest (the packaged default without PATH)
  and prints its version, fingerprint and what it declares.
- ``fitloop privacy ropa [--manifest PATH] [--format md|json] [--out FILE]`` writes the records of
  processing (GDPR Art. 30 style) generated from the manifest.
- ``fitloop privacy scrub TEXT`` prints TEXT with e-mails, phone numbers, resident IDs and card
  numbers replaced by placeholders (offline).

Store-backed commands (export, erase, rewrap) are added to :data:`privacy_app` by the wiring layer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from fitloop.errors import InvalidInput
from fitloop.privacy.manifest import load_manifest
from fitloop.privacy.ropa import ropa_json, ropa_markdown

__all__ = ["register", "privacy_app"]

privacy_app = typer.Typer(help="Privacy: manifest, records of processing, PII scrubbing.", no_args_is_help=True)

ManifestOpt = Annotated[Path | None, typer.Option("--manifest", help="Manifest TOML; default: the packaged one.")]


@privacy_app.command("check-manifest")
def check_manifest(path: Annotated[Path | None, typer.Argument(help="Manifest TOML to validate.")] = None) -> None:
    """Validate a manifest and summarise what it declares."""
    m = load_manifest(path)
    console = Console()
    console.print(f"manifest {m.version} (fingerprint {m.fingerprint}): {len(m.purposes)} purposes, "
                  f"{len(m.fields)} fields, {len(m.events)} event types")
    table = Table("purpose", "basis", "consent", "retention (days)", "events")
    for p in m.purposes.values():
        consent = "separate" if p.sensitive else ("yes" if p.needs_consent else "no")
        table.add_row(p.name, p.lawful_basis, consent, str(p.retention_days), str(len(m.events_for_purpose(p.name))))
    console.print(table)


@privacy_app.command("ropa")
def ropa(
    manifest: ManifestOpt = None,
    fmt: Annotated[str, typer.Option("--format", help="md or json")] = "md",
    out: Annotated[Path | None, typer.Option("--out", help="Write to this file instead of stdout.")] = None,
) -> None:
    """Records of processing activities generated from the manifest."""
    if fmt not in ("md", "json"):
        raise InvalidInput(f"--format must be md or json, got {fmt!r}", code="invalid_format")
    m = load_manifest(manifest)
    text = ropa_markdown(m) if fmt == "md" else ropa_json(m) + "\n"
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {out}")


@privacy_app.command("scrub")
def scrub_cmd(text: Annotated[str, typer.Argument(help="Free text to scrub.")]) -> None:
    """Replace personal data in TEXT with placeholders (no network)."""
    from fitloop.privacy.scrub import scrub

    typer.echo(scrub(text).text)


def register(app: typer.Typer) -> None:
    """Add ``fitloop privacy …`` to ``app``."""
    app.add_typer(privacy_app, name="privacy")
