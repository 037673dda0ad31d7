"""Signing staff in with an OpenID Connect provider: ``start`` keeps an authorization request
(state, nonce, PKCE verifier) in table ``oidc_pending`` — one use, whichever node the browser
comes back to, for PENDING_TTL — and ``finish`` takes the provider's answer: the state must be
one this browser started and not used yet, the code is exchanged, the ID token checked
(kb.accounts.oidc), and the person's account read from the claims — the user name from
``KB_OIDC_USERNAME_CLAIM``, the role from the groups in ``KB_OIDC_ROLES_CLAIM`` through
``KB_OIDC_ROLES`` (the highest wins; in none of them: refused). The account is mirrored in
``users`` with source ``oidc``, bound to the provider's issuer and subject, and a session row
is opened (kb.accounts.oidc_sessions). Every sign-in and every refusal, with its reason, goes to
the sign-in log (method ``oidc``).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Mapping

from kb.accounts import audit, external, oidc_sessions, oidc_status, users
from kb.accounts.oidc import Client
from kb.core.config import Settings
from kb.core.db import Database
from kb.core.errors import OidcRefused, ProviderUnavailable
from kb.core.oidc_config import OidcProvider

PENDING_TTL = dt.timedelta(minutes=10)


@dataclass(frozen=True)
class SignedIn:
    user: users.User
    session_key: str
    next_url: str | None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _iso(t: dt.datetime) -> str:
    return t.isoformat(timespec="seconds")


def start(db: Database, settings: Settings, p: OidcProvider, redirect_uri: str, next_url: str) -> tuple[str, str]:
    """(the provider's authorization URL to send the browser to, the request's state).
    ProviderUnavailable when the provider's discovery document cannot be had."""
    try:
        auth = Client(settings, p).authorization(redirect_uri)
    except ProviderUnavailable as e:
        oidc_status.reported_failure(p, str(e))
        raise
    now = _now()
    db.execute("DELETE FROM oidc_pending WHERE created_at < ?", [_iso(now - PENDING_TTL)])
    db.execute("INSERT INTO oidc_pending (state, provider, nonce, code_verifier, redirect_uri, next_url, created_at) "
               "VALUES (?, ?, ?, ?, ?, ?, ?)",
               [auth.state, p.name, auth.nonce, auth.code_verifier, redirect_uri, next_url, _iso(now)])
    return auth.url, auth.state


def _pending(db: Database, p: OidcProvider, state: str, browser_states: list[str]) -> dict:
    """The authorization request ``state`` answers, taken out of the table (one use)."""
    if not state:
        raise OidcRefused("bad state", "the provider's answer carries no state")
    row = db.execute("SELECT provider, nonce, code_verifier, redirect_uri, next_url, created_at FROM oidc_pending "
                     "WHERE state = ?", [state]).fetchone()
    if row is None or row[0] != p.name:
        raise OidcRefused("bad state", "unknown or already used (a replayed or forged answer)")
    if state not in browser_states:
        raise OidcRefused("bad state", "the sign-in was started in another browser")
    if not db.execute("DELETE FROM oidc_pending WHERE state = ?", [state]).rowcount:
        raise OidcRefused("bad state", "already used (a replayed answer)")
    pending = dict(zip(("provider", "nonce", "code_verifier", "redirect_uri", "next_url", "created_at"), row))
    if pending["created_at"] < _iso(_now() - PENDING_TTL):
        raise OidcRefused("bad state", f"expired: the sign-in was started more than "
                                       f"{PENDING_TTL.total_seconds() / 60:.0f} minutes ago")
    return pending


def claim(claims: Mapping, name: str):
    """A claim by name; a dotted name that is not a claim itself reads a nested one
    (``realm_access.roles``)."""
    if name in claims:
        return claims[name]
    value = claims
    for part in name.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def account(p: OidcProvider, claims: Mapping) -> tuple[str, str, str]:
    """(user name, role, display name) from checked claims; OidcRefused when a claim is missing
    or malformed, or no group maps to a role."""
    name = claim(claims, p.username_claim)
    if name is None:
        raise OidcRefused("malformed claim", f"the provider sent no {p.username_claim!r} claim "
                                             f"({p.var('USERNAME_CLAIM')} names it; email is another choice)")
    if not isinstance(name, str) or not users.USERNAME_RE.match(name.strip()):
        raise OidcRefused("malformed claim", f"{p.username_claim!r} is {str(name)[:80]!r}, not a kb user name "
                                             "(2-64 letters, digits, '.', '_', '@' or '-')")
    groups = claim(claims, p.roles_claim)
    if groups is None:
        raise OidcRefused("no group", f"the provider sent no {p.roles_claim!r} claim (is its scope among "
                                      f"{p.var('SCOPES')}? {p.var('ROLES_CLAIM')} names the claim)")
    if isinstance(groups, str):
        groups = [groups]
    if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
        raise OidcRefused("malformed claim", f"{p.roles_claim!r} is {type(groups).__name__} "
                                             f"{str(groups)[:80]}, not a list of group names")
    role = external.role_from_groups(p.roles, groups)
    if role is None:
        shown = ", ".join(groups[:5]) + (" …" if len(groups) > 5 else "") or "none"
        raise OidcRefused("no group", f"none of the groups in {p.roles_claim!r} ({shown}) is in {p.var('ROLES')}")
    display = claims.get("name") if isinstance(claims.get("name"), str) else ""
    return name.strip().lower(), role, display.strip()[:200]


def _claims(c: Client, p: OidcProvider, args: Mapping, pending: dict) -> dict:
    """The checked claims of the provider's answer (the ID token's, completed from userinfo)."""
    if args.get("error"):
        raise OidcRefused("provider refused", f"{args.get('error')}: {args.get('error_description') or '-'}"[:200])
    if args.get("iss") and args.get("iss") != p.issuer:
        raise OidcRefused("wrong issuer", f"the answer comes from {args.get('iss')!r}, not {p.var('ISSUER')} "
                                          f"{p.issuer!r}")
    if not args.get("code"):
        raise OidcRefused("malformed answer", "the provider's answer carries no code")
    token = c.exchange(args["code"], pending["code_verifier"], pending["redirect_uri"])
    claims = c.id_claims(token, pending["nonce"])
    if (claim(claims, p.username_claim) is None or claim(claims, p.roles_claim) is None) and token.get("access_token"):
        info = c.userinfo(token["access_token"])
        if info.get("sub") != claims.get("sub"):
            raise OidcRefused("wrong subject", "userinfo describes another subject than the ID token")
        claims = {**info, **claims}
    return claims


def finish(db: Database, settings: Settings, p: OidcProvider, args: Mapping, browser_states: list[str],
           client: str = "-") -> SignedIn:
    """Sign in with the provider's answer (the callback's query ``args``). OidcRefused (logged,
    with its reason) or ProviderUnavailable."""
    who = "-"
    try:
        pending = _pending(db, p, args.get("state") or "", browser_states)
        c = Client(settings, p)
        claims = _claims(c, p, args, pending)
        who = str(claims.get("sub"))[:64]
        username, role, display = account(p, claims)
        who = username
        row = users.account_row(db, username)
        identity = f"{p.issuer} {claims['sub']}"
        if row is not None and row["source"] == "local":
            raise OidcRefused("local account", "a local kb account has this name")
        if row is not None and row["disabled"]:
            raise OidcRefused("disabled", "disabled in kb")
        if row is not None and row["source"] == "oidc" and row["external_id"] != identity:
            raise OidcRefused("another identity", f"the kb account belongs to another identity ({row['external_id']})")
        oidc_status.reported_ok(p)
    except OidcRefused as e:
        audit.record(db, who, "oidc", client, False, f"{e} ({p.name})")
        raise
    except ProviderUnavailable as e:
        oidc_status.reported_failure(p, str(e))
        audit.record(db, who, "oidc", client, False, f"provider unavailable: {e} ({p.name})")
        raise
    user = external.save(db, username, "oidc", role, display, identity)
    key = oidc_sessions.open_session(db, settings, p, claims, username)
    audit.record(db, username, "oidc", client, True, f"provider {p.name}")
    return SignedIn(user, key, pending["next_url"])
