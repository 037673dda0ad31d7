"""People who sign in to the web UI: accounts in SQLite (table ``users``), scrypt password
hashes, roles, sign-in with throttling (table ``login_attempts``), and the throwaway demo
accounts created when the demo data set is loaded.

Each account has a ``source``: ``local`` (a password kept here), ``ldap``, ``proxy`` or ``oidc``
(mirrored from the company directory, the sign-in proxy or an OpenID Connect provider by
kb.accounts.external; no password here).

Roles: ``agent`` (console, tickets, article pages), ``engineer`` (also the flag queue) and
``admin`` (everything). Customers never sign in; they are the anonymous ``customer`` role.
"""
from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from kb.core.db import Database

from kb.core.errors import AuthError, FieldError, LoginThrottled, NotFound

ROLES = ("agent", "engineer", "admin")
USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{1,63}$")
MIN_PASSWORD = 10
MAX_PASSWORD = 1024
# scrypt cost: 2**14 × 8 × 1 ≈ 16 MiB and ~40 ms per check on this class of machine
_N, _R, _P = 2 ** 14, 8, 1

# Throttling: failures counted per user name and per client address inside a sliding window.
WINDOW = dt.timedelta(minutes=15)
MAX_FAILURES_PER_USER = 5
MAX_FAILURES_PER_CLIENT = 20
KEEP_ATTEMPTS = dt.timedelta(days=2)

DEMO_USERS = (("demo-agent", "agent", "Demo Agent"), ("demo-engineer", "engineer", "Demo Engineer"))


@dataclass(frozen=True)
class User:
    username: str
    role: str
    display_name: str
    disabled: bool = False
    demo: bool = False
    created_at: str | None = None
    source: str = "local"
    sync_error: str | None = None      # why the directory or proxy last refused a mirrored account

    @property
    def name(self) -> str:
        return self.display_name or self.username

    @property
    def is_engineer(self) -> bool:
        return self.role in ("engineer", "admin")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _iso(t: dt.datetime) -> str:
    return t.isoformat(timespec="seconds")


# --- passwords -----------------------------------------------------------------------------

def hash_password(password: str) -> str:
    """``scrypt$N$r$p$salt$hash`` (base64), salted per password."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    b64 = lambda b: base64.b64encode(b).decode("ascii")  # noqa: E731
    return f"scrypt${_N}${_R}${_P}${b64(salt)}${b64(digest)}"


def verify_password(stored: str, password: str) -> bool:
    try:
        algo, n, r, p, salt, digest = stored.split("$")
        if algo != "scrypt":
            return False
        want = base64.b64decode(digest)
        got = hashlib.scrypt(password.encode("utf-8"), salt=base64.b64decode(salt), n=int(n), r=int(r),
                             p=int(p), dklen=len(want))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(want, got)


@functools.cache
def _dummy_hash() -> str:
    """Checked for unknown users, so that they take as long as known ones (made on first use:
    one scrypt at import cost every `kb` command ~40-150 ms)."""
    return hash_password(secrets.token_urlsafe(16))


def check_password_rules(password: str) -> None:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise FieldError("password", f"must be at least {MIN_PASSWORD} characters long")
    if len(password) > MAX_PASSWORD:
        raise FieldError("password", f"must be at most {MAX_PASSWORD} characters long")
    if password != password.strip():
        raise FieldError("password", "must not start or end with spaces or a line break")


# --- accounts ------------------------------------------------------------------------------

def _user(row: dict) -> User:
    return User(row["username"], row["role"], row.get("display_name") or "", bool(row.get("disabled")),
                bool(row.get("demo")), row.get("created_at"), row.get("source") or "local", row.get("sync_error"))


def account_row(db: Database, username: str) -> dict | None:
    """The account's stored row (with its password hash), or None."""
    return next(iter(db["users"].rows_where("username = ?", [username], limit=1)), None) if username else None


def add_user(db: Database, username: str, password: str, role: str,
             display_name: str | None = None, *, demo: bool = False) -> User:
    """Create an account. Raises FieldError naming the field that is wrong."""
    username = (username or "").strip()
    if not USERNAME_RE.match(username):
        raise FieldError("username", f"{username!r}: use 2–64 letters, digits, '.', '_', '@' or '-'")
    if role not in ROLES:
        raise FieldError("role", f"{role!r} is not one of {', '.join(ROLES)}")
    check_password_rules(password)
    if get_user(db, username) is not None:
        raise FieldError("username", f"{username!r} already exists")
    row = {"username": username, "password_hash": hash_password(password), "role": role,
           "display_name": (display_name or "").strip() or username, "created_at": _iso(_now()), "disabled": 0,
           "demo": int(demo)}
    db["users"].insert(row)
    return get_user(db, username)  # type: ignore[return-value]


def get_user(db: Database, username: str) -> User | None:
    row = account_row(db, username)
    return _user(row) if row else None


def list_users(db: Database) -> list[User]:
    return [_user(r) for r in db["users"].rows_where(order_by="username")]


def set_disabled(db: Database, username: str, disabled: bool = True) -> User:
    if get_user(db, username) is None:
        raise NotFound(f"no user {username!r}")
    db["users"].update(username, {"disabled": int(disabled)})
    return get_user(db, username)  # type: ignore[return-value]


def password_is_local(user: User, field: str = "username") -> None:
    """FieldError unless ``user``'s password is kept in kb (not in the directory or a proxy)."""
    if user.source != "local":
        where = {"ldap": "the company directory", "oidc": "the identity provider"}.get(user.source, "the sign-in proxy")
        raise FieldError(field, f"{user.username!r} signs in through {where}: its password is set there, not in kb")


def set_password(db: Database, username: str, password: str) -> None:
    user = get_user(db, username)
    if user is None:
        raise NotFound(f"no user {username!r}")
    password_is_local(user)
    check_password_rules(password)
    db["users"].update(username, {"password_hash": hash_password(password)})


# --- sign-in with throttling -----------------------------------------------------------------

def _failures(db: Database, key: str, since: dt.datetime) -> tuple[int, str | None]:
    """Failures for ``key`` after its last success inside the window, and the oldest one's time."""
    row = db.execute(
        "SELECT COUNT(*), MIN(created_at) FROM login_attempts WHERE key = ? AND ok = 0 AND created_at >= ? "
        "AND created_at > COALESCE((SELECT MAX(created_at) FROM login_attempts WHERE key = ? AND ok = 1), '')",
        [key, _iso(since), key]).fetchone()
    return int(row[0]), row[1]


def _retry_after(oldest: str | None, now: dt.datetime) -> int:
    if not oldest:
        return int(WINDOW.total_seconds())
    return max(1, int((dt.datetime.fromisoformat(oldest) + WINDOW - now).total_seconds()))


def throttle_check(db: Database, username: str, client: str) -> None:
    """Raise LoginThrottled when this user name or client address failed too often lately."""
    now = _now()
    since = now - WINDOW
    for key, limit in ((f"user:{username.lower()}", MAX_FAILURES_PER_USER),
                       (f"client:{client}", MAX_FAILURES_PER_CLIENT)):
        count, oldest = _failures(db, key, since)
        if count >= limit:
            raise LoginThrottled(_retry_after(oldest, now))


def record_attempt(db: Database, username: str, client: str, ok: bool) -> None:
    """Count a sign-in attempt towards (or, when it succeeded, reset) the throttling."""
    now = _iso(_now())
    db["login_attempts"].insert_all([
        {"key": f"user:{username.lower()}", "ok": int(ok), "created_at": now},
        {"key": f"client:{client}", "ok": int(ok), "created_at": now},
    ])
    db.execute("DELETE FROM login_attempts WHERE created_at < ?", [_iso(_now() - KEEP_ATTEMPTS)])


def authenticate(db: Database, username: str, password: str, client: str = "-") -> User:
    """The user if the password is right; AuthError (same message whatever was wrong) or
    LoginThrottled otherwise. Every attempt is recorded."""
    username = (username or "").strip()
    throttle_check(db, username, client)
    return check_local(db, username, password, client)


def check_local(db: Database, username: str, password: str, client: str = "-") -> User:
    """authenticate() after the throttling check: the password against the stored hash (a
    mirrored directory or proxy account has none that any password matches)."""
    row = account_row(db, username)
    ok = verify_password(row["password_hash"] if row else _dummy_hash(), password or "")
    ok = ok and row is not None and not row.get("disabled")
    record_attempt(db, username, client, ok)
    if not ok:
        raise AuthError("wrong user name or password, or the account is disabled")
    return _user(row)  # type: ignore[arg-type]


# --- demo accounts -------------------------------------------------------------------------

def _demo_data_loaded(db: Database) -> bool:
    return db.execute("SELECT 1 FROM tickets WHERE demo = 1 LIMIT 1").fetchone() is not None


def ensure_demo_users(db: Database) -> list[tuple[User, str]]:
    """When demo tickets are loaded and every account is a demo account (or there is none),
    give the demo agent and engineer fresh random passwords and return them to be shown.
    Real accounts are never touched, and once one exists nothing is returned."""
    if not _demo_data_loaded(db):
        return []
    users = list_users(db)
    if any(not u.demo for u in users):
        return []
    out: list[tuple[User, str]] = []
    existing = {u.username for u in users}
    for username, role, display in DEMO_USERS:
        password = secrets.token_urlsafe(12)
        if username in existing:
            set_password(db, username, password)
            user = get_user(db, username)
        else:
            user = add_user(db, username, password, role, display, demo=True)
        out.append((user, password))  # type: ignore[arg-type]
    return out
