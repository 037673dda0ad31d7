"""Tree entries read from git (kb/core/gitobjects.py): naming the paths and listing the whole
tree give the same entries, in a real repository whose articles sit in a folder of it."""
from __future__ import annotations

import os

import pytest

from kb.core import gitobjects
from kb.core.repo import ArticleRepo
from tests.conftest import article, commit_all, make_repo


@pytest.fixture
def site(tmp_path):
    top = make_repo(tmp_path / "site", {"README.md": "site\n", "docs/kb/printer.md": article("KB-0001", "Printer"),
                                        "docs/kb/media/a.png": "png", "docs/kb/media/deep/b.svg": "<svg/>",
                                        "docs/other/c.png": "outside the articles"})
    os.symlink("../other", top / "docs/kb/linked")
    os.symlink("/etc/passwd", top / "docs/kb/media/passwd.png")
    commit_all(top, "Links")
    return ArticleRepo(top / "docs/kb")


WANTED = ["printer.md", "media/a.png", "media/deep/b.svg", "linked", "linked/c.png", "media/passwd.png",
          "missing.png", "../other/c.png", "../../README.md"]


def test_listing_the_whole_tree_finds_the_entries_naming_them_finds(site, monkeypatch):
    named = gitobjects.entries(site, "HEAD", WANTED)
    monkeypatch.setattr(gitobjects, "WHOLE_TREE", 0)
    assert gitobjects.entries(site, "HEAD", WANTED) == named
    assert set(named) == {"printer.md", "media/a.png", "media/deep/b.svg", "linked", "media/passwd.png"}
    assert named["media/a.png"].is_file and named["media/a.png"].size == 3
    assert not named["linked"].is_file and not named["media/passwd.png"].is_file
    # a folder is a tree entry (not a file) either way; named beside a file inside it, ls-tree
    # lists the file only, so the whole listing is the one that always names it
    assert gitobjects.entries(site, "HEAD", ["media/deep", *WANTED])["media/deep"].type == "tree"
    monkeypatch.setattr(gitobjects, "WHOLE_TREE", 10_000)
    assert gitobjects.entries(site, "HEAD", ["media/deep"])["media/deep"].type == "tree"
