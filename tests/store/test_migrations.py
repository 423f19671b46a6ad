"""Migrations and table definitions never drift apart, and upgrade is repeatable."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from fitloop.store.sql import current_revision, head_revision, make_engine, upgrade
from fitloop.store.sql.migrate import downgrade
from fitloop.store.sql.schema import metadata


def test_migrations_match_schema(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    upgrade(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": False}), metadata)
    assert diff == [], f"schema.py and the migrations differ: {diff}"
    engine.dispose()


def test_upgrade_is_idempotent_and_reversible(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    upgrade(engine)
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    downgrade(engine, "base")
    assert current_revision(engine) is None
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    engine.dispose()
