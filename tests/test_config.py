"""Settings: environment names, URL normalisation, the two data folders kept apart."""

from __future__ import annotations

from pathlib import Path

import pytest

from fitloop.config import Settings


def test_home_and_dataset_folders_are_distinct(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FITLOOP_DATA_DIR", "/real/public/datasets")
    assert Settings().data_dir == Path("fitloop-data")
    monkeypatch.setenv("FITLOOP_HOME", str(tmp_path))
    s = Settings()
    assert s.data_dir == tmp_path and s.database_url == f"sqlite:///{tmp_path.as_posix()}/fitloop.db"


def test_postgres_urls_use_psycopg_and_env_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FITLOOP_DATABASE_URL", "postgres://u@h:5432/db")
    monkeypatch.setenv("FITLOOP_REDIS_URL", "redis://127.0.0.1:6379/0")
    s = Settings()
    assert s.database_url == "postgresql+psycopg://u@h:5432/db" and not s.is_sqlite
    assert s.redis_url == "redis://127.0.0.1:6379/0"


def test_bad_pragma_is_refused() -> None:
    with pytest.raises(ValueError, match="sqlite_synchronous"):
        Settings(sqlite_synchronous="SOMETIMES")
