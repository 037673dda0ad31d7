"""The settings of staff sign-in through the company directory (``KB_LDAP_*``) and a trusted
sign-in proxy (``KB_AUTH_*``): each value read and checked (a DN, an ldap:// URL, a filter with
{username}, networks, role maps), and the settings that only make sense together. kb.core.config
calls ``value`` for each variable and ``check`` on the finished Settings."""
from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from kb.core.errors import ConfigError
from kb.core.setting_values import boolean as _bool, duration as _duration, role_map as _role_map

_HEADER_RE = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")


def _dn(value: str, var: str) -> str:
    from ldap3.core.exceptions import LDAPInvalidDnError
    from ldap3.utils.dn import parse_dn
    try:
        parse_dn(value)
    except LDAPInvalidDnError:
        raise ConfigError(f"{var}: {value!r} is not a distinguished name such as ou=people,dc=example,dc=org") from None
    return value


def _ldap_url(raw: str, var: str) -> str:
    url = raw.strip()
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if (parts.scheme.lower() not in ("ldap", "ldaps") or not parts.hostname or port == -1 or parts.username
            or parts.path not in ("", "/") or parts.query or parts.fragment):
        raise ConfigError(f"{var}: expected ldap://host[:port] or ldaps://host[:port], got {raw!r}")
    return url


def _networks(raw: str, var: str) -> tuple[str, ...]:
    out = []
    for item in re.split(r"[\s,]+", raw.strip()):
        if not item:
            continue
        try:
            out.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            raise ConfigError(f"{var}: {item!r} is not an IP address or network such as 10.0.0.5 or 10.1.0.0/24") from None
    if not out:
        raise ConfigError(f"{var}: no address given")
    return tuple(out)


def value(name: str, raw: str, var: str) -> Any:
    if name == "ldap_starttls":
        return _bool(raw, var)
    if name in ("ldap_timeout", "ldap_recheck"):
        if name == "ldap_recheck" and raw.strip() in ("0", "0s"):
            return 0.0
        try:
            return _duration(raw, var)
        except ConfigError:
            if name == "ldap_recheck":
                raise ConfigError(f"{var}: expected 0 (every request) or a duration such as 60s or 5m, got {raw!r}") from None
            raise
    if name == "ldap_url":
        return _ldap_url(raw, var)
    if name == "ldap_ca_file":
        path = Path(raw.strip())
        if not path.is_file():
            raise ConfigError(f"{var}: no such file {raw!r}")
        return path
    if name == "ldap_roles":
        return _role_map(raw, var, _dn)
    if name == "auth_roles":
        return _role_map(raw, var)
    if name == "auth_proxies":
        return _networks(raw, var)
    value = raw.strip()
    if not value:
        raise ConfigError(f"{var}: empty (unset it instead)")
    if name in ("auth_header", "auth_groups_header") and not _HEADER_RE.match(value):
        raise ConfigError(f"{var}: {value!r} is not a header name such as X-Forwarded-User")
    if name in ("ldap_user_dn", "ldap_user_filter") and "{username}" not in value:
        raise ConfigError(f"{var}: must contain {{username}}, got {value!r}")
    if name == "ldap_user_filter" and not _balanced(value):
        raise ConfigError(f"{var}: {value!r} is not an LDAP filter such as (uid={{username}})")
    if name in ("ldap_bind_dn", "ldap_user_base"):
        _dn(value, var)
    return value


def _balanced(f: str) -> bool:
    depth = 0
    for i, c in enumerate(f):
        depth += {"(": 1, ")": -1}.get(c, 0) if i == 0 or f[i - 1] != "\\" else 0
        if depth < 0 or (depth == 0 and i < len(f) - 1):
            return False
    return f.startswith("(") and depth == 0


class _Vars(dict):
    """Setting name → its environment variable (ldap_roles → KB_LDAP_ROLES)."""

    def __missing__(self, name: str) -> str:
        return f"KB_{name.upper()}"


def check(s) -> None:
    """Settings that only make sense together: one line naming the variable that is missing."""
    v = _Vars()
    ldap_set = [n for n in ("ldap_starttls", "ldap_ca_file", "ldap_user_dn", "ldap_bind_dn", "ldap_bind_password",
                            "ldap_user_base", "ldap_roles") if getattr(s, n)]
    if not s.ldap_url and ldap_set:
        raise ConfigError(f"{v[ldap_set[0]]}: is set but KB_LDAP_URL is not")
    if s.ldap_url:
        if not s.ldap_roles:
            raise ConfigError("KB_LDAP_ROLES: required with KB_LDAP_URL (agent=<group DN>;engineer=...;admin=...)")
        if not (s.ldap_user_dn or s.ldap_user_base):
            raise ConfigError("KB_LDAP_URL: also set KB_LDAP_USER_DN (bind template) or KB_LDAP_USER_BASE (search then bind)")
        if s.ldap_starttls and s.ldap_url.lower().startswith("ldaps:"):
            raise ConfigError("KB_LDAP_STARTTLS: ldaps:// is encrypted already; use ldap:// with StartTLS, or ldaps:// alone")
        if bool(s.ldap_bind_dn) != bool(s.ldap_bind_password):
            raise ConfigError("KB_LDAP_BIND_PASSWORD: required with KB_LDAP_BIND_DN" if s.ldap_bind_dn
                              else "KB_LDAP_BIND_DN: required with KB_LDAP_BIND_PASSWORD")
        if s.ldap_user_dn and not s.ldap_user_base and not _is_dn(s.ldap_user_dn.replace("{username}", "x")):
            raise ConfigError(f"KB_LDAP_USER_BASE: required when KB_LDAP_USER_DN is not a DN ({s.ldap_user_dn!r}): "
                              "the account's entry is searched there")
    proxy_set = [n for n in ("auth_groups_header", "auth_proxies", "auth_roles") if getattr(s, n)]
    if not s.auth_header and proxy_set:
        raise ConfigError(f"{v[proxy_set[0]]}: is set but KB_AUTH_HEADER is not")
    if s.auth_header:
        if not s.auth_proxies:
            raise ConfigError("KB_AUTH_PROXIES: required with KB_AUTH_HEADER (the sign-in proxy's addresses)")
        if bool(s.auth_groups_header) != bool(s.auth_roles):
            raise ConfigError("KB_AUTH_ROLES: required with KB_AUTH_GROUPS_HEADER" if s.auth_groups_header
                              else "KB_AUTH_GROUPS_HEADER: required with KB_AUTH_ROLES")


def _is_dn(value: str) -> bool:
    try:
        _dn(value, "")
    except ConfigError:
        return False
    return "=" in value
