"""The staff side: console results and filters, the current ticket, one-click link and flag,
ticket and article pages (history, diff, links, feedback, stale warnings), the flag queue, and
what the console writes to the search log."""
import re


from kb.analytics.activity import flags_for_article, record_feedback
from kb.core.store import connect
from kb.tickets.records import links_for_ticket
from tests.conftest import commit_all, write
from tests.web_support import app, client, post, signed_in, web_settings  # noqa: F401
import pytest

pytestmark = pytest.mark.both_backends       # SQLite and the suite's PostgreSQL


def hit_ids(html: str) -> list[str]:
    return re.findall(r'<li class="hit[^"]*"\s+data-id="([^"]+)"', html)


def test_console_renders_results_with_resolution_inline(client):
    signed_in(client, "alice")
    page = client.get("/agent?q=printer offline").get_data(as_text=True)
    assert hit_ids(page)[0] == "KB-0001"
    assert 'class="resolution-body prose"' in page and "Restart the device" in page
    assert "<mark>" in page
    assert 'data-copy="1. Open Settings.\n2. Restart the device."' in page


def test_results_fragment_sees_internal_and_marks_it(client):
    signed_in(client, "alice")
    r = client.get("/agent/results?q=print spooler server", headers={"X-Requested-With": "fetch"})
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "<html" not in html
    assert hit_ids(html)[0] == "KB-0004"
    assert "badge-internal" in html and r.headers["X-Result-Count"]


def test_console_filters(client):
    signed_in(client, "alice")
    get = lambda qs: hit_ids(client.get("/agent/results?" + qs).get_data(as_text=True))  # noqa: E731
    assert set(get("q=vpn&product=vpn")) <= {"KB-0002", "KB-0008"}
    assert get("q=vpn&lang=zh") == ["KB-0008"]
    assert get("q=scanner&status=draft") == ["KB-0005"]
    assert "KB-0006" in get("q=retired vpn client&status=archived")
    assert "KB-0006" not in get("q=retired vpn client")
    assert get("q=printer&tag=server") == ["KB-0004"]
    for bad, field in (("lang=fr", "lang"), ("status=gone", "status"), ("colour=red", "colour")):
        r = client.get(f"/agent/results?q=vpn&{bad}", headers={"X-Requested-With": "fetch"})
        assert r.status_code == 400 and r.get_json()["field"] == field


def test_current_ticket_then_one_click_link(client, web_settings):
    signed_in(client, "alice")
    r = post(client, "/agent/ticket", {"ticket_id": "T-200"})
    assert r.get_json()["ticket_id"] == "T-200" and "VPN error 809 at home" in r.get_json()["card"]
    assert 'data-current-ticket' in client.get("/agent?q=vpn").get_data(as_text=True)
    r = post(client, "/agent/links", {"article_id": "KB-0002"})
    assert r.status_code == 200 and r.get_json()["link"]["new"] is True
    assert "Linked KB-0002 to ticket T-200." == r.get_json()["message"]
    r = post(client, "/agent/links", {"article_id": "vpn-error-809"})
    assert r.get_json()["link"]["new"] is False
    links = links_for_ticket(connect(web_settings), "T-200")
    assert [(l["article_id"], l["kind"], l["created_by"]) for l in links] == [("KB-0002", "resolved_by", "alice")]
    assert "VPN error 809 when connecting from home" in client.get("/agent").get_data(as_text=True)


def test_link_errors(client):
    signed_in(client, "alice")
    r = post(client, "/agent/links", {"article_id": "KB-0002"})
    assert r.status_code == 400 and r.get_json()["field"] == "ticket_id"
    r = post(client, "/agent/ticket", {"ticket_id": "T-404"})
    assert r.status_code == 404 and r.get_json()["field"] == "ticket_id"
    assert post(client, "/agent/links", {"article_id": "KB-9999", "ticket_id": "T-100"}).status_code == 404
    r = post(client, "/agent/links", {"article_id": "KB-0002", "ticket_id": "T-404"})
    assert r.status_code == 404 and r.get_json()["field"] == "ticket_id"
    r = post(client, "/agent/links", {"article_id": "KB-0002", "ticket_id": "T-100", "kind": "liked"})
    assert r.status_code == 400 and r.get_json()["field"] == "kind"


def test_link_without_script_redirects(client):
    signed_in(client, "alice")
    r = post(client, "/agent/links", {"article_id": "KB-0002", "ticket_id": "T-100", "next": "/agent/tickets/T-100"},
             fetch=False)
    assert r.status_code == 302 and r.headers["Location"] == "/agent/tickets/T-100"
    assert "Linked KB-0002 to ticket T-100." in client.get("/agent/tickets/T-100").get_data(as_text=True)


def test_flag_an_article(client, web_settings):
    signed_in(client, "alice")
    post(client, "/agent/ticket", {"ticket_id": "T-100"})
    r = post(client, "/agent/articles/KB-0001/flag", {"reason": "outdated", "comment": "Menu moved in 24H2"})
    assert r.status_code == 200 and r.get_json()["flag_id"]
    flags = flags_for_article(connect(web_settings), "KB-0001")
    assert [(f["reason"], f["comment"], f["created_by"], f["ticket_id"]) for f in flags] == \
        [("outdated", "Menu moved in 24H2", "alice", "T-100")]
    r = post(client, "/agent/articles/KB-0001/flag", {"reason": "ugly"})
    assert r.status_code == 400 and r.get_json()["field"] == "reason"
    page = client.get("/agent/articles/printer-offline").get_data(as_text=True)
    assert "Flagged as outdated (1× open)." in page and "Menu moved in 24H2" in page


def test_flag_queue_and_resolving(app, client, web_settings):
    signed_in(client, "alice")
    post(client, "/agent/articles/KB-0002/flag", {"reason": "unclear"})
    client = signed_in(app.test_client(), "bob")
    page = client.get("/agent/flags").get_data(as_text=True)
    assert "VPN error 809 when connecting from home" in page and "Unclear" in page
    fid = connect(web_settings).execute("SELECT id FROM flags").fetchone()[0]
    r = post(client, f"/agent/flags/{fid}/resolve", page="/agent/flags")
    assert r.status_code == 200
    assert flags_for_article(connect(web_settings), "KB-0002", open_only=True) == []
    assert "No open flags" in client.get("/agent/flags").get_data(as_text=True)


def test_ticket_page(client):
    signed_in(client, "alice")
    page = client.get("/agent/tickets/T-100").get_data(as_text=True)
    assert "Printer offline since new router" in page and "Contoso Secret Customer Ltd" in page
    assert 'id="linked"' in page and "Printer shows offline after the router was replaced" in page
    assert 'id="suggested"' in page and "linked to this ticket" in page
    assert 'href="/agent/contrib/ticket/T-100" data-testid="capture-entry"' in page
    page = client.get("/agent/tickets").get_data(as_text=True)
    assert "T-100" in page and "T-200" in page
    assert "T-100" not in client.get("/agent/tickets?product=vpn").get_data(as_text=True)
    r = client.get("/agent/tickets?status=bogus", headers={"X-Requested-With": "fetch"})
    assert r.status_code == 400 and r.get_json()["field"] == "status"


def test_ticket_page_offers_capture_only_while_the_capture_view_exists(web_settings):
    from web import create_app
    app = create_app(web_settings)
    app.view_functions.pop("contrib.capture_from_ticket")
    c = app.test_client()
    signed_in(c, "alice")
    page = c.get("/agent/tickets/T-100").get_data(as_text=True)
    assert 'data-testid="capture-entry"' not in page


def test_article_page_history_diff_links_feedback_and_stale(client, web_settings):
    write(web_settings.articles, {"printer-offline.md": (web_settings.articles / "printer-offline.md").read_text()
                                  .replace("Restart the device.", "Restart the device and print a test page.")})
    commit_all(web_settings.articles, "Add the test page step")
    from indexer.build import build
    build(web_settings)
    record_feedback(connect(web_settings), "KB-0001", True, "Worked", "customer")
    record_feedback(connect(web_settings), "KB-0001", False, None, "customer")
    signed_in(client, "alice")
    page = client.get("/agent/articles/printer-offline").get_data(as_text=True)
    assert "print a test page" in page
    assert "Add the test page step" in page and "Add articles" in page and "Ada Engineer" in page
    assert "50%" in page and "Worked" in page
    assert "T-100" in page and "resolved by · 1" in page
    assert 'href="/help/articles/printer-offline"' in page         # public: a link to the customer view
    assert 'href="#symptoms"' in page                                # table of contents
    commit = re.search(r'/agent/articles/printer-offline/history/([0-9a-f]{12})', page).group(1)
    diff = client.get(f"/agent/articles/printer-offline/history/{commit}").get_data(as_text=True)
    assert 'class="d-add">+2. Restart the device and print a test page.' in diff
    text = client.get(f"/agent/articles/printer-offline/history/{commit}?format=text")
    assert text.mimetype == "text/plain" and "+2. Restart the device and print a test page." in text.get_data(as_text=True)
    overdue = client.get("/agent/articles/overdue").get_data(as_text=True)
    assert "This article may be stale" in overdue and "2020-01-01" in overdue
    links = client.get("/agent/articles/printer-links").get_data(as_text=True)
    assert 'href="/agent/articles/internal-spooler"' in links    # staff may follow links to internal articles


def test_searches_are_logged_once_per_search_with_the_click(client, web_settings):
    signed_in(client, "alice")
    for prefix in ("pri", "print", "printer", "printer off"):
        client.get("/agent/results", query_string={"q": prefix})
    html = client.get("/agent/results", query_string={"q": "printer offline"}).get_data(as_text=True)
    sid = re.search(r'data-sid="(\d+)"', html).group(1)
    client.get(f"/agent/articles/printer-offline?sid={sid}")
    rows = list(connect(web_settings)["search_log"].rows)
    assert [(r["query"], r["role"], r["clicked"]) for r in rows] == [("printer offline", "agent", "KB-0001")]
    client.get("/agent/results", query_string={"q": "vpn"})
    assert connect(web_settings)["search_log"].count == 2
