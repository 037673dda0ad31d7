"""BM25F impacts: the numpy keyword scores equal Whoosh's own BM25F on the same index, stay
equal to a clean build after incremental builds, and respect the role filter."""
from pathlib import Path

import numpy as np
import pytest
from whoosh import index as whoosh_index
from whoosh import query as Q
from whoosh import scoring
from whoosh.analysis import SpaceSeparatedTokenizer
from whoosh.fields import ID, TEXT, Schema

from indexer.build import build
from indexer.documents import analyse
from kb.core.articles import parse_article
from kb.core.config import Settings
from kb.core.impact import K1
from kb.core.text import analyzer
from kb.search.keyword import FIELD_BOOSTS, KeywordRanker
from kb.search.searcher import Searcher, SearchQuery
from tests.conftest import BASIC, article, commit_all, make_repo, write

MORE = {
    f"extra-{i}.md": article(f"KB-1{i:03d}", title, product=p, tags=tags, language=lang)
    for i, (title, p, tags, lang) in enumerate([
        ("Printer prints blank pages after toner change", "printing", ("printer", "toner"), "en"),
        ("Wi-Fi drops every few minutes on the office network", "network", ("wifi",), "en"),
        ("VPN disconnects when the laptop sleeps", "vpn", ("vpn", "sleep"), "en"),
        ("打印机脱机无法打印", "printing", ("打印机",), "zh"),
        ("VPN 连接错误 809", "vpn", ("vpn",), "zh"),
        ("Outlook keeps asking for the password", "email", ("outlook", "password"), "en"),
    ])}
QUERIES = ["printer offline", "vpn error 809", "password", "打印机 脱机", "wifi drops network",
           "printer toner blank pages", "连接错误", "outlook password prompt"]


def _rank(settings, text, role):
    searcher = Searcher(settings)
    snap = searcher.snapshot()
    mask = snap.allowed(role, None, None, (), None)
    ranking, _, _ = KeywordRanker().rank(snap, text, mask)
    return ranking


def _reference(settings, folder):
    """A Whoosh index of the scored fields, analysed as the indexer analyses them (the
    generation's own Whoosh index stores them but scores nothing: the impacts do)."""
    ana = analyzer()
    schema = Schema(id=ID(stored=True, unique=True), visibility=ID, status=ID,
                    content=TEXT(analyzer=SpaceSeparatedTokenizer(), phrase=False),
                    title=TEXT(analyzer=ana), summary=TEXT(analyzer=ana), tags=TEXT(analyzer=ana))
    folder.mkdir()
    ix = whoosh_index.create_in(str(folder), schema)
    w = ix.writer()
    for path in sorted(Path(settings.articles).glob("*.md")):
        got = analyse(parse_article(path.name, path.read_bytes()))
        doc, terms = got.doc, got.terms
        w.add_document(id=doc["id"], visibility=doc["visibility"], status=doc["status"],
                       content=" ".join(terms["content"]), title=doc["title"], summary=doc["summary"],
                       tags=doc["tags"])
    w.commit()
    return ix


def _whoosh(settings, text, role) -> tuple[dict[str, float], float]:
    """Whoosh's own BM25F scores for the same terms and boosts, with the role's filter written
    as Whoosh queries, and the same upper bound computed from Whoosh's idf."""
    folder = Path(settings.home) / "reference"
    ix = whoosh_index.open_dir(str(folder)) if folder.exists() else _reference(settings, folder)
    s = ix.searcher(weighting=scoring.BM25F(B=0.75, K1=1.2))
    terms = KeywordRanker().terms(text)
    clauses = [Q.Term(f, t, boost=b) for f, b in FIELD_BOOSTS.items() for t in terms]
    keep = Q.And([Q.Term("visibility", "public"), Q.Term("status", "published")]) if role == "customer" else None
    exclude = None if role == "customer" else Q.Term("status", "archived")
    res = s.search(Q.Or(clauses), limit=100, filter=keep, mask=exclude)
    bound = sum(b * s.idf(f, t) * (K1 + 1) for f, b in FIELD_BOOSTS.items() for t in terms
                if s.reader().doc_frequency(f, t))
    return {hit["id"]: float(hit.score) for hit in res}, bound


@pytest.fixture
def big(tmp_path):
    repo = make_repo(tmp_path / "articles", {**BASIC, **MORE})
    s = Settings.load(env={}, home=tmp_path / "home", articles=repo, semantic=False, encoders=())
    build(s, full=True)
    return s


@pytest.mark.parametrize("role", ["customer", "agent"])
def test_impact_scores_equal_whoosh_bm25f(big, role):
    for text in QUERIES:
        ours, (whoosh, bound) = _rank(big, text, role), _whoosh(big, text, role)
        assert set(ours.scores) == set(whoosh), text
        assert ours.scores, text
        for d, score in whoosh.items():
            # Whoosh stores field lengths in one byte; impacts use exact lengths
            assert ours.scores[d] == pytest.approx(score, rel=0.06), (text, d)
        assert ours.scale == pytest.approx(bound, rel=1e-5)


def test_customer_scores_never_include_hidden_articles(big):
    hidden = {"KB-0004", "KB-0005", "KB-0006"}
    for text in QUERIES + ["spooler print server", "scanner empty", "retired client"]:
        assert not hidden & set(_rank(big, text, "customer").scores), text
    assert "KB-0004" in _rank(big, "spooler print server", "agent").scores


def test_incremental_impacts_equal_a_clean_build(big, tmp_path):
    repo = big.articles
    write(repo, {"printer-offline.md": article("KB-0001", "Printer offline after the firmware update",
                                               tags=("printer", "firmware"))})
    (repo / "extra-1.md").unlink()
    write(repo, {"new-one.md": article("KB-2000", "Firmware update fails on the label printer")})
    commit_all(repo, "Edit, delete, add")
    r = build(big)
    assert not r.full
    clean = Settings.load(env={}, home=tmp_path / "clean", articles=repo, semantic=False, encoders=())
    build(clean, full=True)
    for text in QUERIES + ["firmware update printer"]:
        a, b = _rank(big, text, "agent"), _rank(clean, text, "agent")
        assert a.scores.keys() == b.scores.keys(), text
        assert np.allclose([a.scores[d] for d in sorted(a.scores)], [b.scores[d] for d in sorted(b.scores)],
                           rtol=1e-5), text
    assert "KB-1001" not in _rank(big, "wifi drops", "agent").scores


def test_typo_still_finds_the_article(big):
    searcher = Searcher(big)
    res = searcher.search(SearchQuery("printr ofline", role="agent", mode="keyword"))
    # each misspelt word counts once, however often its close spellings occur: the article
    # matching both beats the one that says "print" many times
    assert [h.id for h in res.results][:1] == ["KB-0001"]
    res = searcher.search(SearchQuery("outlok pasword", role="agent", mode="keyword"))
    assert [h.id for h in res.results] == ["KB-1005"] and res.did_you_mean == "outlook password"


def test_unfinished_word_is_corrected_to_its_completion_and_only_to_visible_words(big):
    searcher = Searcher(big)
    snap = searcher.snapshot()
    agent = snap.allowed("agent", None, None, (), None)
    customer = snap.allowed("customer", None, None, (), None)
    # "print" and "printer" are both one edit away; the one that goes on from what was typed wins
    assert searcher.keyword.correct(snap, "printe", agent) == "printer"
    # "spooler" occurs only in an internal article: an agent is offered it, a customer is not
    assert searcher.keyword.correct(snap, "spoolr", agent) == "spooler"
    assert searcher.keyword.correct(snap, "spoolr", customer) == "spoolr"



def test_plain_sum_gives_the_rows_and_scores_of_top(tmp_path):
    """top_sum (similar tickets' keyword side) returns top()'s rows and scores, over 3,000 rows
    of Zipf-distributed words (a few held by most rows), for short and long queries, a word
    asked twice, and k from 1 to more than the rows any query matches."""
    from kb.core.impact import ImpactWriter, Impacts
    rng = np.random.default_rng(3)
    words = [f"w{i}" for i in range(400)]
    p = 1 / np.arange(1, 401) ** 1.1
    p /= p.sum()
    w = ImpactWriter()
    for i in range(3000):
        w.add(f"T-{i}", {"content": [words[j] for j in rng.choice(400, int(rng.integers(3, 60)), p=p)]})
    w.write(tmp_path / "imp")
    imp = Impacts(tmp_path / "imp", None)
    every = np.ones(imp.n, dtype=bool)
    for q in range(60):
        picked = rng.choice(400, int(rng.integers(1, 40)))
        cols = [c for c in imp.columns([("content", words[j]) for j in picked]) if c is not None]
        for k in (1, 10, 100, 5000):
            full, fast = imp.top([(c, 1.0) for c in cols], every, k), imp.top_sum(cols, k)
            assert len(fast) == len(full) > 0, (q, k)
            assert [s for _, s in fast] == pytest.approx([s for _, s in full], rel=1e-5), (q, k)
            kth = full[-1][1]
            above = {d for d, s in full if s > kth * (1 + 1e-5)}       # rows not tied at the k-th place
            assert above <= {d for d, _ in fast}, (q, k)
    assert imp.top_sum([], 10) == []


@pytest.mark.parametrize("n,k", [(10, 3), (1000, 1000), (1000, 1), (200_000, 100), (500_000, 2000), (64, 4)])
def test_largest_finds_the_k_largest(n, k):
    from kb.core.topk import largest
    rng = np.random.default_rng(n + k)
    values = rng.permutation(n).astype(np.float32)               # distinct: the k largest are one set
    values[rng.choice(n, n // 3, replace=False)] = -np.inf                 # rows a filter removed
    got = largest(values, k)
    want = np.argpartition(values, n - k)[n - k:]
    assert sorted(got.tolist()) == sorted(want.tolist())
    assert len(largest(values, 0)) == 0 and sorted(largest(values, n + 5).tolist()) == list(range(n))


def test_the_transpose_is_the_same_by_sort_and_by_scipy(tmp_path, monkeypatch):
    from kb.core import impact
    rng = np.random.default_rng(3)
    w = impact.ImpactWriter()
    for i in range(300):
        words = [f"w{int(x)}" for x in rng.zipf(1.3, size=int(rng.integers(1, 60))) if x < 5000]
        w.add(f"KB-{i}", {"content": words, "title": words[:3]})
    monkeypatch.setattr(impact, "SMALL", 10**9)
    w.write(tmp_path / "sorted")
    monkeypatch.setattr(impact, "SMALL", 0)
    w.write(tmp_path / "scipy")
    for name in ("docs.npy", "w.npy", "ptr.npy"):
        assert (tmp_path / "sorted" / name).read_bytes() == (tmp_path / "scipy" / name).read_bytes(), name
