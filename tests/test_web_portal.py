"""The customer help center: public + published articles only (by search, suggestion, URL, id,
product page, related articles and sitemap), no ticket data or staff names, feedback, and the
UI language."""
import re

import pytest

from kb.analytics.activity import flag_article
from kb.core.store import connect
from tests.web_support import (AGENT_NAME, CUSTOMER, app, client, post, signed_in,  # noqa: F401
                               web_settings)

pytestmark = pytest.mark.both_backends       # SQLite and the suite's PostgreSQL

HIDDEN = {"KB-0004": "internal-spooler", "KB-0005": "draft-scanner", "KB-0006": "old-vpn-client"}
HIDDEN_TITLES = ["Restart the print spooler", "Scanner sends empty", "Retired VPN client"]


def all_portal_pages(client):
    pages = ["/help", "/help/search?q=printer", "/help/search?q=vpn", "/help/search?q=密码",
             "/help/products/printing", "/help/products/vpn", "/help/articles/printer-offline",
             "/help/articles/printer-links", "/help/articles/vpn-error-809", "/sitemap.xml"]
    return {p: client.get(p).get_data(as_text=True) for p in pages}


def test_home_shows_topics_and_articles(client):
    page = client.get("/help").get_data(as_text=True)
    assert "How can we help?" in page
    assert "/help/products/printing" in page and "/help/products/accounts" in page
    assert "Printer shows offline" in page


@pytest.mark.parametrize("query,expected", [("printer offline", "KB-0001"), ("vpn error 809", "KB-0002"),
                                            ("重置密码", "KB-0003"), ("错误 809", "KB-0008")])
def test_search_in_english_and_chinese(client, query, expected):
    r = client.get("/help/search", query_string={"q": query})
    assert r.status_code == 200
    slugs = re.findall(r'class="portal-hit-title" href="/help/articles/([^"?]+)', r.get_data(as_text=True))
    ids = {"printer-offline": "KB-0001", "vpn-error-809": "KB-0002", "reset-password-zh": "KB-0003",
           "vpn-zh": "KB-0008", "printer-links": "KB-0007", "overdue": "KB-0009"}
    assert expected in [ids.get(s) for s in slugs]


def test_internal_draft_and_archived_articles_never_reach_customers(client):
    for aid, slug in HIDDEN.items():
        assert client.get(f"/help/articles/{slug}").status_code == 404
        assert client.get(f"/help/articles/{aid}").status_code == 404
        assert client.get(f"/api/v1/articles/{aid}").status_code == 404
        assert client.get(f"/api/v1/articles/{slug}").status_code == 404
    for q in ("print spooler server", "scanner empty e-mails", "retired vpn client version 3", "spool", "scann"):
        assert not {h["id"] for h in client.get("/api/v1/search", query_string={"q": q}).get_json()["results"]} & set(HIDDEN)
        assert not {s["id"] for s in client.get("/api/v1/suggest", query_string={"q": q}).get_json()["suggestions"]} & set(HIDDEN)
    for path, page in all_portal_pages(client).items():
        for aid, slug in HIDDEN.items():
            assert aid not in page and f"/{slug}" not in page, (path, aid)
        for title in HIDDEN_TITLES:
            assert title not in page, (path, title)


def test_reaching_an_article_by_id_redirects_to_its_address(client):
    r = client.get("/help/articles/KB-0001")
    assert r.status_code == 301 and r.headers["Location"].endswith("/help/articles/printer-offline")


def test_links_to_hidden_articles_are_unlinked_and_html_is_sanitised(client):
    page = client.get("/help/articles/printer-links").get_data(as_text=True)
    assert 'href="/help/articles/printer-offline"' in page
    assert 'class="unlinked">the spooler runbook</span>' in page
    assert 'class="unlinked">scanner</span>' in page
    assert "internal-spooler" not in page and "draft-scanner" not in page
    assert "<script>alert" not in page and "javascript:" not in page


def test_no_ticket_data_or_staff_names_on_portal_pages(client, web_settings):
    flag_article(connect(web_settings), "KB-0001", "outdated", "wrong menu path", by="alice", ticket_id="T-100")
    for path, page in all_portal_pages(client).items():
        for secret in ("T-100", "T-200", AGENT_NAME, CUSTOMER, "alice", "Alice Agent", "Ada Engineer",
                       "it-desk@northwind.example", "/agent"):
            assert secret not in page, (path, secret)


def test_sitemap_lists_public_published_articles_only(client):
    r = client.get("/sitemap.xml")
    assert r.status_code == 200 and r.mimetype == "application/xml"
    locs = re.findall(r"<loc>([^<]+)</loc>", r.get_data(as_text=True))
    articles = sorted(l.rsplit("/", 1)[1] for l in locs if "/help/articles/" in l)
    assert articles == ["overdue", "printer-links", "printer-offline", "reset-password-zh", "vpn-error-809", "vpn-zh"]
    assert all(l.startswith("http://localhost/") for l in locs)
    assert "Sitemap: http://localhost/sitemap.xml" in client.get("/robots.txt").get_data(as_text=True)


def test_product_pages(client):
    page = client.get("/help/products/printing").get_data(as_text=True)
    assert "Printer shows offline" in page and "Restart the print spooler" not in page
    assert client.get("/help/products/no-such-product").status_code == 404


def test_helpful_vote_and_comment_are_recorded(client, web_settings):
    r = post(client, "/help/articles/printer-offline/feedback", {"helpful": "yes"}, page="/help/articles/printer-offline")
    fid = r.get_json()["feedback_id"]
    r = post(client, "/help/articles/printer-offline/feedback", {"feedback_id": str(fid), "comment": "Step 3 fixed it"},
             page="/help/articles/printer-offline")
    assert r.status_code == 200
    rows = list(connect(web_settings)["feedback"].rows)
    assert [(x["article_id"], x["helpful"], x["comment"], x["audience"]) for x in rows] == \
        [("KB-0001", 1, "Step 3 fixed it", "customer")]
    assert "Thank you for your feedback!" in client.get("/help/articles/printer-offline").get_data(as_text=True)


def test_feedback_without_script_redirects_back_with_thanks(client, web_settings):
    r = post(client, "/help/articles/vpn-error-809/feedback", {"helpful": "no", "comment": "Did not help"},
             page="/help/articles/vpn-error-809", fetch=False)
    assert r.status_code == 302 and r.headers["Location"].endswith("/help/articles/vpn-error-809#feedback")
    assert "Thank you" in client.get(r.headers["Location"]).get_data(as_text=True)
    row = next(connect(web_settings)["feedback"].rows)
    assert (row["helpful"], row["comment"]) == (0, "Did not help")


def test_feedback_errors_name_the_field(client):
    page = "/help/articles/printer-offline"
    r = post(client, "/help/articles/printer-offline/feedback", {"helpful": "maybe"}, page=page)
    assert r.status_code == 400 and r.get_json()["field"] == "helpful"
    r = post(client, "/help/articles/printer-offline/feedback", {"feedback_id": "1", "comment": "x"}, page=page)
    assert r.status_code == 400 and r.get_json()["field"] == "feedback_id"
    r = post(client, "/help/articles/printer-offline/feedback", {"helpful": "yes", "comment": "x" * 3000}, page=page)
    assert r.status_code == 400 and r.get_json()["field"] == "comment"
    assert post(client, "/help/articles/internal-spooler/feedback", {"helpful": "yes"}, page=page).status_code == 404


def test_ui_language_follows_accept_language_and_the_switch(client):
    assert "需要什么帮助" in client.get("/help", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}).get_data(as_text=True)
    assert "How can we help?" in client.get("/help", headers={"Accept-Language": "en-GB,en;q=0.9"}).get_data(as_text=True)
    assert "How can we help?" in client.get("/help", headers={"Accept-Language": "fr-FR"}).get_data(as_text=True)
    r = client.get("/language/zh?next=/help/search?q=vpn")
    assert r.status_code == 302 and r.headers["Location"] == "/help/search?q=vpn"
    page = client.get("/help/search?q=vpn", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "搜索结果" in page and '<html lang="zh-CN">' in page
    client.get("/language/en")
    assert "Results for" in client.get("/help/search?q=vpn").get_data(as_text=True)


def test_empty_and_odd_searches(client):
    assert "Search help articles" in client.get("/help/search").get_data(as_text=True)
    page = client.get("/help/search?q=zzqxj").get_data(as_text=True)
    assert "No articles found" in page
    assert client.get("/help/search", query_string={"q": "<script>alert(1)</script>"}).status_code == 200
    assert "<script>alert(1)" not in client.get("/help/search", query_string={"q": "<script>alert(1)</script>"}).get_data(as_text=True)
