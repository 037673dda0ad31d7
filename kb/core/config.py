"""One Settings object for the whole product: defaults, then KB_* environment, then overrides.

Nothing else in the code base reads ``os.environ`` for kb settings: pass a Settings around.
Every setting is documented in README.md ("Settings"); a test keeps the two in step.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from kb.core.errors import ConfigError

# name -> (environment variable, help text). The README table is checked against this.
ENV_DOC: dict[str, tuple[str, str]] = {
    "home": ("KB_HOME", "State folder: SQLite database, search indexes, last indexed commit."),
    "articles": ("KB_ARTICLES", "Folder (ideally a git repository) holding the Markdown articles."),
    "encoders": ("KB_ENCODERS", "Comma list of sentence encoders for semantic search: minilm, use3, or none."),
    "semantic": ("KB_SEMANTIC", "1 to use semantic search in hybrid mode, 0 for keyword only."),
    "secret_key": ("KB_SECRET_KEY", "Secret for signing web sessions; generated into KB_HOME if unset."),
    "host": ("KB_HOST", "Address `kb serve` binds to."),
    "port": ("KB_PORT", "Port `kb serve` listens on."),
    "threads": ("KB_THREADS", "Worker threads of the production web server."),
    "first_response_phone": ("KB_FIRST_RESPONSE_PHONE", "First-response target for phone tickets (30s, 4h, 90m, 1d or seconds)."),
    "first_response_email": ("KB_FIRST_RESPONSE_EMAIL", "First-response target for e-mail tickets."),
    "first_response_web": ("KB_FIRST_RESPONSE_WEB", "First-response target for web-form tickets."),
    "first_response_chat": ("KB_FIRST_RESPONSE_CHAT", "First-response target for chat tickets."),
    "ticket_boost": ("KB_TICKET_BOOST", "Largest ranking boost from ticket evidence (0.3 = up to x1.3; 0 switches it off)."),
    "ticket_boost_days": ("KB_TICKET_BOOST_DAYS", "Only tickets resolved in this many days count towards the boost."),
    "site_name": ("KB_SITE_NAME", "Name shown in the web UI's header and page titles (default: Help Center / 帮助中心)."),
    "secure_cookies": ("KB_SECURE_COOKIES", "1 when the web UI is served over HTTPS: session cookies are then sent over HTTPS only."),
    "session_hours": ("KB_SESSION_HOURS", "Hours a web sign-in lasts."),
    "workers": ("KB_WORKERS", "Worker processes of `kb serve` (0: one per CPU core, at most 4)."),
    "proxy_hops": ("KB_PROXY_HOPS", "Number of reverse proxies in front of `kb serve` whose X-Forwarded-* headers are trusted (0: none)."),
    "build_procs": ("KB_BUILD_PROCS", "Processes a full keyword build of the articles uses (default: the machine's cores; 1 on a machine that also serves and must keep a core free)."),
}

_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _duration(value: str, name: str) -> float:
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


KNOWN_ENCODERS = ("minilm", "use3")


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:          # not on Linux
        return os.cpu_count() or 1


def _bool(value: str, name: str) -> bool:
    v = value.strip().lower()
    if v in ("1", "true", "yes", "on"):
        return True
    if v in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"{name}: expected 1/0/true/false, got {value!r}")


@dataclass(frozen=True)
class Settings:
    home: Path = Path(".kb")
    articles: Path = Path("articles")
    encoders: tuple[str, ...] = ("minilm", "use3")
    semantic: bool = True
    secret_key: str | None = None
    host: str = "127.0.0.1"
    port: int = 5000
    threads: int = 8
    # Support desk: first-response targets (seconds) and the ticket-evidence ranking boost.
    first_response_phone: float = 30.0
    first_response_email: float = 4 * 3600.0
    first_response_web: float = 4 * 3600.0
    first_response_chat: float = 60.0
    ticket_boost: float = 0.3
    ticket_boost_days: int = 90
    # Web UI.
    site_name: str | None = None
    secure_cookies: bool = False
    session_hours: int = 12
    proxy_hops: int = 0
    workers: int = 0
    # Index builds.
    build_procs: int = field(default_factory=cores)
    # Search tuning (chosen by measurement with `kb eval`; see bench/RESULTS.md).
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> "Settings":
        """Defaults, then KB_* variables from ``env`` (os.environ by default), then overrides."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for name, (var, _) in ENV_DOC.items():
            if var not in env:
                continue
            raw = env[var]
            if name in ("home", "articles"):
                values[name] = Path(raw)
            elif name == "encoders":
                values[name] = tuple(e.strip() for e in raw.split(",") if e.strip() and e.strip() != "none")
                unknown = [e for e in values[name] if e not in KNOWN_ENCODERS]
                if unknown:
                    raise ConfigError(f"{var}: unknown encoder {unknown[0]!r} "
                                      f"(choose from {', '.join(KNOWN_ENCODERS)}, none)")
            elif name in ("semantic", "secure_cookies"):
                values[name] = _bool(raw, var)
            elif name.startswith("first_response_"):
                values[name] = _duration(raw, var)
            elif name == "ticket_boost":
                try:
                    values[name] = float(raw)
                except ValueError:
                    raise ConfigError(f"{var}: expected a number such as 0.3, got {raw!r}") from None
                if not 0 <= values[name] <= 5:
                    raise ConfigError(f"{var}: must be between 0 and 5, got {raw!r}")
            elif name in ("port", "threads", "ticket_boost_days", "session_hours", "proxy_hops", "workers",
                          "build_procs"):
                try:
                    values[name] = int(raw)
                except ValueError:
                    raise ConfigError(f"{var}: expected a whole number, got {raw!r}") from None
            else:
                values[name] = raw
        for k, v in overrides.items():
            if v is None:
                continue
            if k not in {f.name for f in dataclasses.fields(cls)}:
                raise ConfigError(f"unknown setting {k!r}")
            values[k] = Path(v) if k in ("home", "articles") else v
        s = cls(**values)
        for var, value, low in (("KB_SESSION_HOURS", s.session_hours, 1), ("KB_PROXY_HOPS", s.proxy_hops, 0),
                                ("KB_WORKERS", s.workers, 0), ("KB_THREADS", s.threads, 1),
                                ("KB_BUILD_PROCS", s.build_procs, 1)):
            if value < low:
                raise ConfigError(f"{var}: must be {low} or more, got {value}")
        unknown = [e for e in s.encoders if e not in ("minilm", "use3")]
        if unknown:
            raise ConfigError(f"KB_ENCODERS: unknown encoder {unknown[0]!r} (choose from minilm, use3, none)")
        return s

    def replace(self, **changes: Any) -> "Settings":
        return dataclasses.replace(self, **changes)

    def first_response_targets(self) -> dict[str, float]:
        """Channel → first-response target in seconds."""
        return {c: getattr(self, f"first_response_{c}") for c in ("phone", "email", "web", "chat")}

    @property
    def db_path(self) -> Path:
        return self.home / "kb.sqlite"

    @property
    def index_root(self) -> Path:
        return self.home / "index"
