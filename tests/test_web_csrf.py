"""Every form POST of the app refuses a missing or wrong CSRF token — found by walking the URL
map, so a new POST route is covered without editing this file."""
import re

import pytest

from kb.core.store import connect
from tests.web_support import app, client, csrf_token, post, signed_in, web_settings  # noqa: F401

pytestmark = pytest.mark.both_backends       # SQLite and the suite's PostgreSQL

SAMPLE_ARGS = {"slug": "printer-offline", "article_id": "KB-0001", "flag_id": "1", "ticket_id": "T-100", "cid": "1",
               "image_id": "1", "language": "zh"}
# signed machine-to-machine calls, not cookie sessions (an OpenID Connect provider's logout tokens too)
EXEMPT = ("webhooks.", "githook.", "auth.oidc_backchannel_logout")


def post_routes(app):
    out = []
    for rule in app.url_map.iter_rules():
        if "POST" not in rule.methods or rule.endpoint.startswith(EXEMPT):
            continue
        out.append(re.sub(r"<(?:\w+:)?(\w+)>", lambda m: SAMPLE_ARGS[m.group(1)], rule.rule))
    return out


def test_there_are_post_routes_to_check(app):
    assert len(post_routes(app)) >= 7


@pytest.mark.parametrize("as_json", [False, True])
def test_every_post_without_or_with_a_wrong_token_is_refused(app, client, web_settings, as_json):
    from kb.analytics.activity import flag_article
    flag_article(connect(web_settings), "KB-0001", "outdated", None, by="alice")
    signed_in(client, "root")
    headers = {"X-Requested-With": "fetch"} if as_json else {}
    data = {"article_id": "KB-0001", "ticket_id": "T-100", "reason": "outdated", "helpful": "yes",
            "username": "root", "password": "x"}
    for path in post_routes(app):
        r = client.post(path, data=data, headers=headers)
        assert r.status_code == 400, (path, r.status_code)
        if as_json:
            assert "expired" in r.get_json()["error"] or "Reload" in r.get_json()["error"]
        r = client.post(path, data={**data, "csrf_token": "forged"}, headers={**headers, "X-CSRFToken": "forged"})
        assert r.status_code == 400, (path, r.status_code)
    # nothing was written by the refused requests
    db = connect(web_settings)
    assert db["feedback"].count == 0
    assert db.execute("SELECT COUNT(*) FROM flags WHERE resolved_at IS NOT NULL").fetchone()[0] == 0
    assert client.get("/agent").status_code == 200      # still signed in: /logout was refused too


def test_a_token_from_another_session_is_refused(app):
    a, b = app.test_client(), app.test_client()
    token = csrf_token(a, "/login")
    b.get("/login")
    r = b.post("/help/articles/printer-offline/feedback", data={"helpful": "yes", "csrf_token": token})
    assert r.status_code == 400


def test_the_right_token_passes(client):
    r = post(client, "/help/articles/printer-offline/feedback", {"helpful": "yes"}, page="/help/articles/printer-offline")
    assert r.status_code == 200 and r.get_json()["ok"]


def test_anonymous_feedback_is_checked_by_origin_so_its_page_can_be_cached(client, web_settings):
    """The article page a shared cache serves carries no per-visitor token: a vote from the
    page is told apart by the origin headers every browser sends; another site's form is not."""
    page = client.get("/help/articles/printer-offline")
    assert "csrf" not in page.get_data(as_text=True) and "Set-Cookie" not in page.headers
    vote = {"helpful": "yes"}
    for headers in ({"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
                    {"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "same-site"}, {}):
        assert client.post("/help/articles/printer-offline/feedback", data=vote, headers=headers).status_code == 400
    assert connect(web_settings)["feedback"].count == 0
    for headers in ({"Sec-Fetch-Site": "same-origin"}, {"Origin": "http://localhost"}):
        r = client.post("/help/articles/printer-offline/feedback", data=vote, headers=headers)
        assert r.status_code == 302, (headers, r.status_code)
    assert connect(web_settings)["feedback"].count == 2
