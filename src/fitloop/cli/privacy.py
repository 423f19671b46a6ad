"""``fitloop privacy``: the manifest, the records of processing, and the scrubber from the command line.

- ``fitloop privacy check-manifest [PATH]`` validates a manifest (the packaged default without PATH)
  and prints its version, fingerprint and what it declares.
- ``fitloop privacy ropa [--manifest PATH] [--format md|json] [--out FILE]`` writes the records of
  processing (GDPR Art. 30 style) generated from the manifest.
- ``fitloop privacy scrub TEXT`` prints TEXT with e-mails, phone numbers, resident IDs and card
  numbers replaced by placeholders (offline).

Store-backed commands (the installation from ``FITLOOP_*`` settings, ``--database-url``, ``--data-dir``):

- ``fitloop privacy export USER [--out FILE]``: everything held on a shopper, decrypted, as JSON.
- ``fitloop privacy erase USER --yes``: erase a shopper from every store and shred their data key.

  ``USER`` is the shopper's pseudonym (``p1_…``, as the console shows it) or the shop's customer id, which is
  pseudonymised first (the stores hold pseudonyms only).
- ``fitloop privacy retention run``: delete data past the retention of its purposes (run it daily).
- ``fitloop privacy rewrap-keys``: rewrap every data key under the current master key (after adding a
  new version to ``FITLOOP_MASTER_KEY``, e.g. ``v2:NEW,v1:OLD``); prints the versions still in use.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from fitloop.errors import ConfigError, InvalidInput
from fitloop.privacy.manifest import load_manifest
from fitloop.privacy.ropa import ropa_json, ropa_markdown

if TYPE_CHECKING:
    from fitloop.services.erasure import DataSubjectService
    from fitloop.wiring import Container

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


UrlOpt = Annotated[str | None, typer.Option("--database-url", help="Overrides FITLOOP_DATABASE_URL.")]
_USER_HELP = "The shopper's pseudonym (p1_…) or the shop's customer id (pseudonymised first)."
DataDirOpt = Annotated[Path | None, typer.Option("--data-dir", help="Overrides FITLOOP_HOME (the installation folder).")]


@contextmanager
def _container(database_url: str | None, data_dir: Path | None) -> Iterator[Container]:
    from fitloop.cli._common import make_settings
    from fitloop.wiring import build

    ctr = build(make_settings(database_url=database_url, data_dir=data_dir))
    try:
        yield ctr
    finally:
        ctr.close()


def _subjects(ctr: Container) -> DataSubjectService:
    if ctr.subjects is None:  # pragma: no cover - build always wires it
        raise ConfigError("this installation has no data-subject service")
    return ctr.subjects


@privacy_app.command("export")
def export_cmd(
    user_id: Annotated[str, typer.Argument(help=_USER_HELP)],
    out: Annotated[Path | None, typer.Option("--out", help="Write the JSON here instead of stdout.")] = None,
    database_url: UrlOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Everything held on a shopper (all tiers decrypted, profile, consents with receipts, model lists)."""
    with _container(database_url, data_dir) as ctr:
        subjects = _subjects(ctr)
        data = subjects.export(subjects.privacy.resolve_operator_input(user_id))
        text = json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n"
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {out}")


@privacy_app.command("erase")
def erase_cmd(
    user_id: Annotated[str, typer.Argument(help=_USER_HELP)],
    yes: Annotated[bool, typer.Option("--yes", help="Confirm: erasure cannot be undone.")] = False,
    database_url: UrlOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Erase a shopper from every store (SQL, Redis, quarantine, model files) and delete their data key."""
    if not yes:
        raise InvalidInput("erasure cannot be undone; add --yes to confirm", code="confirmation_required")
    with _container(database_url, data_dir) as ctr:
        subjects = _subjects(ctr)
        report = subjects.erase(subjects.privacy.resolve_operator_input(user_id), actor="cli")
    table = Table("store", "removed")
    for k, v in report.removed.items():
        table.add_row(k, str(v))
    table.add_row("data keys", str(report.data_keys_deleted))
    Console().print(table)


retention_app = typer.Typer(help="Retention of personal data per purpose.", no_args_is_help=True)
privacy_app.add_typer(retention_app, name="retention")


@retention_app.command("run")
def retention_run(database_url: UrlOpt = None, data_dir: DataDirOpt = None) -> None:
    """Delete events and impressions past the retention of every purpose they were kept for."""
    with _container(database_url, data_dir) as ctr:
        report = _subjects(ctr).run_retention()
    typer.echo(f"deleted {report.events_deleted} events and {report.impressions_deleted} impressions; "
               f"{report.events_retagged} events lost an expired purpose")
    for purpose, n in sorted(report.by_purpose.items()):
        typer.echo(f"  {purpose}: {n}")


@privacy_app.command("rewrap-keys")
def rewrap_keys(database_url: UrlOpt = None, data_dir: DataDirOpt = None) -> None:
    """Rewrap every data key under the current master key version (no data row is rewritten)."""
    with _container(database_url, data_dir) as ctr:
        if ctr.privacy is None:  # pragma: no cover - build always wires it
            raise ConfigError("this installation has no privacy service")
        n = ctr.privacy.vault.rewrap_all()
        versions = ctr.privacy.vault.versions_in_use()
    typer.echo(f"rewrapped {n} data keys; master key versions in use: "
               + (", ".join(f"v{v}: {c}" for v, c in sorted(versions.items())) or "none"))


def register(app: typer.Typer) -> None:
    """Add ``fitloop privacy …`` to ``app``."""
    app.add_typer(privacy_app, name="privacy")
