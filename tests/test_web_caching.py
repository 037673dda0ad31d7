"""What a reverse proxy or CDN may keep: anonymous customer pages, the sitemap and the
anonymous API carry an ETag tied to the live generation and the language, answer 304 to
If-None-Match without rendering, and nothing signed-in or personal is ever marked shareable."""
from __future__ import annotations

from indexer.build import build
from kb.accounts.tokens import create_token
from kb.analytics.activity import view_count
from kb.core.store import connect
from tests.conftest import article, commit_all, write
from tests.web_support import app, client, signed_in, web_settings  # noqa: F401

SHARED = ["/help", "/help/articles/printer-offline", "/help/products/printing", "/sitemap.xml", "/robots.txt",
          "/api/v1/search?q=printer", "/api/v1/suggest?q=prin", "/api/v1/articles/KB-0001"]


def test_anonymous_pages_carry_an_etag_and_answer_304_without_rendering(client, web_settings):
    for path in SHARED:
        r = client.get(path)
        assert r.status_code == 200, path
        assert r.headers["Cache-Control"] == "public, max-age=60", path
        assert r.headers["ETag"].startswith('W/"') and "Set-Cookie" not in r.headers, path
        assert "Cookie" in r.headers["Vary"] and "Accept-Language" in r.headers["Vary"]
        again = client.get(path, headers={"If-None-Match": r.headers["ETag"]})
        assert again.status_code == 304 and again.data == b"" and again.headers["ETag"] == r.headers["ETag"], path
        assert client.get(path, headers={"If-None-Match": 'W/"other"'}).status_code == 200
    db = connect(web_settings)
    seen = view_count(db, "KB-0001")
    tag = client.get("/help/articles/printer-offline").headers["ETag"]
    assert view_count(db, "KB-0001") == seen + 1
    client.get("/help/articles/printer-offline", headers={"If-None-Match": tag})
    assert view_count(db, "KB-0001") == seen + 1          # a 304 renders nothing


def test_the_tag_follows_the_language_and_the_live_generation(client, web_settings):
    en = client.get("/help/articles/printer-offline").headers["ETag"]
    zh = client.get("/help/articles/printer-offline", headers={"Accept-Language": "zh-CN"}).headers["ETag"]
    assert en != zh
    sitemap = client.get("/sitemap.xml").headers["ETag"]
    write(web_settings.articles, {"printer-offline.md": article("KB-0001", "Printer offline after a new router")})
    commit_all(web_settings.articles, "Edit")
    build(web_settings)
    r = client.get("/help/articles/printer-offline", headers={"If-None-Match": en})
    assert r.status_code == 200 and r.headers["ETag"] != en and "after a new router" in r.get_data(as_text=True)
    assert client.get("/sitemap.xml", headers={"If-None-Match": sitemap}).status_code == 200


def test_the_home_page_tag_moves_with_the_votes(client):
    tag = client.get("/help").headers["ETag"]
    client.post("/help/articles/printer-offline/feedback", data={"helpful": "yes"},
                headers={"Sec-Fetch-Site": "same-origin"})
    fresh = client.application.test_client()
    assert fresh.get("/help", headers={"If-None-Match": tag}).status_code == 200


def test_nothing_signed_in_or_personal_is_shared(app, client, web_settings):
    token = create_token(connect(web_settings), "machine", "agent")
    r = client.get("/api/v1/search?q=printer", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and "ETag" not in r.headers and "public" not in r.headers.get("Cache-Control", "")
    visitor = app.test_client()
    visitor.get("/help/search?q=printer")                  # a search is logged: the visitor has a session now
    r = visitor.get("/help/search?q=printer")
    assert r.headers["Cache-Control"] == "private, no-cache" and "ETag" not in r.headers
    r = visitor.get("/help/articles/printer-offline")
    assert r.headers["Cache-Control"] == "private, no-cache" and "ETag" not in r.headers
    staff = signed_in(app.test_client(), "alice")
    for path in ["/help", "/help/articles/printer-offline", "/api/v1/search?q=printer", "/agent", "/sitemap.xml"]:
        r = staff.get(path)
        assert r.headers["Cache-Control"] == "no-store" and "ETag" not in r.headers, path
        assert staff.get(path, headers={"If-None-Match": "*"}).status_code == 200, path
    assert client.get("/api/v1/health").headers["Cache-Control"] == "no-store"
