"""Whether a service staff sign in through (the company directory, an OpenID Connect provider)
answers, as this process last saw it: every sign-in and probe reports its outcome here, and
``state`` probes again when the last word is older than ``probe_every`` seconds (one probe at a
time). kb.accounts.directory_status and kb.accounts.oidc_status keep one each."""
from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass
from typing import Callable


@dataclass
class _Seen:
    ok_at: str | None = None          # wall-clock times, for people
    error_at: str | None = None
    error: str | None = None
    failing: bool = False
    heard: float = 0.0                # monotonic time of the last word either way


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


class Reachability:
    """What was last seen of each service, by a key (its URL or name)."""

    def __init__(self, probe_every: float):
        self.probe_every = probe_every
        self._lock = threading.Lock()
        self._seen: dict[str, _Seen] = {}

    def _get(self, key: str) -> _Seen:
        return self._seen.setdefault(key, _Seen())

    def ok(self, key: str) -> None:
        with self._lock:
            seen = self._get(key)
            seen.ok_at, seen.failing, seen.heard = _now(), False, time.monotonic()

    def failed(self, key: str, reason: str) -> None:
        with self._lock:
            seen = self._get(key)
            seen.error_at, seen.error, seen.failing, seen.heard = _now(), reason, True, time.monotonic()

    def failing_within(self, key: str, seconds: float) -> bool:
        """It failed within ``seconds`` and has not answered since."""
        with self._lock:
            seen = self._get(key)
            return seen.failing and time.monotonic() - seen.heard < seconds

    def state(self, key: str, probe: Callable[[], None] | None, errors: tuple[type[Exception], ...]) -> dict:
        """``status`` ``ok`` or ``degraded``, when it last answered and failed, and the reason of a
        current failure; ``probe`` (raising one of ``errors`` when it fails) runs when the last
        word is stale."""
        if probe is not None:
            with self._lock:
                stale = time.monotonic() - self._get(key).heard >= self.probe_every
                if stale:
                    self._get(key).heard = time.monotonic()     # one probe at a time
            if stale:
                try:
                    probe()
                    self.ok(key)
                except errors as e:
                    self.failed(key, str(e))
        with self._lock:
            seen = self._get(key)
            return {"status": "degraded" if seen.failing else "ok", "last_ok_at": seen.ok_at,
                    "last_error_at": seen.error_at, "error": seen.error if seen.failing else None}
