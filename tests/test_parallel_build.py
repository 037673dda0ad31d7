"""A full keyword build on several worker processes (indexer.segments) gives the index the
one-process build gives: the same documents under the same numbers, the same terms and postings
in every field, byte-identical BM25F impacts, and the same search results; and later incremental
builds go on from it alike. Real git repository, real Whoosh, real worker processes."""
from __future__ import annotations

import filecmp

import pytest

from indexer import segments
from indexer.build import build
from kb.core import impact
from kb.core.articles import parse_article
from kb.core.generation import IndexStore
from kb.search.searcher import Searcher, SearchQuery
from kb.search.suggest import suggest
from tests.conftest import article, make_repo, write

TOPICS = [("Printer shows offline after the router was replaced", "printing", ("printer", "wifi")),
          ("VPN error 809 when connecting from home", "vpn", ("vpn",)),
          ("Outlook keeps asking for the password", "email", ("outlook", "password")),
          ("Docking station monitors stay black", "laptop", ("dock", "monitor")),
          ("BitLocker asks for the recovery key", "laptop", ("bitlocker",)),
          ("重置忘记的账户密码", "accounts", ("密码", "账户")),
          ("打印机显示脱机", "printing", ("打印机",)),
          ("邮箱已满无法发送邮件", "email", ("邮箱",))]
QUERIES = ["printer offline router", "vpn 809", "password", "priter ofline", "monitors black dock",
           "重置密码", "打印机 脱机", "邮箱已满", "recovery key bitlocker", "outlok pasword"]


def corpus(n: int) -> dict[str, str]:
    files = {}
    for i in range(n):
        title, product, tags = TOPICS[i % len(TOPICS)]
        zh = any("\u4e00" <= ch <= "\u9fff" for ch in title)
        extra = f" 第{i}号" if zh else f" (case {i})"
        files[f"a{i:03d}.md"] = article(f"KB-{i:04d}", title + extra, product=product, tags=tags,
                                         language="zh" if zh else "en",
                                         status="draft" if i % 7 == 3 else "published",
                                         visibility="internal" if i % 5 == 4 else "public")
    return files


@pytest.fixture
def twin(tmp_path, monkeypatch, settings):
    """The same repository indexed twice: in one process, and on three worker processes."""
    monkeypatch.setattr(segments, "MIN_SLICE", 4)
    repo = make_repo(tmp_path / "many", corpus(40))
    one = settings.replace(articles=repo, home=tmp_path / "one", build_procs=1)
    three = settings.replace(articles=repo, home=tmp_path / "three", build_procs=3)
    assert build(one).ok and build(three).ok
    return repo, one, three


def index_content(s) -> dict:
    gen = IndexStore(s.index_root).current()
    with gen.open_whoosh().reader() as r:
        fields = {}
        for name in r.schema.names():
            if name in r.indexed_field_names():
                fields[name] = [(t, r.doc_frequency(name, t), list(r.postings(name, t).items_as("weight")))
                                for t in r.lexicon(name)]
        lengths = {name: [r.doc_field_length(d, name) for d in range(r.doc_count_all())] for name in fields}
        return {"stored": list(r.all_stored_fields()), "fields": fields, "lengths": lengths,
                "segments": len(r.leaf_readers())}


def results(s) -> list:
    searcher = Searcher(s)
    out = []
    for q in QUERIES:
        for role in ("customer", "agent"):
            res = searcher.search(SearchQuery(q, role=role, mode="keyword", limit=20))
            out.append((q, role, [(h.id, h.score, h.snippet, h.section) for h in res.results], res.did_you_mean))
        out.append((q, [h.id for h in suggest(searcher, q[:5], role="agent")]))
    return out


def test_worker_processes_build_the_index_one_process_builds(twin):
    _, one, three = twin
    a, b = index_content(one), index_content(three)
    assert (a["segments"], b["segments"]) == (1, 3)           # the workers' segments, committed in order
    assert a["stored"] == b["stored"] and len(a["stored"]) == 40
    assert a["fields"] == b["fields"] and a["fields"]["spell"]
    assert a["lengths"] == b["lengths"]
    imp_a = IndexStore(one.index_root).current().path / impact.DIR
    imp_b = IndexStore(three.index_root).current().path / impact.DIR
    files = sorted(p.name for p in imp_a.iterdir())
    assert files and files == sorted(p.name for p in imp_b.iterdir())
    assert all(filecmp.cmp(imp_a / f, imp_b / f, shallow=False) for f in files)
    assert results(one) == results(three)


def test_incremental_builds_go_on_alike_from_either(twin):
    repo, one, three = twin
    write(repo, {"a001.md": article("KB-0001", "VPN error 812 after the client update", product="vpn"),
                 "new.md": article("KB-0900", "Teams camera not detected", product="meetings")})
    (repo / "a002.md").unlink()
    r1, r3 = build(one), build(three)
    assert not r1.full and not r3.full and r1.changed == r3.changed == ["a001.md"]
    assert results(one) == results(three)
    assert [h.id for h in Searcher(three).search(SearchQuery("camera teams", role="agent")).results] == ["KB-0900"]


def test_slices_are_contiguous_and_even_by_text():
    arts = [parse_article(f"{i}.md", article(f"KB-{i}", f"Title {i}", body="## Resolution\n" + "word " * (
        50 if i % 2 else 400)).encode()) for i in range(30)]
    parts = segments.slices(arts, 3)
    assert len(parts) == 3 and [a for p in parts for a in p] == arts
    size = [sum(len(a.body) for a in p) for p in parts]
    assert max(size) < 1.3 * min(size)
    assert segments.procs_for(10, 8) == 1 and segments.procs_for(10 ** 6, 8) == 8
    assert segments.slices(arts[:2], 4) == [arts[:1], arts[1:2]]


def test_a_failing_worker_fails_the_build(tmp_path, monkeypatch):
    from whoosh import index as whoosh_index

    from kb.core.generation import schema
    good = parse_article("a.md", article("KB-1", "Printer offline").encode())
    bad = parse_article("b.md", article("KB-2", "Broken").encode())
    bad.tags = None                                       # document() cannot join the tags
    (tmp_path / "ix").mkdir()
    whoosh_index.create_in(str(tmp_path / "ix"), schema()).close()
    with pytest.raises(TypeError):
        segments.write(tmp_path / "ix", [good, bad], 2, impact.ImpactWriter(), lambda done, total: None)
