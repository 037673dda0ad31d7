"""The sign-in log for admins (table ``signins``): every sign-in and every failed or refused
attempt — who, when, how (``local``, ``ldap``, ``proxy`` or ``oidc``), from which address and, when it
failed, why — read by `kb users log` and the admin page /agent/signins. Rows are kept for a
year. Plain SELECT / INSERT / DELETE only, so another SQL database can run the same queries.
"""
from __future__ import annotations

import datetime as dt

from kb.core.db import Database

from kb.core.errors import FieldError

METHODS = ("local", "ldap", "proxy", "oidc")
KEEP = dt.timedelta(days=365)
FIELDS = ("id", "username", "method", "client", "ok", "reason", "created_at")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _iso(t: dt.datetime) -> str:
    return t.isoformat(timespec="seconds")


def record(db: Database, username: str, method: str, client: str | None, ok: bool,
           reason: str | None = None, *, unless_within: float | None = None) -> bool:
    """Log one attempt. With ``unless_within`` (seconds), an attempt identical to one logged that
    recently is not logged again (a proxy repeats its header on every request). Returns whether
    a row was written."""
    now = _now()
    username, client, reason = (username or "-")[:128], (client or "-")[:64], (reason or None) and reason[:300]
    if unless_within:
        seen = db.execute(
            "SELECT 1 FROM signins WHERE username = ? AND method = ? AND client = ? AND ok = ? AND created_at >= ? "
            "AND COALESCE(reason, '') = ? LIMIT 1",
            [username, method, client, int(ok), _iso(now - dt.timedelta(seconds=unless_within)),
             reason or ""]).fetchone()
        if seen:
            return False
    db.execute("INSERT INTO signins (username, method, client, ok, reason, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                    [username, method, client, int(ok), reason, _iso(now)])
    db.execute("DELETE FROM signins WHERE created_at < ?", [_iso(now - KEEP)])
    return True


def parse_since(value: str | None, field: str = "since") -> str | None:
    """A date (2026-12-01) or date and time (2026-12-01T08:00, UTC unless given) as the log's
    own time format; FieldError naming ``field`` otherwise."""
    if not value:
        return None
    try:
        t = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise FieldError(field, f"expected a date such as 2026-12-01 or 2026-12-01T08:00, got {value!r}") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.timezone.utc)
    return _iso(t.astimezone(dt.timezone.utc))


def entries(db: Database, *, user: str | None = None, failed: bool = False, method: str | None = None,
            since: str | None = None, limit: int = 100) -> list[dict]:
    """Logged attempts, newest first, filtered by user name, failures only, method and time."""
    if method and method not in METHODS:
        raise FieldError("method", f"{method!r} is not one of {', '.join(METHODS)}")
    if not 1 <= limit <= 10000:
        raise FieldError("limit", f"must be from 1 to 10000, got {limit}")
    where, args = [], []
    if user:
        where.append("username = ?")
        args.append(user.strip())
    if failed:
        where.append("ok = 0")
    if method:
        where.append("method = ?")
        args.append(method)
    if since:
        where.append("created_at >= ?")
        args.append(since)
    sql = f"SELECT {', '.join(FIELDS)} FROM signins"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY created_at DESC, id DESC LIMIT ?"
    rows = db.execute(sql, [*args, limit]).fetchall()
    return [{**dict(zip(FIELDS, r)), "ok": bool(r[4])} for r in rows]
