"""API tokens for machine clients (a helpdesk's webhooks): create, verify, list, revoke.

A token is ``kb_`` + 32 random bytes (URL-safe base64), shown once when it is created. Only its
SHA-256 is stored: a token has 256 bits of entropy, so a slow password hash would add nothing
but latency to every request. Each token has a unique name (among tokens not revoked) and a
role (agent, engineer or admin) that decides what its requests may see.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets

from kb.core.db import Database

from kb.core.errors import NotFound, TicketError

ROLES = ("agent", "engineer", "admin")
PREFIX = "kb_"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
TOUCH_EVERY = dt.timedelta(minutes=1)     # last_used_at is written at most this often


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def _iso(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(db: Database, name: str, role: str = "agent") -> str:
    """A new token; returns its plain text (the only time it is ever available)."""
    name = (name or "").strip()
    if not NAME_RE.match(name):
        raise TicketError("name", f"{name!r}: use 1–64 letters, digits, '.', '_', '@' or '-'")
    if role not in ROLES:
        raise TicketError("role", f"{role!r} is not one of {', '.join(ROLES)}")
    if db.execute("SELECT 1 FROM tokens WHERE name = ? AND revoked = 0", [name]).fetchone():
        raise TicketError("name", f"a token named {name!r} already exists (revoke it first)")
    token = PREFIX + secrets.token_urlsafe(32)
    db.execute("INSERT INTO tokens (name, token_hash, role, created_at, last_used_at, revoked) "
                    "VALUES (?, ?, ?, ?, NULL, 0)", [name, _hash(token), role, _iso(_now())])
    return token


def verify_token(db: Database, token: str | None) -> dict | None:
    """The token's row (name, role, created_at, last_used_at) if it is valid and not revoked."""
    if not token or not isinstance(token, str) or not token.startswith(PREFIX) or len(token) > 200:
        return None
    digest = _hash(token)
    row = db.execute("SELECT id, name, role, created_at, last_used_at, token_hash FROM tokens "
                          "WHERE token_hash = ? AND revoked = 0", [digest]).fetchone()
    if row is None or not hmac.compare_digest(row[5], digest):
        return None
    out = dict(zip(("id", "name", "role", "created_at", "last_used_at"), row[:5]))
    now = _now()
    last = out["last_used_at"]
    if last is None or now - dt.datetime.strptime(last, "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=dt.timezone.utc) >= TOUCH_EVERY:
        out["last_used_at"] = _iso(now)
        db.execute("UPDATE tokens SET last_used_at = ? WHERE id = ?", [out["last_used_at"], out["id"]])
    return out


def revoke_token(db: Database, name: str) -> int:
    """Revoke the active token called ``name``; NotFound if there is none."""
    n = db.execute("UPDATE tokens SET revoked = 1 WHERE name = ? AND revoked = 0",
                        [(name or "").strip()]).rowcount
    if not n:
        raise NotFound(f"no active token named {name!r}")
    return n


def list_tokens(db: Database) -> list[dict]:
    """Every token (never its hash), newest first."""
    cur = db.execute("SELECT name, role, created_at, last_used_at, revoked FROM tokens "
                          "ORDER BY created_at DESC, id DESC")
    return [{"name": n, "role": r, "created_at": c, "last_used_at": u, "revoked": bool(v)}
            for n, r, c, u, v in cur.fetchall()]
