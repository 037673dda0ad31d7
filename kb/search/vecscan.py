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
language, so a query reads only those of the rows its encoder scores. A projection partitioned
into cells (the ticket index's, kb/core/cells.py) is read only in the cells nearest the query.
The matrix may be kept as rows shared between generations (kb/core/matrix.py): its projection
is then read in pieces, and the shared rows no chunk uses any more are never scored.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from kb.core import cells, topk
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
            qp = projection.basis.T @ qv
            if projection.centroids is None:
                pieces = projection.pieces(group)
                rough = _rough(pieces, qp)
                ids = np.asarray(pieces[0][1]) if len(pieces) == 1 else np.concatenate([i for _, i in pieces])
                if projection.tail is not None:                # a shared base: rows no chunk uses are never read
                    rough, ids = rough[ids >= 0], ids[ids >= 0]
            else:                                              # the rows of the nearest cells
                rows, ids = projection.rows, projection.order
                least = max(cells.PROBE_MIN * shortlist, round(cells.PROBE_SHARE * projection.size(group)))
                narrowed = ok[ids] if n_ok < projection.size(group) else None    # count allowed rows only
                spans = projection.near(group, qp, least, narrowed)
                rough = np.concatenate([rows[a:b] @ qp for a, b in spans])
                ids = np.concatenate([ids[a:b] for a, b in spans])
            rough *= weight[ids]
            rough[~ok[ids]] = -np.inf                          # filters apply before the cut
            pick = topk.largest(rough, shortlist)
            best = np.sort(ids[pick[np.isfinite(rough[pick])]])   # the cells may hold few allowed rows
            out[best] = (matrix[best] @ qv) * weight[best]
    return out


def _rough(pieces: list[tuple[np.ndarray, np.ndarray]], qp: np.ndarray) -> np.ndarray:
    """The projected pass over a projection's pieces: one product, not copied when there is
    one piece (a generation written whole)."""
    return pieces[0][0] @ qp if len(pieces) == 1 else np.concatenate([rows @ qp for rows, _ in pieces])


class FileRows:
    """The rows of a ``.npy`` matrix too large to keep in a server's memory (a million tickets
    are 3.5 GB of vectors), read from its file when asked for (``rows[idx]``): one ``preadv`` a
    row, straight into the result. The rows read stay in the page cache, which the kernel
    reclaims as it needs, never in the process. Re-scoring 2,000 rows this way takes 5 ms where
    copying them out of a mapping and releasing its pages (MADV_DONTNEED, else fault-around
    maps the whole file into every worker within a few hundred queries) took 17 ms
    (bench/similar.py)."""

    def __init__(self, path: Path):
        mapped = np.load(path, mmap_mode="r")      # the header only: shape, dtype, data offset
        self.shape, self.dtype, self._offset = mapped.shape, mapped.dtype, int(mapped.offset)
        self._row = int(np.prod(self.shape[1:])) * self.dtype.itemsize
        del mapped
        self._fd = os.open(path, os.O_RDONLY)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        out = np.empty((len(rows), *self.shape[1:]), dtype=self.dtype)
        if not len(rows) or not self._row:
            return out
        if rows.min() < 0 or rows.max() >= self.shape[0]:
            raise IndexError(f"rows {rows.min()}–{rows.max()} of a matrix of {self.shape[0]} rows")
        flat, size = memoryview(out.reshape(len(rows), -1).view(np.uint8)).cast("B"), self._row
        for i, row in enumerate(rows.tolist()):
            got = os.preadv(self._fd, [flat[i * size:(i + 1) * size]], self._offset + row * size)
            if got != size:
                raise OSError(f"short read from a vector file: {got} of {size} bytes")
        return out

    def __del__(self):
        try:
            os.close(self._fd)
        except (OSError, AttributeError):
            pass


def part_scores(part, qv: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """``scores`` for a snapshot Part (kb/search/snapshot.py) among the articles ``allowed``
    (a mask over articles). With a projection, the filter is read through the group's own
    article and weight arrays (gathered once per generation), not built over every row."""
    if part.projection is None or part.group_article is None:
        ok = allowed[part.article] if part.select is None else allowed[part.article] & part.select
        return scores(part.matrix, qv, part.weight, ok, part.projection, group=part.group)
    ids = part.group_rows
    ok = allowed[part.group_article]
    if part.group_used is not None:
        ok &= part.group_used
    shortlist = shortlist_for(len(part.matrix))
    out = np.full(len(part.matrix), -np.inf, dtype=np.float32)
    with one_blas_thread():
        if np.count_nonzero(ok) <= shortlist:
            best = np.sort(ids[ok])
        else:
            qp = part.projection.basis.T @ qv
            rough = _rough(part.projection.pieces(part.group), qp)
            rough *= part.group_weight
            rough[~ok] = -np.inf                               # filters apply before the cut
            pick = topk.largest(rough, shortlist)
            best = np.sort(ids[pick[np.isfinite(rough[pick])]])
        if len(best):
            out[best] = (part.matrix[best] @ qv) * part.weight[best]
    return out
