"""The request form in real Chromium against a real `kb serve`: typing a description shows
articles (announced by a live region), one opens in place, "Yes, it is solved" counts a
deflection, "No" goes back with everything kept, sending shows a reference number, and axe-core
finds no accessibility violation on the form (empty, with errors, with articles, in Chinese)."""
from __future__ import annotations

import pytest

from kb.core.store import connect
from tests.browser_support import chromium, serve

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from tests.web_support import build_settings
    s = build_settings(tmp_path_factory.mktemp("contact-browser"))
    with serve(s, workers=1) as base:
        yield base, s


@pytest.fixture(scope="module")
def browser():
    yield from chromium()


def open_form(browser, base, locale="en-US"):
    ctx = browser.new_context(viewport={"width": 1300, "height": 900}, locale=locale)
    page = ctx.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(base + "/help/contact")
    return ctx, page, errors


def violations(page) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe
    result = Axe().run(page)
    return [f"{v['id']}: {v['help']} {[n['target'] for n in v['nodes']]}" for v in result.response["violations"]]


def events(s) -> list[tuple]:
    db = connect(s)
    try:
        return [tuple(r) for r in db.execute("SELECT kind, article_id FROM request_events ORDER BY id")]
    finally:
        db.close()


def test_typing_shows_articles_and_yes_solved_counts_a_deflection(server, browser):
    base, s = server
    ctx, page, errors = open_form(browser, base)
    before = events(s)
    page.fill("#subject", "Printer offline")
    page.type("#description", "The printer shows offline after the router", delay=5)
    page.wait_for_selector(".answers-list .answer-open")
    assert "may answer this" in page.text_content("[data-status]")
    assert page.get_attribute("[data-status]", "aria-live") == "polite"
    titles = page.locator(".answers-list .answer-open").all_text_contents()
    assert "Printer shows offline after the router was replaced" in titles
    assert not any("spooler" in t.lower() for t in titles)              # the internal article never shows
    page.click("text=Printer shows offline after the router was replaced")
    page.wait_for_selector("[data-reader]:not([hidden])")
    assert page.evaluate("document.activeElement.matches('[data-reader]')")
    assert "Restart the device" in page.text_content("[data-reader-body]")
    page.click("[data-solved-no]")                                       # no: back to the form, all kept
    assert page.is_hidden("[data-reader]") and page.input_value("#subject") == "Printer offline"
    page.click("text=Printer shows offline after the router was replaced")
    page.click("[data-solved-yes]")
    page.wait_for_selector(".contact-done")
    assert "Your request was not sent" in page.text_content(".contact-done")
    assert events(s)[len(before):][-1] == ("deflected", "KB-0001")
    assert not errors
    ctx.close()


def test_sending_shows_a_reference_number(server, browser):
    base, s = server
    ctx, page, errors = open_form(browser, base)
    page.fill("#email", "ming.customer@fabrikam.example")
    page.fill("#name", "Ming Customer")
    page.select_option("#product", "vpn")
    page.fill("#subject", "VPN error 809")
    page.fill("#description", "The VPN fails with error 809 when I connect from home.")
    page.check("input[name=priority][value=urgent]")
    page.click("button[name=action]")
    page.wait_for_selector("[data-reference]")
    ref = page.text_content("[data-reference]").strip()
    assert ref.startswith("REQ-") and "ming.customer" not in page.content()
    db = connect(s)
    assert db.value("SELECT priority FROM tickets WHERE id = ?", [ref]) == "urgent"
    assert not errors
    ctx.close()


def test_axe_finds_no_violation_on_the_form(server, browser):
    base, _ = server
    ctx, page, _ = open_form(browser, base)
    assert violations(page) == []
    page.fill("#subject", "Printer offline")
    page.fill("#description", "offline after the router was replaced")
    page.wait_for_selector(".answers-list .answer-open")
    page.click(".answers-list .answer-open >> nth=0")
    page.wait_for_selector("[data-reader]:not([hidden])")
    assert violations(page) == []                                        # with articles and one open
    page.fill("#email", "nope")
    page.click("button[name=action]")
    page.wait_for_selector("#form-errors")
    assert page.get_attribute("#email", "aria-invalid") == "true"
    assert violations(page) == []                                        # with its errors
    for path in ("/help/articles/printer-offline", "/help/search?q=zzzzqqq"):      # "Still need help?" links
        page.goto(base + path)
        assert page.locator("[data-contact]").count() >= 1 and violations(page) == [], path
    ctx.close()
    ctx, page, _ = open_form(browser, base, locale="zh-CN")
    assert "联系支持人员" in page.text_content("h1") and violations(page) == []
    ctx.close()
    ctx = browser.new_context(java_script_enabled=False)                 # the step after "Continue"
    page = ctx.new_page()
    page.goto(base + "/help/contact")
    page.fill("#email", "ming@fabrikam.example")
    page.fill("#name", "Ming")
    page.fill("#subject", "Printer offline")
    page.fill("#description", "The printer shows offline after the router was replaced.")
    page.click("button[name=action]")
    page.wait_for_selector("details")
    ctx2 = browser.new_context()          # axe needs script: check the same page's HTML with it on
    p2 = ctx2.new_page()
    p2.set_content(page.content())
    assert violations(p2) == []
    ctx.close()
    ctx2.close()
