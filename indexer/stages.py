"""How long each stage of an index build took: the figures `kb index` closes with."""
from __future__ import annotations

import time


class Stages:
    """Seconds per stage of a build, each stage timed from the end of the one before, so the
    stages add up to the whole."""

    def __init__(self, timings: dict[str, float]):
        self.timings = timings
        self.start = self.last = time.perf_counter()

    def done(self, name: str) -> None:
        now = time.perf_counter()
        self.timings[name] = self.timings.get(name, 0.0) + now - self.last
        self.last = now

    def total(self) -> float:
        return time.perf_counter() - self.start
