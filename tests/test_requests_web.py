"""The request form through the real Flask app: answers first (suggestions in the customer's
language, an article in place, "solved" counts a deflection), a request stored with its
reference at once, the form without JavaScript (Continue, articles, back with everything kept),
and every way to get it wrong refused with a clear message and nothing half-stored."""
from __future__ import annotations

import io
import logging
import re

import pytest

from kb.core.store import connect
from tests.test_requests import png
from tests.web_support import (app, client, web_settings)  # noqa: F401

SAME_SITE = {"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"}
GOOD = {"email": "grace.customer@fabrikam.example", "name": "Grace Customerson", "product": "printing",
        "subject": "Printer offline after router swap", "priority": "urgent",
        "description": "The printer shows offline since the router was replaced yesterday."}


def submit(client, data=None, files=None, headers=SAME_SITE, action="submit"):
    body = {**GOOD, **(data or {}), "action": action}
    if files:
        body["screenshots"] = files
    return client.post("/help/contact", data=body, headers=headers, content_type="multipart/form-data")


def counts(s) -> dict:
    db = connect(s)
    try:
        return {t: db[t].count for t in ("requests", "request_deliveries", "request_files", "tickets")}
    finally:
        db.close()


def test_still_need_help_is_under_articles_on_empty_searches_and_in_the_footer(client):
    for path in ("/help", "/help/articles/printer-offline", "/help/search?q=zzzzqqq"):
        page = client.get(path).get_data(as_text=True)
        assert 'href="/help/contact' in page and "Still need help?" in page, path
    page = client.get("/help/search?q=zzzzqqq").get_data(as_text=True)
    assert "/help/contact?q=zzzzqqq" in page
    zh = client.get("/help/contact", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "联系支持人员" in zh and "您的电子邮件地址" in zh and "这解决了您的问题吗？" in zh


def test_the_form_labels_every_field(client):
    page = client.get("/help/contact?product=vpn&q=VPN+error").get_data(as_text=True)
    for field in ("email", "name", "product", "subject", "description", "screenshots", "website"):
        assert f'<label for="{field}"' in page and f'id="{field}"' in page, field
    assert '<legend>How urgent is it?</legend>' in page
    assert 'value="VPN error"' in page and '<option value="vpn" selected>' in page
    assert 'value="continue"' in page          # without JavaScript the articles are the next step


def test_suggestions_are_public_articles_in_the_customers_language(client, web_settings):
    r = client.get("/help/contact/suggestions?subject=printer&description=offline+after+the+router")
    ids = [a["id"] for a in r.get_json()["results"]]
    assert r.status_code == 200 and "KB-0001" in ids and "KB-0004" not in ids       # never the internal one
    assert r.get_json()["announce"].endswith("may answer this.")
    zh = client.get("/help/contact/suggestions?subject=VPN+809&description=无法连接", headers={"Accept-Language": "zh"})
    assert {a["id"] for a in zh.get_json()["results"]} <= {"KB-0003", "KB-0008"} and zh.get_json()["results"]
    assert client.get("/help/contact/suggestions?q=x").status_code == 400
    db = connect(web_settings)
    assert db["search_log"].count == 0                        # the form's text is not a search the customer ran
    assert db.value("SELECT count(*) FROM request_events WHERE kind = 'started'") == 1


def test_solved_counts_a_deflection_and_sends_nothing(client, web_settings):
    client.get("/help/contact/suggestions?subject=printer+offline&description=after+the+router")
    a = client.get("/help/contact/articles/KB-0001").get_json()
    assert a["id"] == "KB-0001" and "<h2" in a["html"]
    assert client.get("/help/contact/articles/KB-0004").status_code == 404          # internal: not for customers
    r = client.post("/help/contact/solved", data={"article": "KB-0001"},
                    headers={**SAME_SITE, "X-Requested-With": "fetch", "Accept": "application/json"})
    assert r.status_code == 200 and r.get_json()["ok"]
    db = connect(web_settings)
    assert db.rows("SELECT kind, article_id FROM request_events ORDER BY id") == [
        {"kind": "started", "article_id": None}, {"kind": "deflected", "article_id": "KB-0001"}]
    assert counts(web_settings)["requests"] == 0
    assert client.post("/help/contact/solved", data={"article": "KB-0001"},
                       headers={"Sec-Fetch-Site": "cross-site"}).status_code == 400


def test_a_request_is_stored_and_answered_with_its_reference(client, web_settings, caplog):
    caplog.set_level(logging.DEBUG)
    client.get("/help/search?q=printer+offline")
    client.get("/help/contact/suggestions?subject=printer+offline&description=after+the+router")
    client.get("/help/contact/articles/KB-0001")
    before = counts(web_settings)
    r = submit(client, files=[(io.BytesIO(png()), "screen.png")])
    assert r.status_code == 303 and r.headers["Location"].endswith("/help/contact/sent")
    page = client.get("/help/contact/sent").get_data(as_text=True)
    ref = re.search(r"data-reference>(REQ-[A-Z0-9]{8})<", page).group(1)
    assert GOOD["email"] not in page and GOOD["name"] not in page
    db = connect(web_settings)
    row = db.row("SELECT * FROM requests WHERE reference = ?", [ref])
    ctx = __import__("json").loads(row["context"])
    assert ctx["searches"] == ["printer offline"] and ctx["opened"][0]["id"] == "KB-0001"
    assert ctx["suggested"][0]["url"].startswith("http://localhost/help/articles/")
    t = db.row("SELECT * FROM tickets WHERE id = ?", [ref])
    assert (t["channel"], t["status"], t["priority"], t["source"]) == ("web", "new", "urgent", "help-center")
    after = counts(web_settings)
    assert after["requests"] == before["requests"] + 1 and after["request_files"] == 1
    assert after["request_deliveries"] == 0        # no channel configured: a ticket in kb only
    logged = caplog.text + " ".join(str(r) for r in db.rows("SELECT * FROM search_log"))
    assert GOOD["email"] not in logged and GOOD["name"] not in logged


def test_without_javascript_continue_shows_the_articles_then_sends(client, web_settings):
    r = submit(client, action="continue", files=[(io.BytesIO(png()), "shot.png")])
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and "<details>" in page and "Printer shows offline" in page
    held = re.search(r'name="held" value="([^"]+)"', page).group(1)
    assert "Did this solve your problem?" in page and 'value="edit"' in page
    back = client.post("/help/contact", data={**GOOD, "action": "edit", "held": held}, headers=SAME_SITE)
    text = back.get_data(as_text=True)
    assert GOOD["description"] in text and 'value="submit"' in text and "shot.png" in text     # everything kept
    sent = client.post("/help/contact", data={**GOOD, "action": "submit", "held": held}, headers=SAME_SITE)
    assert sent.status_code == 303
    db = connect(web_settings)
    assert db.value("SELECT count(*) FROM request_files WHERE request_id IS NOT NULL") == 1
    assert db.value("SELECT count(*) FROM request_files WHERE request_id IS NULL") == 0


@pytest.mark.parametrize("data,field,text", [
    ({"subject": "Help\r\nBcc: everyone@example.com"}, "subject", "line breaks are not allowed"),
    ({"name": "Grace\nX-Spam: yes"}, "name", "line breaks are not allowed"),
    ({"email": "grace at fabrikam"}, "email", "not an e-mail address"),
    ({"description": "x" * 10_001}, "description", "Too long: 10001 characters"),
    ({"description": ""}, "description", "This field is required."),
])
def test_bad_input_is_refused_by_field_and_nothing_is_stored(client, web_settings, data, field, text):
    before = counts(web_settings)
    r = submit(client, data)
    page = r.get_data(as_text=True)
    assert r.status_code == 400 and text in page and f'id="{field}-error"' in page and 'role="alert"' in page
    assert 'aria-invalid="true" aria-describedby="' + field + '-error' in page
    assert counts(web_settings) == before


def test_a_bad_screenshot_an_oversized_body_and_the_honeypot_are_refused(client, web_settings):
    before = counts(web_settings)
    r = submit(client, files=[(io.BytesIO(b"MZ not an image"), "virus.png")])
    assert r.status_code == 400 and "not a readable image" in r.get_data(as_text=True)
    huge = io.BytesIO(b"\0" * (3 * web_settings.file_max_bytes + (300 << 10)))
    r = submit(client, files=[(huge, "huge.png")])
    assert r.status_code == 413 and "larger than 30 MB" in r.get_data(as_text=True)
    r = submit(client, {"website": "http://spam.example"})
    assert r.status_code == 400 and "meant to stay empty" in r.get_data(as_text=True)
    r = submit(client, headers={"Sec-Fetch-Site": "cross-site", "Origin": "http://evil.example"})
    assert r.status_code == 400
    assert counts(web_settings) == before


def test_a_flood_from_one_address_and_one_email_is_limited_for_every_worker(web_settings):
    from web import create_app
    s = web_settings.replace(request_limit_address="4/hour", request_limit_email="2/hour")
    one, two = create_app(s).test_client(), create_app(s).test_client()       # two workers, one database
    codes = [submit(c, {"email": f"c{i}@fabrikam.example"}).status_code for i, c in enumerate([one, two] * 3)]
    assert codes == [303, 303, 303, 303, 429, 429]
    r = submit(one)
    assert "Too many requests from your network" in r.get_data(as_text=True)
    assert counts(s)["requests"] == 4
    other = {"REMOTE_ADDR": "10.1.2.3"}
    c = create_app(s).test_client()
    r1 = c.post("/help/contact", data={**GOOD, "action": "submit", "email": "same@fabrikam.example"},
                headers=SAME_SITE, environ_base=other)
    r2 = c.post("/help/contact", data={**GOOD, "action": "submit", "email": "SAME@fabrikam.example"},
                headers=SAME_SITE, environ_base=other)
    r3 = c.post("/help/contact", data={**GOOD, "action": "submit", "email": "same@fabrikam.example"},
                headers=SAME_SITE, environ_base=other)
    assert (r1.status_code, r2.status_code, r3.status_code) == (303, 303, 429)
    assert "from this e-mail address" in r3.get_data(as_text=True) and counts(s)["requests"] == 6


def test_agents_see_what_the_customer_read_and_figures_count_it(client, web_settings):
    from kb.analytics import report
    from tests.web_support import signed_in
    client.get("/help/search?q=printer+offline")
    client.get("/help/contact/suggestions?subject=printer+offline&description=after+the+router")
    client.get("/help/contact/articles/KB-0001")
    submit(client)
    ref = connect(web_settings).value("SELECT reference FROM requests")
    agent = client.application.test_client()
    signed_in(agent, "alice")
    page = agent.get(f"/agent/tickets/{ref}").get_data(as_text=True)
    assert "Before the customer wrote" in page and "Printer shows offline after the router was replaced" in page
    assert "“printer offline”" in page and ref in page
    # health: no channel is configured, so nothing waits; metrics count the request
    h = client.get("/api/v1/health").get_json()["requests"]
    assert (h["status"], h["waiting"], h["failing"]) == ("off", 0, 0)
    engineer = client.application.test_client()
    signed_in(engineer, "bob")
    m = engineer.get("/metrics").get_data(as_text=True)
    assert "kb_requests_submitted_total 1.0" in m and "kb_requests_started_total 1.0" in m
    db = connect(web_settings)
    month = db.value("SELECT created_at FROM requests")[:7]
    r = report.build(db, web_settings, month, articles=[{"id": "KB-0001", "title": "Printer shows offline"}])
    q = r["self_service"]
    assert (q["started"], q["submitted"], q["deflected"], q["help_center_visits"]) == (1, 1, 0, 2)
    assert q["self_service_score"] == 2.0
    assert q["subjects_despite_suggestions"][0]["subject"] == GOOD["subject"]
    assert "## Self-service: requests to support" in report.render(r, "md")
    assert "Articles that prevent most requests" in report.render(r, "html")


def test_capturing_an_article_from_the_ticket_leaves_the_customer_out(client, web_settings):
    from tests.web_support import signed_in
    text = ("Grace Customerson here: the printer shows offline. Write to grace.customer@fabrikam.example "
            "or call Grace back.")
    assert submit(client, {"description": text}).status_code == 303
    ref = connect(web_settings).value("SELECT reference FROM requests")
    agent = client.application.test_client()
    signed_in(agent, "alice")
    page = agent.get(f"/agent/contrib/ticket/{ref}").get_data(as_text=True)
    symptoms = re.search(r'<textarea[^>]*name="symptoms"[^>]*>(.*?)</textarea>', page, re.S).group(1)
    assert "the printer shows offline" in symptoms
    assert "grace.customer@fabrikam.example" not in symptoms and "Customerson" not in symptoms
    assert "&lt;email&gt;" in symptoms and "&lt;name&gt;" in symptoms
