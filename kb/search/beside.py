"""The thread a search runs its second encoder on: one per process, shared by every Searcher
in it, made again in a forked server worker. A search takes it only when no other search of the
process has it, and otherwise runs its encoders in turn, so searches never queue for it."""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

_pid = -1
_pool: ThreadPoolExecutor | None = None
_free = threading.Semaphore(1)


def take() -> ThreadPoolExecutor | None:
    """The thread, now this search's until ``give_back``; None while another search has it."""
    global _pid, _pool, _free
    if _pid != os.getpid():                 # a new process (a fork): its own thread, free
        _pid, _pool, _free = os.getpid(), ThreadPoolExecutor(max_workers=1, thread_name_prefix="kb-vectors"), \
            threading.Semaphore(1)
    return _pool if _free.acquire(blocking=False) else None


def give_back() -> None:
    _free.release()
