"""Similar resolved tickets: the ticket index (incremental, vectors cached in SQLite), ranking
in both languages, `kb similar`, the panel on the agent console and ticket page, and its
absence from every customer page and customer-scope API answer."""
from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from indexer import tickets as ticket_index
from kb.core import store
from kb.cli import main
from kb.core.encoders import EncoderPool
from kb.core.errors import BadQuery, IndexMissing
from kb.tickets.similar import SimilarTickets
from kb.tickets.records import link_article, upsert_ticket
from tests.tiny_encoder import TinyEncoder
from tests.test_browser import browser, new_page, server  # noqa: F401  (real Chromium, real `kb serve`)
from tests.web_support import CUSTOMER, app, client, post, signed_in, web_settings  # noqa: F401
from tests.conftest import db_env

pytestmark = pytest.mark.both_backends       # SQLite and the suite's PostgreSQL

MARKER = "Reseat-the-fuser-unit-7731"     # only in a resolved ticket's resolution

TICKETS = [
    {"id": "R-1", "subject": "Printer offline after router swap", "product": "printing",
     "description": "Office printer shows offline since the new Wi-Fi router was installed.",
     "resolution": f"Re-paired the printer with the new SSID and removed the stale port. {MARKER}",
     "status": "resolved", "resolved_at": "2026-10-03T10:00:00Z", "contact": "Alice Wong"},
    {"id": "R-2", "subject": "VPN error 809 from home", "product": "vpn",
     "description": "Home router blocks IPsec; VPN fails with error 809.",
     "resolution": "Enabled IPsec passthrough on the home router.", "status": "closed",
     "resolved_at": "2026-10-05T10:00:00Z", "closed_at": "2026-10-06T10:00:00Z"},
    {"id": "R-3", "subject": "打印机脱机", "product": "printing",
     "description": "更换路由器后打印机一直显示脱机。", "resolution": "重新连接新的无线网络并删除旧端口。",
     "status": "resolved", "resolved_at": "2026-10-07T10:00:00Z"},
    {"id": "O-1", "subject": "Printer offline again", "product": "printing",
     "description": "The printer is offline after the router change.", "status": "open"},
]


def add_tickets(db, rows):
    for t in rows:
        upsert_ticket(db, {"channel": "phone", "priority": "normal", "created_at": "2026-10-01T09:00:00Z", **t})


class TinyUse3(TinyEncoder):
    name = "use3"
    fingerprint = "tiny-use3:1"


def tiny_pool():
    return EncoderPool(("use3",), factories={"use3": TinyUse3})


def test_index_search_and_incremental_update(settings):
    db = store.connect(settings)
    with pytest.raises(IndexMissing):
        SimilarTickets(settings).search("printer", role="agent")
    add_tickets(db, TICKETS)
    link_article(db, "R-1", "KB-0001", by="alice")
    r = ticket_index.update(settings, db)
    assert (r.full, r.tickets, r.added) == (True, 3, 3)       # open tickets are not indexed
    finder = SimilarTickets(settings)
    found = finder.for_ticket(db, "O-1", role="agent")
    assert found[0].id == "R-1" and "O-1" not in [t.id for t in found]
    assert found[0].articles == ["KB-0001"] and MARKER in found[0].resolution
    assert (found[0].product, found[0].resolved_at) == ("printing", "2026-10-03T10:00:00Z")
    assert [t.id for t in finder.search("打印机 脱机", role="agent")][0] == "R-3"
    # nothing changed: nothing rebuilt; a changed, a new and a reopened ticket: only those
    r = ticket_index.update(settings, db)
    assert (r.full, r.added, r.changed, r.removed) == (False, 0, 0, 0)
    crashed = ticket_index.ticket_index_dir(settings.home) / "gen-9999999999999999999"       # a build that died half way
    crashed.mkdir()
    upsert_ticket(db, {"id": "R-2", "resolution": "Replaced the VPN client with the new profile; fixed 809."})
    add_tickets(db, [{"id": "R-4", "subject": "Outlook password prompt loop", "description": "Keeps asking.",
                      "resolution": "Cleared cached credentials.", "status": "resolved"}])
    upsert_ticket(db, {"id": "R-3", "status": "open"})
    r = ticket_index.update(settings, db)
    assert (r.full, r.tickets, r.added, r.changed, r.removed) == (False, 3, 1, 1, 1)
    assert [t.id for t in finder.search("outlook password", role="agent")][:1] == ["R-4"]
    assert "R-3" not in [t.id for t in finder.search("打印机 脱机", role="agent")]
    assert "new profile" in [t for t in finder.search("vpn 809", role="agent") if t.id == "R-2"][0].resolution
    assert len(list(ticket_index.ticket_index_dir(settings.home).glob("gen-*"))) == ticket_index.KEEP_GENERATIONS   # old ones pruned
    assert not crashed.exists()


def test_customers_and_bad_input_are_refused(settings):
    db = store.connect(settings)
    add_tickets(db, TICKETS)
    ticket_index.update(settings, db)
    finder = SimilarTickets(settings)
    with pytest.raises(BadQuery, match="role"):
        finder.search("printer", role="customer")
    with pytest.raises(BadQuery, match="limit"):
        finder.search("printer", role="agent", limit=0)
    with pytest.raises(BadQuery, match="q"):
        finder.search("  ", role="agent")


def test_vectors_are_cached_in_sqlite_by_hash_and_fingerprint(settings):
    s = settings.replace(semantic=True, encoders=("use3",))
    db = store.connect(s)
    add_tickets(db, TICKETS)
    r = ticket_index.update(s, db, pool=tiny_pool())
    assert r.embedded == {"use3": 3}
    fp = TinyUse3.fingerprint
    assert db.execute("SELECT count(*) FROM embeddings WHERE fingerprint = ?", [fp]).fetchone()[0] == 3
    # a changed ticket is the only one embedded again; a full rebuild takes everything from the cache
    upsert_ticket(db, {"id": "R-1", "resolution": "Printer re-paired with the new router."})
    assert ticket_index.update(s, db, pool=tiny_pool()).embedded == {"use3": 1}
    r = ticket_index.update(s, db, pool=tiny_pool(), full=True)
    assert r.full and r.embedded == {"use3": 0}
    live = json.loads((ticket_index.ticket_index_dir(s.home) / "manifest.json").read_text("utf-8"))["generation_dir"]
    m = np.load(ticket_index.ticket_index_dir(s.home) / live / "vec-use3.npy")
    assert m.shape == (3, TinyUse3.dim)
    found = SimilarTickets(s, pool=tiny_pool()).search("打印机 脱机", role="agent")   # use3 weighs in on Chinese
    assert found[0].id == "R-3" and found[0].explanation["use3"] > 0


def test_kb_index_builds_it_and_kb_similar_prints_it(settings):
    db = store.connect(settings)
    add_tickets(db, TICKETS)
    env = {"KB_HOME": str(settings.home), "KB_ARTICLES": str(settings.articles), "KB_SEMANTIC": "0", **db_env(settings)}
    r = CliRunner().invoke(main, ["index"], env=env, catch_exceptions=False)
    assert r.exit_code == 0 and "indexed 3 resolved tickets for similar-ticket search (full build" in r.output
    r = CliRunner().invoke(main, ["similar", "O-1", "--json", "--limit", "2"], env=env, catch_exceptions=False)
    data = json.loads(r.output)
    assert data["ticket"] == "O-1" and data["similar"][0]["id"] == "R-1" and len(data["similar"]) <= 2
    assert {"resolution", "resolved_at", "product", "articles"} <= set(data["similar"][0])
    r = CliRunner().invoke(main, ["similar", "O-1"], env=env, catch_exceptions=False)
    assert r.exit_code == 0 and "R-1  Printer offline after router swap" in r.output and MARKER in r.output
    r = CliRunner().invoke(main, ["similar", "NOPE"], env=env)
    assert r.exit_code == 2 and "no ticket 'NOPE'" in r.output


# --- web ---------------------------------------------------------------------------------

@pytest.fixture
def with_similar(web_settings):
    db = store.connect(web_settings)
    add_tickets(db, [dict(t, customer=CUSTOMER) for t in TICKETS])
    link_article(db, "R-1", "KB-0001", by="alice")
    ticket_index.update(web_settings, db)
    db.close()
    return web_settings


@pytest.fixture
def sclient(with_similar, client):
    return client


def test_ticket_page_shows_similar_resolved_tickets(sclient):
    signed_in(sclient, "alice")
    page = sclient.get("/agent/tickets/T-100").get_data(as_text=True)
    assert 'data-testid="similar-tickets"' in page
    assert 'data-ticket-id="R-1"' in page and MARKER in page
    assert "Printer shows offline after the router was replaced" in page      # its linked article, by title
    assert 'data-ticket-id="T-100"' not in page                               # never itself


def test_console_loads_the_panel_as_its_own_fragment(sclient):
    signed_in(sclient, "alice")
    page = sclient.get("/agent?q=printer").get_data(as_text=True)
    assert 'id="similar-slot"' in page and 'data-src=""' in page                # no current ticket yet
    assert post(sclient, "/agent/ticket", {"ticket_id": "O-1"}).status_code == 200
    page = sclient.get("/agent").get_data(as_text=True)
    assert 'data-src="/agent/similar?ticket=O-1"' in page and MARKER not in page  # not in the page itself
    typing = sclient.get("/agent/results?q=printer offline").get_data(as_text=True)
    assert "similar-tickets" not in typing and MARKER not in typing             # nor in the as-you-type fragment
    frag = sclient.get("/agent/similar?ticket=O-1")
    assert frag.status_code == 200 and 'data-ticket-id="R-1"' in frag.get_data(as_text=True)
    assert 'data-ticket-id="R-3"' in sclient.get("/agent/similar?q=打印机脱机").get_data(as_text=True)
    assert sclient.get("/agent/similar?ticket=NOPE").status_code == 400
    assert sclient.get("/agent/similar?bogus=1").status_code == 400


def test_no_similar_tickets_for_customers_or_anonymous_api(sclient):
    markers = (MARKER, "similar-tickets", "similar-ticket", "R-1", "Re-paired the printer")
    assert sclient.get("/agent/similar?ticket=O-1").status_code in (302, 401, 403)
    for url in ("/", "/search?q=printer+offline", "/articles/printer-offline", "/api/v1/search?q=printer+offline",
                "/api/v1/articles/KB-0001", "/api/v1/suggest?q=printer", "/search?q=打印机脱机"):
        r = sclient.get(url)
        body = r.get_data(as_text=True)
        for m in markers:
            assert m not in body, (url, m)


# --- in a real browser: the console fetches the panel when a ticket becomes current ---------

@pytest.mark.browser
def test_console_panel_in_chromium(server, browser):
    from tests.web_support import PASSWORDS
    base, s = server
    db = store.connect(s)
    add_tickets(db, [t for t in TICKETS if t["id"] == "R-2"])
    ticket_index.update(s, db)
    ctx, page, errors = new_page(browser)
    page.goto(base + "/login?next=/agent")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", PASSWORDS["alice"])
    page.click("button[type=submit]")
    page.wait_for_url(base + "/agent")
    assert page.locator("#similar-slot .similar-ticket").count() == 0
    page.fill("#ticket-id", "T-200")
    page.press("#ticket-id", "Enter")
    page.wait_for_selector("#similar-slot .similar-ticket[data-ticket-id='R-2']")
    assert "Enabled IPsec passthrough" in page.locator("#similar-slot").inner_text()
    page.fill("#q", "printer offline")                  # typing does not touch the panel
    page.wait_for_selector(".hit:first-child[data-id='KB-0001']")
    assert page.locator("#similar-slot .similar-ticket[data-ticket-id='R-2']").count() == 1
    page.reload()
    page.wait_for_selector("#similar-slot .similar-ticket[data-ticket-id='R-2']")
    assert errors == []
    ctx.close()


def test_a_large_ticket_index_is_read_through_its_cells(settings, monkeypatch):
    """Above projection.EXACT_ROWS tickets (lowered here to 0) the index keeps a projection in
    cells; a query reads the nearest cells only, yet finds what reading every ticket finds, and
    an incremental update keeps the cells."""
    from kb.core import cells, projection
    from kb.tickets import similar
    s = settings.replace(semantic=True, encoders=("use3",))
    db = store.connect(s)
    topics = ["printer offline router", "vpn error 809 ipsec", "outlook password prompt", "mailbox full quota",
              "docking station monitor black", "bitlocker recovery key", "camera not detected teams",
              "wifi captive portal hotel", "proxy pac file browser", "account locked after logins"]
    add_tickets(db, [{"id": f"T-{i}", "subject": f"{topics[i % 10]} case {i}", "product": "it",
                      "description": f"User reports {topics[i % 10]} on laptop {i % 37}.",
                      "resolution": f"Fixed {topics[i % 10].split()[0]} for laptop {i % 37}.",
                      "status": "resolved"} for i in range(400)])
    queries = ["printer offline since the router", "vpn 809", "bitlocker key lost", "camera in teams",
               "mailbox quota", "locked account", "hotel wifi portal"]

    def found():
        finder = SimilarTickets(s, pool=tiny_pool())
        return [[(t.id, round(t.score, 4)) for t in finder.search(q, role="agent")] for q in queries]

    ticket_index.update(s, db, pool=tiny_pool())
    want = found()
    monkeypatch.setattr(projection, "EXACT_ROWS", 0)
    monkeypatch.setattr(similar, "SHORTLIST", 20)
    monkeypatch.setattr(cells, "PROBE_MIN", 2)
    ticket_index.update(s, db, pool=tiny_pool(), full=True)
    root = ticket_index.ticket_index_dir(s.home)
    gen = root / json.loads((root / "manifest.json").read_text("utf-8"))["generation_dir"]
    made = projection.load(gen, "use3")
    assert made.centroids is not None and len(made.centroids) == cells.count_for(400) == 20
    qp = made.basis.T @ tiny_pool().get("use3").encode([queries[0]])[0]
    assert sum(b - a for a, b in made.near("all", qp, 40)) < 200          # a part of the tickets read
    assert found() == want
    add_tickets(db, [{"id": "T-new", "subject": "scanner jams on duplex", "description": "Paper jam.",
                      "resolution": "Cleaned the rollers.", "status": "resolved"}])
    ticket_index.update(s, db, pool=tiny_pool())
    gen = root / json.loads((root / "manifest.json").read_text("utf-8"))["generation_dir"]
    again = projection.load(gen, "use3")
    assert np.array_equal(again.centroids, made.centroids) and again.starts[-1] == 401
    assert SimilarTickets(s, pool=tiny_pool()).search("scanner duplex jam", role="agent")[0].id == "T-new"
