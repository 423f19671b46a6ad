"""Fixtures shared by the re-ranking tests."""

from __future__ import annotations

import pytest
import typer

from fitloop.cli.bandit import register


@pytest.fixture()
def app() -> typer.Typer:
    """A CLI root with only the ``fitloop bandit`` commands, as the real CLI registers them."""
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """fitloop (test root)."""

    register(app)
    return app
