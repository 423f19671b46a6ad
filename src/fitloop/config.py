"""Settings, read once from the environment (``FITLOOP_`` prefix) and passed in.

Nothing reads the environment at import time; build a :class:`Settings` and
hand it to :func:`fitloop.wiring.build` or :func:`fitloop.api.create_app`.

>>> s = Settings(demo=True, data_dir="/tmp/fitloop-doc")
>>> s.database_url.startswith("sqlite:///"), s.is_sqlite
(True, True)
"""

from __future__ import annotations

import json
import os
import secrets
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from fitloop.errors import ConfigError

__all__ = ["Settings", "Environment", "WEAK_SECRETS", "generate_secrets"]

#: Values that must never protect real shoppers' data.
WEAK_SECRETS = frozenset({"", "secret", "changeme", "change-me", "password", "dev", "test", "demo", "fitloop", "default"})

_SECRET_FIELDS = ("secret_key", "pseudonym_key", "master_key")
_MIN_SECRET_CHARS = 32


class Environment(StrEnum):
    development = "development"
    production = "production"


def generate_secrets() -> dict[str, str]:
    """Fresh random secrets, URL-safe, one per secret setting.

    >>> sorted(generate_secrets())
    ['master_key', 'pseudonym_key', 'secret_key']
    """
    return {name: secrets.token_urlsafe(32) for name in _SECRET_FIELDS}


class Settings(BaseSettings):
    """Every knob of a fitloop installation. Environment variables use the ``FITLOOP_`` prefix."""

    model_config = SettingsConfigDict(env_prefix="FITLOOP_", env_file=None, extra="ignore", frozen=True)

    # Read from FITLOOP_HOME: FITLOOP_DATA_DIR names the folder of the real public datasets (fitloop.datasets).
    data_dir: Path = Field(default=Path("fitloop-data"),
                           description="Folder for the SQLite file, model bundles and demo secrets (env FITLOOP_HOME).")
    database_url: str = Field(default="", description="SQLAlchemy URL; empty means SQLite in data_dir.")
    redis_url: str | None = Field(default=None, description="redis://host:port/db; optional.")
    redis_prefix: str = Field(default="fitloop:", description="Namespace for every Redis key this installation writes.")
    environment: Environment = Environment.development
    demo: bool = Field(default=False, description="Demo mode: generates and keeps local secrets instead of refusing.")
    secret_key: SecretStr = SecretStr("")
    pseudonym_key: SecretStr = SecretStr("")
    master_key: SecretStr = Field(default=SecretStr(""), description="Vault master key; 'v2:KEY,v1:OLD' for rotation.")
    log_level: str = "INFO"
    log_json: bool = True
    auto_migrate: bool = Field(default=True, description="Apply database migrations on start.")
    sqlite_synchronous: str = Field(default="FULL", description="SQLite synchronous pragma; FULL survives power loss.")
    models_dir: Path | None = None
    cors_origins: list[str] = Field(default_factory=list)
    admin_token: SecretStr = Field(default=SecretStr(""), description="Bearer token of the admin API (quarantine); "
                                   "empty: derived from secret_key (`fitloop events admin-token` prints it).")
    # Privacy (issue 4; docs/PRIVACY.md)
    privacy_manifest: Path | None = Field(default=None, description="The shop's privacy manifest (TOML); "
                                          "empty: the default manifest shipped with fitloop.")
    privacy_gate: bool = Field(default=True, description="Enforce manifest and consent on every ingested event.")
    compliance_webhook_url: str | None = Field(default=None, description="Alerts are POSTed here (signed with "
                                               "the secret key) when the compliance monitor pauses a collection.")
    smtp_host: str | None = Field(default=None, description="SMTP server for compliance alerts by e-mail.")
    smtp_port: int = 25
    smtp_sender: str = "fitloop@localhost"
    dp_epsilon_per_month: float = Field(default=1.0, gt=0, description="Differential-privacy budget per month for "
                                        "aggregates released outside the shop.")
    dp_min_group_size: int = Field(default=20, ge=0, description="Released DP groups smaller than this are suppressed.")

    # Serving re-ranking (context, exposure, diversity, bandit) after recall; see services/reranking.py.
    rerank: bool = Field(default=True, description="Re-rank recommendations by context, exposure, diversity and a bandit.")
    weather_url: str | None = Field(default=None, description="Open-Meteo-compatible base URL; climate normals otherwise.")
    weather_budget_ms: int = Field(default=150, ge=10, le=5000, description="Time budget of a weather lookup.")
    profile_updates: bool = Field(default=True, description="Keep shopper profiles current from the event log.")

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: Any, env_settings: Any,
                                   dotenv_settings: Any, file_secret_settings: Any) -> tuple[Any, ...]:
        # FITLOOP_DATA_DIR names the real public datasets (fitloop.datasets), not this installation's
        # folder, which comes from FITLOOP_HOME.
        def environment() -> dict[str, Any]:
            values: dict[str, Any] = dict(env_settings())
            values.pop("data_dir", None)
            if os.environ.get("FITLOOP_HOME"):
                values["data_dir"] = os.environ["FITLOOP_HOME"]
            return values

        return (init_settings, environment, dotenv_settings, file_secret_settings)

    @field_validator("database_url")
    @classmethod
    def _normalise_url(cls, v: str) -> str:
        # Accept the libpq-style scheme people paste and pick the psycopg 3 driver for it.
        for prefix in ("postgresql://", "postgres://"):
            if v.startswith(prefix):
                return "postgresql+psycopg://" + v[len(prefix):]
        return v

    @field_validator("sqlite_synchronous")
    @classmethod
    def _check_sync(cls, v: str) -> str:
        if v.upper() not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
            raise ValueError("sqlite_synchronous must be one of OFF, NORMAL, FULL, EXTRA")
        return v.upper()

    @model_validator(mode="after")
    def _defaults(self) -> Settings:
        if not self.database_url:
            object.__setattr__(self, "database_url", f"sqlite:///{(self.data_dir / 'fitloop.db').as_posix()}")
        if self.models_dir is None:
            object.__setattr__(self, "models_dir", self.data_dir / "models")
        return self

    # ------------------------------------------------------------------ helpers
    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def is_production(self) -> bool:
        return self.environment is Environment.production

    def model_path(self) -> Path:
        assert self.models_dir is not None
        return self.models_dir

    def secret(self, name: str) -> str:
        """The plain value of a secret setting (after :meth:`with_secrets`)."""
        value: SecretStr = getattr(self, name)
        return value.get_secret_value()

    def with_secrets(self) -> Settings:
        """Return settings whose secrets are safe to use, or raise :class:`ConfigError`.

        In demo mode, missing secrets are generated once and kept in
        ``data_dir/secrets.json`` (mode 0600) so a restarted demo can still read
        what it encrypted. Outside demo mode a missing or weak secret is refused.
        """
        values = {name: self.secret(name) for name in _SECRET_FIELDS}
        weak = [n for n, v in values.items() if v.lower() in WEAK_SECRETS or len(v) < _MIN_SECRET_CHARS]
        if not weak:
            return self
        if not self.demo:
            names = ", ".join(f"FITLOOP_{n.upper()}" for n in weak)
            raise ConfigError(
                f"unsafe or missing secrets: {names}. Set each to a random value of at least "
                f"{_MIN_SECRET_CHARS} characters (`fitloop secrets generate` prints a set), "
                "or run with FITLOOP_DEMO=1 for a local demo."
            )
        stored = self._load_demo_secrets()
        update: dict[str, Any] = {n: SecretStr(stored[n]) for n in weak}
        return self.model_copy(update=update)

    def _load_demo_secrets(self) -> dict[str, str]:
        path = self.data_dir / "secrets.json"
        if path.exists():
            data = json.loads(path.read_text())
            if all(isinstance(data.get(n), str) and len(data[n]) >= _MIN_SECRET_CHARS for n in _SECRET_FIELDS):
                return {n: data[n] for n in _SECRET_FIELDS}
        self.data_dir.mkdir(parents=True, exist_ok=True)
        data = generate_secrets()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh)
        return data
