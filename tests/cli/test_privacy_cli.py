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
