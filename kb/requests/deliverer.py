"""The deliverer inside `kb serve`: a daemon thread in every worker process that sends the
stored requests that are due (kb/requests/delivery.py). Every worker of every node runs one;
the lease in the database lets exactly one of them send each delivery. It looks every
``POLL_SECONDS``, and at once when this worker has just accepted a request (``wake``).
"""
from __future__ import annotations

import logging
import threading

from kb.core import store
from kb.requests.delivery import deliver_due, worker_name
from kb.requests.records import channels

log = logging.getLogger("kb.requests")
POLL_SECONDS = 2.0


class Deliverer:
    def __init__(self, settings, poll: float = POLL_SECONDS):
        self.settings = settings
        self.poll = poll
        self.delivered = 0                # deliveries this thread made (tests, logs)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> "Deliverer":
        if self._thread is None and channels(self.settings):
            self._thread = threading.Thread(target=self._loop, name="kb-deliverer", daemon=True)
            self._thread.start()
        return self

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        worker = worker_name()
        db = None
        while not self._stop.is_set():
            try:
                db = db or store.connect(self.settings)
                self.delivered += sum(o.ok for o in deliver_due(self.settings, worker=worker, db=db))
            except Exception:        # never let the thread die: the database may be back next time
                log.exception("deliverer: unexpected error")
                if db is not None:
                    db.close()
                    db = None
            self._wake.wait(self.poll)
            self._wake.clear()
        if db is not None:
            db.close()
