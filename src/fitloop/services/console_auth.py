"""Console logins, sessions, roles and the audit log.

Passwords are hashed with scrypt (stdlib) and a per-user random salt and compared in constant
time; the browser only ever holds a random session token whose SHA-256 keys a server-side
session with an expiry and its own CSRF token. What each role may do is one table,
:data:`PERMISSIONS`; every refusal is written to the audit log.

>>> h = hash_password("correct horse battery", n=2**10)
>>> verify_password("correct horse battery", h), verify_password("wrong", h)
(True, False)
>>> allowed("marketer", "edit_campaigns"), allowed("marketer", "view_compliance")
(True, False)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fitloop.errors import Conflict, Forbidden, InvalidInput, Unauthorized
from fitloop.privacy.tiers import Role
from fitloop.store import Stores
from fitloop.store.protocols import AuditRecord, ConsoleSession, ConsoleUser

__all__ = ["PERMISSIONS", "ROLES", "ConsoleAuth", "SessionInfo", "allowed", "hash_password", "verify_password",
           "DEMO_PASSWORD", "ensure_demo_users", "MIN_PASSWORD_CHARS"]

ROLES: tuple[str, ...] = tuple(r.value for r in Role)
MIN_PASSWORD_CHARS = 10
DEMO_PASSWORD = "fitloop-demo-2026"
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}$")

_ALL = frozenset(ROLES)
#: What each role may do. Marketers and analysts work with pseudonymous ids only (no L1 identity data);
#: merchandisers see aggregates and items; the data-protection officer sees compliance and the audit log.
PERMISSIONS: dict[str, frozenset[str]] = {
    "view_overview": frozenset({"admin", "marketer", "analyst", "merchandiser"}),
    "view_segments": frozenset({"admin", "marketer", "analyst"}),
    "build_segments": frozenset({"admin", "marketer", "analyst"}),
    "view_inspector": frozenset({"admin", "marketer", "analyst", "merchandiser"}),
    "view_campaigns": frozenset({"admin", "marketer", "analyst"}),
    "edit_campaigns": frozenset({"admin", "marketer"}),
    "view_experiments": frozenset({"admin", "marketer", "analyst"}),
    "edit_experiments": frozenset({"admin", "marketer", "analyst"}),
    "view_merchandising": frozenset({"admin", "merchandiser"}),
    "edit_merchandising": frozenset({"admin", "merchandiser"}),
    "view_stock": frozenset({"admin", "merchandiser", "marketer"}),
    "view_compliance": frozenset({"admin", "dpo"}),
    "view_audit": frozenset({"admin", "dpo"}),
    "manage_pauses": frozenset({"admin", "dpo"}),
    "manage_users": frozenset({"admin"}),
    "view_identity": frozenset({"admin", "dpo"}),
}
assert all(v <= _ALL for v in PERMISSIONS.values())


def allowed(role: str, permission: str) -> bool:
    """True when ``role`` holds ``permission`` (unknown permissions are refused: fail closed)."""
    return role in PERMISSIONS.get(permission, frozenset())


def _b64(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).decode().rstrip("=")


def _unb64(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def hash_password(password: str, *, n: int = 2**14, r: int = 8, p: int = 1) -> str:
    """``scrypt$n$r$p$salt$hash`` with a fresh 16-byte salt."""
    salt = secrets.token_bytes(16)
    dk = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=32, maxmem=64 * 1024 * 1024)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(dk)}"


def verify_password(password: str, stored: str) -> bool:
    """Constant-time check of ``password`` against a :func:`hash_password` string."""
    try:
        scheme, n, r, p, salt, want = stored.split("$")
        if scheme != "scrypt":
            return False
        dk = hashlib.scrypt(password.encode(), salt=_unb64(salt), n=int(n), r=int(r), p=int(p), dklen=32,
                            maxmem=64 * 1024 * 1024)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(dk, _unb64(want))


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """Who is logged in on this request."""

    email: str
    role: str
    csrf_token: str
    token_hash: str

    def can(self, permission: str) -> bool:
        return allowed(self.role, permission)


class ConsoleAuth:
    """Users, sessions, permission checks and the audit log over the console stores."""

    def __init__(self, stores: Stores, *, session_ttl: timedelta = timedelta(hours=8), scrypt_n: int = 2**14,
                 max_failures: int = 10) -> None:
        if stores.console_users is None or stores.console_sessions is None or stores.audit is None:
            raise InvalidInput("these stores have no console tables; run `fitloop db upgrade`")
        self._users = stores.console_users
        self._sessions = stores.console_sessions
        self._audit = stores.audit
        self._cache = stores.cache
        self._ttl = session_ttl
        self._n = scrypt_n
        self._max_failures = max_failures

    # ------------------------------------------------------------------ users
    @staticmethod
    def check_new(email: str, role: str, password: str) -> list[str]:
        """Problems with a new user's fields, each saying what to fix (empty when fine)."""
        problems = []
        if not _EMAIL.match(email or ""):
            problems.append("e-mail: enter an address like name@shop.com")
        if role not in ROLES:
            problems.append(f"role: choose one of {', '.join(ROLES)}")
        if len(password or "") < MIN_PASSWORD_CHARS:
            problems.append(f"password: use at least {MIN_PASSWORD_CHARS} characters")
        return problems

    def add_user(self, email: str, role: str, password: str, *, now: datetime | None = None) -> ConsoleUser:
        email = (email or "").strip().lower()
        problems = self.check_new(email, role, password)
        if problems:
            raise InvalidInput("; ".join(problems), code="invalid_user")
        user = ConsoleUser(email, role, hash_password(password, n=self._n), now or datetime.now(UTC))
        self._users.add(user)
        return user

    def set_password(self, email: str, password: str) -> None:
        if len(password) < MIN_PASSWORD_CHARS:
            raise InvalidInput(f"password: use at least {MIN_PASSWORD_CHARS} characters")
        self._users.update(email.strip().lower(), password_hash=hash_password(password, n=self._n))

    def users(self) -> list[ConsoleUser]:
        return self._users.list()

    # ------------------------------------------------------------------ sessions
    def login(self, email: str, password: str, *, now: datetime | None = None) -> tuple[str, SessionInfo]:
        """Check the password and open a session; returns ``(cookie token, session)``.

        Raises :class:`Unauthorized` with one message for every failure (no hint whether the e-mail exists).
        """
        now = now or datetime.now(UTC)
        email = (email or "").strip().lower()
        key = f"console:fail:{hashlib.sha256(email.encode()).hexdigest()[:24]}"
        fails = self._cache.get(key)
        if fails is not None and int(fails) >= self._max_failures:
            self.audit(email, "-", "login", email, False, "too many failed logins")
            raise Unauthorized("too many failed logins; wait 15 minutes and try again", code="login_locked")
        user = self._users.get(email)
        if user is None or user.disabled or not verify_password(password or "", user.password_hash):
            self._cache.incr(key, ttl_s=900)
            self.audit(email or "-", user.role if user else "-", "login", email, False, "wrong e-mail or password")
            raise Unauthorized("wrong e-mail or password", code="login_failed")
        self._cache.delete(key)
        token = secrets.token_urlsafe(32)
        sess = ConsoleSession(_token_hash(token), email, secrets.token_urlsafe(32), now, now + self._ttl)
        self._sessions.put(sess)
        self._sessions.purge(now)
        self.audit(email, user.role, "login", email, True)
        return token, SessionInfo(email, user.role, sess.csrf_token, sess.token_hash)

    def session(self, token: str | None, *, now: datetime | None = None) -> SessionInfo | None:
        """The live session for a cookie token, or None (expired, logged out, user disabled)."""
        if not token or len(token) > 200:
            return None
        sess = self._sessions.get(_token_hash(token))
        if sess is None or sess.expires_at <= (now or datetime.now(UTC)):
            return None
        user = self._users.get(sess.email)
        if user is None or user.disabled:
            return None
        return SessionInfo(user.email, user.role, sess.csrf_token, sess.token_hash)

    def logout(self, info: SessionInfo) -> None:
        self._sessions.delete(info.token_hash)
        self.audit(info.email, info.role, "logout", info.email, True)

    @staticmethod
    def check_csrf(info: SessionInfo, submitted: str | None) -> None:
        if not submitted or not hmac.compare_digest(submitted.encode(), info.csrf_token.encode()):
            raise Forbidden("the form's security token is missing or stale; reload the page and submit again",
                            code="csrf_failed")

    # ------------------------------------------------------------------ permissions and audit
    def require(self, info: SessionInfo, permission: str, target: str = "") -> None:
        """Raise :class:`Forbidden` (and write the refusal to the audit log) unless the role may."""
        if not info.can(permission):
            self.audit(info.email, info.role, permission, target, False, "refused: role lacks permission")
            raise Forbidden(f"your role ({info.role}) may not {permission.replace('_', ' ')}; ask an admin",
                            code="forbidden")

    def audit(self, actor: str, role: str, action: str, target: str, allowed: bool, detail: str = "") -> None:
        self._audit.append(AuditRecord(datetime.now(UTC), actor, role, action, target, allowed, detail))

    def audit_log(self, *, limit: int = 100, allowed: bool | None = None) -> list[AuditRecord]:
        return self._audit.list(limit=limit, allowed=allowed)


def ensure_demo_users(stores: Stores, *, password: str = DEMO_PASSWORD, domain: str = "demo.fitloop") -> dict[str, str]:
    """One user per role (``admin@demo.fitloop`` …) with ``password``; existing ones are left alone.

    Returns ``{email: role}``. For ``fitloop demo`` only: the password is printed, never use it in production.
    """
    auth = ConsoleAuth(stores)
    out: dict[str, str] = {}
    for role in ROLES:
        email = f"{role}@{domain}"
        try:
            auth.add_user(email, role, password)
        except Conflict:
            pass
        out[email] = role
    return out

