"""What a node remembers of its refresher, in ``KB_HOME/refresh/``: the lock that lets one
process refresh at a time, the time a refresh was last asked for (a push webhook), and
``state.json`` with the last cycles, their results and running totals (read by health,
metrics and tests; written only by the lock holder, replaced in one step).
"""
from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import time
from pathlib import Path
from typing import Iterator

RECENT = 50          # cycles kept in state.json


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


class RefreshState:
    def __init__(self, home: Path):
        self.dir = Path(home) / "refresh"

    @property
    def file(self) -> Path:
        return self.dir / "state.json"

    def read(self) -> dict:
        try:
            return json.loads(self.file.read_text("utf-8"))
        except (FileNotFoundError, ValueError):
            return {}

    def write(self, state: dict) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.dir / f".state.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(state, ensure_ascii=False, indent=1), "utf-8")
        os.replace(tmp, self.file)

    # --- one process at a time -------------------------------------------------------------

    @contextlib.contextmanager
    def lock(self, wait: float | None = 0) -> Iterator[bool]:
        """Hold the node's refresh lock; yields False when it could not be had within ``wait``
        seconds (0: do not wait; None: wait as long as it takes). The lock is an ``flock`` on
        a file, so a process that dies releases it."""
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.dir / "lock", "w") as f:
            deadline = None if wait is None else time.monotonic() + wait
            while True:
                try:
                    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if deadline is not None and time.monotonic() >= deadline:
                        yield False
                        return
                    time.sleep(0.1)
            try:
                yield True
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    # --- asked for by a webhook ------------------------------------------------------------

    def request(self) -> None:
        """Ask for a refresh as soon as possible (any worker's refresher picks it up)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        path = self.dir / "requested"
        path.touch()
        os.utime(path)

    def requested_at(self) -> float:
        try:
            return (self.dir / "requested").stat().st_mtime
        except FileNotFoundError:
            return 0.0

    # --- cycles ----------------------------------------------------------------------------

    def last_started(self) -> float:
        """Unix time the last cycle started (0 when none ever ran)."""
        return float(self.read().get("last", {}).get("started", 0.0))

    def record(self, cycle: dict, embedded: dict[str, dict[str, int]]) -> dict:
        """Add one finished cycle (its ``started``, ``seconds``, ``result``, ``error`` …) to the
        totals and the recent list."""
        state = self.read()
        state["last"] = cycle
        state["runs"] = state.get("runs", 0) + 1
        state["failures"] = state.get("failures", 0) + (cycle["result"] == "failed")
        state["seconds_total"] = round(state.get("seconds_total", 0.0) + cycle["seconds"], 3)
        if cycle["result"] == "ok":
            state["last_success"] = cycle["finished_at"]
        totals = state.setdefault("embeddings", {})
        for encoder, counts in embedded.items():
            mine = totals.setdefault(encoder, {"computed": 0, "cached": 0})
            for k in ("computed", "cached"):
                mine[k] += int(counts.get(k, 0))
        state["recent"] = (state.get("recent", []) + [{k: cycle[k] for k in (
            "started", "started_at", "seconds", "result", "trigger", "pid")}])[-RECENT:]
        self.write(state)
        return state
