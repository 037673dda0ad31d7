"""Whether the company directory answers, as this process last saw it. Every directory sign-in,
session re-check and probe reports here; the login form, the admin sign-in page and the health
endpoint read it through ``state()``, which probes (connect and bind, short timeout) when the
last word is older than PROBE_EVERY seconds. While the directory is failing, session re-checks
wait RETRY_AFTER seconds between attempts instead of making every request wait for a timeout.
"""
from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass

from kb.accounts.directory import Directory
from kb.core.config import Settings
from kb.core.errors import DirectoryUnavailable

PROBE_EVERY = 15.0
PROBE_TIMEOUT = 2.0
RETRY_AFTER = 30.0


@dataclass
class _Seen:
    ok_at: str | None = None          # wall-clock times, for people
    error_at: str | None = None
    error: str | None = None
    failing: bool = False
    heard: float = 0.0                # monotonic time of the last word either way


_lock = threading.Lock()
_seen: dict[str, _Seen] = {}          # by KB_LDAP_URL


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _get(settings: Settings) -> _Seen:
    return _seen.setdefault(settings.ldap_url or "", _Seen())


def reported_ok(settings: Settings) -> None:
    with _lock:
        seen = _get(settings)
        seen.ok_at, seen.failing, seen.heard = _now(), False, time.monotonic()


def reported_failure(settings: Settings, reason: str) -> None:
    with _lock:
        seen = _get(settings)
        seen.error_at, seen.error, seen.failing, seen.heard = _now(), reason, True, time.monotonic()


def failing_recently(settings: Settings) -> bool:
    """The directory failed within RETRY_AFTER seconds and has not answered since."""
    with _lock:
        seen = _get(settings)
        return seen.failing and time.monotonic() - seen.heard < RETRY_AFTER


def state(settings: Settings, probe: bool = True) -> dict:
    """``{"status": "off"}`` without a directory; else ``status`` ``ok`` or ``degraded``, when it
    last answered and last failed, and the reason of a current failure."""
    if not settings.ldap_url:
        return {"status": "off"}
    if probe:
        with _lock:
            stale = time.monotonic() - _get(settings).heard >= PROBE_EVERY
            if stale:
                _get(settings).heard = time.monotonic()     # one probe at a time
        if stale:
            try:
                Directory(settings, timeout=min(PROBE_TIMEOUT, settings.ldap_timeout)).probe()
                reported_ok(settings)
            except DirectoryUnavailable as e:
                reported_failure(settings, str(e))
    with _lock:
        seen = _get(settings)
        return {"status": "degraded" if seen.failing else "ok", "last_ok_at": seen.ok_at,
                "last_error_at": seen.error_at, "error": seen.error if seen.failing else None}
