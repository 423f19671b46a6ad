from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from fitloop.cli.privacy import register
from fitloop.errors import ConfigError, InvalidInput


@pytest.fixture
def app() -> typer.Typer:
    a = typer.Typer()

    @a.callback()
    def _root() -> None:
        pass

    register(a)
    return a


def test_ropa_markdown_and_json(app: typer.Typer, tmp_path: Path) -> None:
    r = CliRunner().invoke(app, ["privacy", "ropa"])
    assert r.exit_code == 0 and "## photo_analysis" in r.output
    out = tmp_path / "ropa.json"
    r = CliRunner().invoke(app, ["privacy", "ropa", "--format", "json", "--out", str(out)])
    assert r.exit_code == 0
    assert len(json.loads(out.read_text())["records"]) == 9


def test_bad_input_raises_fitloop_errors(app: typer.Typer, tmp_path: Path) -> None:
    r = CliRunner().invoke(app, ["privacy", "ropa", "--format", "pdf"])
    assert isinstance(r.exception, InvalidInput)
    bad = tmp_path / "m.toml"
    bad.write_text("[manifest]\nversion = 1\n")
    r = CliRunner().invoke(app, ["privacy", "check-manifest", str(bad)])
    assert isinstance(r.exception, ConfigError)


def test_check_manifest_and_scrub(app: typer.Typer) -> None:
    r = CliRunner().invoke(app, ["privacy", "check-manifest"])
    assert r.exit_code == 0 and "9 purposes" in r.output
    r = CliRunner().invoke(app, ["privacy", "scrub", "ring 13800138000"])
    assert r.exit_code == 0 and r.output.strip() == "ring <PHONE>"


def test_store_backed_commands_export_erase_retention_rewrap(app: typer.Typer, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from fitloop.config import Settings
    from fitloop.wiring import build

    monkeypatch.setenv("FITLOOP_DEMO", "1")
    opts = ["--data-dir", str(tmp_path)]
    ctr = build(Settings(data_dir=tmp_path, demo=True))
    assert ctr.privacy is not None
    c1 = ctr.privacy.pseudonymise("c1")  # the stores know the shop's customer "c1" by this pseudonym only
    ctr.privacy.store_identity(c1, {"email": "c1@example.com"})
    ctr.privacy.record_consent(c1, {"analytics": True})
    ctr.close()
    out = tmp_path / "c1.json"
    r = CliRunner().invoke(app, ["privacy", "export", "c1", "--out", str(out), *opts])
    assert r.exit_code == 0, r.output
    assert json.loads(out.read_text())["identity_L1"][c1]["email"] == "c1@example.com"
    r = CliRunner().invoke(app, ["privacy", "export", c1, *opts])  # the pseudonym (as the console shows it) too
    assert r.exit_code == 0 and json.loads(r.output)["identity_L1"][c1]["email"] == "c1@example.com"
    r = CliRunner().invoke(app, ["privacy", "rewrap-keys", *opts])
    assert r.exit_code == 0 and "rewrapped 0 data keys" in r.output and "v1: 1" in r.output, r.output
    r = CliRunner().invoke(app, ["privacy", "erase", "c1", *opts])
    assert isinstance(r.exception, InvalidInput)  # needs --yes
    r = CliRunner().invoke(app, ["privacy", "erase", "c1", "--yes", *opts])
    assert r.exit_code == 0 and "consents" in r.output, r.output
    r = CliRunner().invoke(app, ["privacy", "retention", "run", *opts])
    assert r.exit_code == 0 and "deleted 0 events" in r.output, r.output
    r = CliRunner().invoke(app, ["privacy", "export", "c1", *opts])
    assert json.loads(r.output)["identity_L1"] == {}
