"""The members file of a generation (indexer/members.py): an edit splices its lines into the
live file instead of reading and writing every article's facts, and what it leaves is what a
full build writes, line for line as a set; a generation written before, with one JSON object,
is read whole. Real git repositories and real generation folders."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import indexer.families as fam
from indexer import members
from kb.core.articles import parse_article
from kb.core.generation import Generation
from kb.core.repo import ArticleRepo
from tests.conftest import article, commit_all, make_repo
from tests.translations_support import families_same_as_full, translation
from tests.translations_support import families_stage as _build

FILES = {"printer.md": article("KB-0001", "Printer offline"),
         "printer-zh.md": translation("KB-0002", "打印机脱机", "KB-0001"),
         "vpn.md": article("KB-0003", "VPN error 809"),
         "文档 \"引号\".md": article("KB-0004", "A path with quotes", language="zh"),
         "alone.md": article("KB-0005", "No translation")}


def _rows(gen: Generation) -> tuple[list, dict]:
    lines = (gen.path / members.NAME).read_text("utf-8").splitlines()
    return sorted(lines[1:]), json.loads(lines[0])


def _as_full(tmp_path: Path, repo: Path, gen: Generation, name: str) -> None:
    families_same_as_full(tmp_path, repo, gen, name)
    assert _rows(gen) == _rows(Generation(tmp_path / name))


@pytest.fixture
def read_whole(monkeypatch) -> list:
    """What of a members file was read whole: 1 for every article's facts, "spans" for the
    place of every line."""
    seen: list = []
    for name, mark in (("all", 1), ("spans", "spans")):
        real = getattr(members.Members, name)
        monkeypatch.setattr(members.Members, name, lambda self, real=real, mark=mark: seen.append(mark) or real(self))
    return seen


@pytest.mark.parametrize("told", [["vpn.md"], None, []], ids=["removed told", "removed found", "told wrong"])
def test_edits_splice_the_live_lines_and_leave_what_a_full_build_writes(tmp_path, read_whole, told):
    repo = make_repo(tmp_path / "articles", FILES)
    g1, _ = _build(tmp_path, "g1", repo, None)

    (repo / "printer-zh.md").write_text(FILES["printer-zh.md"].replace("打印机脱机", "打印机离线"))
    (repo / "文档 \"引号\".md").write_text(FILES["文档 \"引号\".md"].replace("with quotes", "with quotes, edited"))
    (repo / "vpn.md").unlink()
    (repo / "new.md").write_text(article("KB-0006", "Brand new"))
    commit_all(repo, "Retitle, remove, add")
    g2, table = _build(tmp_path, "g2", repo, Generation(g1.path), ["new.md", "printer-zh.md", "文档 \"引号\".md"],
                       told)
    assert read_whole == ([] if told else ["spans"])            # groups stood: no article's facts read whole
    assert table["versions"]["KB-0002"] == ["printer-zh", "zh", "打印机离线"]
    _as_full(tmp_path, repo, g2, "full2")

    g3, _ = _build(tmp_path, "g3", repo, Generation(g2.path), ["alone.md"])        # parsed, unchanged
    assert (g3.path / members.NAME).stat().st_ino == (g2.path / members.NAME).stat().st_ino

    (repo / "alone.md").write_text(translation("KB-0005", "Now a translation", "KB-0006"))
    commit_all(repo, "alone.md becomes the Chinese version of new.md")
    g4, table = _build(tmp_path, "g4", repo, Generation(g3.path), ["alone.md"])
    assert read_whole and table["groups"]["KB-0006"] == ["KB-0006", "KB-0005"]
    assert _rows(g4)[1]["named"] == {"KB-0001": 1, "KB-0006": 1}
    _as_full(tmp_path, repo, g4, "full4")


def test_a_generation_written_before_is_read_whole_and_answered_the_same(tmp_path):
    repo = make_repo(tmp_path / "articles", FILES)
    g1, _ = _build(tmp_path, "g1", repo, None)
    rows = {}
    for line in (g1.path / members.NAME).read_text("utf-8").splitlines()[1:]:
        rel, *facts = json.loads(line)
        rows[rel] = facts
    (g1.path / members.NAME).unlink()
    (g1.path / members.BEFORE).write_text(json.dumps({"format": 2, "members": rows}))
    old = members.Members.read(g1.path)
    assert old.whole == rows and old.named == {"KB-0001": 1} and old.unique
    (repo / "vpn.md").write_text(FILES["vpn.md"].replace("VPN error 809", "VPN error 812"))
    commit_all(repo, "Retitle")
    g2, _ = _build(tmp_path, "g2", repo, Generation(g1.path), ["vpn.md"])
    _as_full(tmp_path, repo, g2, "full")


def test_a_damaged_members_file_is_not_read(tmp_path):
    (tmp_path / members.NAME).write_text('{"format": 3, "named": {}, "rows": 1}\n["a.md", "KB-1"]\n')  # no "unique"
    assert members.Members.read(tmp_path) is None
    (tmp_path / members.NAME).write_text("not json\n")
    assert members.Members.read(tmp_path) is None


def test_a_live_generation_without_its_members_file_makes_the_next_build_full(tmp_path):
    from indexer.build import build
    from kb.core.config import Settings
    from kb.core.generation import IndexStore

    repo = make_repo(tmp_path / "articles", FILES)
    s = Settings.load(env={}, home=tmp_path / "state", articles=repo, semantic=False, encoders=())
    assert build(s).ok
    (IndexStore(s.index_root).current().path / members.NAME).unlink()
    (repo / "alone.md").write_text(FILES["alone.md"].replace("No translation", "Still no translation"))
    commit_all(repo, "Retitle")
    report = build(s)
    assert report.full and report.ok
    table = json.loads((IndexStore(s.index_root).current().path / "families.json").read_text("utf-8"))
    assert table["groups"] == {"KB-0001": ["KB-0001", "KB-0002"]}
