"""The positions of the ``k`` largest values of a large score array (a million tickets' keyword
scores, half a million projected similarities), without partitioning all of it.

``np.argpartition`` over a million float32 values takes 10–20 ms on this machine. The ``k``-th
largest value of any subset is no larger than the ``k``-th largest of the whole, so the ``k``-th
largest of an evenly spaced sample of about √(nk) values is a floor: one comparison pass keeps
the values at or above it (about √(nk) of them), and only those are partitioned. The positions
are those argpartition gives, ties at the ``k``-th place aside.
"""
from __future__ import annotations

import numpy as np


def largest(values: np.ndarray, k: int) -> np.ndarray:
    """Positions of the ``k`` largest of ``values`` (a 1-d array), in no particular order."""
    n = len(values)
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    if k >= n:
        return np.arange(n, dtype=np.int64)
    stride = int(np.sqrt(n / k))
    if stride < 4:                          # a sample would save little
        return np.argpartition(values, n - k)[n - k:]
    sample = np.array(values[::stride])
    floor = np.partition(sample, len(sample) - k)[len(sample) - k]
    keep = np.flatnonzero(values >= floor)  # at least the k sampled values at or above it
    return keep[np.argpartition(values[keep], len(keep) - k)[len(keep) - k:]]
