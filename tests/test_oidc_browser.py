"""Real Chromium against a real `kb serve` (two worker processes) that signs staff in with a real
OpenID Connect provider (oidc-provider on loopback): the button on /login, the provider's own
sign-in page, roles from the groups claim, no group refused; a tampered state, a replayed code,
a wrong audience and an expired ID token refused with a message and a reason in the sign-in log;
signing out at the provider ends the kb session (back-channel logout); with the provider down
the page says so, health is degraded and a local admin still signs in."""
import json
import re
import urllib.parse

import pytest

from kb.accounts import audit
from kb.accounts.users import add_user
from kb.core.store import connect
from tests.browser_support import chromium, free_port, page_in, serve
from tests.oidc_support import ACCOUNTS, dead_issuer, env
from tests.web_support import build_settings

pytestmark = pytest.mark.browser
ROOT_PW = "root-password-333"
CALLBACK = re.compile(r".*/login/oidc/default/callback\?.*")


@pytest.fixture(scope="module")
def kb_settings(tmp_path_factory):
    """The KB, with a local admin for when the provider is down."""
    s = build_settings(tmp_path_factory.mktemp("oidcbrowser"))
    add_user(connect(s), "root", ROOT_PW, "admin", "Root Admin")
    return s


@pytest.fixture(scope="module")
def server(kb_settings, oidc_provider):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    oidc_provider.client("kb-browser", base)
    oidc_provider.client("other-app", "http://other.example")
    with serve(kb_settings, workers=2, port=port, extra_env=env(oidc_provider, "kb-browser")):
        yield base


@pytest.fixture(scope="module")
def browser():
    yield from chromium()


@pytest.fixture
def page(browser, idp):
    yield from page_in(browser)


def sign_in(page, base: str, user: str) -> None:
    """The button on kb's page, then the provider's own sign-in page (as a new visitor: the
    provider's cookies and kb's, which share the host, are cleared)."""
    page.context.clear_cookies()
    page.goto(base + "/login")
    page.click("#sso-default")
    page.fill("input[name=login]", user)
    page.fill("input[name=password]", ACCOUNTS[user]["password"])
    page.click("button:has-text('Continue')")


def held_answer(page, base: str) -> str:
    """Start a sign-in with the browser's cookies and follow the redirects up to the provider's
    answer — kb's callback URL — without sending the browser there (a redirect cannot be
    intercepted in the page)."""
    url = base + "/login/oidc/default"
    for _ in range(10):
        r = page.request.get(url, max_redirects=0)
        assert r.status in (302, 303), (r.status, r.text()[:300])
        url = urllib.parse.urljoin(url, r.headers["location"])
        if CALLBACK.match(url):
            return url
    raise AssertionError("the provider never answered")


def last_reason(settings, user: str | None = None) -> str:
    return audit.entries(connect(settings), method="oidc", user=user)[0]["reason"]


def test_staff_sign_in_with_their_role_and_no_group_is_refused(server, page, kb_settings):
    sign_in(page, server, "erin")
    page.wait_for_url(server + "/agent")
    assert "Erin Engineer" in page.inner_text(".who") and "Engineer" in page.text_content(".who .role")
    page.click("nav.topnav a:has-text('Flags')")
    page.wait_for_url(server + "/agent/flags")
    page.click("button:has-text('Sign out')")
    page.wait_for_url("**/login")

    sign_in(page, server, "nora")
    page.wait_for_url("**/login/oidc/default/callback?**")
    assert "Your account has no role in kb" in page.inner_text(".alert-error")
    assert last_reason(kb_settings, "nora").startswith("no group:")
    page.goto(server + "/agent")
    assert "/login" in page.url


def test_a_tampered_state_and_a_replayed_code_are_refused(server, page, kb_settings):
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url) if CALLBACK.match(r.url) else None)
    sign_in(page, server, "ann")                             # a good sign-in: its code is seen
    page.wait_for_url(server + "/agent")
    code = urllib.parse.parse_qs(urllib.parse.urlsplit(seen[-1]).query)["code"][0]
    page.click("button:has-text('Sign out')")
    page.wait_for_url("**/login")

    answer = held_answer(page, server)                       # still signed in at the provider
    page.goto(answer.replace("state=", "state=x"))            # the answer with its state changed
    assert "could not be completed" in page.inner_text(".alert-error")
    assert last_reason(kb_settings).startswith("bad state:")

    answer = held_answer(page, server)
    page.goto(re.sub(r"code=[^&]+", f"code={code}", answer))  # this sign-in's state, the old code
    assert "could not be verified" in page.inner_text(".alert-error")
    assert "invalid_grant" in last_reason(kb_settings)
    page.goto(server + "/agent")
    assert "/login" in page.url


@pytest.mark.parametrize("switch, kind", [({"audience": "other-app"}, "wrong audience"),
                                          ({"expired": 600}, "expired token")])
def test_an_id_token_for_another_client_or_expired_is_refused(server, page, kb_settings, idp, switch, kind):
    idp.mode(**switch)
    sign_in(page, server, "ann")
    page.wait_for_url("**/login/oidc/default/callback?**")
    assert "could not be verified" in page.inner_text(".alert-error")
    assert last_reason(kb_settings, "-").startswith(kind + ":")
    page.goto(server + "/agent")
    assert "/login" in page.url


def test_signing_out_at_the_provider_ends_the_kb_session(server, page, kb_settings, oidc_provider):
    sign_in(page, server, "adam")
    page.wait_for_url(server + "/agent")
    page.goto(oidc_provider.issuer + "/session/end")         # the provider's own sign-out page
    page.click("button[name=logout][value=yes]")
    page.wait_for_load_state()
    page.goto(server + "/agent")                             # another worker, maybe: state is in the database
    assert "/login" in page.url
    assert last_reason(kb_settings, "adam").startswith("session ended: signed out at the identity provider")


def test_a_provider_that_is_down_is_clear_and_local_accounts_still_sign_in(kb_settings, page):
    with serve(kb_settings, extra_env={**env_down(), "KB_OIDC_LABEL": "Sign in with Example SSO"}) as base:
        page.goto(base + "/login")
        assert "cannot be reached" in page.inner_text("#provider-down-default")
        page.keyboard.press("Tab")                            # the skip link, then the button
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.id") == "sso-default"
        assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
        page.keyboard.press("Enter")
        page.wait_for_url("**/login/oidc/default")
        assert "cannot be reached" in page.inner_text(".alert-error")
        page.goto(base + "/api/v1/health")
        health = json.loads(page.inner_text("body"))
        assert health["status"] == "degraded" and health["oidc"]["providers"]["default"]["status"] == "degraded"

        page.goto(base + "/login")
        page.fill("input[name=username]", "root")
        page.fill("input[name=password]", ROOT_PW)
        page.click("form button[type=submit]")
        page.wait_for_url(base + "/agent")
        page.click("nav.topnav a:has-text('Sign-ins')")
        assert page.get_attribute("#provider-state-default", "data-status") == "degraded"


def env_down() -> dict:
    return {"KB_OIDC_ISSUER": dead_issuer(), "KB_OIDC_CLIENT_ID": "kb", "KB_OIDC_CLIENT_SECRET": "x",
            "KB_OIDC_ROLES": "agent=kb-agents", "KB_OIDC_TIMEOUT": "2s"}
