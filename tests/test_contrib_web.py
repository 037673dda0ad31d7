"""The contribution pages through the real Flask app: capture prefilled and scrubbed from a
ticket, errors next to their field with the typed text kept, drafts, the duplicate
confirmation, improve with preview and diff, and the engineers' queue with reject and export."""
from __future__ import annotations

import html

import pytest

from kb.contrib import capture as contrib
from kb.quality.dupes import THRESHOLDS
from kb.core.store import connect
from kb.tickets.records import upsert_ticket
from tests.conftest import git
from tests.web_support import app, client, post, signed_in, web_settings  # noqa: F401

pytestmark = pytest.mark.both_backends       # SQLite and the suite's PostgreSQL

GOOD = {"title": "Label printer prints blank labels", "summary": "Turn the label roll over.",
        "product": "printing", "tags": "printer, labels", "language": "en", "visibility": "internal",
        "review_by": "2027-06-01", "symptoms": "Every label comes out blank.", "environment": "Zebra ZD420",
        "cause": "The roll is upside down.", "resolution": "1. Open the lid.\n2. Turn the roll over."}


def _form(client, path, data):
    return post(client, path, data, page=path, fetch=False)


def test_capture_is_prefilled_and_scrubbed_from_the_ticket(web_settings, client):
    db = connect(web_settings)
    upsert_ticket(db, {"id": "T-300", "channel": "email", "priority": "normal", "subject": "Scanner mails go nowhere",
                       "description": "Jane Roe (jane.roe@contoso.example.org, +1 415 555 2671) gets no scans.",
                       "resolution": "Set the SMTP relay on the scanner.", "customer": "Contoso",
                       "contact": "Jane Roe", "product": "printing", "created_at": "2026-11-03T09:00:00Z"})
    signed_in(client, "alice")
    page = client.get("/agent/contrib/ticket/T-300").get_data(as_text=True)
    assert 'value="Scanner mails go nowhere"' in page
    assert "Set the SMTP relay on the scanner." in page
    assert "Printing &amp; scanning" in page                      # environment from the product
    text = html.unescape(page)
    assert "jane.roe@contoso.example.org" not in text.split("<textarea")[1].split("</textarea>")[0]
    assert "<email>" in text and "data-undo" in page and 'data-original="jane.roe@contoso.example.org"' in page
    # the ticket page links here
    assert "/agent/contrib/ticket/T-300" in client.get("/agent/tickets/T-300").get_data(as_text=True)


def test_validation_errors_sit_next_to_fields_and_keep_the_typed_text(web_settings, client):
    signed_in(client, "alice")
    typed = dict(GOOD, visibility="", resolution="", cause="A very particular cause, typed with care.")
    r = _form(client, "/agent/contrib/ticket/T-200", typed)
    assert r.status_code == 400
    page = r.get_data(as_text=True)
    assert 'data-error-for="visibility"' in page and 'data-error-for="resolution"' in page
    assert "A very particular cause, typed with care." in page and 'value="Label printer prints blank labels"' in page
    # a restart loses nothing either: the draft comes back with a fresh app and session
    from web import create_app
    c2 = create_app(web_settings).test_client()
    signed_in(c2, "alice")
    again = c2.get("/agent/contrib/ticket/T-200").get_data(as_text=True)
    assert "A very particular cause, typed with care." in again
    assert connect(web_settings).execute("SELECT count(*) FROM contributions").fetchone()[0] == 0


def test_autosaved_draft_and_double_submit(web_settings, client):
    signed_in(client, "alice")
    r = post(client, "/agent/contrib/draft", {"kind": "new", "target": "T-200", "title": "Half-typed title"},
             page="/agent/contrib/ticket/T-200")
    assert r.status_code == 200 and r.get_json()["ok"]
    assert 'value="Half-typed title"' in client.get("/agent/contrib/ticket/T-200").get_data(as_text=True)
    r1 = _form(client, "/agent/contrib/ticket/T-200", GOOD)
    r2 = _form(client, "/agent/contrib/ticket/T-200", GOOD)
    assert r1.status_code == r2.status_code == 302
    rows = contrib.list_contributions(connect(web_settings))
    assert len(rows) == 1 and rows[0]["ticket_id"] == "T-200" and rows[0]["author"] == "alice"
    assert "owners: [alice]" in rows[0]["markdown"] and "status: review" in rows[0]["markdown"]


def test_a_near_duplicate_needs_confirmation(web_settings, client):
    signed_in(client, "alice")
    copy = dict(GOOD, title="Printer shows offline after the router was replaced",
                symptoms="Printer shows offline after the router was replaced.",
                resolution="1. Open **Settings**.\n2. Restart the device.", product="printing")
    sims = client.get("/agent/contrib/similar", query_string={"title": copy["title"], "text": copy["symptoms"],
                                                             "language": "en"}).get_json()
    assert sims["results"][0]["id"] == "KB-0001" and sims["results"][0]["above"]
    assert sims["method"] == "keyword" and sims["threshold"] == pytest.approx(THRESHOLDS["keyword"])
    r = _form(client, "/agent/contrib/ticket/T-100", copy)
    assert r.status_code == 400
    page = html.unescape(r.get_data(as_text=True))
    assert "KB-0001 is" in page and "confirm this is not a duplicate" in page
    assert "Link the ticket to this instead" in page
    r = _form(client, "/agent/contrib/ticket/T-100", dict(copy, not_duplicate="1"))
    assert r.status_code == 302
    # an unrelated article is not held up
    sims = client.get("/agent/contrib/similar", query_string={"title": "Badge reader beeps twice",
                                                             "text": "The door stays locked", "language": "en"}).get_json()
    assert not [s for s in sims["results"] if s["above"]]


def test_improve_preview_diff_and_article_page(web_settings, client):
    signed_in(client, "alice")
    page = client.get("/agent/contrib/article/vpn-error-809/improve").get_data(as_text=True)
    assert "id: KB-0002" in page
    current = (web_settings.articles / "vpn-error-809.md").read_text()
    edited = current.replace("Restart the device.", "Restart the device and the router.") + "\n<script>alert(1)</script>\n"
    r = post(client, "/agent/contrib/preview", {"markdown": edited, "slug": "vpn-error-809"},
             page="/agent/contrib/article/vpn-error-809/improve")
    body = r.get_json()
    assert "<script" not in body["html"] and "Restart the device and the router." in body["html"]
    assert ["add", "+2. Restart the device and the router."] in body["diff"]
    r = _form(client, "/agent/contrib/article/vpn-error-809/improve", {"markdown": edited.replace("id: KB-0002", "id: X")})
    assert r.status_code == 400 and "must stay KB-0002" in r.get_data(as_text=True)
    r = _form(client, "/agent/contrib/article/vpn-error-809/improve", {"markdown": edited})
    assert r.status_code == 302
    article = client.get("/agent/articles/vpn-error-809").get_data(as_text=True)
    assert 'id="improvements"' in article and "improvement(s) by agents wait" in article
    from kb.analytics.stale import stale_articles
    rows = stale_articles(connect(web_settings), None)
    assert any(r["article_id"] == "KB-0002" and r["reasons"][0]["code"] == "improvement_pending" for r in rows)


def test_review_queue_roles_reject_and_export(web_settings, client):
    signed_in(client, "alice")
    assert _form(client, "/agent/contrib/ticket/T-200", GOOD).status_code == 302
    assert client.get("/agent/contrib/").status_code == 403          # agents capture, they do not review
    client.post("/logout", data={})
    eng = client.application.test_client()
    signed_in(eng, "bob")
    queue = eng.get("/agent/contrib/?state=pending").get_data(as_text=True)
    assert "Label printer prints blank labels" in queue
    cid = contrib.list_contributions(connect(web_settings))[0]["id"]
    assert eng.get("/agent/contrib/?state=bogus").status_code == 400
    # an edit that breaks the article is refused and kept
    page = f"/agent/contrib/{cid}"
    md = contrib.get(connect(web_settings), cid)["markdown"]
    r = post(eng, f"{page}/edit", {"markdown": md.replace("## Resolution", "## Notes")}, page=page, fetch=False)
    assert r.status_code == 400 and "no Resolution section" in r.get_data(as_text=True)
    r = post(eng, f"{page}/edit", {"markdown": md.replace("Turn the roll over.", "Turn the roll over, gently.")},
             page=page, fetch=False)
    assert r.status_code == 302
    r = post(eng, f"{page}/export", {}, page=page)
    assert r.status_code == 200, r.get_data(as_text=True)
    branch = r.get_json()["branch"]
    assert "gently" in git(web_settings.articles, "show", f"{branch}:label-printer-prints-blank-labels.md")
    assert git(web_settings.articles, "show", "-s", "--format=%an", branch).strip() == "Alice Agent"
    r = post(eng, f"{page}/reject", {"reason": "late"}, page=page)
    assert r.status_code == 400 and "exported" in r.get_json()["error"]


def test_after_export_the_capture_page_starts_afresh(web_settings, client):
    from kb.contrib.export import export
    signed_in(client, "alice")
    assert _form(client, "/agent/contrib/ticket/T-200", GOOD).status_code == 302
    db = connect(web_settings)
    cid = contrib.list_contributions(db)[0]["id"]
    export(db, web_settings.articles, cid)
    page = client.get("/agent/contrib/ticket/T-200").get_data(as_text=True)
    assert f"captured before as contribution {cid} (Exported)" in page
    assert 'value="VPN error 809 at home"' in page        # prefilled from the ticket again
