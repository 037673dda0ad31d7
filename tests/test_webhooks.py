"""The helpdesk webhooks (/api/v1/tickets…): token auth, create/update, links, suggestions and
errors, through the real Flask app and a real index; and the API tokens behind them."""
import pytest
from click.testing import CliRunner

from kb.core import store
from kb.accounts import tokens
from kb.cli import main
from kb.core.errors import NotFound, TicketError
from tests.conftest import db_env

pytestmark = pytest.mark.both_backends       # SQLite and the suite's PostgreSQL

TICKET = {"id": "HD-1", "channel": "email", "priority": "normal", "subject": "VPN error 809 from home",
          "description": "Cannot connect to the VPN since the new router", "created_at": "2026-03-01T09:00:00Z"}


@pytest.fixture
def api(indexed):
    from web import create_app
    app = create_app(indexed)
    app.config["TESTING"] = True
    db = store.connect(indexed)
    token = tokens.create_token(db, "helpdesk")
    yield app.test_client(), {"Authorization": f"Bearer {token}"}, db
    db.close()


def test_tokens_are_hashed_verified_and_revoked(indexed):
    db = store.connect(indexed)
    t = tokens.create_token(db, "zendesk", "engineer")
    assert t.startswith("kb_") and len(t) > 40
    assert db.execute("SELECT count(*) FROM tokens WHERE token_hash = ?", [t]).fetchone()[0] == 0
    row = tokens.verify_token(db, t)
    assert (row["name"], row["role"]) == ("zendesk", "engineer") and row["last_used_at"]
    assert tokens.verify_token(db, t + "x") is None and tokens.verify_token(db, "") is None
    with pytest.raises(TicketError) as e:
        tokens.create_token(db, "zendesk")
    assert e.value.field == "name"
    with pytest.raises(TicketError) as e:
        tokens.create_token(db, "other", role="customer")
    assert e.value.field == "role"
    tokens.revoke_token(db, "zendesk")
    assert tokens.verify_token(db, t) is None
    with pytest.raises(NotFound):
        tokens.revoke_token(db, "zendesk")
    assert tokens.list_tokens(db)[0] == {"name": "zendesk", "role": "engineer", "created_at": row["created_at"],
                                         "last_used_at": row["last_used_at"], "revoked": True}
    db.close()


def test_tokens_cli(indexed):
    env = {"KB_HOME": str(indexed.home), "KB_ARTICLES": str(indexed.articles), "KB_SEMANTIC": "0", **db_env(indexed)}
    r = CliRunner().invoke(main, ["tokens", "create", "freshdesk", "--role", "agent"], env=env)
    token = r.stdout.strip().splitlines()[-1]
    assert r.exit_code == 0 and token.startswith("kb_")
    db = store.connect(indexed)
    assert tokens.verify_token(db, token)["name"] == "freshdesk"
    r = CliRunner().invoke(main, ["tokens", "list"], env=env)
    assert "freshdesk" in r.output and "active" in r.output and token not in r.output
    r = CliRunner().invoke(main, ["tokens", "revoke", "freshdesk"], env=env)
    assert r.exit_code == 0 and tokens.verify_token(db, token) is None
    r = CliRunner().invoke(main, ["tokens", "revoke", "freshdesk"], env=env)
    assert r.exit_code == 2 and "no active token" in r.output
    db.close()


def test_no_or_bad_token_is_401(api):
    client, auth, _ = api
    for headers in ({}, {"Authorization": "Bearer kb_nope"}, {"Authorization": "Basic dXNlcjpwdw=="},
                    {"Authorization": auth["Authorization"] + "x"}):
        r = client.post("/api/v1/tickets", json=TICKET, headers=headers)
        assert r.status_code == 401 and r.is_json and "error" in r.json
        assert r.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/api/v1/tickets/HD-1/suggestions").status_code == 401


def test_create_update_and_errors(api):
    client, auth, db = api
    r = client.post("/api/v1/tickets", json=dict(TICKET, articles=["KB-0002"]), headers=auth)
    assert r.status_code == 201 and r.json["change"] == "added" and r.headers["Location"] == "/api/v1/tickets/HD-1"
    assert r.json["ticket"]["channel"] == "email" and [l["article_id"] for l in r.json["links"]] == ["KB-0002"]
    r = client.post("/api/v1/tickets", json={"id": "HD-1", "status": "solved", "csat": 5}, headers=auth)
    assert r.status_code == 200 and r.json["change"] == "updated"
    assert r.json["ticket"]["status"] == "resolved" and r.json["ticket"]["resolved_at"] and r.json["ticket"]["csat"] == 5
    assert client.get("/api/v1/tickets/HD-1", headers=auth).json["ticket"]["subject"] == TICKET["subject"]
    bad = [({"id": "HD-2"}, "channel"), (dict(TICKET, id="HD-3", priority="meh"), "priority"),
           (dict(TICKET, id="HD-4", csat=11), "csat"), (dict(TICKET, id=""), "id"),
           (dict(TICKET, id="HD-5", articles={"a": 1}), "articles")]
    for body, field in bad:
        r = client.post("/api/v1/tickets", json=body, headers=auth)
        assert r.status_code == 400 and r.json["field"] == field, (body, r.json)
    r = client.post("/api/v1/tickets", data="not json", content_type="application/json", headers=auth)
    assert r.status_code == 400 and r.json["field"] == "body"
    r = client.post("/api/v1/tickets", json=[TICKET], headers=auth)
    assert r.status_code == 400 and r.json["field"] == "body"
    assert client.get("/api/v1/tickets/NOPE", headers=auth).status_code == 404
    assert db.execute("SELECT count(*) FROM tickets").fetchone()[0] == 1
    # an article the index does not know is linked anyway (the helpdesk recorded it) and reported
    r = client.post("/api/v1/tickets", json=dict(TICKET, id="HD-6", articles="KB-0002, KB-9999"), headers=auth)
    assert r.status_code == 201 and [l["article_id"] for l in r.json["links"]] == ["KB-0002", "KB-9999"]
    assert r.json["warnings"] == ["articles: 'KB-9999' is not in the knowledge base (linked anyway)"]


def test_links_and_suggestions(api):
    client, auth, db = api
    client.post("/api/v1/tickets", json=TICKET, headers=auth)
    r = client.post("/api/v1/tickets/HD-1/links", json={"article_id": "KB-0002"}, headers=auth)
    assert r.status_code == 201 and r.json["link"]["kind"] == "resolved_by" and r.json["link"]["created_by"] == "helpdesk"
    r = client.post("/api/v1/tickets/HD-1/links", json={"article_id": "KB-0002"}, headers=auth)
    assert r.status_code == 200 and r.json["link"]["new"] is False
    for body, field in [({"article_id": "KB-0002", "kind": "fixed"}, "kind"), ({}, "article_id"),
                        ({"article_id": "KB-9999"}, "article_id")]:
        r = client.post("/api/v1/tickets/HD-1/links", json=body, headers=auth)
        assert r.status_code == 400 and r.json["field"] == field
    assert client.post("/api/v1/tickets/NOPE/links", json={"article_id": "KB-0002"}, headers=auth).status_code == 404
    r = client.get("/api/v1/tickets/HD-1/suggestions?limit=3", headers=auth)
    assert r.status_code == 200 and r.json["ticket_id"] == "HD-1"
    first = r.json["results"][0]
    assert first["id"] == "KB-0002" and first["linked"] == ["resolved_by"] and len(r.json["results"]) <= 3
    assert client.get("/api/v1/tickets/HD-1/suggestions?limit=99", headers=auth).json["field"] == "limit"
    assert client.get("/api/v1/tickets/NOPE/suggestions", headers=auth).status_code == 404
