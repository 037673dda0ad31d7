"""One result per article: the versions of an article in several languages are one search result,
placed by the best-matching version and shown in the reader's language (else the query's,
else the source's), with the others as tags — in search, suggestions, related articles, the
API and `kb search --json`; a language filter still picks versions. Real repository and index."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from kb.cli import main
from kb.search.searcher import SearchQuery, Searcher
from kb.search.suggest import suggest
from tests.translations_support import bilingual
from tests.web_support import signed_in


@pytest.fixture
def kb(tmp_path):
    return bilingual(tmp_path, None)


def ids(res):
    return [(h.id, [v["id"] for v in h.versions]) for h in res.results]


def test_a_family_is_one_result_in_the_reader_s_language(kb):
    s = Searcher(kb)
    q = dict(role="customer", mode="keyword")
    assert ids(s.search(SearchQuery("printer offline router", **q)))[:1] == [("KB-0001", ["KB-0002"])]
    assert ids(s.search(SearchQuery("打印机 脱机", **q)))[:1] == [("KB-0002", ["KB-0001"])]        # the query's language
    assert ids(s.search(SearchQuery("printer offline router", reader_lang="zh", **q)))[:1] == [("KB-0002", ["KB-0001"])]
    assert ids(s.search(SearchQuery("打印机 脱机", reader_lang="en", **q)))[:1] == [("KB-0001", ["KB-0002"])]
    found = [h.id for h in s.search(SearchQuery("printer offline router 打印机 脱机", limit=10, **q)).results]
    assert found.count("KB-0001") + found.count("KB-0002") == 1
    assert ids(s.search(SearchQuery("printer offline", lang="en", reader_lang="zh", **q)))[:1] == \
        [("KB-0001", ["KB-0002"])]                                             # the filter picks the version
    both = [h.id for h in s.search(SearchQuery("printer offline router 打印机 脱机", families=False, **q)).results]
    assert {"KB-0001", "KB-0002"} <= set(both)


def test_suggestions_and_related_articles_show_one_version(kb):
    s = Searcher(kb)
    hits = suggest(s, "printer off", role="customer", reader_lang="zh")
    assert [h.id for h in hits][:1] == ["KB-0002"] and "KB-0001" not in [h.id for h in hits]
    from web import create_app
    app = create_app(kb)
    page = app.test_client().get("/help/articles/printer").get_data(as_text=True)
    related = page[page.index('class="card related"'):] if 'class="card related"' in page else ""
    assert "/help/articles/printer-zh" not in related                          # its own other version is not "related"


def test_the_api_the_pages_and_the_cli_carry_the_versions(kb):
    from web import create_app
    app = create_app(kb)
    c = app.test_client()
    out = c.get("/api/v1/search?q=printer+offline+router&mode=keyword").get_json()
    top = out["results"][0]
    assert top["id"] == "KB-0001" and top["versions"] == [
        {"id": "KB-0002", "slug": "printer-zh", "language": "zh", "title": "更换路由器后打印机脱机",
         "url": "/help/articles/printer-zh"}]
    c.set_cookie("kb_lang", "zh")
    assert c.get("/api/v1/search?q=printer+offline+router&mode=keyword").get_json()["results"][0]["id"] == "KB-0002"
    sugg = c.get("/api/v1/suggest?q=printer+off").get_json()["suggestions"]
    assert sugg[0]["id"] == "KB-0002" and sugg[0]["versions"][0]["url"] == "/help/articles/printer"
    page = c.get("/help/search?q=printer+offline+router").get_data(as_text=True)
    assert 'href="/help/articles/printer" hreflang="en"' in page and page.count('href="/help/articles/printer-zh?') + \
        page.count('href="/help/articles/printer-zh"') == 1
    staff = signed_in(app.test_client(), "alice")
    frag = staff.get("/agent/results?q=printer+offline+router").get_data(as_text=True)
    assert 'data-version="zh"' in frag and frag.count('data-id="KB-000') == 2          # printer family, vpn
    env = {"KB_HOME": str(kb.home), "KB_ARTICLES": str(kb.articles), "KB_SEMANTIC": "0"}
    r = CliRunner().invoke(main, ["search", "printer offline router", "--json", "--mode", "keyword"], env=env)
    assert json.loads(r.output)["results"][0]["versions"][0]["id"] == "KB-0002"
    r = CliRunner().invoke(main, ["search", "printer offline router", "--mode", "keyword"], env=env)
    assert "also in zh (KB-0002, printer-zh)" in r.output


def test_the_portal_lists_an_article_once_in_the_reader_s_language(kb):
    from kb.analytics.activity import record_feedback
    from kb.core.store import connect
    from web import create_app
    db = connect(kb)
    record_feedback(db, "KB-0001", True, None, "customer")
    record_feedback(db, "KB-0002", True, None, "customer")
    db.close()
    c = create_app(kb).test_client()
    page = c.get("/help/products/printing").get_data(as_text=True)
    assert page.count('href="/help/articles/printer"') == 1 and 'href="/help/articles/printer-zh"' not in page
    home = c.get("/help").get_data(as_text=True)
    assert home.count("/help/articles/printer") == 1                  # the two versions' votes: one article
    c.set_cookie("kb_lang", "zh")
    assert 'href="/help/articles/printer-zh"' in c.get("/help/products/printing").get_data(as_text=True)
    home = c.get("/help").get_data(as_text=True)
    assert home.count("/help/articles/printer-zh") == 1 and 'href="/help/articles/printer"' not in home
