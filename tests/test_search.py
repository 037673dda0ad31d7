"""Keyword search: role filtering, facets, snippets, Chinese queries, typos."""
import pytest

from kb.core.errors import BadQuery, IndexMissing
from kb.search.searcher import Searcher, SearchQuery


def run(settings, text, **kw):
    kw.setdefault("mode", "keyword")
    return Searcher(settings).search(SearchQuery(text, **kw))


def test_customer_sees_public_published_only(indexed):
    every = "printer vpn scanner spooler retired 密码"
    customer = {h.id for h in run(indexed, every, role="customer", limit=50).results}
    agent = {h.id for h in run(indexed, every, role="agent", limit=50).results}
    assert customer == {"KB-0001", "KB-0002", "KB-0003"}
    assert agent == {"KB-0001", "KB-0002", "KB-0003", "KB-0004", "KB-0005"}   # archived hidden
    archived = {h.id for h in run(indexed, every, role="agent", status="archived").results}
    assert archived == {"KB-0006"}
    # a customer cannot ask for other statuses
    assert {h.id for h in run(indexed, every, role="customer", status="draft").results} <= customer


def test_customer_get_hides_internal_articles(indexed):
    s = Searcher(indexed)
    assert s.get("KB-0001", role="customer")["id"] == "KB-0001"
    from kb.core.errors import NotFound
    for key in ("KB-0004", "internal-spooler", "KB-0005", "KB-0006"):
        with pytest.raises(NotFound):
            s.get(key, role="customer")
    assert s.get("KB-0004", role="agent")["id"] == "KB-0004"


def test_facet_filters(indexed):
    assert {h.id for h in run(indexed, "printer vpn", role="agent", product="vpn").results} == {"KB-0002"}
    assert {h.id for h in run(indexed, "密码 printer", role="agent", lang="zh").results} == {"KB-0003"}
    assert {h.id for h in run(indexed, "printer", role="agent", tags=("server",)).results} == {"KB-0004"}


def test_chinese_query_finds_chinese_article(indexed):
    res = run(indexed, "密码", role="customer")
    assert [h.id for h in res.results] == ["KB-0003"]
    assert res.language == "zh"


def test_snippet_is_highlighted_and_escaped(indexed):
    h = run(indexed, "router", role="customer").results[0]
    assert "<mark>router</mark>" in h.snippet_html.lower()
    assert "<mark>" not in h.snippet and "router" in h.snippet.lower()
    assert "Restart the device" in h.resolution
    assert h.explanation["keyword"]["rank"] == 1 and "router" in h.explanation["matched_terms"]


def test_typo_tolerance_and_did_you_mean(indexed):
    res = run(indexed, "priter offlne", role="customer")
    assert res.results and res.results[0].id == "KB-0001"
    assert res.did_you_mean == "printer offline"


def test_bad_parameters_name_the_field(indexed):
    with pytest.raises(BadQuery, match="^limit:"):
        run(indexed, "x", limit=0)
    with pytest.raises(BadQuery, match="^role:"):
        run(indexed, "x", role="boss")
    with pytest.raises(BadQuery, match="^q:"):
        run(indexed, "   ")
    with pytest.raises(BadQuery, match="^lang:"):
        run(indexed, "x", lang="fr")


def test_semantic_mode_without_encoders_degrades_to_keyword(indexed):
    res = run(indexed, "router", mode="hybrid", role="customer")
    assert res.degraded and "switched off" in res.degraded_reason
    assert res.results[0].id == "KB-0001"


def test_search_before_index_is_a_clear_error(settings):
    with pytest.raises(IndexMissing, match="kb index"):
        run(settings, "printer")


def test_snippets_escape_html_from_articles(settings, repo):
    from indexer.build import build
    from tests.conftest import article, write
    write(repo, {"xss.md": article("KB-0099", "Router page shows code", body=(
        "## Symptoms\nThe router page shows &lt;img src=x onerror=alert(1)&gt; and "
        "<script>alert(2)</script> text near the router logo.\n## Resolution\nIgnore it.\n"))})
    build(settings)
    hit = next(h for h in run(settings, "router logo", role="customer").results if h.id == "KB-0099")
    assert "<img" not in hit.snippet_html and "<script" not in hit.snippet_html
    assert "&lt;img" in hit.snippet_html


def test_hits_read_section_terms_stored_by_the_indexer_and_agree_with_analysing_the_article(indexed):
    """The matched terms and best section of a hit come from each section's terms, stored at
    index time; they equal what analysing the article's sections gives."""
    from kb.core.text import analyzer, markdown_to_text
    from kb.search.hits import _section_for
    s = Searcher(indexed)
    snap = s.snapshot()
    ana = analyzer()
    checked = 0
    for q in ["printer offline spooler", "vpn tunnel drops", "打印机 密码", "restart spooler service"]:
        terms = set(s.keyword.terms(q))
        for h in s.search(SearchQuery(q, role="agent", mode="keyword")).results:
            doc = snap.searcher().document(id=h.id)
            sections = doc["meta"]["sections"]
            assert len(doc["meta"]["section_terms"]) == len(sections)
            per = [{t.text for t in ana(markdown_to_text(sec["markdown"]))} for sec in sections]
            assert [set(x.split()) for x in doc["meta"]["section_terms"]] == per, h.id
            whole = {t.text for t in ana(doc["title"] + " " + " ".join(sec["heading"] or "" for sec in sections))}
            whole = whole.union(*per)
            assert h.explanation["matched_terms"] == sorted(terms & whole), (q, h.id)
            assert h.explanation["section"] == _section_for(sections, per, terms), (q, h.id)
            checked += bool(h.explanation["matched_terms"])
    assert checked


def test_highlighting_from_kept_tokens_equals_whoosh_highlighting():
    """Snippets are highlighted from tokens analysed once per text (kept while the typed words
    change); the result is what whoosh.highlight gives when it analyses the text itself."""
    from whoosh import highlight

    from kb.search import snippets
    from kb.core.text import analyzer
    texts = ["Restart the print spooler, then print a test page. <b>Printers</b> & queues: " * 8,
             "打印机脱机时，请先检查网络连接，然后重新启动打印后台处理程序。Printer offline after router change.",
             "VPN tunnel drops every 10 minutes; renew the certificate and reconnect the VPN client.",
             "nothing relevant here at all"]
    term_sets = [{"print", "spooler"}, {"打印", "网络", "printer"}, {"vpn", "certif"}, {"zzz"}, set()]
    seen = 0
    for text in texts:
        norm, toks = snippets.tokens(text)
        for terms in term_sets:
            expected = highlight.highlight(norm, frozenset(terms), analyzer(), snippets._FRAG, snippets._FMT, top=2,
                                           scorer=highlight.BasicFragmentScorer, minscore=1) if terms else ""
            assert snippets.highlight_tokens(norm, toks, terms) == expected
            seen += "<mark>" in expected
    assert seen >= 4
