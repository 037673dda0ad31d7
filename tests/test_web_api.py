"""The JSON API: scope by caller (anonymous → customer; session or bearer token → its role),
the shape of `kb search --json`, and 400s that name the bad parameter."""
import pytest

from kb.core.store import connect
from kb.accounts.tokens import create_token
from tests.web_support import app, client, signed_in, web_settings  # noqa: F401

pytestmark = pytest.mark.both_backends       # SQLite and the suite's PostgreSQL


@pytest.mark.parametrize("path,field", [
    ("/api/v1/search?q=vpn&color=red", "color"),
    ("/api/v1/search?q=vpn&limit=abc", "limit"),
    ("/api/v1/search?q=vpn&limit=0", "limit"),
    ("/api/v1/search?q=vpn&limit=101", "limit"),
    ("/api/v1/search?q=vpn&limit=-1", "limit"),
    ("/api/v1/search?q=vpn&lang=fr", "lang"),
    ("/api/v1/search?q=vpn&mode=magic", "mode"),
    ("/api/v1/search?q=vpn&status=gone", "status"),
    ("/api/v1/search?q=vpn&explain=yes", "explain"),
    ("/api/v1/search?q=vpn&q=printer", "q"),
    ("/api/v1/search?q=", "q"),
    ("/api/v1/search", "q"),
    ("/api/v1/suggest", "q"),
    ("/api/v1/suggest?q=vp&limit=50", "limit"),
    ("/api/v1/suggest?q=vp&mode=keyword", "mode"),
    ("/api/v1/articles/KB-0001?full=1", "full"),
    ("/api/v1/health?x=1", "x"),
])
def test_bad_parameters_are_400_naming_the_parameter(client, path, field):
    r = client.get(path)
    assert r.status_code == 400
    body = r.get_json()
    assert body["field"] == field and field in body["error"]


def test_search_is_shaped_like_kb_search_json(client):
    body = client.get("/api/v1/search?q=printer offline&limit=3").get_json()
    assert set(body) >= {"query", "results", "took_ms"}
    hit = body["results"][0]
    assert set(hit) >= {"id", "title", "slug", "score", "snippet", "snippet_html", "resolution", "url"}
    assert hit["id"] == "KB-0001" and hit["url"] == "/help/articles/printer-offline"
    assert "explanation" not in hit
    assert len(body["results"]) <= 3


def test_anonymous_callers_get_customer_scope(client):
    ids = {h["id"] for h in client.get("/api/v1/search?q=printer&limit=50").get_json()["results"]}
    assert "KB-0001" in ids and "KB-0004" not in ids
    ids = {h["id"] for h in client.get("/api/v1/search?q=scanner&status=draft").get_json()["results"]}
    assert "KB-0005" not in ids
    assert client.get("/api/v1/search?q=printer&explain=1").get_json()["results"][0].get("explanation") is None


def test_a_signed_in_agent_gets_agent_scope(client):
    signed_in(client, "alice")
    body = client.get("/api/v1/search?q=print spooler server&explain=1").get_json()
    assert body["results"][0]["id"] == "KB-0004"
    assert body["results"][0]["url"] == "/agent/articles/internal-spooler"
    assert "explanation" in body["results"][0]
    doc = client.get("/api/v1/articles/KB-0004").get_json()
    assert doc["visibility"] == "internal" and doc["owners"] == ["it-desk@northwind.example"]


def test_bearer_tokens(client, web_settings):
    token = create_token(connect(web_settings), "chatbot", "agent")
    auth = {"Authorization": f"Bearer {token}"}
    assert {h["id"] for h in client.get("/api/v1/search?q=print spooler", headers=auth).get_json()["results"]} >= {"KB-0004"}
    assert client.get("/api/v1/articles/internal-spooler", headers=auth).status_code == 200
    for bad in ("Bearer nope", "Basic abc", "Bearer "):
        r = client.get("/api/v1/search?q=printer", headers={"Authorization": bad})
        assert r.status_code == 401 and r.get_json()["field"] == "Authorization"


def test_articles_endpoint(client):
    doc = client.get("/api/v1/articles/KB-0001").get_json()
    assert doc["slug"] == "printer-offline" and doc["url"] == "/help/articles/printer-offline"
    assert [s["kind"] for s in doc["sections"]] == ["symptoms", "environment", "cause", "resolution"]
    assert "owners" not in doc and "author" not in doc
    assert client.get("/api/v1/articles/printer-offline").get_json()["id"] == "KB-0001"
    r = client.get("/api/v1/articles/KB-9999")
    assert r.status_code == 404 and r.get_json()["field"] == "id"


def test_suggestions_complete_the_last_word(client):
    body = client.get("/api/v1/suggest?q=prin").get_json()
    assert body["query"] == "prin"
    assert "KB-0001" in [s["id"] for s in body["suggestions"]]
    assert set(body["suggestions"][0]) == {"id", "slug", "title", "product", "language", "url", "versions"}
    assert [s["id"] for s in client.get("/api/v1/suggest?q=重置").get_json()["suggestions"]] == ["KB-0003"]
    assert client.get("/api/v1/suggest?q=zzzzqqq").get_json()["suggestions"] == []


def test_health_and_method_errors(client):
    assert client.get("/api/v1/health").get_json()["articles"] == 9
    r = client.post("/api/v1/search?q=x")
    assert r.status_code == 405 and "error" in r.get_json()
