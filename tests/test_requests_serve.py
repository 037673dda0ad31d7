"""`kill -9` of a real `kb serve` (gunicorn, two workers) loses no customer request: killed
after accepting a request while the helpdesk is down, or in the middle of delivering one, the
restarted server delivers it once — one request to the helpdesk by its idempotency key."""
from __future__ import annotations

import os
import re
import signal
import threading
import time

import pytest

from kb.core.store import connect
from tests.browser_support import serve
from tests.requests_support import SECRET, Receiver, free_port
from tests.service_support import Client, wait_for
from tests.web_support import build_settings

FORM = {"email": "lin.customer@fabrikam.example", "name": "Lin Customer", "subject": "VPN error 809 at home",
        "description": "The VPN fails with error 809 from home since this morning.", "priority": "important",
        "action": "submit"}


def serving(s, webhook: str, log):
    """`kb serve` with two workers delivering to ``webhook``; yields (base URL, process)."""
    return serve(s, workers=2, secret="serve-test-secret", log=log, process=True, extra_env={
        "KB_REQUEST_WEBHOOK_URL": webhook, "KB_REQUEST_WEBHOOK_SECRET": SECRET, "KB_REQUEST_TIMEOUT": "2s",
        "KB_REQUEST_RETRY": "0.5s"})


def send_request(base) -> str:
    status, page = Client(base).form("/help/contact", FORM)
    assert status == 200, page[:500]
    return re.search(r"data-reference>(REQ-[A-Z0-9]{8})<", page).group(1)


def kill9(proc) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(30)


def delivery(s, ref) -> dict:
    db = connect(s)
    try:
        return db.row("SELECT d.* FROM request_deliveries d JOIN requests r ON r.id = d.request_id "
                      "WHERE r.reference = ?", [ref])
    finally:
        db.close()


@pytest.fixture
def kb_settings(tmp_path):
    return build_settings(tmp_path)


def test_killed_after_accepting_while_the_helpdesk_is_down_delivers_once_after_restart(kb_settings, tmp_path):
    down = f"http://127.0.0.1:{free_port()}/hooks/kb"          # nothing listens there
    with open(tmp_path / "serve.log", "w") as log:
        with serving(kb_settings, down, log) as (base, proc):
            ref = send_request(base)
            wait_for(lambda: (delivery(kb_settings, ref)["last_error"] or "").startswith("the helpdesk cannot"), 30)
            kill9(proc)
        assert delivery(kb_settings, ref)["state"] == "waiting"
        receiver = Receiver()
        try:
            with serving(kb_settings, receiver.url, log):
                wait_for(lambda: delivery(kb_settings, ref)["state"] == "delivered", 60)
                time.sleep(2)                              # any second sender would have sent by now
        finally:
            receiver.stop()
    assert [p["status"] for p in receiver.posts] == [200] and len(receiver.accepted) == 1
    assert next(iter(receiver.accepted.values()))["reference"] == ref
    assert delivery(kb_settings, ref)["remote_id"] == "HD-1000"


def test_killed_while_delivering_sends_the_same_request_once_more_and_it_counts_once(kb_settings, tmp_path):
    hold = threading.Event()
    receiver = Receiver(hold=hold)                 # takes the request, then answers only once released
    try:
        with open(tmp_path / "serve.log", "w") as log:
            with serving(kb_settings, receiver.url, log) as (base, proc):
                ref = send_request(base)
                assert receiver.arrived.wait(30)
                kill9(proc)                        # the helpdesk has the request; kb never heard back
            hold.set()
            d = delivery(kb_settings, ref)
            assert d["state"] == "waiting" and d["lease_owner"]
            with serving(kb_settings, receiver.url, log):
                wait_for(lambda: delivery(kb_settings, ref)["state"] == "delivered", 60)
                time.sleep(2)
    finally:
        receiver.stop()
    keys = [p["key"] for p in receiver.posts]
    assert len(keys) == 2 and len(set(keys)) == 1               # sent again after the lease ran out, same key
    assert len(receiver.accepted) == 1                         # the helpdesk holds one request
    db = connect(kb_settings)
    assert db.value("SELECT count(*) FROM request_attempts WHERE ok = 1") == 1
    assert db.value("SELECT count(*) FROM tickets WHERE id = ?", [ref]) == 1
