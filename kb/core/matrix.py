"""A generation's vector matrix of one encoder, as search and the indexer read it: a row per
chunk row, in the order of the chunk table (kb/core/tables.py).

It is kept in one of two ways. A full build writes one file, ``vec-<encoder>.npy``. An
incremental build of a large matrix (one with a projection, kb/core/projection.py) does not
copy the rows that did not change: the new generation hard-links the file of the rows it shares
with earlier generations (``vec-<encoder>.base.npy``; a file is never changed once written, so
every generation linking it reads the same rows), writes the rows made since that file was
written in a small ``vec-<encoder>.tail.npy``, and says ``where`` each of its rows is
(``vec-<encoder>.where.npy``: a row of the base, or of the tail after it). Rows of the base that
no chunk uses any more stay in it unread. When the tail and those unused rows grow past
``COMPACT_SHARE`` of the matrix, the next build writes one file again.

Measured at 100k articles (bench/RESULTS.md): a build after one edit copied 2.2 GB of vectors
and 0.5 GB of projections, about 7 s of its 28 s; shared, it writes a few kilobytes of tail.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

COMPACT_SHARE = 1 / 32      # tail rows and unused base rows beyond this share of the rows: one file again


def files(generation: Path, encoder: str) -> tuple[Path, Path, Path, Path]:
    """(single file, shared base, tail, where) of ``encoder``'s matrix in ``generation``."""
    g = Path(generation)
    return (g / f"vec-{encoder}.npy", g / f"vec-{encoder}.base.npy", g / f"vec-{encoder}.tail.npy",
            g / f"vec-{encoder}.where.npy")


def exists(generation: Path, encoder: str) -> bool:
    single, base, _, _ = files(generation, encoder)
    return single.exists() or base.exists()


class SharedRows:
    """A matrix kept as a shared base and a tail (see the module's docstring), read like a
    mapped array where search reads it: ``rows[idx]`` (indices, a mask or a slice) gathers the
    rows, ``rows @ v`` scores every row. Nothing is copied when it is opened."""

    def __init__(self, base: np.ndarray, tail: np.ndarray, where: np.ndarray):
        self.base, self.tail, self.where = base, tail, where
        self.shape = (len(where), base.shape[1])
        self.dtype = base.dtype
        self.ndim = 2

    @property
    def size(self) -> int:
        return self.shape[0] * self.shape[1]

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, rows) -> np.ndarray:
        if isinstance(rows, slice):
            rows = np.arange(*rows.indices(len(self)))
        elif np.isscalar(rows):
            return self[np.array([rows])][0]
        rows = np.asarray(rows)
        if rows.dtype == bool:
            rows = np.flatnonzero(rows)
        at = np.asarray(self.where[rows], dtype=np.int64)
        in_tail = np.flatnonzero(at >= len(self.base))
        if not len(in_tail):
            return self.base[at]
        # one gather from the base (the tail's rows read base row 0 meanwhile), then the few
        # tail rows: a shortlist of 10,000 rows is 20 MB, not to be copied twice
        tail_at = at[in_tail] - len(self.base)
        at[in_tail] = 0
        out = self.base[at]
        out[in_tail] = self.tail[tail_at]
        return out

    def __matmul__(self, v: np.ndarray) -> np.ndarray:
        both = np.concatenate([self.base @ v, self.tail @ v])
        return both[np.asarray(self.where)]

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = self[np.arange(len(self))]
        return out if dtype is None else out.astype(dtype)

    def unused(self) -> int:
        """Rows of the base no row of this matrix is."""
        return len(self.base) - int(np.count_nonzero(np.asarray(self.where) < len(self.base)))


def load(generation: Path, encoder: str) -> np.ndarray | SharedRows | None:
    """``encoder``'s matrix in ``generation``, mapped read-only (None: it has none)."""
    single, base, tail, where = files(generation, encoder)
    if single.exists():
        return np.load(single, mmap_mode="r")
    if not base.exists():
        return None
    return SharedRows(np.load(base, mmap_mode="r"), np.load(tail, mmap_mode="r"), np.load(where, mmap_mode="r"))


def touch(matrix) -> None:
    """Read every page of a mapped matrix once (into the page cache every worker shares)."""
    for part in (matrix.base, matrix.tail) if isinstance(matrix, SharedRows) else (matrix,):
        if part.size:
            float(np.asarray(part).reshape(-1)[::1024].sum())     # one read per 4 KB page


def base_of(matrix) -> tuple[np.ndarray, np.ndarray]:
    """(the rows a new generation can share, each row's row in them or -1): a single file is
    shared whole; a shared matrix's base is shared, its tail is not."""
    if isinstance(matrix, SharedRows):
        at = np.asarray(matrix.where, dtype=np.int64)
        return matrix.base, np.where(at < len(matrix.base), at, -1)
    return matrix, np.arange(len(matrix), dtype=np.int64)


def write_shared(generation: Path, encoder: str, base_file: Path, tail: np.ndarray, where: np.ndarray) -> SharedRows:
    """Write a shared matrix: ``base_file`` hard-linked (OSError where the file system cannot),
    ``tail`` and ``where`` written; returned mapped."""
    _, base, tail_file, where_file = files(generation, encoder)
    os.link(base_file, base)
    np.save(tail_file, np.ascontiguousarray(tail, dtype=np.float32))
    np.save(where_file, np.asarray(where, dtype=np.int32))
    return SharedRows(np.load(base, mmap_mode="r"), np.load(tail_file, mmap_mode="r"), np.load(where_file, mmap_mode="r"))


def base_file(generation: Path, encoder: str) -> Path:
    """The file a new generation links as its shared base: the single file, or the shared base."""
    single, base, _, _ = files(generation, encoder)
    return single if single.exists() else base
