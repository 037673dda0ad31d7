"""Sign-in through a trusted proxy's headers (KB_AUTH_*): honoured from the proxy's addresses only
— with the Flask test client's REMOTE_ADDR and with real requests to a real `kb serve` from two
loopback addresses — roles from the groups header, ignored and logged from anywhere else."""
import http.client
import json
import logging

from kb.accounts import audit
from kb.accounts.users import get_user
from kb.core.config import Settings
from kb.core.store import connect
from tests.browser_support import serve
from tests.web_support import login, web_settings  # noqa: F401
import pytest

pytestmark = pytest.mark.both_backends       # SQLite and the suite's PostgreSQL

PROXY_ENV = {"KB_AUTH_HEADER": "X-Forwarded-User", "KB_AUTH_GROUPS_HEADER": "X-Forwarded-Groups",
             "KB_AUTH_PROXIES": "10.0.0.5, 192.168.50.0/24",
             "KB_AUTH_ROLES": "agent=support;engineer=KB-Engineers;admin=kb-admins"}
PROXY, STRANGER = "10.0.0.5", "10.0.0.6"


def make_app(base: Settings, env: dict, **overrides):
    from web import create_app
    s = Settings.load(env=env, home=base.home, articles=base.articles, semantic=False, encoders=(),
                      secret_key="test-secret-key", database_url=base.database_url, **overrides)
    app = create_app(s)
    app.config["TESTING"] = True
    return app


def client_from(app, address: str):
    c = app.test_client()
    c.environ_base["REMOTE_ADDR"] = address
    return c


def as_user(name: str, groups: str | None = "support") -> dict:
    return {"X-Forwarded-User": name, **({"X-Forwarded-Groups": groups} if groups is not None else {})}


def rows(settings, **filters):
    return audit.entries(connect(settings), **filters)


def test_the_proxy_signs_people_in_with_roles_from_their_groups(web_settings):
    app = make_app(web_settings, PROXY_ENV)
    c = client_from(app, PROXY)
    r = c.get("/agent", headers=as_user("Grace", "staff, kb-engineers"))
    assert r.status_code == 200 and "grace" in r.get_data(as_text=True)
    assert c.get("/agent/flags", headers=as_user("grace", "staff,kb-engineers")).status_code == 200
    user = get_user(connect(web_settings), "grace")
    assert (user.source, user.role) == ("proxy", "engineer")
    assert c.get("/agent/flags", headers=as_user("grace", "support")).status_code == 403   # groups change: role follows
    assert c.get("/agent/signins", headers=as_user("grace", "support,kb-admins")).status_code == 200
    logged = rows(web_settings, user="grace")
    assert [(r["method"], r["ok"], r["client"]) for r in logged] == [("proxy", True, PROXY)]   # one session, one row


def test_the_header_from_any_other_address_is_ignored_and_logged(web_settings, caplog):
    app = make_app(web_settings, PROXY_ENV)
    c = client_from(app, STRANGER)
    with caplog.at_level(logging.WARNING, logger="kb.accounts.proxy"):
        for _ in range(3):
            r = c.get("/agent", headers=as_user("root", "kb-admins"))
            assert r.status_code == 302 and "/login" in r.headers["Location"]
        assert c.get("/api/v1/search?q=printer", headers=as_user("mallory", "kb-admins")).get_json()["results"]
    assert sum("ignored X-Forwarded-User header (user 'root') from 10.0.0.6" in m for m in caplog.messages) == 3
    logged = rows(web_settings, user="root")
    assert len(logged) == 1 and not logged[0]["ok"] and "not a trusted proxy" in logged[0]["reason"]
    assert get_user(connect(web_settings), "mallory") is None
    # a local sign-in from that address still works, and the stray header changes nothing
    assert login(c, "alice").status_code == 302
    assert "Alice Agent" in c.get("/agent", headers=as_user("root", "kb-admins")).get_data(as_text=True)


def test_a_forwarded_for_header_cannot_make_a_stranger_the_proxy(web_settings):
    app = make_app(web_settings, PROXY_ENV, proxy_hops=1)
    stranger = client_from(app, STRANGER)
    r = stranger.get("/agent", headers={**as_user("grace"), "X-Forwarded-For": PROXY})
    assert r.status_code == 302
    proxy = client_from(app, "192.168.50.7")                    # inside the configured network
    assert proxy.get("/agent", headers={**as_user("grace"), "X-Forwarded-For": "203.0.113.9"}).status_code == 200
    assert rows(web_settings, user="grace", failed=False)[0]["client"] == "203.0.113.9"   # the person's address


def test_refusals(web_settings):
    app = make_app(web_settings, PROXY_ENV)
    c = client_from(app, PROXY)
    assert c.get("/agent", headers=as_user("henry", "staff, marketing")).status_code == 302
    assert c.get("/agent", headers=as_user("henry", None)).status_code == 302
    assert get_user(connect(web_settings), "henry") is None
    assert rows(web_settings, user="henry")[0]["reason"] == "in none of the groups of KB_AUTH_ROLES"
    assert c.get("/agent", headers=as_user("root", "kb-admins")).status_code == 302     # a local account's name
    assert rows(web_settings, user="root")[0]["reason"] == "a local kb account has this name"
    assert c.get("/agent", headers=as_user("*)(uid=*", "support")).status_code == 302
    assert c.get("/agent", headers=as_user("", "support")).status_code == 302


def test_the_session_lasts_while_the_proxy_vouches(web_settings):
    app = make_app(web_settings, PROXY_ENV)
    c = client_from(app, PROXY)
    assert c.get("/agent", headers=as_user("grace")).status_code == 200
    assert c.get("/agent").status_code == 302                   # the proxy stopped sending the header
    assert c.get("/agent", headers=as_user("grace")).status_code == 200
    page = c.get("/agent", headers=as_user("henrietta")).get_data(as_text=True)
    assert "henrietta" in page                                  # the proxy's word wins over the cookie
    c.environ_base["REMOTE_ADDR"] = STRANGER                    # the same cookie, around the proxy
    assert c.get("/agent").status_code == 302
    from kb.accounts.users import set_disabled
    set_disabled(connect(web_settings), "grace", True)
    c.environ_base["REMOTE_ADDR"] = PROXY
    assert c.get("/agent", headers=as_user("grace")).status_code == 302
    assert rows(web_settings, user="grace")[0]["reason"] == "disabled in kb"


def test_without_a_groups_header_everyone_the_proxy_lets_in_is_an_agent(web_settings):
    env = {k: v for k, v in PROXY_ENV.items() if k not in ("KB_AUTH_GROUPS_HEADER", "KB_AUTH_ROLES")}
    c = client_from(make_app(web_settings, env), PROXY)
    assert c.get("/agent", headers=as_user("grace", "kb-admins")).status_code == 200
    assert c.get("/agent/flags", headers=as_user("grace", "kb-admins")).status_code == 403


def test_without_the_setting_the_header_means_nothing(web_settings):
    c = client_from(make_app(web_settings, {}), PROXY)
    assert c.get("/agent", headers=as_user("grace", "kb-admins")).status_code == 302
    assert rows(web_settings) == []


def _get(port: int, path: str, source: str, headers: dict) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20, source_address=(source, 0))
    conn.request("GET", path, headers=headers)
    resp = conn.getresponse()
    resp.body = resp.read()
    conn.close()
    return resp


def test_real_requests_from_the_proxy_address_and_from_another(web_settings):
    """A real `kb serve` that trusts 127.0.0.2: the same request from 127.0.0.1 is ignored."""
    env = dict(PROXY_ENV, KB_AUTH_PROXIES="127.0.0.2")
    with serve(web_settings, extra_env=env) as base:
        port = int(base.rsplit(":", 1)[1])
        r = _get(port, "/agent", "127.0.0.2", as_user("grace", "kb-engineers"))
        assert r.status == 200 and b"grace" in r.body
        r = _get(port, "/agent", "127.0.0.1", as_user("grace", "kb-engineers"))
        assert r.status == 302 and "/login" in r.getheader("Location")
        health = json.loads(_get(port, "/api/v1/health", "127.0.0.1", {}).body)
        assert health["directory"] == {"status": "off"}
    logged = rows(web_settings, user="grace")
    assert [(r["ok"], r["client"]) for r in logged] == [(False, "127.0.0.1"), (True, "127.0.0.2")]
