"""The trusted sign-in proxy (oauth2-proxy, Authelia, a company gateway): a request that comes
from one of ``KB_AUTH_PROXIES`` with the ``KB_AUTH_HEADER`` header is signed in as that user; the
role comes from the groups in ``KB_AUTH_GROUPS_HEADER`` through ``KB_AUTH_ROLES`` (the highest
mapped role; in no mapped group: refused), or is ``agent`` when no groups header is configured.
The same header from any other address is ignored and logged.

The proxy vouches for a user on every request, so there is no password and no re-check: the
account is mirrored (kb.accounts.external) when the role or name changes, and the sign-in log
gets a row when a session starts or the proxy's user is refused (at most once a minute for the
same refusal). A local account's name is never signed in through the proxy.
"""
from __future__ import annotations

import ipaddress
import logging

from kb.core.db import Database

from kb.accounts import audit, external, users
from kb.core.config import Settings

log = logging.getLogger(__name__)
REPEAT = 60.0          # seconds: the same refusal or ignored header is logged once in this time


def trusted(settings: Settings, peer: str | None) -> bool:
    """Whether ``peer`` (the address the connection came from) is a configured proxy."""
    try:
        address = ipaddress.ip_address((peer or "").strip())
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address in ipaddress.ip_network(net) for net in settings.auth_proxies)


def role_of(settings: Settings, groups_header: str | None) -> str | None:
    if not settings.auth_groups_header:
        return "agent"
    groups = [g.strip() for g in (groups_header or "").split(",") if g.strip()]
    return external.role_from_groups(settings.auth_roles, groups, str.lower)


def sign_in(db: Database, settings: Settings, name_header: str, groups_header: str | None,
            client: str, *, new_session: bool) -> users.User | None:
    """The account the proxy vouches for (mirrored), or None when it is refused."""
    name = name_header.strip().lower()
    role = role_of(settings, groups_header)
    row = users.account_row(db, name)
    reason = None
    if not users.USERNAME_RE.match(name):
        reason = "not a valid kb user name (2-64 letters, digits, '.', '_', '@' or '-')"
    elif role is None:
        reason = "in none of the groups of KB_AUTH_ROLES"
    elif row is not None and row["source"] == "local":
        reason = "a local kb account has this name"
    elif row is not None and row["disabled"]:
        reason = "disabled in kb"
    if reason:
        if row is not None and row["source"] == "proxy" and not row.get("sync_error"):
            external.refuse(db, name, reason)
        audit.record(db, name, "proxy", client, False, reason, unless_within=REPEAT)
        return None
    if external.unchanged(row, "proxy", role) and not new_session:   # type: ignore[arg-type]
        return users.get_user(db, name)
    user = external.save(db, name, "proxy", role, row["display_name"] if row else name)  # type: ignore[arg-type]
    if new_session:
        audit.record(db, name, "proxy", client, True)
    return user


def ignored(db: Database, settings: Settings, name_header: str, peer: str | None) -> None:
    """The proxy's header came from an address that is not a trusted proxy: log it, use nothing."""
    log.warning("ignored %s header (user %r) from %s: not an address in KB_AUTH_PROXIES",
                settings.auth_header, name_header[:64], peer or "?")
    audit.record(db, name_header.strip().lower() or "-", "proxy", peer, False,
                 f"{settings.auth_header} header from an address that is not a trusted proxy: ignored",
                 unless_within=REPEAT)
