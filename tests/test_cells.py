"""Projections partitioned into cells (kb/core/cells.py, kb/core/projection.py): the layout by
group and cell, the nearest cells first, a scan through them that finds the exact scan's best
rows with filters applied, incremental projection that keeps the cells, and the files."""
import numpy as np

from kb.core import cells, projection
from kb.search import vecscan
from tests.test_vecscan import assert_finds_the_exact_best, clustered, exact, query_near


def topical(n=6000, d=48, topics=60, seed=2):
    """Unit rows around a few dozen topics, as ticket vectors are around their problems."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((topics, d))
    m = centres[rng.integers(topics, size=n)] + 0.35 * rng.standard_normal((n, d))
    return (m / np.linalg.norm(m, axis=1, keepdims=True)).astype(np.float32)


def made(n=6000, count=40, seed=2):
    m = topical(n, seed=seed)
    zh = np.random.default_rng(seed).random(n) < 0.3
    return m, zh, projection.fit(m, dims=48, zh=zh, cells=count)   # full rank: only the cells approximate


def test_rows_are_laid_out_by_group_then_cell():
    m, zh, p = made()
    c = len(p.centroids)
    starts = np.asarray(p.starts)
    assert c == 40 and len(starts) == 2 * c + 1 and starts[0] == 0 and starts[-1] == len(m)
    assert np.all(np.diff(starts) >= 0) and starts[c] == p.split == np.count_nonzero(~zh)
    assert not zh[p.order[:p.split]].any() and zh[p.order[p.split:]].all()
    assert sorted(p.order.tolist()) == list(range(len(m)))
    np.testing.assert_allclose(p.rows, m[p.order] @ p.basis, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(p.centroids, axis=1), 1, atol=1e-5)
    # each row sits in the cell of its nearest centroid (largest inner product)
    assert np.array_equal(p.cells(), np.argmax(p.rows @ p.centroids.T, axis=1))
    assert p.size("not-zh") + p.size("zh") == p.size("all") == len(m)


def test_the_nearest_cells_come_first_until_they_hold_enough_rows():
    m, zh, p = made()
    qp = p.basis.T @ query_near(m, 5, 5)
    for which, lo, hi in (("not-zh", 0, p.split), ("zh", p.split, len(m)), ("all", 0, len(m))):
        spans = p.near(which, qp, 500)
        held = sum(b - a for a, b in spans)
        assert 500 <= held < p.size(which) and all(lo <= a < b <= hi for a, b in spans), which
        cell = p.cells()
        order = list(dict.fromkeys(int(cell[a]) for a, _ in spans))
        scores = p.centroids @ qp
        assert order == sorted(order, key=lambda k: -scores[k])        # nearest first
        assert min(scores[order]) >= np.sort(scores)[::-1][len(order) - 1]   # no nearer cell skipped


def test_a_scan_through_the_nearest_cells_finds_the_exact_best_rows():
    m, zh, p = made()
    assert_finds_the_exact_best(m, p, np.ones(len(m), dtype=np.float32), 211, 100, 10)
    # it read a part of the rows only
    qp = p.basis.T @ query_near(m, 0, 0)
    least = max(cells.PROBE_MIN * 100, round(cells.PROBE_SHARE * len(m)))
    assert sum(b - a for a, b in p.near("all", qp, least)) < len(m) // 2


def test_filters_apply_in_the_cells_and_no_row_outside_them_is_returned():
    m, zh, p = made()
    w = np.ones(len(m), dtype=np.float32)
    q = query_near(m, 7, 7)
    sims = m @ q
    far = sims < np.quantile(sims, 0.05)          # only rows far from the query are allowed
    got = vecscan.scores(m, q, w, far, p, shortlist=100)
    assert not np.isfinite(got[~far]).any()
    assert np.count_nonzero(np.isfinite(got)) == 100                     # cells read until enough are allowed
    assert list(np.argsort(-got)[:10]) == list(np.argsort(-exact(m, q, w, far))[:10])
    np.testing.assert_allclose(got[np.isfinite(got)], sims[np.isfinite(got)], rtol=1e-5, atol=1e-6)
    # Chinese rows only, as the multilingual encoder standing in for MiniLM reads them
    got = vecscan.scores(m, q, w, zh, p, shortlist=100, group="zh")
    assert zh[np.isfinite(got)].all() and np.count_nonzero(np.isfinite(got)) == 100


def test_an_incremental_projection_keeps_the_cells_and_assigns_only_new_rows():
    m, zh, p = made()
    rng = np.random.default_rng(9)
    m2 = np.concatenate([m, topical(300, seed=5)])
    zh2 = np.concatenate([zh, rng.random(300) < 0.3])
    src = np.concatenate([np.arange(len(m)), np.full(300, -1)])
    src[rng.choice(len(m), 200, replace=False)] = -1                     # changed rows
    m2[src < 0] = topical(int(np.count_nonzero(src < 0)), seed=6)
    q = projection.project(m2, p.basis, zh2, p, src, cells=40)
    assert np.array_equal(q.centroids, p.centroids)
    np.testing.assert_allclose(q.rows, m2[q.order] @ q.basis, atol=1e-5)
    assert np.array_equal(q.cells(), np.argmax(q.rows @ q.centroids.T, axis=1))
    old_cell = np.empty(len(m), dtype=np.int32)
    old_cell[p.order] = p.cells()
    new_cell = np.empty(len(m2), dtype=np.int32)
    new_cell[q.order] = q.cells()
    kept = np.flatnonzero(src >= 0)
    assert np.array_equal(new_cell[kept], old_cell[src[kept]])
    # a previous generation without cells gets them fitted
    plain = projection.fit(m, dims=48, zh=zh)
    assert plain.centroids is None
    again = projection.project(m2, plain.basis, zh2, plain, src, cells=40)
    assert len(again.centroids) == 40 and again.starts[-1] == len(m2)


def test_cells_are_saved_and_loaded_with_the_projection(tmp_path):
    m, zh, p = made(n=2000, count=20)
    projection.save(tmp_path, "enc", p)
    got = projection.load(tmp_path, "enc")
    assert np.array_equal(got.centroids, p.centroids) and np.array_equal(got.starts, p.starts)
    assert np.array_equal(np.asarray(got.rows), p.rows) and got.split == p.split
    plain = projection.fit(clustered(n=2000), dims=8)
    projection.save(tmp_path, "other", plain)
    assert not (tmp_path / "proj-other.cells.npz").exists()
    assert projection.load(tmp_path, "other").centroids is None
    assert 16 <= cells.count_for(100) and cells.count_for(1_000_000) == 1000 and cells.count_for(10 ** 9) == 4096


def test_identical_rows_still_get_cells_and_are_found(recwarn):
    """Many tickets with the same text (a template) give fewer distinct rows than cells: the
    empty cells are no trouble, nothing is printed, and every row is still found."""
    m = np.repeat(topical(n=3, seed=4), 400, axis=0)
    p = projection.fit(m, dims=48, cells=30)
    assert len(p.centroids) == 30 and p.starts[-1] == len(m)
    got = vecscan.scores(m, m[0], np.ones(len(m), np.float32), np.ones(len(m), bool), p, shortlist=50)
    assert np.count_nonzero(np.isfinite(got)) == 50
    np.testing.assert_allclose(got[np.isfinite(got)], 1.0, rtol=1e-5)
    assert not [w for w in recwarn if "cluster" in str(w.message).lower()]
