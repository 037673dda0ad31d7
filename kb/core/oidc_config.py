"""The OpenID Connect providers staff sign in with, read from ``KB_OIDC_*`` into the one Settings
object (kb.core.config calls ``load``).

One provider is a handful of variables — ``KB_OIDC_ISSUER``, ``KB_OIDC_CLIENT_ID``,
``KB_OIDC_CLIENT_SECRET``, ``KB_OIDC_ROLES`` — and is named ``default``. Several are named in
``KB_OIDC_PROVIDERS=entra,partner``; each then has its own ``KB_OIDC_<NAME>_ISSUER``,
``_CLIENT_ID`` and ``_CLIENT_SECRET``, and may have its own ``_SCOPES``, ``_LABEL``,
``_USERNAME_CLAIM``, ``_ROLES_CLAIM`` and ``_ROLES``, which default to the unnamed ones. Every
mistake is a ConfigError naming the variable; an unknown ``KB_OIDC_*`` variable (a typo) is one.
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import urlsplit

from kb.core.setting_values import duration as _duration, role_map as _role_map
from kb.core.errors import ConfigError

PREFIX = "KB_OIDC_"
DEFAULT = "default"
NAME_RE = re.compile(r"^[a-z][a-z0-9]{0,31}$")
# what each provider has, and what it has when unset (None: required)
PER_PROVIDER = {"ISSUER": None, "CLIENT_ID": None, "CLIENT_SECRET": None, "SCOPES": "openid profile email",
                "LABEL": "", "USERNAME_CLAIM": "preferred_username", "ROLES_CLAIM": "groups", "ROLES": None}
SHARED = ("PROVIDERS", "SESSION_MAX", "CLOCK_SKEW", "TIMEOUT", "CA_FILE", "BASE_URL")
_CLAIM_RE = re.compile(r"^[^\s]{1,200}$")


@dataclass(frozen=True)
class OidcProvider:
    """One provider kb signs staff in with (``name`` is in its URLs: /login/oidc/<name>)."""
    name: str
    issuer: str
    client_id: str
    client_secret: str = field(repr=False)
    scopes: tuple[str, ...] = ("openid", "profile", "email")
    label: str = ""                                 # the button's text; empty: kb's own, translated
    username_claim: str = "preferred_username"
    roles_claim: str = "groups"
    roles: tuple[tuple[str, str], ...] = ()

    def var(self, key: str) -> str:
        """The variable that sets ``key`` (ISSUER, ROLES …) for this provider, for messages."""
        return f"{PREFIX}{key}" if self.name == DEFAULT else f"{PREFIX}{self.name.upper()}_{key}"


def _url(raw: str, var: str, *, what: str) -> str:
    value = raw.strip()
    try:
        parts = urlsplit(value)
        _ = parts.port
    except ValueError:
        raise ConfigError(f"{var}: {raw!r} is not a URL (the port must be a number)") from None
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.query or parts.fragment or parts.username:
        raise ConfigError(f"{var}: expected {what}, got {raw!r}")
    if parts.scheme == "http" and not _loopback(parts.hostname):
        raise ConfigError(f"{var}: {value!r} must use https:// (http:// only on a loopback address, for tests)")
    return value


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _value(key: str, raw: str, var: str) -> Any:
    if key == "ISSUER":
        return _url(raw, var, what="the provider's issuer URL such as https://login.example.com/realms/staff")
    if key == "ROLES":
        return _role_map(raw, var)
    value = raw.strip()
    if key == "LABEL":
        return value
    if not value:
        raise ConfigError(f"{var}: empty (unset it instead)")
    if key == "SCOPES":
        scopes = tuple(dict.fromkeys(s for s in re.split(r"[\s,]+", value) if s))
        if "openid" not in scopes:
            raise ConfigError(f"{var}: must include openid, got {raw!r}")
        return scopes
    if key in ("USERNAME_CLAIM", "ROLES_CLAIM") and not _CLAIM_RE.match(value):
        raise ConfigError(f"{var}: {raw!r} is not a claim name such as groups or realm_access.roles")
    return value


def _names(env: Mapping[str, str]) -> tuple[str, ...]:
    raw = env.get(PREFIX + "PROVIDERS")
    if raw is None:
        return (DEFAULT,) if any(k.startswith(PREFIX) and k[len(PREFIX):] in PER_PROVIDER for k in env) else ()
    names = [n.strip().lower() for n in raw.split(",") if n.strip()]
    if not names:
        raise ConfigError(f"{PREFIX}PROVIDERS: no provider names (unset it for one provider)")
    for n in names:
        if not NAME_RE.match(n) or n == DEFAULT:
            raise ConfigError(f"{PREFIX}PROVIDERS: {n!r} is not a provider name (a letter, then letters or digits; "
                              f"not {DEFAULT!r})")
    if len(set(names)) != len(names):
        raise ConfigError(f"{PREFIX}PROVIDERS: {raw!r} names a provider twice")
    for key in ("ISSUER", "CLIENT_ID", "CLIENT_SECRET"):
        if PREFIX + key in env:
            raise ConfigError(f"{PREFIX}{key}: with {PREFIX}PROVIDERS, set {PREFIX}<NAME>_{key} for each provider")
    return tuple(names)


def _provider(env: Mapping[str, str], name: str) -> OidcProvider:
    values: dict[str, Any] = {}
    for key, default in PER_PROVIDER.items():
        own = PREFIX + key if name == DEFAULT else f"{PREFIX}{name.upper()}_{key}"
        var = own if own in env else PREFIX + key
        if var in env:
            values[key] = _value(key, env[var], var)
        elif default is None:
            hint = " (agent=<group>;engineer=<group>;admin=<group>)" if key == "ROLES" else ""
            raise ConfigError(f"{own}: required for the {name!r} OpenID Connect provider{hint}")
        else:
            values[key] = _value(key, default, own)
    return OidcProvider(name=name, issuer=values["ISSUER"], client_id=values["CLIENT_ID"],
                        client_secret=values["CLIENT_SECRET"], scopes=values["SCOPES"], label=values["LABEL"],
                        username_claim=values["USERNAME_CLAIM"], roles_claim=values["ROLES_CLAIM"],
                        roles=values["ROLES"])


def load(env: Mapping[str, str]) -> dict[str, Any]:
    """The OIDC part of Settings from the environment: ``oidc_providers`` and the shared settings."""
    names = _names(env)
    known = {PREFIX + k for k in (*SHARED, *PER_PROVIDER)}
    known |= {f"{PREFIX}{n.upper()}_{k}" for n in names if n != DEFAULT for k in PER_PROVIDER}
    for var in sorted(env):
        if var.startswith(PREFIX) and var not in known:
            raise ConfigError(f"{var}: unknown setting (a provider's own settings are {PREFIX}<NAME>_ISSUER, "
                              f"_CLIENT_ID, _CLIENT_SECRET … for the names in {PREFIX}PROVIDERS)")
    out: dict[str, Any] = {"oidc_providers": tuple(_provider(env, n) for n in names)}
    shared = [k for k in SHARED[1:] if PREFIX + k in env]
    if shared and not names:
        raise ConfigError(f"{PREFIX}{shared[0]}: is set but no OpenID Connect provider is ({PREFIX}ISSUER)")
    for key in shared:
        var, raw = PREFIX + key, env[PREFIX + key]
        if key == "CLOCK_SKEW":
            out["oidc_clock_skew"] = 0.0 if raw.strip() in ("0", "0s") else _duration(raw, var)
        elif key in ("SESSION_MAX", "TIMEOUT"):
            out[f"oidc_{key.lower()}"] = _duration(raw, var)
        elif key == "CA_FILE":
            path = Path(raw.strip())
            if not path.is_file():
                raise ConfigError(f"{var}: no such file {raw!r}")
            out["oidc_ca_file"] = path
        else:
            out["oidc_base_url"] = _url(raw, var, what="the address people open kb at, such as https://kb.example").rstrip("/")
    if out.get("oidc_clock_skew", 0) > 600:
        raise ConfigError(f"{PREFIX}CLOCK_SKEW: at most 10m, got {env[PREFIX + 'CLOCK_SKEW']!r}")
    return out
