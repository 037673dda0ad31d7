"""A coarse partition of a projection's rows into cells around centroids (an inverted file, as
vector search engines keep one), so that a query scans the rows of the cells nearest to it
instead of every row.

At a million tickets the projected pass alone reads 192 MB a query and encoder (12.5 ms on this
machine, memory-bound; 25 ms for a Chinese query, which reads every row). With about √n cells,
a query scores the centroids, then the rows of the nearest cells until it has read
``PROBE_SHARE`` of its group (and at least ``PROBE_MIN`` times the shortlist); the shortlist is
cut from those and re-scored exactly, as before. bench/similar.py measures how often the top 5
is still the exact scan's.

The centroids come from k-means (scikit-learn's, on a fixed sample of the projected rows,
normalised: the rows are compared by inner product) and are kept by incremental builds, which
only assign the rows that are new.
"""
from __future__ import annotations

import warnings

import numpy as np

PROBE_SHARE = 1 / 16    # of the group's rows, read at least
PROBE_MIN = 8           # × the shortlist, read at least
SAMPLE = 40_000         # rows k-means is fitted on
_BLOCK = 16_384         # rows assigned at a time (bounds the temporary memory)


def count_for(rows: int) -> int:
    """How many cells a projection of ``rows`` rows gets: about √rows (1,000 at a million)."""
    return int(min(4096, max(16, round(np.sqrt(rows)))))


def fit(projected: np.ndarray, count: int, seed: int = 0) -> np.ndarray:
    """``count`` unit-length centroids (count × dims, float32) of the rows of ``projected``."""
    from sklearn.cluster import KMeans     # only a build that fits cells needs it
    from sklearn.exceptions import ConvergenceWarning

    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(len(projected), min(len(projected), SAMPLE), replace=False))
    sample = np.asarray(projected[pick], dtype=np.float32)
    sample = _unit(sample[np.linalg.norm(sample, axis=1) > 0])   # rows an encoder cannot read are zero
    if len(sample) == 0:
        return np.zeros((1, projected.shape[1]), dtype=np.float32)
    count = min(count, len(sample))
    with warnings.catch_warnings():     # fewer distinct rows than cells (tickets copied from a template):
        warnings.simplefilter("ignore", ConvergenceWarning)      # some cells stay empty, which is fine
        km = KMeans(n_clusters=count, n_init=1, max_iter=25, random_state=seed).fit(sample)
    return _unit(km.cluster_centers_.astype(np.float32))


def assign(projected: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """The cell of each row: the centroid of largest inner product."""
    out = np.empty(len(projected), dtype=np.int32)
    for i in range(0, len(projected), _BLOCK):
        out[i:i + _BLOCK] = np.argmax(np.asarray(projected[i:i + _BLOCK]) @ centroids.T, axis=1)
    return out


def nearest(centroids: np.ndarray, sizes: np.ndarray, qp: np.ndarray, least: int) -> np.ndarray:
    """The cells to scan for the projected query ``qp``, nearest first, until they hold at least
    ``least`` rows (``sizes``: the rows of each cell the query may read)."""
    order = np.argsort(-(centroids @ qp), kind="stable")
    held = np.cumsum(sizes[order])
    return order[:int(np.searchsorted(held, least)) + 1]


def _unit(m: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    return m / np.where(norms > 0, norms, 1)
