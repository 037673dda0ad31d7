"""Customers' requests: stored first in one transaction (request, screenshots, deliveries, a
ticket), then delivered by a real signed webhook to a real HTTP receiver and by real mail
through a real SMTP server (aiosmtpd, STARTTLS or TLS, with a login), retried with back-off,
exactly once among several senders, on SQLite and PostgreSQL."""
from __future__ import annotations

import io
import json
import threading
import time

import pytest

from kb.core.config import Settings
from kb.core.errors import FieldError, KbError, NotFound
from kb.core.store import connect
from kb.requests import delivery, form, records
from kb.tickets.records import get_ticket, save_ticket
from tests.requests_support import SECRET, Mailbox, Receiver


def png(size=(64, 40), exif: bool = False) -> bytes:
    from PIL import Image
    im = Image.new("RGB", size, (200, 30, 30))
    out = io.BytesIO()
    if exif:
        e = Image.Exif()
        e[0x010F] = "SecretCam"          # Make
        e[0x8825] = {2: (48.0, 51.0, 29.0)}    # GPS
        im.save(out, "JPEG", exif=e)
    else:
        im.save(out, "PNG")
    return out.getvalue()


def make_settings(tmp_path, database_url=None, **kw) -> Settings:
    kw = {"request_retry": 0.05, "request_timeout": 5.0, **kw}
    return Settings.load(env={}, home=tmp_path / "state", articles=tmp_path / "articles", semantic=False,
                         encoders=(), database_url=database_url, **kw)


def a_form(**over) -> form.RequestForm:
    data = {"email": "ada.customer@contoso.example", "name": "Ada Customer", "product": "printing",
            "subject": "Printer offline after router swap", "priority": "important",
            "description": "Since the new router the printer says offline. I tried restarting it."}
    data.update(over)
    return form.check(data, products=["printing", "vpn"])


CONTEXT = {"suggested": [{"id": "KB-0001", "title": "Printer shows offline", "url": "http://kb.example/help/articles/p"}],
           "opened": [{"id": "KB-0001", "title": "Printer shows offline", "url": "http://kb.example/help/articles/p"}],
           "searches": ["printer offline", "printer offline"]}


def deliver_until(s, done, seconds=20.0):
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        delivery.deliver_due(s)
        if done():
            return
        time.sleep(0.05)
    raise AssertionError("not delivered in time")


@pytest.mark.both_backends
def test_a_request_is_stored_whole_with_its_ticket(tmp_path, database_url):
    s = make_settings(tmp_path, database_url, request_webhook_url="http://127.0.0.1:9/x",
                      request_webhook_secret=SECRET, smtp_url="smtp://127.0.0.1:9", support_email="help@example.com")
    db = connect(s)
    f = a_form()
    f.screenshots = form.screenshots([("Screen Shot 1.jpg", png(exif=True))], s.file_max_bytes)
    out = records.accept(db, s, f, CONTEXT)
    assert out["reference"].startswith("REQ-") and len(out["reference"]) == 12 and out["channels"] == ["webhook", "mail"]
    r = records.get(db, out["reference"])
    assert (r["email"], r["priority"], r["product"]) == ("ada.customer@contoso.example", "important", "printing")
    assert r["context"]["searches"] == ["printer offline"]            # repeated searches once
    assert [d["state"] for d in r["deliveries"]] == ["waiting", "waiting"]
    assert r["screenshots"][0]["name"] == "screen-shot-1.jpg"
    t = get_ticket(db, out["reference"])
    assert (t["channel"], t["status"], t["priority"], t["customer"], t["contact"]) == (
        "web", "new", "important", "Ada Customer", "ada.customer@contoso.example")
    assert t["extra"]["help_center"]["opened"][0]["id"] == "KB-0001" and t["extra"]["help_center"]["screenshots"] == 1
    assert db.value("SELECT count(*) FROM request_events WHERE kind = 'submitted'") == 1
    # the stored screenshot carries no EXIF (no camera, no GPS)
    from PIL import Image
    data = bytes(records.files(db, r["id"])[0]["data"])
    assert b"SecretCam" not in data and not Image.open(io.BytesIO(data)).getexif()


@pytest.mark.both_backends
def test_nothing_is_half_stored_when_the_ticket_cannot_be_written(tmp_path, database_url):
    s = make_settings(tmp_path, database_url, request_webhook_url="http://127.0.0.1:9/x", request_webhook_secret=SECRET)
    db = connect(s)
    f = a_form()
    f.product = "x" * 101                 # the ticket refuses a product this long: the whole request rolls back
    with pytest.raises(FieldError):
        records.accept(db, s, f, CONTEXT)
    for table in ("requests", "request_deliveries", "request_events", "tickets", "request_files"):
        assert db[table].count == 0, table


def test_form_checks_each_field_by_name():
    for data, field in (({"email": "not-an-address"}, "email"), ({"email": "a@b.example\r\nBcc: x@y.example"}, "email"),
                        ({"name": "Ada\r\nBcc: victim@example.com"}, "name"),
                        ({"subject": "Help\nContent-Type: text/html"}, "subject"),
                        ({"description": "short"}, "description"), ({"description": "x" * 10_001}, "description"),
                        ({"priority": "whenever"}, "priority"), ({"product": "martian"}, "product"),
                        ({"name": ""}, "name")):
        with pytest.raises(FieldError) as e:
            a_form(**data)
        assert e.value.field == field, data
    assert "line breaks" in str(_err(name="Ada\nX")) and "e-mail address" in str(_err(email="nope"))
    with pytest.raises(FieldError) as e:
        form.screenshots([("notes.txt", b"hello")], 10_000_000)
    assert e.value.field == "screenshots" and "PNG, JPEG" in e.value.message
    with pytest.raises(FieldError) as e:
        form.screenshots([("big.png", png((400, 400)))], 1000)
    assert "limit" in e.value.message


def _err(**data):
    try:
        a_form(**data)
    except FieldError as e:
        return e


@pytest.mark.both_backends
def test_webhook_signed_retried_after_two_500s_and_delivered_exactly_once(tmp_path, database_url):
    receiver = Receiver(statuses=[500, 500])
    try:
        s = make_settings(tmp_path, database_url, request_webhook_url=receiver.url, request_webhook_secret=SECRET)
        db = connect(s)
        f = a_form()
        f.screenshots = form.screenshots([("s.png", png())], s.file_max_bytes)
        ref = records.accept(db, s, f, CONTEXT)["reference"]
        deliver_until(s, lambda: records.get(db, ref)["deliveries"][0]["state"] == "delivered")
        for _ in range(3):                   # due again? no: delivered means never sent again
            delivery.deliver_due(s)
    finally:
        receiver.stop()
    assert [p["status"] for p in receiver.posts] == [500, 500, 200]
    assert all(p["signature_ok"] for p in receiver.posts) and len({p["key"] for p in receiver.posts}) == 1
    assert len(receiver.accepted) == 1
    body = next(iter(receiver.accepted.values()))
    assert body["reference"] == ref and body["customer"]["email"] == "ada.customer@contoso.example"
    assert body["articles"]["opened"][0]["id"] == "KB-0001" and body["searches"] == ["printer offline"]
    assert body["screenshots"][0]["mime"] == "image/png" and body["screenshots"][0]["content_base64"]
    r = records.get(db, ref)
    log = r["deliveries"][0]["attempt_log"]
    assert [a["ok"] for a in log] == [0, 0, 1] and "HTTP 500" in log[0]["detail"]
    assert r["helpdesk_id"] == "HD-1000" and get_ticket(db, ref)["extra"]["helpdesk_id"] == "HD-1000"
    # a signature made with another secret is refused by the receiver, and kb keeps trying
    assert not receiver.posts[0]["headers"].get("X-KB-Signature", "").endswith("0" * 64)


def test_a_wrong_secret_is_refused_by_the_receiver_and_the_request_waits(tmp_path):
    receiver = Receiver()
    try:
        s = make_settings(tmp_path, request_webhook_url=receiver.url, request_webhook_secret="another-secret-000000")
        db = connect(s)
        ref = records.accept(db, s, a_form(), {})["reference"]
        delivery.deliver_due(s)
    finally:
        receiver.stop()
    assert receiver.posts[0]["status"] == 401 and not receiver.accepted
    d = records.get(db, ref)["deliveries"][0]
    assert d["state"] == "waiting" and "HTTP 401" in d["last_error"]


@pytest.mark.parametrize("tls", ["starttls", "tls"])
def test_mail_through_a_real_smtp_server_with_login_plain_text_only(tmp_path, tls):
    box = Mailbox(tmp_path, tls=tls)
    try:
        s = make_settings(tmp_path, smtp_url=box.url, smtp_ca_file=box.ca_file, support_email="support@northwind.example",
                          mail_from="help-center@northwind.example")
        db = connect(s)
        f = a_form(description="The printer says <b>offline</b>.\nSince Monday.")
        f.screenshots = form.screenshots([("shot.jpg", png(exif=True))], s.file_max_bytes)
        ref = records.accept(db, s, f, CONTEXT)["reference"]
        out = delivery.deliver_due(s)
    finally:
        box.stop()
    assert [o.ok for o in out] == [True], out
    assert len(box.messages) == 1 and box.envelopes[0].rcpt_tos == ["support@northwind.example"]
    m = box.messages[0]
    assert m["Subject"] == f"[{ref}] Printer offline after router swap" and m["Reply-To"].addresses[0].addr_spec == \
        "ada.customer@contoso.example"
    types = [p.get_content_type() for p in m.walk() if not p.is_multipart()]
    assert types == ["text/plain", "image/jpeg"] and "text/html" not in types
    body = m.get_body(("plain",)).get_content()
    assert ref in body and "<b>offline</b>" in body and "KB-0001" in body and "printer offline" in body
    jpeg = next(p for p in m.walk() if p.get_content_type() == "image/jpeg").get_content()
    assert b"SecretCam" not in jpeg


def test_mail_fails_clearly_on_a_wrong_password_and_waits(tmp_path):
    box = Mailbox(tmp_path)
    try:
        s = make_settings(tmp_path, smtp_url=box.url.replace("smtp-password-42", "wrong"), smtp_ca_file=box.ca_file,
                          support_email="support@northwind.example")
        db = connect(s)
        ref = records.accept(db, s, a_form(), {})["reference"]
        out = delivery.deliver_due(s)
    finally:
        box.stop()
    assert not out[0].ok and "refused the login in KB_SMTP_URL" in out[0].detail and not box.messages
    assert records.list_requests(db, failed=True)[0]["reference"] == ref


@pytest.mark.both_backends
def test_two_workers_never_deliver_a_request_twice(tmp_path, database_url):
    receiver = Receiver(delay=0.02)             # each delivery takes a moment: the two workers overlap
    try:
        s = make_settings(tmp_path, database_url, request_webhook_url=receiver.url, request_webhook_secret=SECRET)
        db = connect(s)
        refs = [records.accept(db, s, a_form(subject=f"Problem {i}"), {})["reference"] for i in range(24)]

        def worker(n):
            own = connect(s)
            try:
                for _ in range(40):
                    delivery.deliver_due(s, worker=f"w{n}", db=own, limit=1)
            finally:
                own.close()
        threads = [threading.Thread(target=worker, args=(n,)) for n in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    finally:
        receiver.stop()
    assert len(receiver.posts) == 24 and len(receiver.accepted) == 24
    assert db.value("SELECT count(*) FROM request_attempts") == 24
    workers = {r[0] for r in db.execute("SELECT worker FROM request_attempts")}
    assert workers == {"w0", "w1"}              # both worked, neither twice on one request
    assert {json.loads(p["body"])["reference"] for p in receiver.posts} == set(refs)


@pytest.mark.both_backends
def test_a_lease_keeps_others_off_until_it_runs_out(tmp_path, database_url):
    s = make_settings(tmp_path, database_url, request_webhook_url="http://127.0.0.1:9/x", request_webhook_secret=SECRET,
                      request_timeout=1.0)
    db = connect(s)
    records.accept(db, s, a_form(), {})
    first = delivery.claim(db, s, "dead-worker")        # claimed, then the worker "dies"
    assert first is not None and delivery.claim(db, s, "other") is None
    later = delivery.claim(db, s, "other", now=time.time() + delivery.lease_seconds(s) + 1)
    assert later is not None and later["id"] == first["id"] and later["attempts"] == 2


def test_retry_by_hand_and_its_clear_errors(tmp_path):
    receiver = Receiver(statuses=[503])
    try:
        s = make_settings(tmp_path, request_webhook_url=receiver.url, request_webhook_secret=SECRET, request_retry=3600.0)
        db = connect(s)
        ref = records.accept(db, s, a_form(), {})["reference"]
        assert not delivery.deliver_due(s)[0].ok
        assert delivery.deliver_due(s) == []                 # waits an hour before the next try
        out = delivery.retry(s, db, ref.lower())
        assert [o.ok for o in out] == [True]
        with pytest.raises(KbError, match="already delivered"):
            delivery.retry(s, db, ref)
        with pytest.raises(NotFound, match="no request 'REQ-NOPE'"):
            delivery.retry(s, db, "REQ-NOPE")
    finally:
        receiver.stop()
    assert len(receiver.accepted) == 1


@pytest.mark.both_backends
def test_the_helpdesk_resolving_it_later_updates_the_same_ticket(tmp_path, database_url):
    from kb.tickets.importer import import_file
    receiver = Receiver()
    try:
        s = make_settings(tmp_path, database_url, request_webhook_url=receiver.url, request_webhook_secret=SECRET)
        db = connect(s)
        ref = records.accept(db, s, a_form(), CONTEXT)["reference"]
        delivery.deliver_due(s)
    finally:
        receiver.stop()
    # the helpdesk's webhook names its own id; kb knows it from the webhook's answer
    t, change, _ = save_ticket(db, {"id": "HD-1000", "channel": "email", "priority": "important", "status": "resolved",
                                    "subject": "Printer offline", "created_at": "2030-01-01T00:00:00Z",
                                    "resolution": "Re-paired the printer.", "articles": ["KB-0001"]})
    assert (t["id"], change, t["channel"], t["status"]) == (ref, "updated", "web", "resolved")
    assert t["extra"]["helpdesk_id"] == "HD-1000" and db["tickets"].count == 1
    # a mailed request: the helpdesk's export has its own id and kb's reference in the subject
    ref2 = records.accept(db, s, a_form(subject="VPN drops"), {})["reference"]
    csv = tmp_path / "export.csv"
    csv.write_text(f"Ticket ID,Subject,Status,Created,Solved at,Priority,Via\nZD-77,[{ref2}] VPN drops,Solved,"
                   f"2026-01-01T00:00:00Z,2031-01-02T00:00:00Z,High,Email\n", "utf-8")
    report = import_file(db, csv)
    assert (report.added, report.updated, report.bad) == (0, 1, [])
    assert get_ticket(db, ref2)["status"] == "resolved" and db["tickets"].count == 2
    report = import_file(db, csv)                       # again: the alias finds it, still no duplicate
    assert report.added == 0 and db["tickets"].count == 2


def test_a_request_that_keeps_failing_degrades_health_and_shows_on_the_command_line(tmp_path):
    from click.testing import CliRunner

    from kb.cli import main
    from kb.requests.figures import health_part
    receiver = Receiver(statuses=[500] * 3)
    try:
        s = make_settings(tmp_path, request_webhook_url=receiver.url, request_webhook_secret=SECRET)
        db = connect(s)
        ref = records.accept(db, s, a_form(), {})["reference"]
        good = records.accept(db, s, a_form(subject="Another one"), {})["reference"]
        db.execute("UPDATE request_deliveries SET next_at = next_at + 3600 WHERE request_id = "
                   "(SELECT id FROM requests WHERE reference = ?)", [good])
        for _ in range(3):
            delivery.deliver_due(s)
            db.execute("UPDATE request_deliveries SET next_at = 0 WHERE request_id = "
                       "(SELECT id FROM requests WHERE reference = ?)", [ref])
        h = health_part(s, db)
        assert (h["status"], h["waiting"], h["failing"]) == ("degraded", 2, 1)
        assert h["oldest_waiting_seconds"] >= 0 and "HTTP 500" in h["problem"] and "--failed" in h["problem"]
        env = {"KB_HOME": str(s.home), "KB_REQUEST_WEBHOOK_URL": receiver.url, "KB_REQUEST_WEBHOOK_SECRET": SECRET}
        run = CliRunner().invoke(main, ["requests", "list", "--failed"], env=env)
        assert run.exit_code == 0 and ref in run.output and good not in run.output and "3 attempts" in run.output
        shown = CliRunner().invoke(main, ["requests", "show", ref], env=env)
        assert shown.output.count("failed") == 3 and "ada.customer" not in shown.output
        run = CliRunner().invoke(main, ["requests", "retry", ref], env=env)
        assert run.exit_code == 0 and "webhook: delivered" in run.output
        run = CliRunner().invoke(main, ["requests", "retry", "REQ-UNKNOWN1"], env=env)
        assert run.exit_code == 2 and "no request 'REQ-UNKNOWN1'" in run.output
        assert health_part(s, db)["status"] == "ok"
    finally:
        receiver.stop()


def test_settings_are_checked_with_the_variable_named():
    from kb.core.errors import ConfigError
    for env, text in (({"KB_REQUEST_WEBHOOK_URL": "ftp://x"}, "KB_REQUEST_WEBHOOK_URL: expected an http"),
                      ({"KB_REQUEST_WEBHOOK_URL": "https://hd.example/x"}, "KB_REQUEST_WEBHOOK_SECRET: required"),
                      ({"KB_REQUEST_WEBHOOK_URL": "https://hd.example/x", "KB_REQUEST_WEBHOOK_SECRET": "short"},
                       "at least 16"),
                      ({"KB_SMTP_URL": "smtp://mail.example"}, "KB_SUPPORT_EMAIL: required"),
                      ({"KB_SMTP_URL": "imap://mail.example", "KB_SUPPORT_EMAIL": "s@example.com"}, "KB_SMTP_URL: expected"),
                      ({"KB_SMTP_URL": "smtp://u@mail.example", "KB_SUPPORT_EMAIL": "s@example.com"}, "without a password"),
                      ({"KB_SUPPORT_EMAIL": "s@example.com"}, "KB_SUPPORT_EMAIL: is set but KB_SMTP_URL is not"),
                      ({"KB_REQUEST_LIMIT_EMAIL": "lots"}, "KB_REQUEST_LIMIT_EMAIL: expected a rate"),
                      ({"KB_REQUEST_RETRY": "soon"}, "KB_REQUEST_RETRY: expected a duration")):
        with pytest.raises(ConfigError, match=text):
            Settings.load(env=env)


def test_a_helpdesk_error_quoting_the_customer_is_kept_out_of_attempts_and_logs(tmp_path, caplog):
    import http.server
    import threading as th

    class Quoting(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            answer = f"invalid requester {body['customer']['email']} ({body['customer']['name']})".encode()
            self.send_response(422)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quoting)
    th.Thread(target=server.serve_forever, daemon=True).start()
    try:
        s = make_settings(tmp_path, request_webhook_url=f"http://127.0.0.1:{server.server_address[1]}/",
                          request_webhook_secret=SECRET)
        db = connect(s)
        records.accept(db, s, a_form(), {})
        out = delivery.deliver_due(s)
    finally:
        server.shutdown()
        server.server_close()
    assert "HTTP 422" in out[0].detail and "<email>" in out[0].detail
    stored = json.dumps(db.rows("SELECT * FROM request_attempts")) + json.dumps(db.rows("SELECT * FROM request_deliveries"))
    for text in (out[0].detail, stored, caplog.text):
        assert "ada.customer@contoso.example" not in text and "Ada Customer" not in text
