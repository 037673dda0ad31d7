"""The projection a large vector matrix is also kept as, for the two-stage scan (kb/search/vecscan.py):
its rows projected onto the matrix's top ``DIMS`` principal directions (uncentred, so inner
products rather than distances are what it keeps; fitted on a fixed sample, so a generation
always gets the same one). Part of the generation format: the indexer fits it once per encoder
when a matrix has more than ``EXACT_ROWS`` rows and writes it beside the matrix; every search
process maps it read-only, so the machine holds one copy in its page cache.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

EXACT_ROWS = 100_000    # matrices up to this many rows are always scored exactly
DIMS = 96               # principal directions kept by the projection
SAMPLE = 20_000         # rows the projection is fitted on
_BLOCK = 65_536         # rows projected at a time (bounds the temporary memory)


@dataclass(frozen=True)
class Projection:
    basis: np.ndarray   # (dimensions, DIMS): the top principal directions, as columns
    rows: np.ndarray    # (rows, DIMS): the matrix projected onto them


def needs_projection(rows: int) -> bool:
    return rows > EXACT_ROWS


def fit(matrix: np.ndarray, dims: int | None = None, sample: int | None = None, seed: int = 0) -> Projection:
    """The projection of ``matrix`` onto the top eigenvectors of its second moment matrix."""
    n, d = matrix.shape
    dims = min(dims or DIMS, d)
    pick = np.sort(np.random.default_rng(seed).choice(n, min(n, sample or SAMPLE), replace=False))
    s = np.asarray(matrix[pick], dtype=np.float64)
    _, vecs = np.linalg.eigh(s.T @ s)                      # ascending eigenvalues
    basis = np.ascontiguousarray(vecs[:, ::-1][:, :dims], dtype=np.float32)
    rows = np.empty((n, dims), dtype=np.float32)
    for i in range(0, n, _BLOCK):
        np.matmul(matrix[i:i + _BLOCK], basis, out=rows[i:i + _BLOCK])
    return Projection(basis, rows)


def files(generation: Path, encoder: str) -> tuple[Path, Path]:
    return Path(generation) / f"proj-{encoder}.basis.npy", Path(generation) / f"proj-{encoder}.rows.npy"


def save(generation: Path, encoder: str, projection: Projection) -> None:
    basis, rows = files(generation, encoder)
    np.save(basis, projection.basis)
    np.save(rows, projection.rows)


def load(generation: Path, encoder: str) -> Projection | None:
    """The generation's projection of ``encoder``'s matrix, mapped read-only (None: none was written)."""
    basis, rows = files(generation, encoder)
    if not rows.exists():
        return None
    return Projection(np.load(basis), np.load(rows, mmap_mode="r"))
