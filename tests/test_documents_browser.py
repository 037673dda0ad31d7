"""Real Chromium against a real `kb serve` on a docs-folder repository with real images: the
screenshots of an article actually load, the page breaks no Content Security Policy, axe-core
finds no accessibility violation on the portal's home, search and article pages and on the
console (light and dark theme), staff copy a command from a code block, and an agent adds a
screenshot to an improvement that the preview shows."""
from __future__ import annotations

import pytest

from kb.accounts.users import add_user
from kb.core.store import connect
from tests.browser_support import chromium, serve
from tests.conftest import article
from tests.documents_support import docs_repo, png

pytestmark = pytest.mark.browser

COMMANDS = article(
    "KB-0110", "Restart the print spooler from PowerShell", product="printing", tags=("spooler",),
    body="## Symptoms\nJobs stuck.\n\n## Resolution\n1. Open PowerShell as administrator.\n\n"
         "    ```powershell\n    Restart-Service -Name Spooler -Force\n    ```\n\n"
         "    !!! warning \"Print jobs are lost\"\n        Jobs in the queue are deleted.\n\n"
         "2. Print a test page.\n\n> [!TIP]\n> Check the queue first.\n")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from indexer.build import build
    from kb.core.config import Settings
    tmp = tmp_path_factory.mktemp("docs-browser")
    repo = docs_repo(tmp / "articles", {"printing/spooler.md": COMMANDS})
    s = Settings.load(env={}, home=tmp / "state", articles=repo, semantic=False, encoders=())
    assert build(s).articles == 5
    db = connect(s)
    add_user(db, "alice", "alice-password-1", "agent", "Alice Agent")
    db.close()
    with serve(s) as base:
        yield base, s


@pytest.fixture(scope="module")
def browser():
    yield from chromium()


def open_page(browser, scheme="light"):
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme=scheme)
    page = ctx.new_page()
    problems = []
    page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.add_init_script("document.addEventListener('securitypolicyviolation', e => "
                         "console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI))")
    return ctx, page, problems


def wait_until(page, js: str, timeout: float = 15.0):
    """Poll ``js`` in the page (Playwright's wait_for_function evaluates strings, which the
    pages' CSP refuses)."""
    import time
    end = time.monotonic() + timeout
    while not page.evaluate(js):
        assert time.monotonic() < end, f"still false after {timeout} s: {js}"
        page.wait_for_timeout(100)


def sign_in(page, base):
    page.goto(base + "/login")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "alice-password-1")
    page.click("button[type=submit]")
    page.wait_for_url(base + "/agent")


def test_an_article_s_screenshots_load_and_nothing_breaks_the_content_security_policy(server, browser):
    base, _ = server
    ctx, page, problems = open_page(browser)
    page.goto(base + "/help/articles/setup/install-terminal")
    images = page.locator(".prose img")
    assert images.count() == 5
    for i in range(images.count()):            # lazy images load as they come into view
        images.nth(i).scroll_into_view_if_needed()
    wait_until(page, "[...document.querySelectorAll('.prose img')].every(i => i.complete && i.naturalWidth > 0)")
    sizes = page.evaluate("[...document.querySelectorAll('.prose img')].map(i => [i.naturalWidth, i.getAttribute('width')])")
    assert all(str(w) == attr for w, attr in sizes), sizes
    assert page.locator("figure figcaption").inner_text() == "Windows Terminal after the first start"
    assert page.locator("a.file-link").count() == 2 and "(PDF," in page.locator("a.file-link").first.inner_text()
    page.goto(base + "/help/articles/setup/broken")
    assert page.locator(".missing-file").count() == 3 and page.locator(".prose img").count() == 0
    assert problems == []
    ctx.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_no_accessibility_violation(server, browser, scheme):
    from axe_playwright_python.sync_playwright import Axe
    base, _ = server
    ctx, page, problems = open_page(browser, scheme)
    axe = Axe()
    found = {}
    for path in ("/help", "/help/search?q=terminal", "/help/search?q=nothing-matches-this",
                 "/help/articles/setup/install-terminal", "/help/articles/printing/spooler"):
        page.goto(base + path)
        found[path] = [v["id"] for v in axe.run(page).response["violations"]]
    sign_in(page, base)
    for path in ("/agent", "/agent?q=terminal", "/agent/articles/printing/spooler", "/agent/articles/admin/console"):
        page.goto(base + path)
        page.wait_for_load_state("networkidle")
        found[path] = [v["id"] for v in axe.run(page).response["violations"]]
    assert {p: v for p, v in found.items() if v} == {}
    assert problems == []
    ctx.close()


def test_staff_copy_a_command_from_a_code_block(server, browser):
    base, _ = server
    ctx, page, problems = open_page(browser)
    ctx.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    sign_in(page, base)
    page.goto(base + "/agent/articles/printing/spooler")
    assert page.locator(".admonition.warning .admonition-title").inner_text() == "Print jobs are lost"
    assert page.locator(".admonition.tip").count() == 1
    button = page.locator(".highlight .copy-code")
    assert button.count() == 1 and button.inner_text() == "Copy"
    button.click()
    wait_until(page, "document.querySelector('.copy-code').textContent === 'Code copied'")
    assert page.evaluate("navigator.clipboard.readText()") == "Restart-Service -Name Spooler -Force"
    page.goto(base + "/help/articles/printing/spooler")
    assert page.locator(".highlight").count() == 1 and page.locator(".copy-code").count() == 0   # staff pages only
    assert problems == []
    ctx.close()


def test_an_agent_adds_a_screenshot_to_an_improvement_and_the_preview_shows_it(server, browser, tmp_path):
    base, _ = server
    ctx, page, problems = open_page(browser)
    sign_in(page, base)
    page.goto(base + "/agent/contrib/article/printing/spooler/improve")
    editor = page.locator("textarea[name=markdown]")
    editor.click()
    editor.press("Control+End")
    shot = tmp_path / "Spooler window.png"
    shot.write_bytes(png((300, 180)))
    page.set_input_files("[data-image-input]", str(shot))
    wait_until(page, "document.querySelector('textarea[name=markdown]').value.includes('media/spooler/spooler-window.png')")
    wait_until(page, "[...document.querySelectorAll('[data-preview] img')].some(i => i.complete && i.naturalWidth === 300)")
    assert page.locator("[data-shots] img").count() == 1
    assert problems == []
    ctx.close()
