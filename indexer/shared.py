"""An incremental build's large matrices written as rows shared with the live generation
(kb/core/matrix.py), with their projections (kb/core/projection.py): the rows the live
generation already holds in its base are linked, not copied; every other row — new, changed,
or in the live tail — goes to a new tail, laid out by language group and projected anew.

Only when the live matrix has a projection (more than ``projection.EXACT_ROWS`` rows): smaller
matrices are rewritten whole, which costs little. ``write`` answers False, and the caller
writes one file, when the tail and the base rows no chunk uses any more would pass
``matrix.COMPACT_SHARE`` of the rows, or when the file system cannot link.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from kb.core import matrix as matrices
from kb.core import projection
from kb.core.projection import Projection


def write(gen: Path, live: Path, encoder: str, n: int, dim: int, old, before: Projection | None,
          src: np.ndarray, need_rows: np.ndarray, fresh_rows: np.ndarray | None, zh: np.ndarray) -> bool:
    """Write ``encoder``'s matrix of ``n`` rows and its projection in generation ``gen`` as
    shared with the live generation at ``live`` (its matrix ``old`` and projection ``before``):
    row i is the live row ``src[i]`` where that is not -1 (a row the encoder does not read is
    zero there too), the i-th of ``fresh_rows`` where it is in ``need_rows``, else zero. False:
    nothing was written."""
    if before is None or not projection.needs_projection(n):
        return False
    base, base_at = matrices.base_of(old)
    at = np.full(n, -1, dtype=np.int64)
    taken = np.flatnonzero(src >= 0)
    at[taken] = base_at[src[taken]]
    outside = np.flatnonzero(at < 0)
    if len(outside) + len(base) - (n - len(outside)) > matrices.COMPACT_SHARE * n:
        return False
    zh = np.asarray(zh, dtype=bool)
    tail_rows = np.concatenate([outside[~zh[outside]], outside[zh[outside]]])
    tail = np.zeros((len(tail_rows), dim), dtype=np.float32)
    from_live = src[tail_rows] >= 0
    if from_live.any():
        tail[from_live] = old[src[tail_rows[from_live]]]
    if fresh_rows is not None and len(need_rows):
        fresh_at = np.full(n, -1, dtype=np.int64)
        fresh_at[need_rows] = np.arange(len(need_rows))
        got = fresh_at[tail_rows]
        tail[got >= 0] = fresh_rows[got[got >= 0]]
    where = at
    where[tail_rows] = len(base) + np.arange(len(tail_rows))
    try:
        matrices.write_shared(gen, encoder, matrices.base_file(live, encoder), tail, where)
        projected = Projection(before.basis, tail @ before.basis, tail_rows.astype(np.int32),
                               int(np.count_nonzero(~zh[tail_rows])))
        projection.save_shared(gen, encoder, live, before.basis, where, len(base), projected)
    except OSError:
        for f in (*matrices.files(gen, encoder), *projection.files(gen, encoder), *projection.shared_files(gen, encoder)):
            Path(f).unlink(missing_ok=True)
        return False
    return True
