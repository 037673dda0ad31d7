"""The two-stage vector scan (kb/search/vecscan.py): exact re-scoring of a shortlist chosen on a
projection, filters applied before the cut, and the search path using it on a real index."""
from pathlib import Path

import numpy as np
import pytest

from indexer.build import build
from kb.core import projection, tables
from kb.core.generation import IndexStore
from kb.search import vecscan
from kb.search.searcher import Searcher, SearchQuery
from tests.conftest import article, commit_all, write
from tests.test_vectors import TINY, pool, vsettings  # noqa: F401 (fixture)


def clustered(n=4000, d=48, rank=6, seed=1):
    """Unit rows near a low-rank subspace, as sentence vectors are."""
    rng = np.random.default_rng(seed)
    m = rng.standard_normal((n, rank)) @ rng.standard_normal((rank, d)) + 0.05 * rng.standard_normal((n, d))
    return (m / np.linalg.norm(m, axis=1, keepdims=True)).astype(np.float32)


def exact(m, q, w, ok):
    s = (m @ q) * w
    s[~ok] = -np.inf
    return s


def query_near(m, i, seed):
    q = m[i] + 0.1 * np.random.default_rng(seed).standard_normal(m.shape[1]).astype(np.float32)
    return (q / np.linalg.norm(q)).astype(np.float32)


def assert_finds_the_exact_best(m, proj, w, step, shortlist, top):
    """Over 20 queries near rows 0, step, 2·step…: the two-stage scan keeps ``shortlist`` rows,
    ranks its ``top`` best as the exact scan does, and gives them their exact scores."""
    ok = np.ones(len(m), dtype=bool)
    for i in range(20):
        q = query_near(m, i * step, i)
        got = vecscan.scores(m, q, w, ok, proj, shortlist=shortlist)
        want = exact(m, q, w, ok)
        assert np.count_nonzero(np.isfinite(got)) == shortlist
        assert list(np.argsort(-got)[:top]) == list(np.argsort(-want)[:top])
        kept = np.isfinite(got)
        np.testing.assert_allclose(got[kept], want[kept], rtol=1e-5, atol=1e-6)   # not the rough scores


def test_the_shortlist_holds_the_exact_best_rows_and_they_are_scored_exactly():
    m = clustered()
    w = np.ones(len(m), dtype=np.float32)
    w[::7] = 0.9                                    # title-chunk weights count in both passes
    assert_finds_the_exact_best(m, projection.fit(m, dims=8), w, 37, 200, 20)


def test_filters_apply_before_the_shortlist_is_cut():
    m = clustered()
    proj = projection.fit(m, dims=8)
    w = np.ones(len(m), dtype=np.float32)
    q = query_near(m, 0, 0)
    near = (m @ q) > np.quantile(m @ q, 0.5)        # the half nearest the query is not allowed
    got = vecscan.scores(m, q, w, ~near, proj, shortlist=100)
    want = exact(m, q, w, ~near)
    assert not np.isfinite(got[near]).any()
    assert np.count_nonzero(np.isfinite(got)) == 100
    assert list(np.argsort(-got)[:10]) == list(np.argsort(-want)[:10])


@pytest.mark.parametrize("projected", [True, False])
def test_when_few_rows_are_allowed_exactly_those_are_read(projected):
    m = clustered()
    proj = projection.fit(m, dims=8) if projected else None
    w = np.ones(len(m), dtype=np.float32)
    q = query_near(m, 3, 3)
    ok = np.zeros(len(m), dtype=bool)
    ok[[5, 900, 3000]] = True
    got = vecscan.scores(m, q, w, ok, proj, shortlist=100)
    assert list(np.flatnonzero(np.isfinite(got))) == [5, 900, 3000]
    np.testing.assert_allclose(got[ok], (m @ q)[ok], rtol=1e-5)
    everything = np.ones(len(m), dtype=bool)
    np.testing.assert_allclose(vecscan.scores(m, q, w, everything), m @ q, rtol=1e-5)


def test_the_projection_is_fitted_the_same_way_every_time():
    m = clustered(n=3000)
    a, b = projection.fit(m, dims=8, sample=1000), projection.fit(m, dims=8, sample=1000)
    assert a.basis.shape == (48, 8) and a.rows.shape == (3000, 8)
    assert np.array_equal(a.basis, b.basis) and np.array_equal(a.rows, b.rows)
    np.testing.assert_allclose(a.basis.T @ a.basis, np.eye(8), atol=1e-5)
    assert projection.needs_projection(projection.EXACT_ROWS + 1) and not projection.needs_projection(projection.EXACT_ROWS)


TOPICS = ["printer offline router", "vpn error 809 ipsec", "outlook password prompt", "mailbox full quota",
          "docking station monitor black", "bitlocker recovery key", "camera not detected", "wifi captive portal",
          "proxy pac file", "account locked logins"]


def test_search_through_the_two_stage_scan_matches_the_exact_scan(vsettings, repo, monkeypatch):
    files = {}
    for i in range(60):
        words = f"{TOPICS[i % 10]} {TOPICS[(i * 3 + 1) % 10].split()[0]} case{i}"
        files[f"gen-{i:02d}.md"] = article(f"KB-{100 + i}", words.title(), body=f"## Resolution\nFix the {words}.\n",
                                           visibility="internal" if i % 4 == 0 else "public")
    write(repo, files)
    commit_all(repo, "More articles")
    build(vsettings, pool=pool())
    queries = ["printer offline", "vpn 809", "bitlocker key", "camera", "mailbox quota full"]

    def run(role):
        s = Searcher(vsettings, pool=pool(), fusion=TINY)
        return [[(h.id, round(h.score, 5)) for h in s.search(SearchQuery(q, mode="semantic", role=role, limit=5)).results]
                for q in queries], s

    want = {role: run(role)[0] for role in ("agent", "customer")}
    # every matrix projected at build time; a full-rank projection ranks rows as the exact scan
    # does, so a shortlist of 40 rows must give the same top five articles with the same scores
    monkeypatch.setattr(projection, "EXACT_ROWS", 0)
    monkeypatch.setattr(projection, "DIMS", 64)
    monkeypatch.setattr(vecscan, "SHORTLIST", 40)
    build(vsettings, pool=pool(), full=True)
    for role in ("agent", "customer"):
        got, s = run(role)
        part = s.snapshot().part("tiny", "all")
        assert part.projection is not None and len(part.matrix) > 40
        assert got == want[role]
        # nothing copied per process: the matrix and the projection are the generation's files,
        # mapped read-only, for every part
        gen = s.snapshot().generation.path
        for which in ("all", "zh", "not-zh"):
            p = s.snapshot().part("tiny", which)
            for array, name in ((p.matrix, "vec-tiny.npy"), (p.projection.rows, "proj-tiny.rows.npy")):
                assert isinstance(array, np.memmap) and not array.flags.writeable, which
                assert Path(array.filename) == gen / name
    assert want["agent"] != want["customer"]         # the filter changed what the shortlist holds


def test_an_incremental_build_projects_only_new_rows_on_the_kept_basis(vsettings, repo, monkeypatch):
    monkeypatch.setattr(projection, "EXACT_ROWS", 0)
    build(vsettings, pool=pool(), full=True)
    first = projection.load(IndexStore(vsettings.index_root).current().path, "tiny")
    write(repo, {"extra.md": article("KB-0900", "Printer offline after the update", body="## Resolution\nRestart.\n"),
                 "zh-extra.md": article("KB-0901", "打印机脱机", body="## 解决方法\n重新启动打印机。\n", language="zh")})
    commit_all(repo, "Two more")
    assert not build(vsettings, pool=pool()).full
    gen = IndexStore(vsettings.index_root).current().path
    got, zh = projection.load(gen, "tiny"), np.asarray(tables.Chunks(gen).zh)
    assert np.array_equal(got.basis, first.basis)                  # kept, not fitted again
    want = projection.project(np.load(gen / "vec-tiny.npy"), got.basis, zh)
    assert np.array_equal(got.order, want.order) and got.split == want.split
    np.testing.assert_allclose(got.rows, want.rows, atol=1e-6)      # copied rows equal computed ones
    _, ids = got.group("zh")
    assert len(ids) == zh.sum() > 0 and zh[ids].all() and not zh[got.group("not-zh")[1]].any()


def test_rows_read_from_the_file_equal_the_mapped_rows(tmp_path):
    m = clustered(n=3000)
    np.save(tmp_path / "m.npy", m)
    rows = vecscan.FileRows(tmp_path / "m.npy")
    assert len(rows) == 3000 and rows.shape == m.shape
    for pick in ([0], [5, 6, 7, 900, 2999], list(range(100, 400)) + [1000, 1002], [], [42, 7, 42]):
        np.testing.assert_array_equal(rows[np.array(pick, dtype=np.int64)], m[pick])
    with pytest.raises(IndexError):
        rows[np.array([3000])]
    proj = projection.fit(m, dims=8)
    q = query_near(m, 10, 1)
    ok = np.ones(len(m), dtype=bool)
    w = np.ones(len(m), dtype=np.float32)
    np.testing.assert_array_equal(vecscan.scores(rows, q, w, ok, proj, shortlist=150),
                                  vecscan.scores(m, q, w, ok, proj, shortlist=150))


def test_the_shortlist_grows_with_the_matrix():
    assert vecscan.shortlist_for(61_866) == vecscan.MIN_SHORTLIST
    assert 9_900 <= vecscan.shortlist_for(618_898) <= 10_000
    assert vecscan.shortlist_for(2_000_000) > vecscan.shortlist_for(618_898)
