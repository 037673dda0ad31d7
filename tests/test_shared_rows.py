"""A large matrix kept as rows shared between generations (kb/core/matrix.py, indexer/shared.py):
what an incremental build links and writes, that search reads the same rows and finds the same
articles as after a full build, and when one file is written again."""
import os

import numpy as np
import pytest

from indexer.build import build
from kb.core import matrix as matrices
from kb.core import projection, tables
from kb.core.generation import IndexStore
from kb.search import vecscan
from kb.search.searcher import Searcher, SearchQuery
from tests.conftest import article, commit_all, write
from tests.test_vecscan import TOPICS, clustered, query_near
from tests.test_vectors import TINY, pool, vsettings  # noqa: F401 (fixture)


def test_shared_rows_read_as_the_matrix_they_stand_for(tmp_path):
    m = clustered(n=500, d=16)
    base = m[:400].copy()
    base[[3, 50]] = 7.0                                  # rows no chunk uses any more: their chunks changed
    tail = np.vstack([m[3], m[50], m[400:]])             # the changed chunks, then the new ones
    where = np.arange(500)
    where[[3, 50]] = [400, 401]
    where[400:] = np.arange(402, 502)
    np.save(tmp_path / "b.npy", base)
    rows = matrices.SharedRows(np.load(tmp_path / "b.npy", mmap_mode="r"), tail, where)
    want = m
    assert len(rows) == 500 and rows.shape == (500, 16)
    for pick in ([0, 3, 50, 499], np.arange(10, 480, 7), [], [42, 42, 400]):
        np.testing.assert_array_equal(rows[np.array(pick, dtype=np.int64)], want[np.array(pick, dtype=np.int64)])
    np.testing.assert_array_equal(rows[10:20], want[10:20])
    mask = np.zeros(500, dtype=bool)
    mask[[1, 401, 499]] = True
    np.testing.assert_array_equal(rows[mask], want[mask])
    q = query_near(m, 5, 5)
    np.testing.assert_allclose(rows @ q, want @ q, rtol=1e-6)
    np.testing.assert_array_equal(np.asarray(rows), want)
    assert rows.unused() == 2


def _articles(n=60):
    return {f"gen-{i:02d}.md": article(f"KB-{100 + i}", f"{TOPICS[i % 10]} case{i}".title(),
                                       body=f"## Resolution\nFix the {TOPICS[(i * 3 + 1) % 10]} case{i}.\n",
                                       visibility="internal" if i % 4 == 0 else "public")
            for i in range(n)}


def _results(s, queries=("printer offline", "vpn 809", "bitlocker key", "camera", "mailbox quota full")):
    out = {}
    for role in ("agent", "customer"):
        searcher = Searcher(s, pool=pool(), fusion=TINY)
        out[role] = [[(h.id, round(h.score, 5)) for h in searcher.search(
            SearchQuery(q, mode="semantic", role=role, limit=5)).results] for q in queries]
    return out


@pytest.fixture
def shared_kb(vsettings, repo, monkeypatch):
    """60 more articles, every matrix projected (a full-rank projection ranks rows as the exact
    scan does), and a tail allowed up to half the rows."""
    monkeypatch.setattr(projection, "EXACT_ROWS", 0)
    monkeypatch.setattr(projection, "DIMS", 64)
    monkeypatch.setattr(vecscan, "SHORTLIST", 40)
    monkeypatch.setattr(matrices, "COMPACT_SHARE", 0.5)
    write(repo, _articles())
    commit_all(repo, "More articles")
    build(vsettings, pool=pool(), full=True)
    return vsettings


def _edit(repo, names_and_words):
    for name, words in names_and_words:
        text = (repo / name).read_text("utf-8")
        write(repo, {name: text.replace("## Resolution\n", f"## Resolution\n{words}\n")})
    commit_all(repo, "Edit")


def test_an_edit_links_the_live_rows_and_writes_only_the_new_ones(shared_kb, repo):
    store = IndexStore(shared_kb.index_root)
    first = store.current().path
    n_first = len(np.load(first / "vec-tiny.npy"))
    _edit(repo, [("gen-05.md", "Check the bitlocker recovery key first."),
                 ("reset-password-zh.md", "先检查账户是否被锁定。")])
    (repo / "gen-09.md").unlink()
    write(repo, {"gen-new.md": article("KB-0990", "Camera not detected in Teams", body="## Resolution\nReinstall.\n")})
    commit_all(repo, "Edit, add, remove")
    r = build(shared_kb, pool=pool())
    assert not r.full
    gen = store.current().path
    single, base, tail, where = matrices.files(gen, "tiny")
    assert not single.exists()
    assert os.stat(base).st_ino == os.stat(first / "vec-tiny.npy").st_ino         # linked, not copied
    assert os.stat(gen / "proj-tiny.base.npy").st_ino == os.stat(first / "proj-tiny.rows.npy").st_ino
    rows = matrices.load(gen, "tiny")
    assert isinstance(rows, matrices.SharedRows)
    assert 0 < len(rows.tail) < 15 and rows.unused() > 0 and len(rows.base) == n_first
    # the rows read are the rows a full build writes, and search finds the same, with the same scores
    got, got_results = np.asarray(rows), _results(shared_kb)
    build(shared_kb, pool=pool(), full=True)
    full = store.current().path
    np.testing.assert_array_equal(got, np.load(full / "vec-tiny.npy"))
    assert np.array_equal(np.asarray(tables.Chunks(gen).hash), np.asarray(tables.Chunks(full).hash))
    assert got_results == _results(shared_kb)


def test_the_projection_of_shared_rows_is_their_projection_on_the_kept_basis(shared_kb, repo):
    store = IndexStore(shared_kb.index_root)
    basis = projection.load(store.current().path, "tiny").basis
    for k in range(2):                                    # shared from one file, then from shared rows
        _edit(repo, [(f"gen-1{k}.md", "Update the driver."), ("gen-20.md", f"Round {k}.")])
        build(shared_kb, pool=pool())
    gen = store.current().path
    got, rows = projection.load(gen, "tiny"), np.asarray(matrices.load(gen, "tiny"))
    zh = np.asarray(tables.Chunks(gen).zh)
    assert got.tail is not None and np.array_equal(got.basis, basis)
    seen = []
    for which in ("not-zh", "zh"):
        for prows, ids in got.pieces(which):
            ids = np.asarray(ids)
            used = ids >= 0
            np.testing.assert_allclose(np.asarray(prows)[used], rows[ids[used]] @ basis, atol=1e-5)
            assert (zh[ids[used]] == (which == "zh")).all()
            seen.append(ids[used])
    assert sorted(np.concatenate(seen).tolist()) == list(range(len(rows)))         # every row, once


def test_one_file_again_once_the_tail_and_unused_rows_pass_their_share(shared_kb, repo, monkeypatch):
    store = IndexStore(shared_kb.index_root)
    _edit(repo, [("gen-01.md", "First.")])
    build(shared_kb, pool=pool())
    assert not matrices.files(store.current().path, "tiny")[0].exists()
    want = _results(shared_kb)
    monkeypatch.setattr(matrices, "COMPACT_SHARE", 0.01)
    _edit(repo, [("gen-02.md", "Second.")])
    build(shared_kb, pool=pool())
    gen = store.current().path
    assert matrices.files(gen, "tiny")[0].exists() and not matrices.files(gen, "tiny")[1].exists()
    assert projection.load(gen, "tiny").tail is None
    assert _results(shared_kb) == want                   # neither edit touched what these queries find
    build(shared_kb, pool=pool(), full=True)
    np.testing.assert_array_equal(np.load(gen / "vec-tiny.npy"), np.load(store.current().path / "vec-tiny.npy"))


def test_where_files_cannot_be_linked_one_file_is_written(shared_kb, repo, monkeypatch):
    def refuse(src, dst):
        raise OSError(1, "Operation not permitted")
    want = _results(shared_kb)
    monkeypatch.setattr(os, "link", refuse)
    _edit(repo, [("gen-03.md", "Unplug it first.")])
    build(shared_kb, pool=pool())
    gen = IndexStore(shared_kb.index_root).current().path
    single, base, tail, where = matrices.files(gen, "tiny")
    assert single.exists() and not base.exists() and not tail.exists() and not where.exists()
    assert not projection.shared_files(gen, "tiny")[0].exists() and projection.load(gen, "tiny").tail is None
    assert _results(shared_kb) == want
