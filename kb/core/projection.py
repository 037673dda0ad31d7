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

After an incremental build of a large matrix, whose rows are then shared with earlier
generations (kb/core/matrix.py), so is its projection: the projected rows of the shared base
(a hard link, laid out as above; ``order`` is -1 for the rows no chunk uses any more) and, in
``tail``, those of the matrix's tail. ``pieces`` names both.

A projection may also be partitioned into cells (kb/core/cells.py; the ticket index's are):
rows are then laid out by group and, within it, by cell, and ``starts`` holds where each
(group, cell) begins, so a query reads only the rows of the cells nearest to it.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kb.core import cells as cellmod

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
    centroids: np.ndarray | None = None   # (cells, DIMS): the cells' unit centroids, if partitioned
    starts: np.ndarray | None = None      # (2 × cells + 1,): first row of each (group, cell), not-zh first
    tail: "Projection | None" = None      # the projected tail of a shared matrix (then order is -1 for unused rows)

    def cells(self) -> np.ndarray:
        """The cell of each projected row (needs ``centroids``)."""
        c = len(self.centroids)
        return (np.repeat(np.arange(2 * c, dtype=np.int32), np.diff(np.asarray(self.starts))) % c).astype(np.int32)

    def group(self, which: str) -> tuple[np.ndarray, np.ndarray]:
        """(projected rows, their matrix rows) of ``all`` rows, the Chinese ones (``zh``) or the
        others (``not-zh``): contiguous slices, nothing copied."""
        span = slice(self.split, None) if which == "zh" else slice(None, self.split) if which == "not-zh" else slice(None)
        return self.rows[span], self.order[span]

    def pieces(self, which: str) -> list[tuple[np.ndarray, np.ndarray]]:
        """``group(which)`` of this projection and of its tail, if it has one. A row's matrix
        row is -1 where no chunk uses it any more."""
        return [self.group(which)] + ([self.tail.group(which)] if self.tail is not None else [])

    def size(self, which: str) -> int:
        """How many projected rows group ``which`` holds."""
        return self.split if which == "not-zh" else len(self.order) - self.split if which == "zh" else len(self.order)

    def near(self, which: str, qp: np.ndarray, least: int, allowed: np.ndarray | None = None) -> list[tuple[int, int]]:
        """(start, end) of the projected rows of group ``which`` in the cells nearest to the
        projected query ``qp``, until they hold at least ``least`` rows (of those ``allowed``, a
        mask over projected rows, when given; needs ``centroids``)."""
        c = len(self.centroids)
        groups = (0,) if which == "not-zh" else (1,) if which == "zh" else (0, 1)
        starts = np.asarray(self.starts)
        held = np.diff(starts) if allowed is None else np.diff(np.concatenate([[0], np.cumsum(allowed)])[starts])
        sizes = sum(held[g * c:(g + 1) * c] for g in groups)
        return [(int(starts[g * c + cell]), int(starts[g * c + cell + 1]))
                for cell in cellmod.nearest(self.centroids, sizes, qp, least).tolist() for g in groups
                if starts[g * c + cell + 1] > starts[g * c + cell]]


def layout(zh: np.ndarray | None, n: int) -> tuple[np.ndarray, int]:
    """(matrix row of each projected row, how many are not Chinese) for rows marked ``zh``."""
    if zh is None:
        return np.arange(n, dtype=np.int32), n
    zh = np.asarray(zh, dtype=bool)
    return np.concatenate([np.flatnonzero(~zh), np.flatnonzero(zh)]).astype(np.int32), int(np.count_nonzero(~zh))


def needs_projection(rows: int) -> bool:
    return rows > EXACT_ROWS


def fit(matrix: np.ndarray, dims: int | None = None, sample: int | None = None, seed: int = 0,
        zh: np.ndarray | None = None, cells: int = 0) -> Projection:
    """The projection of ``matrix`` onto the top eigenvectors of its second moment matrix (rows
    laid out by ``zh``, see ``layout``; in ``cells`` cells if not 0)."""
    n, d = matrix.shape
    dims = min(dims or DIMS, d)
    pick = np.sort(np.random.default_rng(seed).choice(n, min(n, sample or SAMPLE), replace=False))
    s = np.asarray(matrix[pick], dtype=np.float64)
    _, vecs = np.linalg.eigh(s.T @ s)                      # ascending eigenvalues
    basis = np.ascontiguousarray(vecs[:, ::-1][:, :dims], dtype=np.float32)
    return project(matrix, basis, zh, cells=cells)


def project(matrix: np.ndarray, basis: np.ndarray, zh: np.ndarray | None = None,
            before: Projection | None = None, src: np.ndarray | None = None, cells: int = 0) -> Projection:
    """``matrix`` on ``basis``, laid out by ``zh``; with ``before`` (on the same basis) and
    ``src`` (each row's row in its matrix, or -1), rows found there are copied, not computed.
    With ``cells``, the rows are partitioned: into ``before``'s cells if it has them (only
    the new rows are assigned), else into that many cells fitted anew."""
    order, split = layout(zh, len(matrix))
    rows = np.empty((len(matrix), basis.shape[1]), dtype=np.float32)
    new = np.arange(len(order))
    keep_cells = bool(cells) and before is not None and before.centroids is not None
    cell = np.full(len(order), -1, dtype=np.int32) if keep_cells else None
    if before is not None:
        old_at = np.empty(len(before.order), dtype=np.int64)
        old_at[before.order] = np.arange(len(before.order))
        found = src[order]
        kept = np.flatnonzero(found >= 0)
        old_cells = before.cells() if keep_cells else None
        at = old_at[found[kept]]
        for i in range(0, len(kept), _BLOCK):
            rows[kept[i:i + _BLOCK]] = before.rows[at[i:i + _BLOCK]]
        if keep_cells:
            cell[kept] = old_cells[at]
        new = np.flatnonzero(found < 0)
    for i in range(0, len(new), _BLOCK):
        part = new[i:i + _BLOCK]
        rows[part] = np.asarray(matrix[order[part]]) @ basis
    if not cells:
        return Projection(basis, rows, order, split)
    centroids = before.centroids if keep_cells else cellmod.fit(rows, cells)
    if keep_cells:
        cell[new] = cellmod.assign(rows[new], centroids)
    else:
        cell = cellmod.assign(rows, centroids)
    c = len(centroids)
    key = (np.arange(len(order)) >= split).astype(np.int64) * c + cell
    by = np.argsort(key, kind="stable")
    starts = np.searchsorted(key[by], np.arange(2 * c + 1)).astype(np.int64)
    return Projection(basis, rows[by], order[by], split, centroids, starts)


def files(generation: Path, encoder: str) -> tuple[Path, Path, Path, Path]:
    g = Path(generation)
    return (g / f"proj-{encoder}.basis.npy", g / f"proj-{encoder}.rows.npy", g / f"proj-{encoder}.order.npy",
            g / f"proj-{encoder}.cells.npz")


def shared_files(generation: Path, encoder: str) -> tuple[Path, Path, Path, Path]:
    """(base rows, the base matrix row of each, tail rows, tail order) of a shared projection."""
    g = Path(generation)
    return (g / f"proj-{encoder}.base.npy", g / f"proj-{encoder}.base-order.npy", g / f"proj-{encoder}.tail.npy",
            g / f"proj-{encoder}.tail-order.npy")


def save_shared(generation: Path, encoder: str, live: Path, basis: np.ndarray, where: np.ndarray, base_rows: int,
                tail: Projection) -> None:
    """The projection of a shared matrix (kb/core/matrix.py: ``where`` each row is, the first
    ``base_rows`` being the base): the live generation's projected base linked, with the matrix
    row of each of its rows for this generation, and ``tail`` (laid out by group; its ``order``
    names matrix rows)."""
    base, base_order, tail_rows, tail_order = shared_files(generation, encoder)
    live_base, live_base_order, _, _ = shared_files(live, encoder)
    _, live_rows, live_order, _ = files(live, encoder)
    shared = live_base.exists()
    os.link(live_base if shared else live_rows, base)
    os.link(live_base_order if shared else live_order, base_order)
    b_order = np.load(base_order, mmap_mode="r")
    row_of = np.full(base_rows, -1, dtype=np.int64)          # base row → this generation's matrix row
    where = np.asarray(where, dtype=np.int64)
    in_base = np.flatnonzero(where < base_rows)
    row_of[where[in_base]] = in_base
    basis_file, _, order, _ = files(generation, encoder)
    np.save(basis_file, basis)
    np.save(order, np.concatenate([[b_order[0]], row_of[np.asarray(b_order[1:])]]).astype(np.int32))
    np.save(tail_rows, np.ascontiguousarray(tail.rows, dtype=np.float32))
    np.save(tail_order, np.concatenate([[tail.split], tail.order]).astype(np.int32))


def save(generation: Path, encoder: str, projection: Projection) -> None:
    basis, rows, order, cells = files(generation, encoder)
    np.save(basis, projection.basis)
    np.save(rows, projection.rows)
    np.save(order, np.concatenate([[projection.split], projection.order]).astype(np.int32))
    if projection.centroids is not None:
        np.savez(cells, centroids=projection.centroids, starts=projection.starts)


def load(generation: Path, encoder: str) -> Projection | None:
    """The generation's projection of ``encoder``'s matrix, mapped read-only (None: none was written)."""
    basis, rows, order, cells = files(generation, encoder)
    if not rows.exists():
        base, _, tail, tail_order = shared_files(generation, encoder)
        if not base.exists():
            return None
        b, mapped, t = np.load(basis), np.load(order, mmap_mode="r"), np.load(tail_order)
        return Projection(b, np.load(base, mmap_mode="r"), mapped[1:], int(mapped[0]),
                          tail=Projection(b, np.load(tail, mmap_mode="r"), t[1:], int(t[0])))
    mapped = np.load(order, mmap_mode="r")
    centroids = starts = None
    if cells.exists():
        with np.load(cells) as got:
            centroids, starts = got["centroids"], got["starts"]
    return Projection(np.load(basis), np.load(rows, mmap_mode="r"), mapped[1:], int(mapped[0]), centroids, starts)
