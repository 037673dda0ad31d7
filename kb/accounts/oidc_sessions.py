"""The kb sessions an OpenID Connect provider started (table ``oidc_sessions``), so that they end
when the provider says so, on every node: each lasts at most ``KB_OIDC_SESSION_MAX`` from its
sign-in, and a back-channel logout token from the provider ends the sessions of the provider
session it names (``sid``) or of the person (``sub``). A logout token is used once (its ``jti``
is kept a day in ``oidc_logouts``). The session cookie holds only the row's random key.
"""
from __future__ import annotations

import datetime as dt
import secrets

from kb.accounts import audit, oidc_status
from kb.accounts.oidc import Client
from kb.core.config import Settings
from kb.core.db import Database
from kb.core.errors import OidcRefused, ProviderUnavailable
from kb.core.oidc_config import OidcProvider

KEEP_ENDED = dt.timedelta(days=1)
LOGOUT = "session ended: signed out at the identity provider (back-channel logout)"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _iso(t: dt.datetime) -> str:
    return t.isoformat(timespec="seconds")


def open_session(db: Database, settings: Settings, p: OidcProvider, claims: dict, username: str) -> str:
    """A new session row for ``username``, signed in by ``p`` (``claims``: the ID token's);
    returns its key. Rows that ended or expired a day ago are cleared."""
    key, now = secrets.token_urlsafe(24), _now()
    sid = claims.get("sid") if isinstance(claims.get("sid"), str) else None
    db.execute("INSERT INTO oidc_sessions (key, provider, issuer, subject, sid, username, created_at, expires_at) "
               "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
               [key, p.name, p.issuer, str(claims["sub"]), sid, username, _iso(now),
                _iso(now + dt.timedelta(seconds=settings.oidc_session_max))])
    db.execute("DELETE FROM oidc_sessions WHERE expires_at < ? OR ended_at < ?", [_iso(now - KEEP_ENDED)] * 2)
    return key


def alive(db: Database, settings: Settings, key: str | None, username: str, client: str = "-") -> bool:
    """Whether the session ``key`` of ``username`` may go on: not ended by the provider or by
    signing out, within KB_OIDC_SESSION_MAX, and its provider still configured."""
    if not key:
        return False
    row = db.execute("SELECT provider, issuer, username, expires_at, ended_at FROM oidc_sessions WHERE key = ?",
                     [key]).fetchone()
    if row is None or row[2] != username or row[4]:
        return False
    p = settings.oidc_provider(row[0])
    reason = None
    if p is None or p.issuer != row[1]:
        reason = f"session ended: the identity provider {row[0]!r} is no longer configured"
    elif row[3] <= _iso(_now()):
        reason = f"session ended: KB_OIDC_SESSION_MAX ({settings.oidc_session_max / 3600:g} h) after its sign-in"
    if reason is None:
        return True
    if end(db, key, reason):
        audit.record(db, username, "oidc", client, False, reason)
    return False


def end(db: Database, key: str | None, reason: str) -> bool:
    """End one session (signing out, expiry); whether it was still going."""
    if not key:
        return False
    return db.execute("UPDATE oidc_sessions SET ended_at = ?, end_reason = ? WHERE key = ? AND ended_at IS NULL",
                      [_iso(_now()), reason, key]).rowcount > 0


def back_channel_logout(db: Database, settings: Settings, p: OidcProvider, logout_token: str,
                        client: str = "-") -> int:
    """Check a logout token from ``p`` and end the sessions it names; how many ended.
    OidcRefused (logged) when the token is not valid; ProviderUnavailable when its keys cannot
    be fetched."""
    try:
        claims = Client(settings, p).logout_claims(logout_token)
        jti = claims.get("jti")
        if isinstance(jti, str) and jti:
            now = _now()
            db.execute("DELETE FROM oidc_logouts WHERE received_at < ?", [_iso(now - KEEP_ENDED)])
            if not db.execute("INSERT INTO oidc_logouts (jti, issuer, received_at) VALUES (?, ?, ?) "
                              "ON CONFLICT (jti) DO NOTHING", [jti, p.issuer, _iso(now)]).rowcount:
                raise OidcRefused("replayed token", "this logout token was used before")
    except OidcRefused as e:
        audit.record(db, "-", "oidc", client, False, f"back-channel logout refused: {e} ({p.name})")
        raise
    except ProviderUnavailable as e:
        oidc_status.reported_failure(p, str(e))
        raise
    where, args = ["issuer = ?", "ended_at IS NULL"], [p.issuer]
    for claim, column in (("sid", "sid"), ("sub", "subject")):
        if isinstance(claims.get(claim), str):
            where.append(f"{column} = ?")
            args.append(claims[claim])
    rows = db.execute(f"SELECT key, username FROM oidc_sessions WHERE {' AND '.join(where)}", args).fetchall()
    for key, username in rows:
        if end(db, key, LOGOUT):
            audit.record(db, username, "oidc", client, False, f"{LOGOUT} ({p.name})")
    return len(rows)
