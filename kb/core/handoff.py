"""The settings of handing customers' requests to the helpdesk (kb.requests): where they go (a
signed webhook, e-mail through SMTP, or both), how long one delivery attempt may take, how soon a
failed one is tried again, and how many requests one address or one e-mail may send. Parsed
here so kb/core/config.py only lists them; each bad value is a ConfigError naming its variable.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from kb.core.errors import ConfigError

ENV_DOC: dict[str, tuple[str, str]] = {
    "request_webhook_url": ("KB_REQUEST_WEBHOOK_URL", "The helpdesk's endpoint that receives each customer request as signed JSON (http:// or https://)."),
    "request_webhook_secret": ("KB_REQUEST_WEBHOOK_SECRET", "Secret shared with the helpdesk for the HMAC-SHA256 signature of each webhook (at least 16 characters)."),
    "smtp_url": ("KB_SMTP_URL", "Mail server for requests by e-mail: smtp://user:password@host:587 (STARTTLS) or smtps://user:password@host:465 (TLS)."),
    "smtp_ca_file": ("KB_SMTP_CA_FILE", "PEM file of the CA that signed the mail server's certificate (default: the system's)."),
    "support_email": ("KB_SUPPORT_EMAIL", "The support address customer requests are mailed to (required with KB_SMTP_URL)."),
    "mail_from": ("KB_MAIL_FROM", "Sender address of those mails (default: KB_SUPPORT_EMAIL)."),
    "request_timeout": ("KB_REQUEST_TIMEOUT", "Longest time one delivery attempt (webhook or mail) may take."),
    "request_retry": ("KB_REQUEST_RETRY", "Wait before the first retry of a failed delivery; it doubles with each failure, up to an hour."),
    "request_limit_address": ("KB_REQUEST_LIMIT_ADDRESS", "Posts of the request form one client address may make, e.g. 20/hour (Flask-Limiter's notation; several with ';')."),
    "request_limit_email": ("KB_REQUEST_LIMIT_EMAIL", "Requests one customer e-mail address may send, e.g. 5/hour."),
}
DEFAULTS: dict[str, Any] = {
    "request_webhook_url": None, "request_webhook_secret": None, "smtp_url": None, "smtp_ca_file": None,
    "support_email": None, "mail_from": None, "request_timeout": 10.0, "request_retry": 30.0,
    "request_limit_address": "20/hour", "request_limit_email": "5/hour",
}
SMTP_PORTS = {"smtp": 587, "smtps": 465}


def email_ok(value: str) -> bool:
    """A plain ``local@domain.tld`` address: no spaces, no line breaks, no display name."""
    local, at, domain = value.rpartition("@")
    return (bool(at and local and "." in domain.strip(".")) and len(value) <= 254
            and not any(c.isspace() or c in '<>(),;:"[]\\' for c in value) and ".." not in domain)


def setting(name: str, raw: str, var: str, duration) -> Any:
    """One variable's value, checked. ``duration`` parses ``30s``/``5m`` (config's own)."""
    value = raw.strip()
    if name in ("request_timeout", "request_retry"):
        return duration(value, var)
    if not value:
        raise ConfigError(f"{var}: empty (unset it instead)")
    if name == "request_webhook_url":
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"{var}: expected an http:// or https:// URL, got {value!r}")
        return value
    if name == "request_webhook_secret":
        if len(value) < 16:
            raise ConfigError(f"{var}: too short ({len(value)} characters): use at least 16 random characters")
        return value
    if name == "smtp_url":
        return smtp_url(value, var)
    if name == "smtp_ca_file":
        if not Path(value).is_file():
            raise ConfigError(f"{var}: no such file {value!r}")
        return Path(value)
    if name in ("support_email", "mail_from"):
        if not email_ok(value):
            raise ConfigError(f"{var}: {value!r} is not an e-mail address such as support@example.com")
        return value
    return rate_limit(value, var)


def smtp_url(value: str, var: str) -> str:
    parts = urlsplit(value)
    shown = value.split("@")[-1]
    try:
        _ = parts.port
    except ValueError:
        raise ConfigError(f"{var}: the port of …@{shown} is not a number") from None
    if parts.scheme not in SMTP_PORTS or not parts.hostname or parts.path not in ("", "/") or parts.query:
        raise ConfigError(f"{var}: expected smtp://user:password@host:587 (STARTTLS) or "
                          f"smtps://user:password@host:465 (TLS), got …{shown!r}")
    if parts.username and parts.password is None:
        raise ConfigError(f"{var}: a user is given without a password (…{shown!r})")
    return value


def smtp_parts(url: str) -> dict:
    """host, port, tls (``starttls`` or ``tls``), user and password of a checked KB_SMTP_URL."""
    p = urlsplit(url)
    return {"host": p.hostname, "port": p.port or SMTP_PORTS[p.scheme],
            "tls": "tls" if p.scheme == "smtps" else "starttls",
            "user": unquote(p.username) if p.username else None,
            "password": unquote(p.password) if p.password is not None else None}


def rate_limit(value: str, var: str) -> str:
    from limits import parse_many
    try:
        parse_many(value)
    except ValueError:
        raise ConfigError(f"{var}: expected a rate such as 5/hour or 20 per hour;100 per day, got {value!r}") from None
    return value


def check(s) -> None:
    """Settings that only make sense together: one line naming the variable that is missing."""
    if bool(s.request_webhook_url) != bool(s.request_webhook_secret):
        raise ConfigError("KB_REQUEST_WEBHOOK_SECRET: required with KB_REQUEST_WEBHOOK_URL" if s.request_webhook_url
                          else "KB_REQUEST_WEBHOOK_URL: required with KB_REQUEST_WEBHOOK_SECRET")
    if s.smtp_url and not s.support_email:
        raise ConfigError("KB_SUPPORT_EMAIL: required with KB_SMTP_URL (the address requests are mailed to)")
    for name in ("support_email", "mail_from", "smtp_ca_file"):
        if getattr(s, name) and not s.smtp_url:
            raise ConfigError(f"{ENV_DOC[name][0]}: is set but KB_SMTP_URL is not")
