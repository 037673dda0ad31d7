"""The stages of one search, timed in milliseconds so that they add up to the whole: what
``--explain`` and the API's ``timings`` show."""
from __future__ import annotations

import time


class Clock:
    """The stages of one search in milliseconds, each timed from the end of the one before,
    so that they add up to the whole (``took_ms``)."""

    def __init__(self):
        self.ms: dict[str, float] = {}
        self._last = time.perf_counter()

    def add(self, laps: dict[str, float]) -> None:
        """Stages timed elsewhere (on threads side by side), then the clock goes on from now:
        the wall time they took together is shared out among them in proportion."""
        now = time.perf_counter()
        wall, summed = (now - self._last) * 1000, sum(laps.values()) or 1.0
        for stage, ms in laps.items():
            self.ms[stage] = round(self.ms.get(stage, 0.0) + wall * ms / summed, 3)
        self._last = now

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.ms[stage] = round(self.ms.get(stage, 0.0) + (now - self._last) * 1000, 3)
        self._last = now

    def total(self) -> float:
        return round(sum(self.ms.values()), 3)
