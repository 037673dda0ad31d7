"""Real Chromium against a real `kb serve`: the language switcher of an article leads to its
other version on the portal and on the console, choosing the UI language on the portal leads to
that language's version of the page being read, a search lists the article once with its other
language as a tag, and axe-core finds no violation on the article pages."""
from __future__ import annotations

import pytest

from tests.browser_support import chromium, serve
from tests.translations_support import bilingual

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = bilingual(tmp_path_factory.mktemp("translations-browser"), None)
    with serve(s) as base:
        yield base


@pytest.fixture(scope="module")
def browser():
    yield from chromium()


def test_the_switcher_leads_between_versions_on_the_portal_and_the_console(server, browser):
    from axe_playwright_python.sync_playwright import Axe
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    problems = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.goto(server + "/help/articles/printer")
    assert page.locator("html").get_attribute("lang") == "en"
    page.click("nav.versions a[hreflang=zh]")
    page.wait_for_url(server + "/help/articles/printer-zh")
    assert page.locator("h1").inner_text() == "更换路由器后打印机脱机"
    axe = Axe()
    assert [v["id"] for v in axe.run(page).response["violations"]] == []
    page.click("nav.versions a[hreflang=en]")
    page.wait_for_url(server + "/help/articles/printer")
    page.click(".lang-switch a[data-lang=zh]")                       # the UI language: Chinese
    page.wait_for_url(server + "/help/articles/printer-zh")
    assert page.locator(".lang-switch strong").inner_text() == "中文"
    page.goto(server + "/help/search?q=printer+offline+router")
    assert page.locator("a.portal-hit-title").first.inner_text() == "更换路由器后打印机脱机"   # shown in the reader's language
    assert page.locator("a.pill-link[data-version=en]").count() == 1
    assert [v["id"] for v in axe.run(page).response["violations"]] == []

    page.goto(server + "/login")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "alice-password-1")
    page.click("button[type=submit]")
    page.wait_for_url(server + "/agent")
    page.goto(server + "/agent/articles/printer-zh")
    page.click("nav.versions a[hreflang=en]")
    page.wait_for_url(server + "/agent/articles/printer")
    assert [v["id"] for v in axe.run(page).response["violations"]] == []
    assert page.locator("[data-testid=translate-zh]").count() == 0
    page.goto(server + "/agent/articles/vpn")
    assert page.locator("[data-testid=translate-zh]").count() == 1
    assert problems == []
    ctx.close()
