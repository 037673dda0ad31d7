"""An article's versions in several languages on the pages, through the real app and a real git
repository: the switcher, hreflang in the page and the sitemap, the portal's language switch
leading to the version in that language, the notices when a translation is behind its source
(with the source's changes on the staff page), and translating from the staff page into a
contribution that exports a branch with translation_of."""
from __future__ import annotations

import re

import pytest

from indexer.build import build
from kb.contrib import capture as contrib
from kb.core.store import connect
from tests.conftest import commit_all, git
from tests.translations_support import bilingual
from tests.web_support import post, signed_in

pytestmark = pytest.mark.both_backends


@pytest.fixture
def site(tmp_path, database_url):
    from web import create_app
    s = bilingual(tmp_path, database_url)
    app = create_app(s)
    app.config["TESTING"] = True
    return s, app


def test_each_version_leads_to_the_others_and_search_engines_see_one_article(site):
    s, app = site
    c = app.test_client()
    page = c.get("/help/articles/printer").get_data(as_text=True)
    assert re.search(r'<nav class="versions"[^>]*>.*<a href="/help/articles/printer-zh" hreflang="zh" lang="zh-CN"'
                     r'[^>]*>阅读中文版</a>', page, re.S)
    links = re.findall(r'<link rel="alternate" hreflang="([^"]+)" href="([^"]+)">', page)
    assert links == [("en", "http://localhost/help/articles/printer"), ("zh-Hans", "http://localhost/help/articles/printer-zh"),
                     ("x-default", "http://localhost/help/articles/printer")]
    zh = c.get("/help/articles/printer-zh").get_data(as_text=True)
    assert ">Read in English</a>" in zh and 'hreflang="x-default" href="http://localhost/help/articles/printer"' in zh
    vpn = c.get("/help/articles/vpn").get_data(as_text=True)
    assert 'class="versions"' not in vpn and 'rel="alternate"' not in vpn          # one language: nothing to switch
    sitemap = c.get("/sitemap.xml").get_data(as_text=True)
    entry = re.search(r"<url><loc>http://localhost/help/articles/printer-zh</loc>.*?</url>", sitemap).group(0)
    assert '<xhtml:link rel="alternate" hreflang="en" href="http://localhost/help/articles/printer"/>' in entry
    assert '<xhtml:link rel="alternate" hreflang="zh-Hans" href="http://localhost/help/articles/printer-zh"/>' in entry
    assert 'xmlns:xhtml="http://www.w3.org/1999/xhtml"' in sitemap


def test_choosing_a_ui_language_leads_to_that_version_of_the_article(site):
    _, app = site
    c = app.test_client()
    r = c.get("/language/zh?next=/help/articles/printer")
    assert r.status_code == 302 and r.headers["Location"] == "/help/articles/printer-zh"
    assert c.get("/language/en?next=/help/articles/printer-zh").headers["Location"] == "/help/articles/printer"
    assert c.get("/language/zh?next=/help/articles/vpn").headers["Location"] == "/help/articles/vpn"   # no zh version
    assert c.get("/language/zh?next=/help/search?q=printer").headers["Location"] == "/help/search?q=printer"


def test_a_translation_behind_its_source_says_so_to_staff_with_the_changes_and_to_customers(site):
    s, app = site
    c = app.test_client()
    assert "data-outdated" not in c.get("/help/articles/printer-zh").get_data(as_text=True)
    p = s.articles / "printer.md"
    p.write_text(p.read_text().replace("A stale setting.", "The printer kept its old IP address."))
    commit_all(s.articles, "Explain the cause")
    assert build(s).ok
    zh = c.get("/help/articles/printer-zh").get_data(as_text=True)
    assert "data-outdated" in zh and 'href="/help/articles/printer"' in zh
    assert "data-outdated" not in c.get("/help/articles/printer").get_data(as_text=True)
    signed_in(c, "alice")
    page = c.get("/agent/articles/printer-zh").get_data(as_text=True)
    assert "The English source changed on" in page and "1 change(s) in KB-0001" in page
    assert '<span class="d-add">+The printer kept its old IP address.</span>' in page
    assert '<span class="d-del">-A stale setting.</span>' in page


def test_translating_from_the_staff_page_exports_a_branch_with_translation_of(site):
    s, app = site
    c = signed_in(app.test_client(), "alice")
    page = c.get("/agent/articles/vpn").get_data(as_text=True)
    assert 'href="/agent/contrib/article/vpn/translate/zh"' in page
    assert "/translate/" not in c.get("/agent/articles/printer").get_data(as_text=True)   # both languages exist
    form = c.get("/agent/contrib/article/vpn/translate/zh").get_data(as_text=True)
    text = re.search(r'<textarea name="markdown"[^>]*>(.*?)</textarea>', form, re.S).group(1)
    import html
    text = html.unescape(text)
    assert "translation_of: KB-0003" in text and "language: zh" in text and "## 解决方法" in text
    assert 'name="slug" value="vpn-zh"' in form
    done = text.replace('title: VPN error 809', 'title: VPN 错误 809').replace("## 问题\nVPN error 809.", "## 问题\nVPN 报错 809。")
    r = post(c, "/agent/contrib/article/vpn/translate/zh", {"markdown": done, "slug": "vpn-zh"},
             page="/agent/contrib/article/vpn/translate/zh")
    assert r.status_code == 200, r.get_data(as_text=True)
    cid = r.get_json()["contribution_id"]
    bob = signed_in(app.test_client(), "bob")
    branch = post(bob, f"/agent/contrib/{cid}/export", page=f"/agent/contrib/{cid}").get_json()["branch"]
    exported = git(s.articles, "show", f"{branch}:vpn-zh.md")
    assert "translation_of: KB-0003" in exported and "VPN 错误 809" in exported
    assert contrib.get(connect(s), cid)["language"] == "zh"


def test_a_translation_must_keep_its_source_and_language(site):
    _, app = site
    c = signed_in(app.test_client(), "alice")
    form = c.get("/agent/contrib/article/vpn/translate/zh").get_data(as_text=True)
    import html
    text = html.unescape(re.search(r'<textarea name="markdown"[^>]*>(.*?)</textarea>', form, re.S).group(1))
    r = post(c, "/agent/contrib/article/vpn/translate/zh", {"markdown": text.replace("translation_of: KB-0003",
                                                                                      "translation_of: KB-0001"),
                                                             "slug": "vpn-zh"},
             page="/agent/contrib/article/vpn/translate/zh", fetch=False)
    assert r.status_code == 400 and "translation_of: must stay KB-0003" in r.get_data(as_text=True)
    assert c.get("/agent/contrib/article/printer/translate/zh").status_code == 404           # there is one
    assert c.get("/agent/contrib/article/vpn/translate/fr").status_code == 404
