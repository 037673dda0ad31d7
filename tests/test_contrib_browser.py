"""Real Chromium against a real `kb serve`: an agent captures a new article from a demo ticket
(prefilled, customer data replaced and one replacement undone, similar articles shown while
typing, a validation error that keeps the text, submit), then an engineer finds it in the
review queue and exports it to a branch of the articles repository."""

import pytest

from kb.contrib import capture as contrib
from kb.core.store import connect
from kb.tickets.records import get_ticket, upsert_ticket
from tests.conftest import git
from tests.test_browser import browser, new_page  # noqa: F401  (the shared Chromium fixture)
from tests.browser_support import serve
from tests.web_support import PASSWORDS

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from kb.ops import demo
    from kb.accounts.users import add_user
    from tests.web_support import build_settings
    s = build_settings(tmp_path_factory.mktemp("contrib-browser"))
    db = connect(s)
    add_user(db, "alice", PASSWORDS["alice"], "agent", "Alice Agent")
    add_user(db, "bob", PASSWORDS["bob"], "engineer", "Bob Engineer")
    demo.load(db, s, seed=7)
    tid = db.execute("SELECT id FROM tickets WHERE demo = 1 AND product = 'printing' AND resolution != '' "
                          "ORDER BY id LIMIT 1").fetchone()[0]
    t = get_ticket(db, tid)
    # the demo ticket as a customer wrote it: with their name and e-mail address in it
    upsert_ticket(db, {"id": tid, "contact": "Wendy Kowalski",
                       "description": f"Hello, this is Wendy Kowalski (wendy.k@fabrikam.example.net). {t['description']}"})
    with serve(s) as base:
        yield base, s, tid


def _sign_in(page, base, user):
    page.goto(base + "/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORDS[user])
    page.click("button[type=submit]")
    page.wait_for_url(base + "/agent")


def test_agent_captures_an_article_from_a_demo_ticket_and_an_engineer_exports_it(server, browser, tmp_path):
    base, s, tid = server
    ctx, page, errors = new_page(browser)
    _sign_in(page, base, "alice")
    page.goto(f"{base}/agent/tickets/{tid}")
    page.click("[data-testid=capture-entry]")
    page.wait_for_url(f"**/agent/contrib/ticket/{tid}")
    ticket = get_ticket(connect(s), tid)
    assert page.input_value("input[name=title]") == ticket["subject"]
    symptoms = page.input_value("textarea[name=symptoms]")
    assert "wendy.k@fabrikam.example.net" not in symptoms and "<email>" in symptoms and "<name>" in symptoms
    assert page.input_value("textarea[name=resolution]") == ticket["resolution"]
    # the name was the agent's colleague after all: undo that one replacement
    page.locator("[data-scrub-for=symptoms] li:has(mark:text('<name>')) [data-undo]").first.click()
    assert "Wendy Kowalski" in page.input_value("textarea[name=symptoms]")
    assert "<email>" in page.input_value("textarea[name=symptoms]")

    # similar articles follow the typing
    page.fill("input[name=title]", "")
    page.locator("input[name=title]").type("Printer shows offline after the router", delay=10)
    page.wait_for_selector("[data-similar-list] li[data-id=KB-0001]")
    assert page.locator("[data-similar-list] li[data-id=KB-0001] .sim").inner_text().endswith("%")
    page.fill("input[name=title]", "Label printer prints blank labels after a firmware update")
    page.fill("input[name=summary]", "Recalibrate the media sensor after updating the firmware.")
    page.fill("input[name=tags]", "printer, labels")
    page.fill("textarea[name=cause]", "The firmware update resets the media sensor calibration.")
    page.wait_for_selector("[data-draft-status]:has-text('Draft saved')")
    # forgetting the visibility is an error next to the field; everything typed stays
    page.click("[data-testid=capture-submit]")
    page.wait_for_selector("[data-error-for=visibility]")
    assert page.input_value("textarea[name=cause]") == "The firmware update resets the media sensor calibration."
    assert "Wendy Kowalski" in page.input_value("textarea[name=symptoms]")
    page.check("input[name=visibility][value=internal]")
    if page.locator("[data-duplicate-confirm]").is_visible():
        page.check("input[name=not_duplicate]")
    page.click("[data-testid=capture-submit]")
    page.wait_for_url(f"**/agent/tickets/{tid}")
    assert page.locator(".flash").inner_text().startswith("Captured as contribution")
    page.screenshot(path=str(tmp_path / "capture-done.png"))
    # the one console message is the 400 answer to the submit without a visibility
    assert [e for e in errors if "status of 400" not in e] == [] and len(errors) == 1

    db = connect(s)
    c = contrib.list_contributions(db)[0]
    assert (c["state"], c["author"], c["ticket_id"], c["visibility"]) == ("pending", "alice", tid, "internal")
    assert "wendy.k@fabrikam.example.net" not in c["markdown"] and "Wendy Kowalski" in c["markdown"]
    assert "## Cause\n\nThe firmware update resets" in c["markdown"]

    ctx2, eng, errors2 = new_page(browser)
    _sign_in(eng, base, "bob")
    eng.click("a:has-text('Contributions')")
    eng.click(f"tr[data-id='{c['id']}'] a >> nth=1")
    eng.wait_for_selector(".diff .d-add")
    eng.click("[data-testid=export]")
    eng.wait_for_selector(".flash:has-text('Exported to branch')")
    branch = contrib.get(db, c["id"])["branch"]
    assert branch.startswith(f"kb/contrib-{c['id']}-label-printer-prints-blank-labels")
    assert git(s.articles, "show", "-s", "--format=%an|%s", branch).strip() == \
        "Alice Agent|Add " + c["article_id"] + ": Label printer prints blank labels after a firmware update"[:72 - 6 - len(c["article_id"])]
    assert git(s.articles, "status", "--porcelain") == ""
    eng.screenshot(path=str(tmp_path / "review-exported.png"), full_page=True)
    assert errors2 == []
    ctx.close()
    ctx2.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_no_violation_on_ticket_flag_and_contribution_pages(server, browser, scheme):
    from axe_playwright_python.sync_playwright import Axe
    base, s, tid = server
    db = connect(s)
    path = next(p for p in sorted(s.articles.glob("*.md")) if "\nid: KB-0001\n" in p.read_text("utf-8"))
    text = path.read_text("utf-8")
    problems, cid = contrib.capture_improvement(db, s.articles, "bob", path.name, "KB-0001",
                                                text.replace("\n## ", "\nOne more step for the check.\n\n## ", 1))
    assert problems == {} and cid
    ctx = browser.new_context(viewport={"width": 1400, "height": 900}, color_scheme=scheme)
    page = ctx.new_page()
    _sign_in(page, base, "bob")
    axe = Axe()
    found = {}
    for url in ("/agent/tickets", f"/agent/tickets/{tid}", f"/agent/contrib/ticket/{tid}", "/agent/flags",
                "/agent/contrib/", f"/agent/contrib/{cid}", f"/agent/contrib/article/{path.stem}/improve"):
        r = page.goto(base + url)
        assert r.status == 200, url
        page.wait_for_load_state("networkidle")
        found[url] = [(v["id"], [n["target"] for n in v["nodes"]][:3]) for v in axe.run(page).response["violations"]]
    assert {u: v for u, v in found.items() if v} == {}
    ctx.close()
