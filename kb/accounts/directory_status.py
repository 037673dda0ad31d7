"""Whether the company directory answers, as this process last saw it. Every directory sign-in,
session re-check and probe reports here; the login form, the admin sign-in page and the health
endpoint read it through ``state()``, which probes (connect and bind, short timeout) when the
last word is older than PROBE_EVERY seconds. While the directory is failing, session re-checks
wait RETRY_AFTER seconds between attempts instead of making every request wait for a timeout.
"""
from __future__ import annotations

from kb.accounts.directory import Directory
from kb.accounts.reachability import Reachability
from kb.core.config import Settings
from kb.core.errors import DirectoryUnavailable

PROBE_EVERY = 15.0
PROBE_TIMEOUT = 2.0
RETRY_AFTER = 30.0

_seen = Reachability(PROBE_EVERY)     # by KB_LDAP_URL


def reported_ok(settings: Settings) -> None:
    _seen.ok(settings.ldap_url or "")


def reported_failure(settings: Settings, reason: str) -> None:
    _seen.failed(settings.ldap_url or "", reason)


def failing_recently(settings: Settings) -> bool:
    """The directory failed within RETRY_AFTER seconds and has not answered since."""
    return _seen.failing_within(settings.ldap_url or "", RETRY_AFTER)


def state(settings: Settings, probe: bool = True) -> dict:
    """``{"status": "off"}`` without a directory; else ``status`` ``ok`` or ``degraded``, when it
    last answered and last failed, and the reason of a current failure."""
    if not settings.ldap_url:
        return {"status": "off"}
    def check() -> None:
        Directory(settings, timeout=min(PROBE_TIMEOUT, settings.ldap_timeout)).probe()
    return _seen.state(settings.ldap_url, check if probe else None, (DirectoryUnavailable,))
