"""``fitloop users``: console logins (add, list, change a password, disable)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from fitloop.cli._common import console, make_settings
from fitloop.errors import InvalidInput
from fitloop.services.console_auth import MIN_PASSWORD_CHARS, ROLES, ConsoleAuth
from fitloop.wiring import build_stores

app = typer.Typer(help="Console users: who may sign in to /console, with which role.", no_args_is_help=True)

UrlOpt = Annotated[str | None, typer.Option("--database-url", help="Overrides FITLOOP_DATABASE_URL.")]
DataDirOpt = Annotated[Path | None, typer.Option("--data-dir", help="Overrides FITLOOP_HOME (the installation folder).")]


@contextmanager
def _auth(database_url: str | None, data_dir: Path | None) -> Iterator[ConsoleAuth]:
    stores = build_stores(make_settings(database_url=database_url, data_dir=data_dir))
    try:
        yield ConsoleAuth(stores)
    finally:
        stores.close()


def _password(given: str | None) -> str:
    if given is not None:
        return given
    return str(typer.prompt(f"Password (at least {MIN_PASSWORD_CHARS} characters)", hide_input=True,
                            confirmation_prompt=True))


@app.command("add")
def users_add(
    email: Annotated[str, typer.Argument(help="The user's e-mail (their login).")],
    role: Annotated[str, typer.Option("--role", help=f"One of: {', '.join(ROLES)}.")],
    password: Annotated[str | None, typer.Option("--password", help="Prompted (hidden) when omitted; "
                                                 "prefer the prompt so it stays out of shell history.")] = None,
    database_url: UrlOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Create a console user with a role; the password is stored only as a salted scrypt hash."""
    if role not in ROLES:
        raise InvalidInput(f"--role must be one of {', '.join(ROLES)}; got {role!r}")
    pw = _password(password)
    with _auth(database_url, data_dir) as auth:
        user = auth.add_user(email, role, pw)
        auth.audit("cli", "admin", "user_add", user.email, True, f"role={role}")
    console.print(f"user [bold]{user.email}[/] ({user.role}) created; sign in at /console/login")


@app.command("list")
def users_list(database_url: UrlOpt = None, data_dir: DataDirOpt = None) -> None:
    """List console users (never their password hashes)."""
    with _auth(database_url, data_dir) as auth:
        rows = auth.users()
    table = Table("e-mail", "role", "created", "disabled")
    for u in rows:
        table.add_row(u.email, u.role, u.created_at.strftime("%Y-%m-%d %H:%M"), "yes" if u.disabled else "")
    console.print(table)


@app.command("passwd")
def users_passwd(
    email: str,
    password: Annotated[str | None, typer.Option("--password", help="Prompted (hidden) when omitted.")] = None,
    database_url: UrlOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Set a new password for a console user."""
    pw = _password(password)
    with _auth(database_url, data_dir) as auth:
        auth.set_password(email, pw)
        auth.audit("cli", "admin", "user_passwd", email, True)
    console.print(f"password of {email} changed")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="users")
