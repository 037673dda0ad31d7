"""Delivering stored requests: exactly one sender per delivery at a time, every attempt
recorded, failures retried with a growing back-off, and nothing given up.

Each request has one delivery row per channel (``webhook``, ``mail``). A sender takes a due
row with one ``UPDATE … RETURNING`` that sets a lease (its name and a time limit) only where
no live lease is — on SQLite and PostgreSQL alike, so among all the workers of all the nodes
exactly one wins. The lease lasts three times ``KB_REQUEST_TIMEOUT``; a sender that dies (a
``kill -9``) leaves it to run out, and another sender then takes the row again. A delivery the
helpdesk took but whose answer was lost in such a crash is sent once more with the same
idempotency key (webhook) or Message-ID (mail), by which the helpdesk knows it.

A failed attempt waits ``KB_REQUEST_RETRY`` × 2^(failures − 1), at most an hour; after
``FAILING`` failures in a row the request shows in health, /metrics and
`kb requests list --failed`; `kb requests retry REF` tries it again at once.
"""
from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass

from kb.core import store
from kb.core.db import Database
from kb.core.errors import KbError, NotFound
from kb.quality.scrub import scrub
from kb.requests import mail, payload, records, webhook
from kb.requests.webhook import DeliveryFailed
from kb.tickets.model import now_iso
from kb.tickets.records import add_alias

log = logging.getLogger("kb.requests")
MAX_BACKOFF = 3600.0
FAILING = 3                 # failures in a row after which a waiting request needs a person


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 100000}"


def backoff(settings, failures: int) -> float:
    return min(MAX_BACKOFF, settings.request_retry * 2 ** max(0, failures - 1))


def lease_seconds(settings) -> float:
    return 3 * settings.request_timeout


@dataclass
class Outcome:
    reference: str
    channel: str
    ok: bool
    detail: str
    attempts: int


def claim(db: Database, settings, worker: str, *, delivery_id: int | None = None, now: float | None = None):
    """Take one due delivery (or ``delivery_id``, due or not) under a lease; None when there is
    none or another sender holds it."""
    now = time.time() if now is None else now
    free = "state = 'waiting' AND (lease_until IS NULL OR lease_until < ?)"
    if delivery_id is None:
        pick = f"(SELECT id FROM request_deliveries WHERE {free} AND next_at <= ? ORDER BY next_at, id LIMIT 1)"
        params = [now, now]
    else:
        pick, params = "?", [delivery_id]
    return db.row(f"UPDATE request_deliveries SET lease_owner = ?, lease_until = ?, attempts = attempts + 1 "
                  f"WHERE id = {pick} AND {free} RETURNING id, request_id, channel, attempts",
                  [worker, now + lease_seconds(settings), *params, now])


def _send(settings, db: Database, claimed: dict, request: dict) -> str | None:
    files = records.files(db, request["id"])
    p = payload.build(request, files, with_content=claimed["channel"] == "webhook")
    if claimed["channel"] == "webhook":
        if not settings.request_webhook_url:
            raise DeliveryFailed("KB_REQUEST_WEBHOOK_URL is no longer set: set it again, or the request waits")
        return webhook.send(settings, p)
    if not settings.smtp_url:
        raise DeliveryFailed("KB_SMTP_URL is no longer set: set it again, or the request waits")
    mail.send(settings, p, files)
    return None


def attempt(settings, db: Database, claimed: dict, worker: str) -> Outcome:
    """Send one claimed delivery and record the attempt and its result."""
    started, t0 = now_iso(), time.perf_counter()
    request = db.row("SELECT * FROM requests WHERE id = ?", [claimed["request_id"]])
    try:
        remote = _send(settings, db, claimed, request)
        ok, detail = True, f"delivered{' as helpdesk ticket ' + remote if remote else ''}"
    except DeliveryFailed as e:
        ok, detail, remote = False, str(e), None
    except Exception as e:              # a bug or an unforeseen failure: recorded, retried, logged
        ok, detail, remote = False, f"{type(e).__name__}: {e}", None
        log.exception("delivery %s of request %s failed unexpectedly", claimed["channel"], claimed["request_id"])
    seconds = time.perf_counter() - t0
    detail = scrub(detail, [request["name"], request["email"]])     # a helpdesk's error may quote the customer
    with db.transaction():
        db["request_attempts"].insert({"delivery_id": claimed["id"], "worker": worker, "started_at": started,
                                       "seconds": round(seconds, 3), "ok": int(ok), "detail": detail[:500]})
        if ok:
            held = db.execute("UPDATE request_deliveries SET state = 'delivered', delivered_at = ?, remote_id = ?, "
                              "last_error = NULL, lease_owner = NULL, lease_until = NULL WHERE id = ? AND lease_owner = ?",
                              [now_iso(), remote, claimed["id"], worker]).rowcount
            if not held:
                log.warning("delivery %s of request %s took longer than its lease (%.0f s)", claimed["channel"],
                            claimed["request_id"], lease_seconds(settings))
                db.execute("UPDATE request_deliveries SET state = 'delivered', delivered_at = ?, remote_id = ? "
                           "WHERE id = ?", [now_iso(), remote, claimed["id"]])
            if remote:
                _helpdesk_id(db, request, remote)
        else:
            db.execute("UPDATE request_deliveries SET last_error = ?, next_at = ?, lease_owner = NULL, "
                       "lease_until = NULL WHERE id = ? AND lease_owner = ?",
                       [detail[:500], time.time() + backoff(settings, _failures(db, claimed["id"])), claimed["id"],
                        worker])
    ref = request["reference"]
    if not ok:
        log.warning("request %s: %s delivery failed (attempt %d): %s", ref, claimed["channel"], claimed["attempts"],
                    detail)
    return Outcome(ref, claimed["channel"], ok, detail, claimed["attempts"])


def _failures(db: Database, delivery_id: int) -> int:
    """Failed attempts since the last good one (all of them: a waiting delivery had none)."""
    return int(db.value("SELECT count(*) FROM request_attempts WHERE delivery_id = ? AND ok = 0", [delivery_id]))


def _helpdesk_id(db: Database, request: dict, remote: str) -> None:
    """The helpdesk named its ticket: kb's ticket answers to that id from now on."""
    db.execute("UPDATE requests SET helpdesk_id = ? WHERE id = ?", [remote, request["id"]])
    add_alias(db, remote, request["reference"])
    row = db.row("SELECT extra FROM tickets WHERE id = ?", [request["reference"]])
    if row is not None:
        extra = json.loads(row["extra"] or "{}")
        extra["helpdesk_id"] = remote
        db.execute("UPDATE tickets SET extra = ?, updated_at = ? WHERE id = ?",
                   [json.dumps(extra, ensure_ascii=False), now_iso(), request["reference"]])


def deliver_due(settings, *, worker: str | None = None, limit: int = 20, db: Database | None = None) -> list[Outcome]:
    """Deliver what is due now, one claimed row after another (at most ``limit``)."""
    worker = worker or worker_name()
    own = db is None
    db = db or store.connect(settings)
    out = []
    try:
        while len(out) < limit:
            claimed = claim(db, settings, worker)
            if claimed is None:
                break
            out.append(attempt(settings, db, claimed, worker))
    finally:
        if own:
            db.close()
    return out


def retry(settings, db: Database, reference: str) -> list[Outcome]:
    """`kb requests retry REF`: try the request's waiting deliveries now, whatever their back-off."""
    request = records.get(db, reference)
    waiting = [d for d in request["deliveries"] if d["state"] == "waiting"]
    if not request["deliveries"]:
        raise KbError(f"{request['reference']}: nothing to deliver (no channel was configured when it was sent: "
                      "it is only a ticket in kb)")
    if not waiting:
        raise KbError(f"{request['reference']}: already delivered ("
                      + ", ".join(f"{d['channel']} at {d['delivered_at']}" for d in request["deliveries"]) + ")")
    worker, out = worker_name(), []
    for d in waiting:
        claimed = claim(db, settings, worker, delivery_id=d["id"])
        if claimed is None:
            raise NotFound(f"{request['reference']}: the {d['channel']} delivery is being attempted right now by "
                           "the server; look again in a moment")
        out.append(attempt(settings, db, claimed, worker))
    return out
