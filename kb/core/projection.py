"""The projection a large vector matrix is also kept as, for the two-stage scan (kb/search/vecscan.py):
its rows projected onto the matrix's top ``DIMS`` principal directions (uncentred, so inner
products rather than distances are what it keeps; fitted on a fixed sample, so a generation
always gets the same one). Part of the generation format: the indexer fits it once per encoder
when a matrix has more than ``EXACT_ROWS`` rows and writes it beside the matrix (an incremental
build keeps the basis and projects only new rows); every search process maps it read-only, so
the machine holds one copy in its page cache.

Its rows are laid out by group: the rows that are not Chinese first, then the Chinese ones
(``order`` names the matrix row of each). A query reads only the group it scores: MiniLM, which
cannot read Chinese, the first; the multilingual encoder standing in for it on an English query
the second; all of it for a Chinese query.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

EXACT_ROWS = 40_000     # matrices up to this many rows are always scored exactly
DIMS = 96               # principal directions kept by the projection
SAMPLE = 20_000         # rows the projection is fitted on
_BLOCK = 65_536         # rows projected at a time (bounds the temporary memory)


@dataclass(frozen=True)
class Projection:
    basis: np.ndarray   # (dimensions, DIMS): the top principal directions, as columns
    rows: np.ndarray    # (rows, DIMS): the matrix projected onto them, by group
    order: np.ndarray   # (rows,): the matrix row of each projected row
    split: int          # projected rows before the Chinese ones

    def group(self, which: str) -> tuple[np.ndarray, np.ndarray]:
        """(projected rows, their matrix rows) of ``all`` rows, the Chinese ones (``zh``) or the
        others (``not-zh``): contiguous slices, nothing copied."""
        span = slice(self.split, None) if which == "zh" else slice(None, self.split) if which == "not-zh" else slice(None)
        return self.rows[span], self.order[span]


def layout(zh: np.ndarray | None, n: int) -> tuple[np.ndarray, int]:
    """(matrix row of each projected row, how many are not Chinese) for rows marked ``zh``."""
    if zh is None:
        return np.arange(n, dtype=np.int32), n
    zh = np.asarray(zh, dtype=bool)
    return np.concatenate([np.flatnonzero(~zh), np.flatnonzero(zh)]).astype(np.int32), int(np.count_nonzero(~zh))


def needs_projection(rows: int) -> bool:
    return rows > EXACT_ROWS


def fit(matrix: np.ndarray, dims: int | None = None, sample: int | None = None, seed: int = 0,
        zh: np.ndarray | None = None) -> Projection:
    """The projection of ``matrix`` onto the top eigenvectors of its second moment matrix (rows
    laid out by ``zh``, see ``layout``)."""
    n, d = matrix.shape
    dims = min(dims or DIMS, d)
    pick = np.sort(np.random.default_rng(seed).choice(n, min(n, sample or SAMPLE), replace=False))
    s = np.asarray(matrix[pick], dtype=np.float64)
    _, vecs = np.linalg.eigh(s.T @ s)                      # ascending eigenvalues
    basis = np.ascontiguousarray(vecs[:, ::-1][:, :dims], dtype=np.float32)
    return project(matrix, basis, zh)


def project(matrix: np.ndarray, basis: np.ndarray, zh: np.ndarray | None = None,
            before: Projection | None = None, src: np.ndarray | None = None) -> Projection:
    """``matrix`` on ``basis``, laid out by ``zh``; with ``before`` (on the same basis) and
    ``src`` (each row's row in its matrix, or -1), rows found there are copied, not computed."""
    order, split = layout(zh, len(matrix))
    rows = np.empty((len(matrix), basis.shape[1]), dtype=np.float32)
    new = np.arange(len(order))
    if before is not None:
        old_at = np.empty(len(before.order), dtype=np.int64)
        old_at[before.order] = np.arange(len(before.order))
        found = src[order]
        kept = np.flatnonzero(found >= 0)
        for i in range(0, len(kept), _BLOCK):
            part = kept[i:i + _BLOCK]
            rows[part] = before.rows[old_at[found[part]]]
        new = np.flatnonzero(found < 0)
    for i in range(0, len(new), _BLOCK):
        part = new[i:i + _BLOCK]
        rows[part] = np.asarray(matrix[order[part]]) @ basis
    return Projection(basis, rows, order, split)


def files(generation: Path, encoder: str) -> tuple[Path, Path, Path]:
    g = Path(generation)
    return g / f"proj-{encoder}.basis.npy", g / f"proj-{encoder}.rows.npy", g / f"proj-{encoder}.order.npy"


def save(generation: Path, encoder: str, projection: Projection) -> None:
    basis, rows, order = files(generation, encoder)
    np.save(basis, projection.basis)
    np.save(rows, projection.rows)
    np.save(order, np.concatenate([[projection.split], projection.order]).astype(np.int32))


def load(generation: Path, encoder: str) -> Projection | None:
    """The generation's projection of ``encoder``'s matrix, mapped read-only (None: none was written)."""
    basis, rows, order = files(generation, encoder)
    if not rows.exists():
        return None
    mapped = np.load(order, mmap_mode="r")
    return Projection(np.load(basis), np.load(rows, mmap_mode="r"), mapped[1:], int(mapped[0]))
