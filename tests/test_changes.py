"""What `kb index` reads to decide what changed: in a git checkout only the files git names
(commits since the live generation, `git status`), and every change still found: committed,
uncommitted, untracked, deleted, reverted."""
import datetime as dt

from indexer.build import build
from kb.core.generation import IndexStore
from kb.core.repo import ArticleRepo
from kb.search.searcher import Searcher, SearchQuery
from tests.conftest import article, commit_all, git, write


def titles(settings) -> dict[str, str]:
    return {f["id"]: f["title"] for f in Searcher(settings).all_articles("admin")}


def reads(monkeypatch) -> list[str]:
    got: list[str] = []
    real = ArticleRepo.read_listed

    def spy(self, relpaths):
        got.extend(relpaths)
        return real(self, relpaths)
    monkeypatch.setattr(ArticleRepo, "read_listed", spy)
    return got


def test_nothing_changed_reads_no_article(indexed, monkeypatch):
    read = reads(monkeypatch)
    r = build(indexed)
    assert not r.written and r.unchanged == 6 and read == []


def test_every_kind_of_change_is_found_and_only_those_files_are_read(indexed, repo, monkeypatch):
    s = indexed
    read = reads(monkeypatch)
    write(repo, {"printer-offline.md": article("KB-0001", "Printer offline after the firmware update")})
    commit_all(repo, "Committed edit")
    write(repo, {"vpn-error-809.md": article("KB-0002", "VPN error 809 on hotel Wi-Fi", product="vpn")})  # not committed
    write(repo, {"brand-new.md": article("KB-0100", "Badge printer jams")})                   # untracked
    git(repo, "rm", "-q", "draft-scanner.md")
    r = build(s)
    assert sorted(read) == ["brand-new.md", "printer-offline.md", "vpn-error-809.md"]     # nothing else
    assert r.changed == ["printer-offline.md", "vpn-error-809.md"] and r.added == ["brand-new.md"]
    assert r.removed == ["draft-scanner.md"]
    got = titles(s)
    assert got["KB-0001"] == "Printer offline after the firmware update" and got["KB-0100"] == "Badge printer jams"
    assert got["KB-0002"] == "VPN error 809 on hotel Wi-Fi" and "KB-0005" not in got
    # the uncommitted edit is reverted: the committed text is indexed again
    git(repo, "checkout", "--", "vpn-error-809.md")
    read.clear()
    r = build(s)
    assert r.changed == ["vpn-error-809.md"] and "vpn-error-809.md" in read and "printer-offline.md" not in read
    assert titles(s)["KB-0002"] != "VPN error 809 on hotel Wi-Fi"
    assert not build(s).written


def test_outside_git_every_file_is_hashed(tmp_path, settings, monkeypatch):
    folder = tmp_path / "plain"
    write(folder, {"a.md": article("KB-0500", "Plain folder article"), "b.md": article("KB-0501", "Another one")})
    s = settings.replace(articles=folder)
    build(s)
    read = reads(monkeypatch)
    write(folder, {"b.md": article("KB-0501", "Another one, edited")})
    r = build(s)
    assert sorted(read) == ["a.md", "b.md"] and r.changed == ["b.md"] and r.unchanged == 1


def test_whoosh_segments_are_plain_files(indexed, repo):
    """A compound segment would be copied into each reader's memory as it opens it."""
    write(repo, {"brand-new.md": article("KB-0100", "Badge printer jams")})
    commit_all(repo, "One more")
    build(indexed)
    whoosh = IndexStore(indexed.index_root).current().whoosh_dir
    assert not list(whoosh.glob("*.seg")) and list(whoosh.glob("*.trm"))
    assert Searcher(indexed).search(SearchQuery("badge printer", role="agent", mode="keyword")).results[0].id == "KB-0100"


def test_many_paths_get_their_last_commits_from_one_walk(indexed, repo, monkeypatch):
    from kb.core import repo as repo_mod
    write(repo, {"printer-offline.md": article("KB-0001", "Printer offline, again")})
    commit_all(repo, "Second commit")
    r = ArticleRepo(repo)
    paths = sorted(r.files())
    one_by_one = r.last_commits(paths)
    monkeypatch.setattr(repo_mod, "WHOLE_LOG", 1)
    assert r.last_commits(paths) == one_by_one and len(one_by_one) == len(paths)
    assert r.last_commits(paths)["printer-offline.md"] != r.last_commits(paths)["vpn-error-809.md"]


def test_a_few_paths_get_the_same_last_commits_asked_one_by_one(indexed, repo, monkeypatch):
    from kb.core import repo as repo_mod
    write(repo, {"printer-offline.md": article("KB-0001", "Printer offline, again")})
    commit_all(repo, "Second commit")
    r = ArticleRepo(repo)
    paths = sorted(r.files())[:5] + ["printer-offline.md", "no-such-file.md"]
    monkeypatch.setattr(repo_mod, "FEW_PATHS", 0)
    walked = r.last_commits(paths)
    monkeypatch.setattr(repo_mod, "FEW_PATHS", 100)
    asked = r.last_commits(paths)
    assert asked == walked and "no-such-file.md" not in asked
    assert asked["printer-offline.md"].commit == r.head()
    for info in walked.values():        # a date as git wrote it, nothing after it
        assert dt.datetime.fromisoformat(info.date).tzinfo is not None


def test_a_status_asked_for_ahead_is_taken_once_and_only_while_fresh(indexed, repo, monkeypatch):
    import kb.core.repo as repo_module
    r = ArticleRepo(repo)
    head = r.head()
    r.status_ahead()                               # as `kb index` asks while it imports the indexer
    repo_module._ahead[(r.toplevel, r.prefix)][1].result()     # git has answered
    write(repo, {"late.md": article("KB-0200", "Written after the status was asked for")})
    assert r.changed_since(head) == (set(), set())          # the answer of the moment it was asked
    assert r.changed_since(head) == (set(), {"late.md"})    # taken once: then git is asked again
    r.status_ahead()
    (repo / "later.md").write_text(article("KB-0201", "Later still"))
    monkeypatch.setattr(repo_module, "AHEAD_FOR", 0.0)     # an answer too old is not taken
    assert r.changed_since(head) == (set(), {"late.md", "later.md"})
    report = build(indexed)
    assert sorted(report.added) == ["late.md", "later.md"]
