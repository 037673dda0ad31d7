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
from urllib.parse import urlsplit

from kb.core.errors import ConfigError
from kb.core import filetypes, handoff, signin_config
from kb.core.setting_values import boolean as _bool, duration as _duration

# name -> (environment variable, help text). The README table is checked against this.
ENV_DOC: dict[str, tuple[str, str]] = {
    "home": ("KB_HOME", "State folder: SQLite database, search indexes, last indexed commit."),
    "database_url": ("KB_DATABASE_URL", "PostgreSQL database for the state several nodes share (postgresql://user:password@host:port/db); unset: SQLite in KB_HOME."),
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
    "refresh_seconds": ("KB_REFRESH_SECONDS", "Seconds between the refresher's cycles inside `kb serve` (0: no periodic refresh; webhooks still start one)."),
    "git_remote": ("KB_GIT_REMOTE", "Git remote the refresher fetches the articles from (default: the checkout's upstream)."),
    "git_branch": ("KB_GIT_BRANCH", "Branch of that remote the checkout follows (default: the upstream's branch, else the checked-out one)."),
    "git_webhook_secret": ("KB_GIT_WEBHOOK_SECRET", "Shared secret of the push webhook POST /api/v1/hooks/git (unset: the endpoint is off)."),
    # Staff sign-in from the company directory (LDAP / Active Directory) and from a trusted proxy.
    "ldap_url": ("KB_LDAP_URL", "Directory server: ldap://host[:port] or ldaps://host[:port]; unset: no directory sign-in."),
    "ldap_starttls": ("KB_LDAP_STARTTLS", "1 to upgrade an ldap:// connection with StartTLS."),
    "ldap_ca_file": ("KB_LDAP_CA_FILE", "PEM file of the CA that signed the directory's certificate (default: the system's)."),
    "ldap_user_dn": ("KB_LDAP_USER_DN", "Bind template with {username}: uid={username},ou=people,dc=example,dc=org or {username}@corp.example."),
    "ldap_bind_dn": ("KB_LDAP_BIND_DN", "Service account that finds users and re-checks them (search then bind)."),
    "ldap_bind_password": ("KB_LDAP_BIND_PASSWORD", "Password of KB_LDAP_BIND_DN."),
    "ldap_user_base": ("KB_LDAP_USER_BASE", "Where users are searched: ou=people,dc=example,dc=org."),
    "ldap_user_filter": ("KB_LDAP_USER_FILTER", "Filter that finds a user, with {username}: (uid={username}); AD: (sAMAccountName={username})."),
    "ldap_roles": ("KB_LDAP_ROLES", "agent=<group DN>;engineer=<group DN>;admin=<group DN>."),
    "ldap_timeout": ("KB_LDAP_TIMEOUT", "Longest wait for the directory to connect or answer."),
    "ldap_recheck": ("KB_LDAP_RECHECK", "How often a signed-in directory account is re-checked in the directory (0: every request)."),
    "auth_header": ("KB_AUTH_HEADER", "Request header a trusted sign-in proxy puts the user name in, e.g. X-Forwarded-User."),
    "auth_groups_header": ("KB_AUTH_GROUPS_HEADER", "Request header with the user's groups (comma-separated), e.g. X-Forwarded-Groups."),
    "auth_proxies": ("KB_AUTH_PROXIES", "Addresses or networks of the sign-in proxy (comma-separated): 10.0.0.5, 10.1.0.0/24."),
    "auth_roles": ("KB_AUTH_ROLES", "agent=<group>;engineer=<group>;admin=<group> for the groups header."),
    "file_types": ("KB_FILE_TYPES", "Extensions of the files articles may show or offer, served from git (comma-separated)."),
    "file_max_mb": ("KB_FILE_MAX_MB", "Largest file an article may show or offer, and an uploaded screenshot, in MB."),
    # Staff sign-in with OpenID Connect providers (kb.core.oidc_config; per provider KB_OIDC_<NAME>_*).
    "oidc_providers": ("KB_OIDC_PROVIDERS", "Names of several OpenID Connect providers (entra,partner); unset: one, from KB_OIDC_ISSUER."),
    "oidc_issuer": ("KB_OIDC_ISSUER", "The provider's issuer URL; its discovery document is <issuer>/.well-known/openid-configuration."),
    "oidc_client_id": ("KB_OIDC_CLIENT_ID", "kb's client id at the provider."),
    "oidc_client_secret": ("KB_OIDC_CLIENT_SECRET", "kb's client secret at the provider."),
    "oidc_scopes": ("KB_OIDC_SCOPES", "Scopes asked for (openid profile email)."),
    "oidc_label": ("KB_OIDC_LABEL", "Text of the sign-in button (default: Sign in with your company account)."),
    "oidc_username_claim": ("KB_OIDC_USERNAME_CLAIM", "Claim with the kb user name (preferred_username)."),
    "oidc_roles_claim": ("KB_OIDC_ROLES_CLAIM", "Claim with the groups or roles (groups; a dotted name reads a nested claim)."),
    "oidc_roles": ("KB_OIDC_ROLES", "agent=<group>;engineer=<group>;admin=<group> for the groups claim."),
    "oidc_session_max": ("KB_OIDC_SESSION_MAX", "Longest a session started with a provider lasts, from its sign-in (12h)."),
    "oidc_clock_skew": ("KB_OIDC_CLOCK_SKEW", "How far the provider's clock may be off when tokens are checked (60s)."),
    "oidc_timeout": ("KB_OIDC_TIMEOUT", "Longest wait for the provider to answer (5s)."),
    "oidc_ca_file": ("KB_OIDC_CA_FILE", "PEM file of the CA that signed the provider's certificate (default: the system's)."),
    "oidc_base_url": ("KB_OIDC_BASE_URL", "Address people open kb at (https://kb.example), for the redirect URL; unset: from the request."),
    "build_procs": ("KB_BUILD_PROCS", "Processes a full keyword build of the articles uses (default: the machine's cores; 1 on a machine that also serves and must keep a core free)."),
    **handoff.ENV_DOC,       # customers' requests to the helpdesk: webhook, SMTP, retries, rate limits
}

KNOWN_ENCODERS = ("minilm", "use3")


def _database_url(value: str, name: str) -> str | None:
    """``postgresql://user[:password]@host[:port]/database``; empty means SQLite in KB_HOME."""
    value = value.strip()
    if not value:
        return None
    shown = value.split("@")[-1] if "@" in value else value
    try:
        parts = urlsplit(value)
        _ = parts.port      # ValueError when the port is not a number
    except ValueError:
        raise ConfigError(f"{name}: malformed URL (…@{shown}): the port must be a number") from None
    if parts.scheme not in ("postgresql", "postgres") or not parts.hostname and not parts.path.strip("/"):
        raise ConfigError(f"{name}: expected postgresql://user:password@host:port/database, got …{shown!r}")
    if not parts.path.strip("/"):
        raise ConfigError(f"{name}: {shown!r} names no database (…/database at the end)")
    return value
def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:          # not on Linux
        return os.cpu_count() or 1


@dataclass(frozen=True)
class Settings:
    home: Path = Path(".kb")
    database_url: str | None = None
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
    # The refresher inside `kb serve` (articles from the git remote, tickets, contributions).
    refresh_seconds: int = 60
    git_remote: str | None = None
    git_branch: str | None = None
    git_webhook_secret: str | None = None
    # Staff sign-in: the company directory and a trusted sign-in proxy (see kb.accounts).
    ldap_url: str | None = None
    ldap_starttls: bool = False
    ldap_ca_file: Path | None = None
    ldap_user_dn: str | None = None
    ldap_bind_dn: str | None = None
    ldap_bind_password: str | None = field(default=None, repr=False)
    ldap_user_base: str | None = None
    ldap_user_filter: str = "(uid={username})"
    ldap_roles: tuple[tuple[str, str], ...] = ()
    ldap_timeout: float = 5.0
    ldap_recheck: float = 60.0
    auth_header: str | None = None
    auth_groups_header: str | None = None
    auth_proxies: tuple[str, ...] = ()
    auth_roles: tuple[tuple[str, str], ...] = ()
    # Files articles reference (images, attachments) and uploaded screenshots (kb.documents).
    file_types: tuple[str, ...] = filetypes.DEFAULT_TYPES
    file_max_mb: float = 10.0
    oidc_providers: tuple = ()           # kb.core.oidc_config.OidcProvider records
    oidc_session_max: float = 12 * 3600.0
    oidc_clock_skew: float = 60.0
    oidc_timeout: float = 5.0
    oidc_ca_file: Path | None = None
    oidc_base_url: str | None = None
    # Index builds.
    build_procs: int = field(default_factory=cores)
    # Customers' requests handed to the helpdesk (kb.requests; parsed and checked by kb.core.handoff).
    request_webhook_url: str | None = None
    request_webhook_secret: str | None = field(default=None, repr=False)
    smtp_url: str | None = field(default=None, repr=False)
    smtp_ca_file: Path | None = None
    support_email: str | None = None
    mail_from: str | None = None
    request_timeout: float = handoff.DEFAULTS["request_timeout"]
    request_retry: float = handoff.DEFAULTS["request_retry"]
    request_limit_address: str = handoff.DEFAULTS["request_limit_address"]
    request_limit_email: str = handoff.DEFAULTS["request_limit_email"]
    # Search tuning (chosen by measurement with `kb eval`; see bench/RESULTS.md).
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> "Settings":
        """Defaults, then KB_* variables from ``env`` (os.environ by default), then overrides."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for name, (var, _) in ENV_DOC.items():
            if var not in env or name.startswith("oidc_"):
                continue
            raw = env[var]
            if name in ("home", "articles"):
                values[name] = Path(raw)
            elif name == "database_url":
                values[name] = _database_url(raw, var)
            elif name == "encoders":
                values[name] = tuple(e.strip() for e in raw.split(",") if e.strip() and e.strip() != "none")
                unknown = [e for e in values[name] if e not in KNOWN_ENCODERS]
                if unknown:
                    raise ConfigError(f"{var}: unknown encoder {unknown[0]!r} "
                                      f"(choose from {', '.join(KNOWN_ENCODERS)}, none)")
            elif name in handoff.ENV_DOC:
                values[name] = handoff.setting(name, raw, var, _duration)
            elif name in ("file_types", "file_max_mb"):
                values[name] = filetypes.setting(name, raw, var)
            elif name.startswith(("ldap_", "auth_")):
                values[name] = signin_config.value(name, raw, var)
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
                          "refresh_seconds", "build_procs"):
                try:
                    values[name] = int(raw)
                except ValueError:
                    raise ConfigError(f"{var}: expected a whole number, got {raw!r}") from None
            else:
                values[name] = raw
        from kb.core import oidc_config
        values.update(oidc_config.load(env))
        for k, v in overrides.items():
            if v is None:
                continue
            if k not in {f.name for f in dataclasses.fields(cls)}:
                raise ConfigError(f"unknown setting {k!r}")
            values[k] = Path(v) if k in ("home", "articles") else v
        s = cls(**values)
        for var, value, low in (("KB_SESSION_HOURS", s.session_hours, 1), ("KB_PROXY_HOPS", s.proxy_hops, 0),
                                ("KB_WORKERS", s.workers, 0), ("KB_THREADS", s.threads, 1),
                                ("KB_REFRESH_SECONDS", s.refresh_seconds, 0), ("KB_BUILD_PROCS", s.build_procs, 1)):
            if value < low:
                raise ConfigError(f"{var}: must be {low} or more, got {value}")
        unknown = [e for e in s.encoders if e not in ("minilm", "use3")]
        if unknown:
            raise ConfigError(f"KB_ENCODERS: unknown encoder {unknown[0]!r} (choose from minilm, use3, none)")
        signin_config.check(s)
        handoff.check(s)
        return s

    def replace(self, **changes: Any) -> "Settings":
        return dataclasses.replace(self, **changes)

    def oidc_provider(self, name: str):
        """The configured OpenID Connect provider called ``name``, or None."""
        return next((p for p in self.oidc_providers if p.name == name), None)

    def first_response_targets(self) -> dict[str, float]:
        """Channel → first-response target in seconds."""
        return {c: getattr(self, f"first_response_{c}") for c in ("phone", "email", "web", "chat")}

    @property
    def file_max_bytes(self) -> int:
        return int(self.file_max_mb * 1048576)

    @property
    def db_path(self) -> Path:
        return self.home / "kb.sqlite"

    @property
    def index_root(self) -> Path:
        return self.home / "index"

    @property
    def models_dir(self) -> Path:
        """What kb keeps to load its models faster (query graph, USE3's files, jieba's dictionary)."""
        return self.home / "models"
