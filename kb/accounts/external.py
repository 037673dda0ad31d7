"""Accounts that live outside kb — in the company directory (source ``ldap``), behind the
trusted sign-in proxy (source ``proxy``) or at an OpenID Connect provider (source ``oidc``) —
mirrored in table ``users`` so that roles, sessions, the sign-in log and every page treat them
like local accounts.

The mirror is written at each sign-in and each directory re-check: role, display name, the
directory entry or the provider's issuer and subject (``external_id``), when it was last confirmed (``synced_at``). Its password hash
is a random marker that no password matches; the marker is replaced whenever the account is
refused, and since a session is bound to the hash (web.common), every open session ends.
A local account's name is never taken over by a directory or proxy account, and an account an
admin disabled in kb (`kb users disable`) stays disabled whatever the directory says.
"""
from __future__ import annotations

import datetime as dt
import secrets
from typing import Callable, Iterable

from kb.core.db import Database

from kb.accounts.users import ROLES, USERNAME_RE, User, account_row, get_user
from kb.core.errors import FieldError
from kb.core.store import transaction

SOURCES = ("local", "ldap", "proxy", "oidc")


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def marker(source: str) -> str:
    """A password hash no password matches (kb.accounts.users.verify_password wants scrypt)."""
    return f"{source}${secrets.token_urlsafe(18)}"


def role_from_groups(mapping: Iterable[tuple[str, str]], groups: Iterable[str],
                     normal: Callable[[str], str] = lambda g: g) -> str | None:
    """The highest role whose group is among ``groups`` (compared through ``normal``), or None."""
    have = {normal(g) for g in groups}
    roles = {role for role, group in mapping if normal(group) in have}
    return max(roles, key=ROLES.index) if roles else None


def save(db: Database, username: str, source: str, role: str, display_name: str,
         external_id: str | None = None) -> User:
    """Create or update the mirror of an account the directory or the proxy has just vouched
    for. FieldError when the name is not a valid kb user name or belongs to a local account."""
    if source not in SOURCES[1:] or role not in ROLES:
        raise ValueError(f"bad source {source!r} or role {role!r}")
    if not USERNAME_RE.match(username):
        raise FieldError("username", f"{username!r}: use 2–64 letters, digits, '.', '_', '@' or '-'")
    with transaction(db):
        row = account_row(db, username)
        now = _now()
        if row is None:
            db.execute(
                "INSERT INTO users (username, password_hash, role, display_name, created_at, disabled, demo, source, "
                "external_id, synced_at, sync_error) VALUES (?, ?, ?, ?, ?, 0, 0, ?, ?, ?, NULL)",
                [username, marker(source), role, display_name or username, now, source, external_id, now])
        elif row["source"] == "local":
            raise FieldError("username", f"{username!r} is a local kb account: a {source} account cannot take it over")
        else:
            hashed = row["password_hash"] if row["source"] == source else marker(source)
            db.execute(
                "UPDATE users SET password_hash = ?, role = ?, display_name = ?, source = ?, external_id = ?, "
                "synced_at = ?, sync_error = NULL WHERE username = ?",
                [hashed, role, display_name or row["display_name"] or username, source, external_id, now, username])
    return get_user(db, username)  # type: ignore[return-value]


def unchanged(row: dict | None, source: str, role: str) -> bool:
    """True when the stored mirror already says this (nothing to write)."""
    return (row is not None and row["source"] == source and row["role"] == role and not row.get("sync_error")
            and not row.get("disabled"))


def refuse(db: Database, username: str, reason: str) -> bool:
    """The directory or proxy no longer lets this account in: note why and end its sessions.
    Local accounts are never touched; returns whether a mirror was refused."""
    cur = db.execute("UPDATE users SET password_hash = ?, sync_error = ?, synced_at = ? "
                          "WHERE username = ? AND source <> 'local'",
                          [marker("refused"), reason, _now(), username])
    return cur.rowcount > 0


def due(synced_at: str | None, every: float) -> bool:
    """Whether an account confirmed at ``synced_at`` must be confirmed again (``every`` seconds;
    0 means at every request)."""
    if not synced_at or every <= 0:
        return True
    try:
        then = dt.datetime.fromisoformat(synced_at)
    except ValueError:
        return True
    return (dt.datetime.now(dt.timezone.utc) - then).total_seconds() >= every
