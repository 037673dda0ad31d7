"""Scoring one query vector against a chunk matrix: exactly, or in two stages when it is large.

A query's cost at scale is reading the float32 matrix: 619k chunks × 512 dimensions is 1.3 GB
per query, ~85 ms on one core, memory-bound. Up to ``kb.core.projection.EXACT_ROWS`` rows (and
whenever the filters leave no more rows than the shortlist) every allowed row is scored
exactly. Above it the generation also holds the rows projected onto the matrix's top principal
directions (kb/core/projection.py). A query is scored against the projection first, filters
applied before the cut, and only the ``SHORTLIST`` best rows are re-scored exactly: every
similarity that reaches fusion is exact, the approximation only decides which rows are read in
full.

Measured at 100k articles (619k chunks, `bench/search.py`): 96 dimensions and 10,000 rows keep
every one of the exact top 10 articles and 99.8 % of the top 100, for both encoders, while
reading a quarter of the bytes (bench/RESULTS.md, "Search"); the projected rows are laid out by
language, so a query reads only those of the rows its encoder scores.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from kb.core.encoders import one_blas_thread
from kb.core.projection import Projection

SHORTLIST: int | None = None   # rows re-scored exactly after the projected pass (None: by size)
SHORTLIST_SHARE = 1 / 62       # 10,000 of the 619k rows of 100k articles, where it was measured
MIN_SHORTLIST = 1_000          # ten times the candidate articles search keeps


def shortlist_for(rows: int) -> int:
    """Rows re-scored exactly for a matrix of ``rows``: re-scoring gathers rows one by one, so
    at 62k rows a shortlist of 10,000 cost more than the exact product (16 ms against 11)."""
    return SHORTLIST or max(MIN_SHORTLIST, round(rows * SHORTLIST_SHARE))


def scores(matrix: np.ndarray, qv: np.ndarray, weight: np.ndarray, ok: np.ndarray,
           projection: Projection | None = None, shortlist: int | None = None, group: str = "all") -> np.ndarray:
    """Per row of ``matrix``: its similarity to ``qv`` times ``weight``; -inf where ``ok`` is
    False and, in the two-stage scan, for rows the projected pass did not shortlist. ``group``
    names the projected rows that may be ``ok`` (all, zh, not-zh): only those are read."""
    shortlist = shortlist or shortlist_for(len(matrix))
    out = np.full(len(matrix), -np.inf, dtype=np.float32)
    n_ok = int(np.count_nonzero(ok))
    with one_blas_thread():
        if projection is None and n_ok * 2 >= len(matrix):     # most rows allowed: read them all
            np.multiply(matrix @ qv, weight, out=out)
            out[~ok] = -np.inf
        elif projection is None or n_ok <= shortlist:          # few rows allowed: read just those
            allowed = np.flatnonzero(ok)
            if n_ok:
                out[allowed] = (matrix[allowed] @ qv) * weight[allowed]
        else:
            rows, ids = projection.group(group)
            rough = rows @ (projection.basis.T @ qv)
            rough *= weight[ids]
            rough[~ok[ids]] = -np.inf                          # filters apply before the cut
            best = np.sort(ids[np.argpartition(-rough, shortlist - 1)[:shortlist]])
            out[best] = (matrix[best] @ qv) * weight[best]
    return out


class FileRows:
    """The rows of a ``.npy`` matrix read from its file when asked for (``rows[idx]``, sorted
    indices), not mapped: what a two-stage scan re-scores of a matrix too large to keep in a
    server's memory (a million tickets are 3.5 GB of vectors). The rows read stay in the page
    cache, which the kernel reclaims, never in the process."""

    def __init__(self, path: Path):
        mapped = np.load(path, mmap_mode="r")      # the header only: shape, dtype, data offset
        self.shape, self.dtype, self._offset = mapped.shape, mapped.dtype, mapped.offset
        self._row = int(np.prod(self.shape[1:])) * self.dtype.itemsize
        del mapped
        self._fd = os.open(path, os.O_RDONLY)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        out = np.empty((len(rows), *self.shape[1:]), dtype=self.dtype)
        if not len(rows):
            return out
        starts = np.flatnonzero(np.diff(rows, prepend=rows[0] - 2) != 1)      # runs of consecutive rows
        ends = np.append(starts[1:], len(rows))
        flat = out.reshape(len(rows), -1).view(np.uint8)
        for a, b in zip(starts.tolist(), ends.tolist()):
            want = (b - a) * self._row
            got = os.pread(self._fd, want, self._offset + int(rows[a]) * self._row)
            if len(got) != want:
                raise OSError(f"short read from a vector file: {len(got)} of {want} bytes")
            flat[a:b] = np.frombuffer(got, dtype=np.uint8).reshape(b - a, -1)
        return out

    def __del__(self):
        try:
            os.close(self._fd)
        except (OSError, AttributeError):
            pass
