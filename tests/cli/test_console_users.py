"""``fitloop users``: add (prompted or given password), list, passwd — and bad input without a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from fitloop.cli.console_users import register
from fitloop.config import Settings
from fitloop.errors import Conflict, InvalidInput
from fitloop.services.console_auth import ConsoleAuth
from fitloop.wiring import build_stores


@pytest.fixture
def app() -> typer.Typer:
    root = typer.Typer()
    register(root)
    return root


def test_add_list_and_change_password(app: typer.Typer, tmp_path: Path) -> None:
    runner = CliRunner()
    opts = ["--data-dir", str(tmp_path)]
    r = runner.invoke(app, ["users", "add", "Ann@Shop.com", "--role", "marketer", *opts],
                      input="a strong password\na strong password\n")
    assert r.exit_code == 0, r.output
    assert "ann@shop.com" in r.output and "a strong password" not in r.output
    r = runner.invoke(app, ["users", "list", *opts])
    assert r.exit_code == 0 and "ann@shop.com" in r.output and "marketer" in r.output and "scrypt" not in r.output
    r = runner.invoke(app, ["users", "passwd", "ann@shop.com", "--password", "another long one", *opts])
    assert r.exit_code == 0, r.output
    stores = build_stores(Settings(data_dir=tmp_path))
    try:
        token, info = ConsoleAuth(stores).login("ann@shop.com", "another long one")
        assert info.role == "marketer" and token
    finally:
        stores.close()


def test_bad_role_short_password_and_duplicates_are_refused(app: typer.Typer, tmp_path: Path) -> None:
    runner = CliRunner()
    opts = ["--data-dir", str(tmp_path)]
    r = runner.invoke(app, ["users", "add", "x@shop.com", "--role", "boss", "--password", "long enough pw", *opts])
    assert isinstance(r.exception, InvalidInput) and "--role must be one of" in str(r.exception)
    r = runner.invoke(app, ["users", "add", "x@shop.com", "--role", "dpo", "--password", "short", *opts])
    assert isinstance(r.exception, InvalidInput) and "at least 10" in str(r.exception)
    assert runner.invoke(app, ["users", "add", "x@shop.com", "--role", "dpo", "--password", "long enough pw",
                               *opts]).exit_code == 0
    r = runner.invoke(app, ["users", "add", "x@shop.com", "--role", "dpo", "--password", "long enough pw", *opts])
    assert isinstance(r.exception, Conflict)
