"""Signing in with OpenID Connect through the real app (Flask test client, SQLite and the suite's
PostgreSQL) against a real provider (oidc-provider on loopback, tests/oidc_support.py): roles
from the groups claim, every refusal with its reason in the sign-in log (no group, tampered or
replayed state, replayed code, bad signature, wrong audience, expired token, a clock too far
ahead), key rotation, claims from userinfo, sessions ended by the provider's back-channel logout
on another node, by their lifetime and by `kb users disable`, several providers, and a provider
that is down."""
import contextlib
import json
import threading
import time
import urllib.parse

import pytest
from click.testing import CliRunner
from werkzeug.serving import make_server

from kb.accounts import audit
from kb.accounts.users import get_user, set_disabled
from kb.cli import main
from kb.core.store import connect
from tests.conftest import db_env
from tests.oidc_support import dead_issuer, env
from tests.web_support import PASSWORDS, csrf_token, make_app, web_settings  # noqa: F401

pytestmark = pytest.mark.both_backends       # SQLite and the suite's PostgreSQL


@pytest.fixture
def kb(web_settings, idp):
    """An app on the test provider (client ``kb``) and the provider."""
    idp.client("kb", "http://localhost")
    return make_app(web_settings, env(idp)), idp


def start(c, provider: str = "default", next: str | None = None) -> str:
    r = c.get(f"/login/oidc/{provider}" + (f"?next={next}" if next else ""))
    assert r.status_code == 302, r.get_data(as_text=True)
    return r.headers["Location"]


def callback(c, url: str):
    parts = urllib.parse.urlsplit(url)
    return c.get(f"{parts.path}?{parts.query}")


def sign_in(app, idp, user: str, client=None, **kw):
    c = client or app.test_client()
    return c, callback(c, idp.sign_in(start(c, **kw), user))


def last_log(settings, **filters) -> dict:
    return audit.entries(connect(settings), method="oidc", **filters)[0]


def refused(settings, r, status: int, kind: str, text: str) -> dict:
    page = r.get_data(as_text=True)
    assert r.status_code == status and text in page, (r.status_code, page[:2000])
    row = last_log(settings)
    assert not row["ok"] and row["reason"].startswith(kind + ":"), row
    return row


def test_staff_sign_in_with_the_role_of_their_groups(kb, web_settings):
    app, idp = kb
    c, r = sign_in(app, idp, "erin", next="/agent/tickets")
    assert r.status_code == 302 and r.headers["Location"] == "/agent/tickets"
    page = c.get("/agent").get_data(as_text=True)
    assert "Erin Engineer" in page and c.get("/agent/flags").status_code == 200
    user = get_user(connect(web_settings), "erin")
    assert (user.source, user.role, user.display_name) == ("oidc", "engineer", "Erin Engineer")
    row = last_log(web_settings)
    assert (row["username"], row["ok"], row["client"], row["reason"]) == ("erin", True, "127.0.0.1", "provider default")
    _, r = sign_in(app, idp, "adam")                       # agents and admins: the highest role wins
    assert r.status_code == 302 and get_user(connect(web_settings), "adam").role == "admin"
    _, r = sign_in(app, idp, "ann")
    assert get_user(connect(web_settings), "ann").role == "agent"

    out = CliRunner().invoke(main, ["users", "list"], env={"KB_HOME": str(web_settings.home), **db_env(web_settings)})
    assert any(l.split()[:3] == ["erin", "engineer", "oidc"] for l in out.output.splitlines()), out.output
    out = CliRunner().invoke(main, ["users", "log", "--method", "oidc", "--json"],
                             env={"KB_HOME": str(web_settings.home), **db_env(web_settings)})
    assert out.exit_code == 0 and {r["username"] for r in json.loads(out.output)} == {"erin", "adam", "ann"}


def test_no_mapped_group_or_an_odd_claim_is_refused(kb, web_settings):
    app, idp = kb
    c, r = sign_in(app, idp, "nora")
    refused(web_settings, r, 403, "no group", "Your account has no role in kb")
    assert get_user(connect(web_settings), "nora") is None and c.get("/agent").status_code == 302
    _, r = sign_in(app, idp, "odd")
    assert "not a list of group names" in refused(web_settings, r, 403, "malformed claim", "cannot sign in")["reason"]
    # without the groups scope the provider sends no groups at all
    app = make_app(web_settings, env(idp, KB_OIDC_SCOPES="openid profile email"))
    _, r = sign_in(app, idp, "ann")
    assert "sent no 'groups' claim" in refused(web_settings, r, 403, "no group", "no role")["reason"]


def test_a_tampered_or_replayed_state_is_refused(kb, web_settings):
    app, idp = kb
    c = app.test_client()
    back = idp.sign_in(start(c), "ann")
    tampered = back.replace("state=", "state=x")
    refused(web_settings, callback(c, tampered), 400, "bad state", "could not be completed")
    other = app.test_client()                               # the answer arrives in another browser
    assert "another browser" in refused(web_settings, callback(other, back), 400, "bad state", "start again")["reason"]
    assert callback(c, back).status_code == 302             # this browser's answer still signs in
    c.post("/logout", data={"csrf_token": csrf_token(c, "/agent")})
    assert "already used" in refused(web_settings, callback(c, back), 400, "bad state", "already used")["reason"]
    assert c.get("/agent").status_code == 302


def test_a_replayed_code_is_refused_by_the_provider(kb, web_settings):
    app, idp = kb
    c = app.test_client()
    first = idp.sign_in(start(c), "ann")
    assert callback(c, first).status_code == 302
    c.post("/logout", data={"csrf_token": csrf_token(c, "/agent")})
    second = idp.sign_in(start(c), "ann")                   # a new sign-in, with the first sign-in's code
    code = urllib.parse.parse_qs(urllib.parse.urlsplit(first).query)["code"][0]
    replay = second.replace(urllib.parse.parse_qs(urllib.parse.urlsplit(second).query)["code"][0], code)
    assert "invalid_grant" in refused(web_settings, callback(c, replay), 401, "code refused", "could not be verified")["reason"]
    assert c.get("/agent").status_code == 302


@pytest.mark.parametrize("switch, kind, detail", [
    ({"tamper": "adam"}, "bad signature", "does not verify"),
    ({"audience": "other-app"}, "wrong audience", "is for 'other-app', not KB_OIDC_CLIENT_ID 'kb'"),
    ({"expired": 300}, "expired token", "tolerates 60 s"),
    ({"skew": 300}, "not yet valid", "in the future"),
])
def test_an_id_token_kb_cannot_trust_is_refused(kb, web_settings, switch, kind, detail):
    app, idp = kb
    idp.client("other-app", "http://other.example")
    idp.mode(**switch)
    c, r = sign_in(app, idp, "ann")
    assert detail in refused(web_settings, r, 401, kind, "could not be verified")["reason"]
    assert c.get("/agent").status_code == 302 and get_user(connect(web_settings), "adam") is None


def test_clock_skew_is_tolerated(kb, web_settings):
    app, idp = kb
    idp.mode(skew=30)                                       # the provider's clock runs 30 s fast
    assert sign_in(app, idp, "ann")[1].status_code == 302
    strict = make_app(web_settings, env(idp, KB_OIDC_CLOCK_SKEW="5s"))
    refused(web_settings, sign_in(strict, idp, "ann")[1], 401, "not yet valid", "could not be verified")


def test_rotated_keys_are_fetched_again_and_claims_may_come_from_userinfo(kb, web_settings):
    app, idp = kb
    assert sign_in(app, idp, "ann")[1].status_code == 302
    fetched = idp.stats()["jwks"]
    try:
        idp.rotate(conform=True)                            # a new key; profile claims only from userinfo
        c, r = sign_in(app, idp, "erin")
        assert r.status_code == 302 and idp.stats()["jwks"] == fetched + 1
        assert get_user(connect(web_settings), "erin").role == "engineer"
    finally:
        idp.rotate()


@contextlib.contextmanager
def serving(app):
    """``app`` as a real HTTP server on a free loopback port (another node on the same database)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)


def test_back_channel_logout_ends_the_session_on_every_node(kb, web_settings):
    app, idp = kb
    with serving(make_app(web_settings, env(idp))) as node2:    # the provider's logout token goes to node 2
        idp.client("kb", "http://localhost", logout_base=node2)
        c, _ = sign_in(app, idp, "ann")
        other, _ = sign_in(app, idp, "erin")
        assert c.get("/agent").status_code == 200
        assert idp.end_sessions("ann") == {"backchannel": 1, "errors": []}
        assert c.get("/agent").status_code == 302               # node 1 ends it at its next request
        assert other.get("/agent").status_code == 200           # someone else's session goes on
        row = last_log(web_settings, user="ann")
        assert not row["ok"] and row["reason"].startswith("session ended: signed out at the identity provider")

        c, _ = sign_in(app, idp, "ann")                         # a logout token for another client
        idp.client("other-app", "http://other.example", logout_base=node2)
        idp.mode(audience="other-app")
        assert "got: 400 Bad Request" in idp.end_sessions("ann")["errors"][0]
        assert c.get("/agent").status_code == 200               # refused: the session goes on
        row = last_log(web_settings, user="-")
        assert row["reason"].startswith("back-channel logout refused: wrong audience"), row


def test_a_session_ends_at_its_lifetime_when_disabled_and_when_signed_out(kb, web_settings):
    app, idp = kb
    short = make_app(web_settings, env(idp, KB_OIDC_SESSION_MAX="2s"))
    c, _ = sign_in(short, idp, "ann")
    assert c.get("/agent").status_code == 200
    time.sleep(2.2)
    assert c.get("/agent").status_code == 302
    assert last_log(web_settings, user="ann")["reason"].startswith("session ended: KB_OIDC_SESSION_MAX")

    c, _ = sign_in(app, idp, "ann")
    cookie = c.get_cookie("kb_session").value
    c.post("/logout", data={"csrf_token": csrf_token(c, "/agent")})
    c.set_cookie("kb_session", cookie)                      # the old cookie is worth nothing after sign-out
    assert c.get("/agent").status_code == 302

    c, _ = sign_in(app, idp, "ann")
    set_disabled(connect(web_settings), "ann")
    assert c.get("/agent").status_code == 302
    _, r = sign_in(app, idp, "ann")
    refused(web_settings, r, 403, "disabled", "cannot sign in")


def test_a_local_account_is_never_taken_over(kb, web_settings):
    app, idp = kb
    _, r = sign_in(app, idp, "root")                        # root is a local admin in kb
    refused(web_settings, r, 403, "local account", "cannot sign in")
    assert get_user(connect(web_settings), "root").source == "local"


def test_several_providers_and_one_that_is_down(web_settings, idp):
    idp.client("kb", "http://localhost")
    environ = {"KB_OIDC_PROVIDERS": "corp,partner", "KB_OIDC_CORP_ISSUER": idp.issuer, "KB_OIDC_CORP_CLIENT_ID": "kb",
               "KB_OIDC_CORP_CLIENT_SECRET": env(idp)["KB_OIDC_CLIENT_SECRET"], "KB_OIDC_CORP_LABEL": "Corp SSO",
               "KB_OIDC_PARTNER_ISSUER": dead_issuer(), "KB_OIDC_PARTNER_CLIENT_ID": "kb",
               "KB_OIDC_PARTNER_CLIENT_SECRET": "x", "KB_OIDC_ROLES": env(idp)["KB_OIDC_ROLES"],
               "KB_OIDC_SCOPES": "openid profile groups", "KB_OIDC_TIMEOUT": "2s"}
    app = make_app(web_settings, environ)
    c = app.test_client()
    page = c.get("/login").get_data(as_text=True)
    assert ">Corp SSO</a>" in page and ">Sign in with Partner</a>" in page and 'id="provider-down-partner"' in page
    assert 'id="provider-down-corp"' not in page
    r = c.get("/login/oidc/partner")
    assert r.status_code == 503 and "cannot be reached" in r.get_data(as_text=True)
    health = c.get("/api/v1/health").json
    assert health["status"] == "degraded" and health["oidc"]["providers"]["partner"]["status"] == "degraded"
    assert health["oidc"]["providers"]["corp"]["status"] == "ok"
    assert any("identity provider partner cannot be used" in p for p in health["problems"])

    _, r = sign_in(app, idp, "erin", provider="corp")
    assert r.status_code == 302 and get_user(connect(web_settings), "erin").role == "engineer"
    r = c.post("/login", data={"csrf_token": csrf_token(c), "username": "alice", "password": PASSWORDS["alice"]})
    assert r.status_code == 302                               # local accounts still sign in
    assert app.test_client().get("/login/oidc/nosuch").status_code == 404
