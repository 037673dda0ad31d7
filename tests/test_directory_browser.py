"""Real Chromium against a real `kb serve` (two worker processes) that signs people in with a
real slapd: a directory user gets the role of their group, a new group gives a new role at the
next sign-in, removal from the groups ends the session at the next request, an injection user
name fails; with the directory unreachable the form says so, health says degraded, and a local
admin still signs in and sees why on the sign-in log."""
import json
import uuid

import pytest

from kb.accounts.users import add_user
from kb.core.store import connect
from tests.browser_support import chromium, page_in, serve
from tests.ldap_support import dead_url, org_env
from tests.web_support import build_settings

pytestmark = pytest.mark.browser
ROOT_PW = "root-password-333"


@pytest.fixture(scope="module")
def kb_settings(tmp_path_factory):
    s = build_settings(tmp_path_factory.mktemp("dirbrowser"))
    add_user(connect(s), "root", ROOT_PW, "admin", "Root Admin")
    return s


@pytest.fixture(scope="module")
def server(kb_settings, slapd):
    with serve(kb_settings, workers=2, extra_env=org_env(slapd, KB_LDAP_RECHECK="0")) as base:
        yield base


@pytest.fixture(scope="module")
def browser():
    yield from chromium()


@pytest.fixture
def page(browser):
    yield from page_in(browser)


def sign_in(page, base: str, name: str, password: str) -> None:
    page.goto(base + "/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def test_directory_user_role_follows_the_groups_and_removal_ends_the_session(server, slapd, page):
    base = server
    uid = "b" + uuid.uuid4().hex[:8]
    password = slapd.add_person(uid, "Bea Browser", "agent")
    sign_in(page, base, uid, password)
    page.wait_for_url(base + "/agent")
    assert "Bea Browser" in page.inner_text(".who") and "Agent" in page.text_content(".who .role")
    assert page.locator("nav.topnav a:has-text('Flags')").count() == 0

    slapd.leave(uid, "agent")
    slapd.join(uid, "engineer")
    page.click("button:has-text('Sign out')")
    page.wait_for_url("**/login")
    sign_in(page, base, uid, password)
    page.wait_for_url(base + "/agent")
    assert "Engineer" in page.text_content(".who .role")
    page.click("nav.topnav a:has-text('Flags')")
    page.wait_for_url(base + "/agent/flags")

    slapd.leave(uid, "engineer")                                 # out of every mapped group
    page.click("nav.topnav a:has-text('Tickets')")               # the very next request
    page.wait_for_url("**/login?next=**")
    assert page.locator("input[name=username]").is_visible()
    page.goto(base + "/agent")
    assert "/login" in page.url
    sign_in(page, base, uid, password)
    assert "Wrong user name or password." in page.inner_text(".alert-error")


def test_an_injection_user_name_fails(server, page):
    sign_in(page, server, "*)(uid=*", "anything-at-all")
    assert "Wrong user name or password." in page.inner_text(".alert-error")
    page.goto(server + "/agent")
    assert "/login" in page.url


def test_unreachable_directory_is_clear_and_local_accounts_still_sign_in(kb_settings, slapd, page):
    with serve(kb_settings, extra_env=org_env(slapd, KB_LDAP_URL=dead_url())) as base:
        page.goto(base + "/login")
        assert "The company directory cannot be reached" in page.inner_text("#directory-down")
        sign_in(page, base, "erin", "erin-ldap-pass")
        assert "directory accounts cannot sign in right now" in page.inner_text(".alert-error")
        page.goto(base + "/api/v1/health")
        health = json.loads(page.inner_text("body"))
        assert health["directory"]["status"] == "degraded" and health["status"] == "degraded"
        assert health["directory"]["error"] == "cannot connect to the directory"

        sign_in(page, base, "root", ROOT_PW)
        page.wait_for_url(base + "/agent")
        page.click("nav.topnav a:has-text('Sign-ins')")
        page.wait_for_url(base + "/agent/signins")
        assert page.get_attribute("#directory-state", "data-status") == "degraded"
        failed = page.locator("tr.signin-failed:has-text('erin')")
        assert "directory unavailable" in failed.first.inner_text()
        assert page.locator("tr.signin-ok:has-text('root')").count() >= 1
