"""The refresher inside `kb serve`: a daemon thread in every worker process, of which exactly
one runs each cycle.

Every few seconds each worker's thread asks: is a cycle due (``KB_REFRESH_SECONDS`` since the
last one started, on any worker of this node), or did a push webhook ask for one since? If so
it tries the node's refresh lock without waiting; the holder checks again under the lock (a
cycle another worker just ran counts) and runs it with the worker's own, already loaded,
encoders. Every worker then serves the new generation, since each Searcher follows the live
one. A webhook wakes the thread of the worker that received it at once.
"""
from __future__ import annotations

import logging
import threading
import time

from kb.core.config import Settings
from kb.core.encoders import EncoderPool
from kb.service.refresh import RefreshReport, run_and_record
from kb.service.state import RefreshState

log = logging.getLogger("kb.service.refresher")
POLL_SECONDS = 2.0       # how often a worker looks whether a cycle is due


class Refresher:
    def __init__(self, settings: Settings, pool: EncoderPool | None = None, on_cycle=None):
        self.settings = settings
        self.pool = pool
        self.state = RefreshState(settings.home)
        self.on_cycle = on_cycle          # called with each RefreshReport this worker ran
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def interval(self) -> int:
        return self.settings.refresh_seconds

    def start(self) -> "Refresher":
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="kb-refresher", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def request(self) -> None:
        """A push arrived: refresh as soon as possible (this worker at once, or another one)."""
        self.state.request()
        self._wake.set()

    def due(self, now: float | None = None) -> str | None:
        """Why a cycle should run now ("webhook" or "periodic"), or None."""
        now = time.time() if now is None else now
        last, asked = self.state.last_started(), self.state.requested_at()
        if asked and asked >= last:           # asked for after the last cycle began
            return "webhook"
        if self.interval > 0 and now - last >= self.interval:
            return "periodic"
        return None

    def run_if_due(self) -> RefreshReport | None:
        """One cycle if one is due and no other process of this node is running one."""
        if self.due() is None:
            return None
        with self.state.lock(wait=0) as got:
            if not got:
                return None
            trigger = self.due()           # again, under the lock: another worker may just have run it
            if trigger is None:
                return None
            report = run_and_record(self.settings, self.pool, trigger, self.state)
        if report.result == "failed":
            log.warning("refresh (%s) failed after %.1f s: %s", trigger, report.seconds, report.error)
        elif report.changed():
            log.info("refresh (%s) in %.1f s: %s; %s", trigger, report.seconds, report.articles.message,
                     report.tickets.message)
        if self.on_cycle is not None:
            self.on_cycle(report)
        return report

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_if_due()
            except Exception:      # never let the thread die: log it and try again next time
                log.exception("refresher: unexpected error")
            self._wake.wait(POLL_SECONDS)
            self._wake.clear()
