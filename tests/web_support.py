"""Fixtures and helpers for the web tests: a real git repo of articles (the shared BASIC set
plus articles that link to each other), a real index, a real SQLite file with staff accounts
and tickets, and the real Flask app behind its test client."""
from __future__ import annotations

import re

import pytest

from kb.core.config import Settings
from kb.core.store import connect
from kb.tickets.records import link_article, upsert_ticket
from kb.accounts.users import add_user
from tests.conftest import BASIC, article, make_repo

PASSWORDS = {"alice": "alice-password-1", "bob": "bob-password-22", "root": "root-password-333"}
AGENT_NAME = "Grace Hopperstein"          # a ticket's agent: must never reach a portal page
CUSTOMER = "Contoso Secret Customer Ltd"

EXTRA = {
    # a public article whose links point at a public, an internal and a draft article
    "printer-links.md": article(
        "KB-0007", "Printer keeps jamming on thick paper", tags=("printer", "paper"),
        body="## Symptoms\nPaper jams.\n\n## Resolution\n1. Use the manual tray.\n2. See [offline printers]"
             "(printer-offline.md), [the spooler runbook](internal-spooler.md) and [scanner](draft-scanner.md).\n"
             "3. Never click <a href=\"javascript:alert(1)\">this</a>.\n<script>alert('x')</script>\n"),
    "vpn-zh.md": article("KB-0008", "VPN 错误 809 无法连接", product="vpn", language="zh", tags=("vpn", "错误"),
                         summary="允许 IPsec 通过家用路由器。"),
    "overdue.md": article("KB-0009", "Mailbox full warning keeps coming back", product="email",
                          tags=("mailbox",), review_by="2020-01-01"),
}


def build_settings(tmp_path, files: dict[str, str] | None = None, secret_key: str = "test-secret-key",
                   database_url: str | None = None) -> Settings:
    """A keyword-only KB built in ``tmp_path`` from a git repo of ``files`` (default: the basic
    articles and a few more)."""
    from indexer.build import build
    repo = make_repo(tmp_path / "articles", files if files is not None else {**BASIC, **EXTRA})
    s = Settings.load(env={}, home=tmp_path / "state", articles=repo, semantic=False, encoders=(),
                      secret_key=secret_key, database_url=database_url)
    report = build(s)
    assert report.ok, report.errors
    return s


def make_app(base: Settings, env: dict):
    """The real app on ``base``'s KB and database with the KB_* settings in ``env`` added."""
    from web import create_app
    s = Settings.load(env=env, home=base.home, articles=base.articles, semantic=False, encoders=(),
                      secret_key="test-secret-key", database_url=base.database_url)
    app = create_app(s)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def web_settings(tmp_path, database_url) -> Settings:
    s = build_settings(tmp_path, database_url=database_url)
    db = connect(s)
    add_user(db, "alice", PASSWORDS["alice"], "agent", "Alice Agent")
    add_user(db, "bob", PASSWORDS["bob"], "engineer", "Bob Engineer")
    add_user(db, "root", PASSWORDS["root"], "admin")
    upsert_ticket(db, {"id": "T-100", "channel": "phone", "priority": "urgent", "subject": "Printer offline since new router",
                       "description": "The printer shows offline after the router was replaced.",
                       "customer": CUSTOMER, "agent": AGENT_NAME, "product": "printing",
                       "created_at": "2026-11-01T09:00:00Z"})
    upsert_ticket(db, {"id": "T-200", "channel": "email", "priority": "normal", "subject": "VPN error 809 at home",
                       "description": "VPN fails with error 809.", "customer": CUSTOMER, "agent": AGENT_NAME,
                       "product": "vpn", "created_at": "2026-11-02T09:00:00Z"})
    link_article(db, "T-100", "KB-0001", by="alice")
    db.close()
    return s


@pytest.fixture
def app(web_settings):
    from web import create_app
    a = create_app(web_settings)
    a.config["TESTING"] = True
    return a


@pytest.fixture
def client(app):
    return app.test_client()


def page_token(client, path: str) -> str | None:
    page = client.get(path).get_data(as_text=True)
    m = re.search(r'name="csrf-token" content="([^"]+)"', page) or re.search(r'name="csrf_token" value="([^"]+)"', page)
    return m.group(1) if m else None


def csrf_token(client, path: str = "/login") -> str:
    token = page_token(client, path)
    assert token, f"no CSRF token on {path}"
    return token


def login(client, username: str, password: str | None = None, next: str | None = None):
    token = csrf_token(client, "/login")
    data = {"csrf_token": token, "username": username, "password": password or PASSWORDS[username]}
    if next:
        data["next"] = next
    return client.post("/login", data=data)


def signed_in(client, username: str):
    r = login(client, username)
    assert r.status_code == 302, r.get_data(as_text=True)
    return client


def post(client, path: str, data: dict | None = None, *, page: str = "/agent", fetch: bool = True):
    """A form POST as the page's script (or, with ``fetch=False``, the browser) sends it: with
    the page's CSRF token, or — from a page shared caches may serve, which carries none — with
    the headers a browser adds to a request from that page."""
    data = dict(data or {})
    headers = {"X-Requested-With": "fetch", "Accept": "application/json"} if fetch else {}
    token = page_token(client, page)
    if token:
        data["csrf_token"] = token
    else:
        headers.update({"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"})
    return client.post(path, data=data, headers=headers)
