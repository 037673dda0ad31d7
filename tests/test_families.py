"""Article families: translations name their source in front matter; `kb check` reports every
broken link as path:line, in a real git repository of real Markdown."""
from __future__ import annotations

from kb.core import families
from kb.quality.check import check_folder
from tests.conftest import ROOT, article, make_repo
from tests.translations_support import translation


def test_kb_check_names_every_broken_translation_link(tmp_path):
    repo = make_repo(tmp_path / "articles", {
        "printer.md": article("KB-0001", "Printer offline"),
        "printer-zh.md": translation("KB-0002", "打印机脱机", "KB-0001"),
        "printer-zh-2.md": translation("KB-0003", "打印机又脱机", "KB-0001"),          # a second zh version
        "chain.md": translation("KB-0004", "打印机链", "KB-0002", language="en"),     # a translation of a translation
        "ghost.md": translation("KB-0005", "幽灵", "KB-0999"),                        # no such source
        "same.md": translation("KB-0006", "Printer offline again", "KB-0001", language="en"),
        "secret.md": article("KB-0007", "Internal runbook", visibility="internal"),
        "secret-zh.md": translation("KB-0008", "内部手册", "KB-0007"),                # public translation of internal
        "secret-zh-ok.md": translation("KB-0009", "内部手册（内部）", "KB-0007", visibility="internal").replace(
            "language: zh", "language: en", 1).replace("title: \"内部手册（内部）\"", "title: \"Runbook copy\""),
    })
    problems, _ = check_folder(repo)
    out = sorted(str(p).replace(str(repo) + "/", "") for p in problems)
    assert out == sorted([
        "printer-zh-2.md:8: translation_of: KB-0001 already has a zh version (printer-zh.md): one version per language",
        "chain.md:8: translation_of: KB-0002 is itself a translation (of KB-0001): name the source, KB-0001",
        "ghost.md:8: translation_of: no article 'KB-0999'",
        "same.md:8: translation_of: KB-0001 is in en too: a translation is in another language",
        "secret-zh.md:9: visibility: public, but its source KB-0007 is internal: customers would read what the "
        "source keeps internal",
        "secret-zh-ok.md:8: translation_of: KB-0007 is in en too: a translation is in another language",
    ])


def test_families_group_a_source_and_its_translations():
    m = [families.Member("KB-1", "a.md", "en", "public", "published"),
         families.Member("KB-2", "a-zh.md", "zh", "public", "published", "KB-1"),
         families.Member("KB-3", "b.md", "en", "public", "published"),
         families.Member("KB-4", "c-zh.md", "zh", "public", "published", "KB-404")]
    assert {k: [x.id for x in v] for k, v in families.families(m).items()} == \
        {"KB-1": ["KB-1", "KB-2"], "KB-3": ["KB-3"], "KB-4": ["KB-4"]}


def test_the_starter_knowledge_base_links_its_ten_translated_pairs():
    problems, count = check_folder(ROOT / "articles", strict=True)
    assert problems == [] and count == 61
    from kb.core.articles import parse_article
    members = [families.member(parse_article(p.name, p.read_bytes())) for p in (ROOT / "articles").glob("*.md")]
    pairs = [v for v in families.families(members).values() if len(v) > 1]
    assert len(pairs) == 10 and all([m.language for m in v] == ["en", "zh"] for v in pairs)


def test_a_translation_is_behind_when_its_source_s_content_changed_after_it(tmp_path):
    from kb.core.repo import ArticleRepo
    from kb.core.translations import behind, source_diff
    from tests.conftest import commit_all, git
    repo = make_repo(tmp_path / "articles", {"printer.md": article("KB-0001", "Printer offline"),
                                             "printer-zh.md": translation("KB-0002", "打印机脱机", "KB-0001")})
    r = ArticleRepo(repo)
    assert behind(r, "printer.md", "printer-zh.md") is None                 # written together

    def edit(path, old, new, message):
        p = repo / path
        p.write_text(p.read_text().replace(old, new, 1))
        commit_all(repo, message)

    edit("printer.md", "review_by: 2027-03-01", "review_by: 2028-01-01", "Review date")    # front matter only
    edit("printer.md", "1. Open **Settings**.", "1.   Open   **Settings**.", "Spacing")   # whitespace only
    edit("printer.md", "Restart the device.", "Restart the router.",
         "Fix a word\n\nTranslation-Impact: none")                                          # said to need no work
    assert behind(r, "printer.md", "printer-zh.md") is None
    edit("printer.md", "A stale setting.", "A stale IP address on the printer port.", "Explain the cause")
    edit("printer.md", "Windows 11", "Windows 11 and 10", "Environment")
    b = behind(r, "printer.md", "printer-zh.md")
    assert b is not None and b.commits == 2
    assert b.commit == git(repo, "rev-parse", "HEAD~1").strip()            # the first change it missed
    assert "+A stale IP address on the printer port." in source_diff(r, "printer.md", b.base)
    assert "-A stale setting." in source_diff(r, "printer.md", b.base)
    edit("printer-zh.md", "review_by: 2027-03-01", "review_by: 2028-01-01", "zh review date")  # not a catch-up
    assert behind(r, "printer.md", "printer-zh.md") is not None
    edit("printer-zh.md", "配置错误。", "打印机端口仍指向旧的 IP 地址。", "Update the translation")
    assert behind(r, "printer.md", "printer-zh.md") is None


def _pairs_asked_one_by_one(r, pairs):
    """What git answers for each pair on its own (a log per file, as a history with merges is read)."""
    from kb.core.translations import Translations
    with Translations(r) as t:
        t.linear = False
        return [t.behind(src, tr) for src, tr in pairs]


def test_many_pairs_read_from_one_log_get_the_answers_git_gives_per_pair(tmp_path):
    """Articles in a folder of a larger repository, a linear history: the one-log reading of
    every file's commits answers as asking git per pair does."""
    from kb.core.repo import ArticleRepo
    from kb.core.translations import Translations
    from tests.conftest import commit_all
    top = make_repo(tmp_path / "site", {"README.md": "site\n", "kb/printer.md": article("KB-0001", "Printer offline"),
                                        "kb/printer-zh.md": translation("KB-0002", "打印机脱机", "KB-0001"),
                                        "kb/vpn.md": article("KB-0003", "VPN error 809"),
                                        "kb/vpn-zh.md": translation("KB-0004", "VPN 错误 809", "KB-0003"),
                                        "kb/wifi.md": article("KB-0005", "Wi-Fi drops"),
                                        "kb/wifi-zh.md": translation("KB-0006", "无线网络断开", "KB-0005")})
    for path, old, new in [("kb/printer.md", "A stale setting.", "A stale port."),       # printer-zh behind
                           ("kb/vpn-zh.md", "配置错误。", "证书过期。"),                  # a translation moved on
                           ("README.md", "site", "site and more"),                        # outside the articles
                           ("kb/wifi.md", "review_by: 2027-03-01", "review_by: 2028-01-01")]:
        f = top / path
        f.write_text(f.read_text().replace(old, new, 1))
        commit_all(top, f"Edit {path}")
    r = ArticleRepo(top / "kb")
    pairs = [("printer.md", "printer-zh.md"), ("vpn.md", "vpn-zh.md"), ("wifi.md", "wifi-zh.md"),
             ("printer.md", "missing-zh.md")]
    with Translations(r) as t:
        assert t.linear
        got = [t.behind(src, tr) for src, tr in pairs]
    assert got == _pairs_asked_one_by_one(r, pairs)
    assert [b is not None for b in got] == [True, False, False, False]


def test_a_source_change_merged_after_the_translation_counts_though_it_was_written_before(tmp_path):
    """With merge commits, 'after' means not reachable from the translation's last change, as
    git reads it, not an earlier date: a source edit on a branch written before the translation
    was updated, merged after it, leaves the translation behind."""
    from kb.core.repo import ArticleRepo
    from kb.core.translations import Translations
    from tests.conftest import commit_all, git
    repo = make_repo(tmp_path / "articles", {"printer.md": article("KB-0001", "Printer offline"),
                                             "printer-zh.md": translation("KB-0002", "打印机脱机", "KB-0001")})
    git(repo, "checkout", "-q", "-b", "fix-source")
    src = repo / "printer.md"
    src.write_text(src.read_text().replace("A stale setting.", "A stale port."))
    commit_all(repo, "Explain the cause")
    git(repo, "checkout", "-q", "main")
    tr = repo / "printer-zh.md"
    tr.write_text(tr.read_text().replace("配置错误。", "配置错误（已核实）。"))
    commit_all(repo, "Polish the translation")
    git(repo, "merge", "-q", "--no-ff", "-m", "Merge fix-source", "fix-source")
    r = ArticleRepo(repo)
    with Translations(r) as t:
        assert not t.linear
        b = t.behind("printer.md", "printer-zh.md")
    assert b is not None and b.commits == 1
    assert b.commit == git(repo, "rev-parse", "fix-source").strip()


def test_kb_check_against_a_ref_warns_when_a_source_changes_without_its_translation(tmp_path):
    from tests.conftest import commit_all, git
    repo = make_repo(tmp_path / "articles", {"printer.md": article("KB-0001", "Printer offline"),
                                             "printer-zh.md": translation("KB-0002", "打印机脱机", "KB-0001"),
                                             "vpn.md": article("KB-0003", "VPN error")})
    git(repo, "tag", "base")

    def warnings():
        found: list = []
        check_folder(repo, strict=True, against="base", warnings=found)
        return [str(w).replace(str(repo) + "/", "") for w in found]

    src = repo / "printer.md"
    src.write_text(src.read_text().replace("A stale setting.", "An old printer port."))
    assert warnings() == ["printer.md:13: warning: the content changed but its zh translation (printer-zh.md) did "
                          "not: update it too, or say 'Translation-Impact: none' in the commit message if it needs "
                          "no change"]                                        # uncommitted: no trailer can say so
    commit_all(repo, "Fix the cause\n\nTranslation-Impact: none")
    assert warnings() == []
    src.write_text(src.read_text().replace("review_by: 2027-03-01", "review_by: 2028-03-01"))
    commit_all(repo, "Review date")                                          # front matter only, since base: same
    assert warnings() == []
    src.write_text(src.read_text().replace("Restart the device.", "Restart the printer."))
    commit_all(repo, "Restart the printer")
    assert len(warnings()) == 1
    zh = repo / "printer-zh.md"
    zh.write_text(zh.read_text().replace("重新启动。", "重新启动打印机。"))
    commit_all(repo, "Translation too")
    assert warnings() == []
    (repo / "vpn.md").write_text((repo / "vpn.md").read_text().replace("A stale setting.", "x"))
    assert warnings() == []                                                  # no translation to fall behind
