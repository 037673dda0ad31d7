"""How kb reads the values of settings: durations (``30s``, ``90m``, ``4h``, ``1d``), yes/no
switches and role maps (``agent=GROUP;engineer=GROUP;admin=GROUP``), each mistake a ConfigError
naming the variable. Shared by kb.core.config and the modules that read groups of settings."""
from __future__ import annotations

import re

from kb.core.errors import ConfigError

STAFF_ROLES = ("agent", "engineer", "admin")

_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def duration(value: str, name: str) -> float:
    """``30s``, ``90m``, ``4h``, ``1d`` or a plain number of seconds."""
    v = value.strip().lower()
    unit = _DURATION_UNITS.get(v[-1:], None) if v else None
    try:
        seconds = float(v[:-1] if unit else v) * (unit or 1)
    except ValueError:
        raise ConfigError(f"{name}: expected a duration such as 30s, 90m, 4h or 1d, got {value!r}") from None
    if seconds <= 0:
        raise ConfigError(f"{name}: must be more than zero, got {value!r}")
    return seconds



def boolean(value: str, name: str) -> bool:
    v = value.strip().lower()
    if v in ("1", "true", "yes", "on"):
        return True
    if v in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"{name}: expected 1/0/true/false, got {value!r}")


def role_map(raw: str, var: str, check=None) -> tuple[tuple[str, str], ...]:
    """``agent=GROUP;engineer=GROUP;admin=GROUP`` (a role may appear more than once)."""
    out = []
    for part in re.split(r"(?<!\\);", raw):
        part = part.strip()
        if not part:
            continue
        role, eq, group = part.partition("=")
        role, group = role.strip().lower(), group.strip()
        if not eq or not group:
            raise ConfigError(f"{var}: expected role=group entries separated by ';', got {part!r}")
        if role not in STAFF_ROLES:
            raise ConfigError(f"{var}: unknown role {role!r} in {part!r} (roles: {', '.join(STAFF_ROLES)})")
        out.append((role, check(group, var) if check else group))
    if not out:
        raise ConfigError(f"{var}: no role=group entries")
    return tuple(out)
