"""The families stage of an incremental build (indexer/families.py) gives what a full build
gives while asking git only about what changed: the pairs whose files changed are answered from
the log of their own files, and the rest is carried over from the live generation. Real git
repositories and real generation folders."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import indexer.families as fam
from kb.core.articles import parse_article
from kb.core.generation import Generation
from kb.core.repo import ArticleRepo
from kb.core.translations import Translations
from tests.conftest import article, commit_all, git, make_repo
from tests.translations_support import families_same_as_full as _same_as_full
from tests.translations_support import families_stage as _build
from tests.translations_support import translation

FILES = {"printer.md": article("KB-0001", "Printer offline"),
         "printer-zh.md": translation("KB-0002", "打印机脱机", "KB-0001"),
         "vpn.md": article("KB-0003", "VPN error 809"),
         "vpn-zh.md": translation("KB-0004", "VPN 错误 809", "KB-0003"),
         "wifi.md": article("KB-0005", "Wi-Fi drops"),
         "wifi-zh.md": translation("KB-0006", "无线网络断开", "KB-0005"),
         "alone.md": article("KB-0007", "No translation")}


@pytest.fixture
def asked(monkeypatch):
    """The ``paths`` every Translations the families stage opens was given (None: the whole log)."""
    seen: list = []

    class Spy(Translations):
        starts: list = []              # the commit each one reads the log after (None: the whole history)

        def __init__(self, repo, paths=None, since=None):
            seen.append(None if paths is None else sorted(set(paths)))
            Spy.starts.append(since)
            super().__init__(repo, paths, since=since)

    monkeypatch.setattr(fam, "Translations", Spy)
    return seen


def _edit(repo: Path, path: str, old: str, new: str, message: str | None = None) -> None:
    f = repo / path
    f.write_text(f.read_text().replace(old, new, 1))
    if message:
        commit_all(repo, message)


def test_an_edit_asks_git_about_its_own_pair_and_answers_as_a_full_build(tmp_path, asked):
    repo = make_repo(tmp_path / "articles", FILES)
    g1, _ = _build(tmp_path, "g1", repo, None)
    assert asked == [sorted(FILES)[1:]]                         # three pairs: their six files' log
    assert json.loads((g1.path / "families.json").read_text())["behind"] == {}
    asked.clear()
    _edit(repo, "vpn.md", "A stale setting.", "An expired certificate.", "Explain the cause")
    g2, table = _build(tmp_path, "g2", repo, Generation(g1.path), ["vpn.md"])
    assert asked == [["vpn-zh.md", "vpn.md"]]                   # the log of the changed pair's files alone
    assert list(table["behind"]) == ["KB-0004"] and table["behind"]["KB-0004"]["commits"] == 1
    asked.clear()
    assert _same_as_full(tmp_path, repo, g2, "full2")["behind"] == table["behind"]
    assert asked == [sorted(FILES)[1:]]
    asked.clear()
    _edit(repo, "vpn-zh.md", "配置错误。", "证书过期。", "Catch up")
    g3, table = _build(tmp_path, "g3", repo, Generation(g2.path), ["vpn-zh.md"])
    assert asked == [["vpn-zh.md", "vpn.md"]] and table["behind"] == {}
    _same_as_full(tmp_path, repo, g3, "full3")


def test_many_changed_pairs_read_the_whole_log_and_answer_the_same(tmp_path, asked, monkeypatch):
    repo = make_repo(tmp_path / "articles", FILES)
    g1, _ = _build(tmp_path, "g1", repo, None)
    for src in ("printer.md", "vpn.md", "wifi.md"):
        _edit(repo, src, "A stale setting.", "A stale port.")
    commit_all(repo, "Three causes")
    monkeypatch.setattr(fam, "FEW_PAIRS", 2)
    asked.clear()
    g2, table = _build(tmp_path, "g2", repo, Generation(g1.path), ["printer.md", "vpn.md", "wifi.md"])
    assert asked == [None] and sorted(table["behind"]) == ["KB-0002", "KB-0004", "KB-0006"]
    _same_as_full(tmp_path, repo, g2, "full")


def test_a_history_with_merge_commits_answers_the_same_incrementally(tmp_path, asked):
    repo = make_repo(tmp_path / "articles", FILES)
    g1, _ = _build(tmp_path, "g1", repo, None)
    asked.clear()
    git(repo, "checkout", "-q", "-b", "fix-source")
    _edit(repo, "printer.md", "A stale setting.", "A stale port.", "Explain the cause")
    git(repo, "checkout", "-q", "main")
    _edit(repo, "printer-zh.md", "配置错误。", "配置错误（已核实）。", "Polish the translation")
    git(repo, "merge", "-q", "--no-ff", "-m", "Merge fix-source", "fix-source")
    g2, table = _build(tmp_path, "g2", repo, Generation(g1.path), ["printer.md", "printer-zh.md"])
    assert asked == [["printer-zh.md", "printer.md"]]
    assert table["behind"]["KB-0002"]["commit"] == git(repo, "rev-parse", "fix-source").strip()
    _same_as_full(tmp_path, repo, g2, "full")


def test_the_log_of_named_files_answers_as_the_folder_s_log_and_refuses_other_files(tmp_path):
    repo = make_repo(tmp_path / "articles", FILES)
    _edit(repo, "printer.md", "A stale setting.", "A stale port.", "Printer cause")
    _edit(repo, "wifi-zh.md", "配置错误。", "信号弱。", "Wi-Fi translation")
    _edit(repo, "vpn.md", "review_by: 2027-03-01", "review_by: 2028-03-01", "Review date")
    r = ArticleRepo(repo)
    pairs = [("printer.md", "printer-zh.md"), ("vpn.md", "vpn-zh.md"), ("wifi.md", "wifi-zh.md")]
    with Translations(r) as whole:
        expected = [whole.behind(s, t) for s, t in pairs]
    for s, t in pairs:
        with Translations(r, [s, t]) as narrow:
            assert narrow.behind(s, t) == expected[pairs.index((s, t))]
            with pytest.raises(ValueError):
                narrow.history("alone.md")
    assert [b is not None for b in expected] == [True, False, False]


def test_an_edit_outside_the_families_keeps_the_live_groups_and_files(tmp_path, asked, monkeypatch):
    repo = make_repo(tmp_path / "articles", FILES)
    g1, _ = _build(tmp_path, "g1", repo, None)
    grouped: list = []
    real = fam.families.families
    monkeypatch.setattr(fam.families, "families", lambda ms: grouped.append(1) or real(ms))
    _edit(repo, "alone.md", "A stale setting.", "A stale cable.")
    (repo / "new.md").write_text(article("KB-0008", "Brand new"))
    commit_all(repo, "Edit one, add one")
    g2, _ = _build(tmp_path, "g2", repo, Generation(g1.path), ["alone.md", "new.md"])
    assert grouped == [] and asked == [sorted(FILES)[1:]]               # only g1 asked git
    for name in ("families.json", "family-members.jsonl"):
        same = (g2.path / name).stat().st_ino == (g1.path / name).stat().st_ino
        assert same == (name == "families.json")                     # the new article's facts are added
    _same_as_full(tmp_path, repo, g2, "full2")
    (repo / "new-zh.md").write_text(translation("KB-0009", "全新", "KB-0008"))   # a new family
    commit_all(repo, "Translate the new one")
    g3, table = _build(tmp_path, "g3", repo, Generation(g2.path), ["new-zh.md"])
    assert grouped and table["groups"]["KB-0008"] == ["KB-0008", "KB-0009"]
    _same_as_full(tmp_path, repo, g3, "full3")


def test_a_pair_answered_before_is_answered_from_the_commits_since_as_a_full_build(tmp_path, asked):
    repo = make_repo(tmp_path / "articles", FILES)
    live, _ = _build(tmp_path, "g0", repo, None)
    steps = [("printer.md", "A stale setting.", "A stale port.", "Explain the cause"),            # behind
             ("printer.md", "A stale port.", "A stale port (check the cable).", "Say more"),       # further behind
             ("printer-zh.md", "title:", "review_by: 2027-09-01\ntitle:", "Front matter only"),  # still behind
             ("printer-zh.md", "配置错误。", "端口错误。", "Catch up"),                            # caught up
             ("printer.md", "Restart", "Power-cycle",
              "Reword\n\nTranslation-Impact: none"),                                              # needs no work
             ("vpn.md", "A stale setting.", "A wrong proxy.", "VPN cause"),                        # vpn behind
             ("printer.md", "Power-cycle", "Restart", "Back"),                                     # behind again
             [("vpn.md", "A wrong proxy.", "A wrong PAC file.", "VPN cause, again"),               # two commits:
              ("vpn-zh.md", "配置错误。", "代理错误。", "VPN caught up")]]                         # caught up
    for i, step in enumerate(steps, 1):
        fam.Translations.starts.clear()
        for path, old, new, message in step if isinstance(step, list) else [step]:
            _edit(repo, path, old, new, message)
        edited = sorted({e[0] for e in (step if isinstance(step, list) else [step])})
        gen, table = _build(tmp_path, f"g{i}", repo, Generation(live.path), edited)
        assert fam.Translations.starts and all(fam.Translations.starts), i     # only the commits since
        full = _same_as_full(tmp_path, repo, gen, f"full{i}")
        assert table["behind"] == full["behind"], i
        live = gen
    assert list(table["behind"]) == ["KB-0002"] and table["behind"]["KB-0002"]["commits"] == 1


def test_the_live_files_stand_only_while_no_family_file_changed_since_their_pairs(tmp_path, asked):
    repo = make_repo(tmp_path / "articles", FILES)
    g1, _ = _build(tmp_path, "g1", repo, None)
    _edit(repo, "alone.md", "A stale setting.", "A stale cable.", "Edit the lone article")
    g2, _ = _build(tmp_path, "g2", repo, Generation(g1.path), ["alone.md"])
    assert (g2.path / "families.json").stat().st_ino == (g1.path / "families.json").stat().st_ino
    before, after = (json.loads((g / "family-pairs.json").read_text()) for g in (g1.path, g2.path))
    assert after == {**before, "commit": git(repo, "rev-parse", "HEAD").strip()}   # answered the same at HEAD
    _edit(repo, "vpn.md", "A stale setting.", "An expired certificate.")   # not committed yet
    g3, table = _build(tmp_path, "g3", repo, Generation(g2.path), ["vpn.md"])
    assert table["behind"] == {}                                          # blobs are read from commits
    commit_all(repo, "Explain the cause")
    asked.clear()
    # the build reads nothing (the file is as it was indexed), but the commit since the pairs'
    # changed the source of a family: its pair is asked about again
    g4, table = _build(tmp_path, "g4", repo, Generation(g3.path), [])
    assert asked == [["vpn-zh.md", "vpn.md"]] and list(table["behind"]) == ["KB-0004"]
    _same_as_full(tmp_path, repo, g4, "full4")


def test_a_rewritten_history_is_read_whole(tmp_path, asked):
    repo = make_repo(tmp_path / "articles", FILES)
    _edit(repo, "printer.md", "A stale setting.", "A stale port.", "Explain the cause")
    live, _ = _build(tmp_path, "g0", repo, None)
    git(repo, "reset", "-q", "--hard", "HEAD~1")                    # the live commit is gone from HEAD's history
    _edit(repo, "printer.md", "A stale setting.", "A stale cable.", "Another cause")
    fam.Translations.starts.clear()
    gen, table = _build(tmp_path, "g1", repo, Generation(live.path), ["printer.md"])
    assert fam.Translations.starts == [None]
    assert table["behind"] == _same_as_full(tmp_path, repo, gen, "full")["behind"] and "KB-0002" in table["behind"]


def test_answers_kept_without_last_commits_are_worked_out_again_once(tmp_path, asked):
    repo = make_repo(tmp_path / "articles", FILES)
    g1, _ = _build(tmp_path, "g1", repo, None)
    kept = json.loads((g1.path / "family-pairs.json").read_text())
    del kept["last"]                                           # as a generation before them kept them
    (g1.path / "family-pairs.json").write_text(json.dumps(kept))
    _edit(repo, "vpn.md", "A stale setting.", "An expired certificate.", "Explain the cause")
    asked.clear()
    fam.Translations.starts.clear()
    g2, table = _build(tmp_path, "g2", repo, Generation(g1.path), ["vpn.md"])
    assert asked == [sorted(FILES)[1:]] and fam.Translations.starts == [None]    # every pair, whole history
    assert len(json.loads((g2.path / "family-pairs.json").read_text())["last"]) == 3
    assert table["behind"] == _same_as_full(tmp_path, repo, g2, "full")["behind"]
