"""Sign-in, sessions and who may open what: every route of the app has an auth rule here, and a
route added without one fails the first test."""
import pytest

from kb.core.store import connect
from kb.accounts.users import set_disabled, set_password
from tests.web_support import app, client, csrf_token, login, post, signed_in, web_settings  # noqa: F401

pytestmark = pytest.mark.both_backends       # SQLite and the suite's PostgreSQL

# GET routes by who may open them (URL arguments filled with real values).
PUBLIC = ["/", "/help", "/help/search?q=printer", "/help/products/printing", "/help/articles/printer-offline",
          "/sitemap.xml", "/robots.txt", "/login", "/language/zh?next=/help", "/api/v1/search?q=printer",
          "/api/v1/suggest?q=prin", "/api/v1/articles/KB-0001", "/api/v1/health", "/static/app.css",
          "/help/contact", "/help/contact/sent", "/help/contact/suggestions?subject=printer",
          "/help/contact/articles/KB-0001"]
STAFF = ["/agent", "/agent/results?q=printer", "/agent/tickets", "/agent/tickets/T-100",
         "/agent/articles/printer-offline", "/agent/articles/printer-offline/history/HEAD",
         "/agent/contrib/ticket/T-100", "/agent/contrib/similar?title=printer",
         "/agent/contrib/article/printer-offline/improve", "/agent/similar?ticket=T-100",
         "/agent/contrib/article/printer-offline/translate/zh", "/agent/contrib/images/1/shot.png"]
ENGINEER = ["/agent/flags", "/agent/contrib/", "/agent/contrib/1"]
ADMIN = ["/agent/signins", "/agent/signins?user=alice&method=local&failed=1"]
# POST routes by who may use them.
POST_PUBLIC = ["/login", "/logout", "/help/articles/printer-offline/feedback", "/help/contact", "/help/contact/solved"]
# Content-addressed files: whoever may read an article that references one (tests/test_documents_files.py).
FILES = ["/files/0123456789abcdef0123456789abcdef01234567/shot.png"]
# Never anonymous: an API token or an engineer's sign-in.
TOKEN_OR_ENGINEER = ["/metrics"]
POST_STAFF = ["/agent/ticket", "/agent/links", "/agent/articles/KB-0001/flag", "/agent/contrib/ticket/T-100",
              "/agent/contrib/draft", "/agent/contrib/preview", "/agent/contrib/article/printer-offline/improve",
              "/agent/contrib/images", "/agent/contrib/images/1/remove",
              "/agent/contrib/article/printer-offline/translate/zh"]
POST_ENGINEER = ["/agent/flags/1/resolve", "/agent/contrib/1/edit", "/agent/contrib/1/reject", "/agent/contrib/1/export"]


def _rule_of(app, path, method):
    adapter = app.url_map.bind("localhost")
    return adapter.match(path.split("?")[0], method=method)[0]


def test_every_route_has_an_auth_rule(app):
    covered = ({_rule_of(app, p, "GET") for p in PUBLIC + STAFF + ENGINEER + ADMIN + TOKEN_OR_ENGINEER + FILES}
               | {_rule_of(app, p, "POST") for p in POST_PUBLIC + POST_STAFF + POST_ENGINEER})
    # signed machine-to-machine calls: the helpdesk (tests/test_webhooks.py), git pushes (tests/test_service.py);
    # the way in and out through an OpenID Connect provider, public by nature (tests/test_signin_oidc.py)
    endpoints = {r.endpoint for r in app.url_map.iter_rules()
                 if not r.endpoint.startswith(("webhooks.", "githook.", "auth.oidc_"))}
    assert endpoints - covered == set()


@pytest.mark.parametrize("path", PUBLIC)
def test_public_pages_open_without_sign_in(client, path):
    r = client.get(path)
    assert r.status_code in (200, 302), (path, r.status_code)
    if path == "/":
        assert r.headers["Location"].endswith("/help")


@pytest.mark.parametrize("path", TOKEN_OR_ENGINEER)
def test_metrics_need_a_token_or_an_engineer(client, path, web_settings):
    from kb.accounts.tokens import create_token
    assert client.get(path).status_code == 401
    assert client.get(path, headers={"Authorization": "Bearer nope"}).status_code == 401
    signed_in(client, "alice")                       # an agent: not enough
    assert client.get(path).status_code == 401
    token = create_token(connect(web_settings), "prometheus", "agent")
    r = client.get(path, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and b"kb_index_articles" in r.data
    bob = signed_in(client.application.test_client(), "bob")
    assert bob.get(path).status_code == 200


@pytest.mark.parametrize("path", STAFF + ENGINEER + ADMIN)
def test_staff_pages_send_anonymous_visitors_to_sign_in(client, path):
    r = client.get(path)
    assert r.status_code == 302
    assert "/login?next=" in r.headers["Location"]
    r = client.get(path, headers={"X-Requested-With": "fetch"})
    assert r.status_code == 401 and r.get_json()["field"] == "session"


@pytest.mark.parametrize("path", POST_STAFF + POST_ENGINEER)
def test_staff_actions_refuse_anonymous_visitors(client, path):
    r = post(client, path, {"article_id": "KB-0001", "ticket_id": "T-100", "reason": "outdated"}, page="/login")
    assert r.status_code == 401


def test_agent_opens_staff_pages_but_not_the_engineer_queue(client):
    signed_in(client, "alice")
    for path in STAFF:
        r = client.get(path)
        assert r.status_code in (200, 404), path      # HEAD is not a commit of the article: 404
    assert client.get("/agent/articles/printer-offline/history/HEAD").status_code == 404
    for path in ENGINEER:
        assert client.get(path).status_code == 403, path
    for path in POST_ENGINEER:
        assert post(client, path).status_code == 403, path


@pytest.mark.parametrize("user", ["bob", "root"])
def test_engineers_and_admins_open_the_flag_queue(client, user):
    signed_in(client, user)
    assert client.get("/agent/flags").status_code == 200
    assert client.get("/agent").status_code == 200


@pytest.mark.parametrize("user,status", [("alice", 403), ("bob", 403), ("root", 200)])
def test_only_admins_open_the_sign_in_log(client, user, status):
    signed_in(client, user)
    for path in ADMIN:
        assert client.get(path).status_code == status, path
    assert ("Sign-ins" in client.get("/agent").get_data(as_text=True)) == (status == 200)


def test_sign_in_goes_back_to_the_page_that_asked(client):
    r = login(client, "alice", next="/agent/tickets/T-100")
    assert r.status_code == 302 and r.headers["Location"] == "/agent/tickets/T-100"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"])
def test_sign_in_never_redirects_off_site(client, target):
    r = login(client, "alice", next=target)
    assert r.status_code == 302 and r.headers["Location"] == "/agent"
    assert client.get(f"/language/zh?next={target}").headers["Location"] == "/help"


def test_wrong_password_keeps_the_user_name_and_says_nothing_more(client):
    r = login(client, "alice", "wrong-password-x")
    assert r.status_code == 401
    page = r.get_data(as_text=True)
    assert 'value="alice"' in page and "Wrong user name or password." in page
    r = login(client, "nobody", "wrong-password-x")
    assert r.status_code == 401 and "Wrong user name or password." in r.get_data(as_text=True)
    assert client.get("/agent").status_code == 302


def test_repeated_failures_are_throttled_even_with_the_right_password(client):
    for _ in range(5):
        assert login(client, "alice", "wrong-password-x").status_code == 401
    r = login(client, "alice")
    assert r.status_code == 429
    assert int(r.headers["Retry-After"]) > 0
    assert "Too many failed sign-ins" in r.get_data(as_text=True)
    assert signed_in(client, "bob")        # another user from the same address still signs in


def test_session_cookie_is_httponly_and_samesite(client):
    r = login(client, "alice")
    cookie = next(v for k, v in r.headers.items() if k == "Set-Cookie" and v.startswith("kb_session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_secure_cookies_when_configured(web_settings):
    from web import create_app
    a = create_app(web_settings.replace(secure_cookies=True))
    c = a.test_client()
    r = c.get("/login", base_url="https://localhost")
    cookie = next(v for k, v in r.headers.items() if k == "Set-Cookie" and v.startswith("kb_session="))
    assert "Secure" in cookie


def test_new_session_on_sign_in(client):
    client.get("/login")
    before = client.get_cookie("kb_session").value
    login(client, "alice")
    assert client.get_cookie("kb_session").value != before


def test_logout_ends_the_session(client):
    signed_in(client, "alice")
    r = post(client, "/logout", fetch=False)
    assert r.status_code == 302 and r.headers["Location"].endswith("/login")
    assert client.get("/agent").status_code == 302


def test_disabling_a_user_ends_their_session(client, web_settings):
    signed_in(client, "alice")
    assert client.get("/agent").status_code == 200
    set_disabled(connect(web_settings), "alice", True)
    assert client.get("/agent").status_code == 302
    assert login(client, "alice").status_code == 401


def test_changing_the_password_ends_other_sessions(client, web_settings):
    signed_in(client, "alice")
    set_password(connect(web_settings), "alice", "a-brand-new-password")
    assert client.get("/agent").status_code == 302
    assert login(client, "alice", "a-brand-new-password").status_code == 302


def test_security_headers(client):
    r = client.get("/help")
    assert "script-src 'self'" in r.headers["Content-Security-Policy"]
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["X-Frame-Options"] == "DENY"
    signed_in(client, "alice")
    assert client.get("/agent").headers["Cache-Control"] == "no-store"


def test_unknown_pages_are_404_in_html_and_json(client):
    r = client.get("/no/such/page")
    assert r.status_code == 404 and "Page not found" in r.get_data(as_text=True)
    r = client.get("/api/v1/nothing")
    assert r.status_code == 404 and "error" in r.get_json()
    signed_in(client, "alice")
    assert client.get("/agent/tickets/T-999").status_code == 404
    assert client.get("/agent/articles/no-such-article").status_code == 404
    assert client.get("/agent/articles/printer-offline/history/0123456789ab").status_code == 404
    assert post(client, "/agent/flags/999/resolve").status_code in (403, 404)
