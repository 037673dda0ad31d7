"""Incremental builds in a real git repo, generations swapped atomically, broken files."""
import json

import pytest

from indexer import build as build_mod
from indexer.build import build
from kb.core.generation import IndexStore
from kb.search.searcher import Searcher, SearchQuery
from tests.conftest import article, commit_all, git, write


def ids(settings, text, role="agent", **kw):
    res = Searcher(settings).search(SearchQuery(text, role=role, mode="keyword", **kw))
    return [h.id for h in res.results]


def test_full_build_indexes_every_article_with_git_facts(indexed):
    s = indexed
    doc = Searcher(s).get("KB-0001", role="agent")
    meta = doc["meta"]
    assert meta["author"] == "Ada Engineer" and len(meta["commit"]) == 40 and meta["updated"]
    gen = IndexStore(s.index_root).current()
    manifest = gen.manifest()
    assert len(manifest["articles"]) == 6 and manifest["commit"] == meta["commit"]


def test_incremental_edit_delete_rename(indexed, repo):
    s = indexed
    # edit one, delete one, rename one, add one
    write(repo, {"printer-offline.md": article("KB-0001", "Printer shows offline after the firmware update")})
    (repo / "draft-scanner.md").unlink()
    git(repo, "mv", "vpn-error-809.md", "vpn-809.md")
    write(repo, {"mailbox-full.md": article("KB-0007", "Mailbox full warning in Outlook", product="email")})
    commit_all(repo, "Edit, delete, rename, add")
    r = build(s)
    assert not r.full
    assert r.added == ["mailbox-full.md", "vpn-809.md"]
    assert r.changed == ["printer-offline.md"]
    assert sorted(r.removed) == ["draft-scanner.md", "vpn-error-809.md"]
    assert r.unchanged == 3
    assert ids(s, "firmware") == ["KB-0001"]
    assert ids(s, "replaced") == []                   # the old text is gone
    assert ids(s, "scanner") == []                    # deleted
    assert ids(s, "mailbox") == ["KB-0007"]
    assert Searcher(s).get("KB-0002", role="agent")["slug"] == "vpn-809"
    # nothing changed: nothing reprocessed
    r2 = build(s)
    assert (r2.added, r2.changed, r2.removed, r2.unchanged) == ([], [], [], 6)


def test_uncommitted_edits_are_indexed_too(indexed, repo):
    write(repo, {"printer-offline.md": article("KB-0001", "Printer jams on tray two")})
    r = build(indexed)
    assert r.changed == ["printer-offline.md"]
    assert ids(indexed, "jams") == ["KB-0001"]


def test_analyzer_change_forces_full_rebuild(indexed, monkeypatch):
    monkeypatch.setattr(build_mod, "ANALYZER_VERSION", "test-next")
    r = build(indexed)
    assert r.full and len(r.added) == 6


def test_broken_article_is_reported_others_indexed_old_version_kept(indexed, repo):
    write(repo, {"printer-offline.md": "---\nid: KB-0001\ntitle: [broken\n---\nx\n",
                 "new.md": article("KB-0010", "Docking station monitors not detected", product="laptop")})
    r = build(indexed)
    assert [e.line for e in r.errors] == [3]
    assert r.errors[0].path.endswith("printer-offline.md")
    assert ids(indexed, "docking") == ["KB-0010"]
    assert ids(indexed, "replaced") == ["KB-0001"]    # the last good version still serves


def test_duplicate_id_is_reported_and_skipped(indexed, repo):
    write(repo, {"copy.md": article("KB-0002", "A copy with the same id")})
    r = build(indexed)
    assert len(r.errors) == 1 and "duplicate id 'KB-0002'" in str(r.errors[0])
    assert str(r.errors[0]).split(":")[1] == "2"
    assert ids(indexed, "copy") == []


def test_interrupted_build_leaves_live_index_serving(indexed, repo, monkeypatch):
    before = IndexStore(indexed.index_root).current_name()
    write(repo, {"new.md": article("KB-0011", "Badge release printing fails", product="printing")})

    def crash(*a, **k):
        raise KeyboardInterrupt("killed mid-build")
    monkeypatch.setattr(build_mod, "assemble", crash)
    with pytest.raises(KeyboardInterrupt):
        build(indexed)
    store = IndexStore(indexed.index_root)
    assert store.current_name() == before
    assert [p.name for p in indexed.index_root.glob("gen-*")] == [before]   # half build removed
    assert ids(indexed, "replaced") == ["KB-0001"]
    monkeypatch.undo()
    assert not build(indexed).errors
    assert ids(indexed, "badge") == ["KB-0011"]


def test_searcher_follows_new_generation(indexed, repo):
    searcher = Searcher(indexed)
    assert [h.id for h in searcher.search(SearchQuery("mailbox", role="agent", mode="keyword")).results] == []
    write(repo, {"mailbox-full.md": article("KB-0007", "Mailbox full warning in Outlook", product="email")})
    build(indexed)
    assert [h.id for h in searcher.search(SearchQuery("mailbox", role="agent", mode="keyword")).results] == ["KB-0007"]


def test_plain_folder_without_git_uses_file_times(tmp_path, settings):
    folder = tmp_path / "plain"
    folder.mkdir()
    (folder / "a.md").write_text(article("KB-1", "Plain folder article"), "utf-8")
    s = settings.replace(articles=folder, home=tmp_path / "state2")
    assert build(s).ok
    meta = Searcher(s).get("KB-1", role="agent")["meta"]
    assert meta["commit"] is None and meta["updated"]


def test_old_generations_are_cleaned(indexed, repo):
    for i in range(3):
        write(repo, {"printer-offline.md": article("KB-0001", f"Printer offline take {i}")})
        build(indexed)
    gens = sorted(p.name for p in indexed.index_root.glob("gen-*"))
    assert len(gens) == 2   # the live one and one previous
    assert json.loads((indexed.index_root / gens[-1] / "manifest.json").read_text())


def test_chunking_change_forces_full_rebuild(indexed, monkeypatch):
    monkeypatch.setattr(build_mod, "CHUNKING_VERSION", "test-next")
    r = build(indexed)
    assert r.full and len(r.added) == 6


def test_snapshot_facets_from_manifest_equal_the_stored_fields(indexed, repo):
    from kb.search.snapshot import Snapshot
    write(repo, {"printer-offline.md": article("KB-0001", "Printer offline", visibility="internal",
                                               tags=("Printer", "WiFi"))})
    commit_all(repo, "Make KB-0001 internal")
    assert not build(indexed).full
    gen = IndexStore(indexed.index_root).current()
    snap = Snapshot.load(gen)
    facets = {d: snap.facets(i) for d, i in snap.pos.items()}
    with gen.open_whoosh().reader() as reader:     # the same facets, from the stored documents
        stored = {f["id"]: (f["visibility"], f["status"], f["language"], f["product"],
                            {t.lower() for t in f["meta"]["tags"]}) for f in reader.all_stored_fields()}
    assert facets == stored
    assert facets["KB-0001"] == ("internal", "published", "en", "printing", {"printer", "wifi"})


def test_a_generation_of_an_older_format_is_refused_in_one_line_until_kb_index_rebuilds_it(indexed, monkeypatch):
    from click.testing import CliRunner

    from kb.cli import main
    from kb.core.errors import IndexOutdated
    from kb.search.searcher import Searcher, SearchQuery
    gen = IndexStore(indexed.index_root).current()
    manifest = gen.manifest()
    manifest["format"] = 2                       # as written before each section's terms were stored
    (gen.path / "manifest.json").write_text(json.dumps(manifest), "utf-8")
    with pytest.raises(IndexOutdated, match=r"older format .*`kb index` rebuilds it"):
        Searcher(indexed).search(SearchQuery("printer"))
    for k, v in {"KB_HOME": str(indexed.home), "KB_ARTICLES": str(indexed.articles), "KB_SEMANTIC": "0"}.items():
        monkeypatch.setenv(k, v)
    r = CliRunner().invoke(main, ["search", "printer"])
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1 and "kb index" in r.output
    r = CliRunner().invoke(main, ["index"])
    assert r.exit_code == 0 and "full build" in r.output
    assert Searcher(indexed).search(SearchQuery("printer")).results
