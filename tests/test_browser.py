"""Real Chromium against a real `kb serve` on loopback: an agent on a call searches as they
type, links a result to the ticket and flags one; customers search in Chinese and English,
open an article and vote; a customer cannot reach an internal article by any way in.
Screenshots of the three main pages are saved in the test's temp folder."""

import pytest

from kb.core.store import connect
from kb.tickets.records import links_for_ticket
from tests.browser_support import chromium, serve
from tests.web_support import PASSWORDS

pytestmark = pytest.mark.browser

@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`kb serve` (gunicorn, two workers) on a free port, stopped at the end."""
    from kb.tickets.records import link_article, upsert_ticket
    from kb.accounts.users import add_user
    from tests.web_support import build_settings
    tmp = tmp_path_factory.mktemp("browser")
    s = build_settings(tmp)
    db = connect(s)
    add_user(db, "alice", PASSWORDS["alice"], "agent", "Alice Agent")
    upsert_ticket(db, {"id": "T-200", "channel": "phone", "priority": "urgent", "subject": "VPN error 809 at home",
                       "description": "VPN fails with error 809 from the home network.", "product": "vpn",
                       "customer": "Contoso", "agent": "Grace", "created_at": "2026-11-02T09:00:00Z"})
    link_article(db, "T-200", "KB-0002", kind="referenced", by="alice")
    with serve(s, workers=2) as base:
        yield base, s


@pytest.fixture(scope="module")
def browser():
    yield from chromium()


def new_page(browser, locale="en-US"):
    ctx = browser.new_context(viewport={"width": 1400, "height": 900}, locale=locale)
    page = ctx.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    return ctx, page, errors


def test_agent_searches_as_they_type_links_and_flags(server, browser, tmp_path):
    base, s = server
    ctx, page, errors = new_page(browser)
    ctx.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    page.goto(base + "/agent")
    assert "/login" in page.url
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", PASSWORDS["alice"])
    page.click("button[type=submit]")
    page.wait_for_url(base + "/agent")
    assert page.evaluate("document.activeElement.id") == "q"          # search box focused on load

    page.fill("#ticket-id", "T-200")
    page.press("#ticket-id", "Enter")
    page.wait_for_selector("#ticket-card .ticket-subject:has-text('VPN error 809 at home')")

    page.click("body")
    page.keyboard.press("/")                                            # "/" focuses search
    page.keyboard.type("printer offl", delay=30)                        # an unfinished word is completed
    page.wait_for_selector(".hit:first-child[data-id='KB-0001']")
    for _ in range(len("offl")):
        page.keyboard.press("Backspace")
    page.keyboard.type("spooler server", delay=30)                      # results follow the typing
    page.wait_for_selector(".hit:first-child[data-id='KB-0004']")
    hit = page.locator(".hit[data-id='KB-0004']")
    assert hit.locator(".badge-internal").count() == 1                  # internal, clearly marked
    assert hit.locator(".resolution-body li").count() == 2              # steps inline

    page.keyboard.press("ArrowDown")                                    # keyboard selection
    assert "is-selected" in hit.get_attribute("class")
    page.keyboard.press("c")                                            # copy the resolution
    page.wait_for_selector("#toast:has-text('Resolution copied')")
    assert page.evaluate("navigator.clipboard.readText()") == "1. Open Settings.\n2. Restart the device."

    hit.locator("form[data-action=link] button").click()               # link to the current ticket
    page.wait_for_selector("#toast:has-text('Linked KB-0004 to ticket T-200')")
    hit.locator(".flag-menu summary").click()
    hit.locator(".flag-menu input[name=comment]").fill("The server was renamed")
    hit.locator(".flag-menu button[value=outdated]").click()
    page.wait_for_selector("#toast:has-text('Flagged KB-0004')")
    page.screenshot(path=str(tmp_path / "agent-console.png"))

    db = connect(s)
    assert ("KB-0004", "resolved_by", "alice") in {(l["article_id"], l["kind"], l["created_by"])
                                                  for l in links_for_ticket(db, "T-200")}
    flag = next(db["flags"].rows)
    assert (flag["article_id"], flag["reason"], flag["comment"], flag["ticket_id"]) == \
        ("KB-0004", "outdated", "The server was renamed", "T-200")

    page.keyboard.press("Escape")                                       # back to the search box
    assert page.evaluate("document.activeElement.id") == "q"
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")                                        # Enter opens the selected hit
    page.wait_for_url("**/agent/articles/internal-spooler*")
    assert page.locator("h1").inner_text() == "Restart the print spooler on the print server"
    assert page.locator(".alert-warn").count() == 1                     # flagged: stale warning
    assert page.locator(".commits li").count() == 1
    page.screenshot(path=str(tmp_path / "agent-article.png"), full_page=True)
    assert errors == []
    ctx.close()


def test_customer_searches_in_chinese_and_english_and_votes(server, browser, tmp_path):
    base, s = server
    ctx, page, errors = new_page(browser, locale="zh-CN")
    page.goto(base + "/help")
    assert page.locator("h1").inner_text() == "需要什么帮助？"             # Accept-Language: Chinese labels
    box = page.locator(".hero input[name=q]")
    box.click()
    page.keyboard.type("重置密码", delay=40)
    page.wait_for_selector(".hero .suggestions li:has-text('重置忘记的账户密码')")
    page.screenshot(path=str(tmp_path / "portal-home.png"), full_page=True)
    page.keyboard.press("Enter")
    page.wait_for_url("**/help/search?q=*")
    assert "重置忘记的账户密码" in page.locator(".portal-results").inner_text()

    page.click(".lang-switch a[data-lang=en]")                           # switch the UI to English
    page.wait_for_selector("h1:has-text('Results for')")
    search = page.locator(".portal-header input[name=q]")
    search.fill("printer offline")
    search.press("Enter")
    page.wait_for_selector(".portal-results")
    page.click(".portal-hit-title:has-text('Printer shows offline')")
    page.wait_for_url("**/help/articles/printer-offline*")
    page.click("button[data-vote=yes]")
    page.wait_for_selector(".feedback-form.is-voted textarea")
    page.fill(".feedback-form textarea", "Step 2 did it")
    page.click(".feedback-send")
    page.wait_for_selector(".feedback-thanks")
    page.screenshot(path=str(tmp_path / "portal-article.png"), full_page=True)
    rows = [(r["article_id"], r["helpful"], r["comment"], r["audience"]) for r in connect(s)["feedback"].rows]
    assert rows == [("KB-0001", 1, "Step 2 did it", "customer")]
    assert errors == []
    ctx.close()


def test_customer_cannot_reach_an_internal_article(server, browser):
    base, _ = server
    ctx, page, errors = new_page(browser)
    page.goto(base + "/help/search?q=restart+print+spooler+server")
    assert "Restart the print spooler" not in page.content()
    page.goto(base + "/help")
    page.locator(".hero input[name=q]").type("spooler", delay=30)
    page.wait_for_timeout(600)
    assert "Restart the print spooler" not in page.locator(".hero .suggestions").inner_text()
    for path in ("/help/articles/internal-spooler", "/help/articles/KB-0004", "/api/v1/articles/KB-0004",
                 "/help/articles/draft-scanner", "/help/articles/old-vpn-client"):
        assert page.goto(base + path).status == 404, path
    page.goto(base + "/sitemap.xml")
    assert "internal-spooler" not in page.content() and "printer-offline" in page.content()
    ctx.close()


def test_screenshots_are_real_pages(tmp_path, server, browser):
    """The three main pages render in both languages (screenshots for people to look at)."""
    base, _ = server
    for locale in ("en-US", "zh-CN"):
        ctx, page, errors = new_page(browser, locale=locale)
        page.goto(base + "/help")
        page.screenshot(path=str(tmp_path / f"portal-home-{locale}.png"), full_page=True)
        page.goto(base + "/help/articles/printer-offline")
        page.screenshot(path=str(tmp_path / f"portal-article-{locale}.png"), full_page=True)
        assert errors == []
        ctx.close()
    assert len(list(tmp_path.glob("*.png"))) == 4
