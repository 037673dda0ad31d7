"""Keyword impacts shared with the live generation (indexer/shared.py, kb/core/impact.py): an
edit links the shared impacts and counts only what changed in a delta; search finds exactly
what a clean build finds, unchanged articles keep their scores, and once the delta and the dead
rows pass their share the impacts are written whole again, equal to a clean build's."""
import os

import numpy as np
import pytest

from indexer import shared
from indexer.build import build
from kb.core import impact
from kb.core.config import Settings
from kb.core.generation import IndexStore
from tests.conftest import article, commit_all, write
from tests.test_impact import QUERIES, _rank, big  # noqa: F401 (fixture)

MORE_QUERIES = QUERIES + ["firmware update printer", "wifi drops", "label printer", "toner"]


def _impacts(s):
    return IndexStore(s.index_root).current().path / impact.DIR


def _ranks(s):
    return {(q, role): _rank(s, q, role).scores for q in MORE_QUERIES for role in ("agent", "customer")}


def _clean(repo, tmp_path, name):
    clean = Settings.load(env={}, home=tmp_path / name, articles=repo, semantic=False, encoders=())
    build(clean, full=True)
    return _ranks(clean)


def _edit(repo, n):
    write(repo, {"printer-offline.md": article("KB-0001", f"Printer offline after the firmware update {n}",
                                               tags=("printer", "firmware"))})


def test_small_knowledge_bases_write_their_impacts_whole(big):
    _edit(big.articles, 1)
    commit_all(big.articles, "Edit")
    build(big)
    assert not (_impacts(big) / impact.DELTA).exists()


@pytest.fixture
def sharing(big, monkeypatch):
    monkeypatch.setattr(shared, "SHARED_FROM", 0)
    monkeypatch.setattr(shared, "IMPACT_SHARE", 1.0)
    return big


def test_an_edit_links_the_shared_impacts_and_counts_only_what_changed(sharing, tmp_path):
    repo = sharing.articles
    live = _impacts(sharing)
    before = _ranks(sharing)
    _edit(repo, 1)
    (repo / "extra-1.md").unlink()
    write(repo, {"new-one.md": article("KB-2000", "Firmware update fails on the label printer")})
    commit_all(repo, "Edit, delete, add")
    assert not build(sharing).full
    folder = _impacts(sharing)
    for name in ("docs.npy", "w.npy", "raw_cols.npy", "ids.json"):
        assert os.stat(folder / name).st_ino == os.stat(live / name).st_ino       # linked, not copied
    assert sorted(impact.Impacts(folder / impact.DELTA, None).to_snap.tolist()) == [0, 1]   # two articles counted
    ids = (live / "ids.json").read_text()
    dead = np.load(folder / impact.DEAD)
    assert len(dead) == 2 and all(f'"{i}"' in ids for i in ("KB-0001", "KB-1001"))
    got, want = _ranks(sharing), _clean(repo, tmp_path, "clean")
    for key in want:
        assert got[key].keys() == want[key].keys(), key       # exactly what a clean build finds
        assert got[key] == pytest.approx(want[key], rel=0.15), key
    # an article the edits did not touch keeps its score for words they did not touch
    assert got[("outlook password prompt", "agent")]["KB-1005"] == before[("outlook password prompt", "agent")]["KB-1005"]
    assert "KB-1001" not in got[("wifi drops", "agent")]
    assert "KB-2000" in got[("label printer", "agent")]


def test_a_second_edit_carries_the_first_from_the_delta(sharing, tmp_path):
    repo = sharing.articles
    _edit(repo, 1)
    commit_all(repo, "First")
    build(sharing)
    write(repo, {"new-one.md": article("KB-2000", "Firmware update fails on the label printer")})
    commit_all(repo, "Second")
    build(sharing)
    delta = impact.Impacts(_impacts(sharing) / impact.DELTA, {"KB-0001": 0, "KB-2000": 1})
    assert sorted(delta.to_snap.tolist()) == [0, 1]            # the first edit carried, the new one counted
    got, want = _ranks(sharing), _clean(repo, tmp_path, "clean")
    assert {k: v.keys() for k, v in got.items()} == {k: v.keys() for k, v in want.items()}
    assert "KB-0001" in got[("firmware update printer", "agent")]


def test_past_their_share_the_impacts_are_written_whole_and_equal_a_clean_build(sharing, tmp_path, monkeypatch):
    repo = sharing.articles
    _edit(repo, 1)
    write(repo, {"new-one.md": article("KB-2000", "Firmware update fails on the label printer")})
    commit_all(repo, "Edit and add")
    build(sharing)
    assert (_impacts(sharing) / impact.DELTA).exists()
    monkeypatch.setattr(shared, "IMPACT_SHARE", 0.0)
    (repo / "extra-2.md").unlink()
    commit_all(repo, "Delete")
    build(sharing)
    assert not (_impacts(sharing) / impact.DELTA).exists()
    got, want = _ranks(sharing), _clean(repo, tmp_path, "clean")
    for key in want:
        assert got[key].keys() == want[key].keys(), key
        assert np.allclose([got[key][d] for d in sorted(got[key])], [want[key][d] for d in sorted(want[key])],
                           rtol=1e-5), key


def test_where_files_cannot_be_linked_the_impacts_are_written_whole(sharing, tmp_path, monkeypatch):
    def refuse(src, dst):
        raise OSError(1, "Operation not permitted")
    monkeypatch.setattr(shared.os, "link", refuse)
    _edit(sharing.articles, 1)
    commit_all(sharing.articles, "Edit")
    build(sharing)
    assert not (_impacts(sharing) / impact.DELTA).exists()
    got, want = _ranks(sharing), _clean(sharing.articles, tmp_path, "clean")
    assert {k: v.keys() for k, v in got.items()} == {k: v.keys() for k, v in want.items()}
