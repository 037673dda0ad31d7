"""Storing a customer's request before anything else happens to it, and reading requests back.

``accept`` writes, in one transaction, the request, its screenshots, one delivery per channel
configured (the webhook, the mail) and a ticket in kb (channel web, status new, the reference
as its id, what the customer searched, was shown and opened), then answers the reference
number. Nothing is sent here: the deliverer (delivery.py) does that afterwards, so a helpdesk
that is down, or a server killed right after, loses nothing.

Also the help center's events that the figures count — ``started`` (a customer began describing
a problem), ``deflected`` (an article solved it; the request was never sent), ``submitted`` —
and screenshots held for the form's second step when it runs without JavaScript.
"""
from __future__ import annotations

import datetime as dt
import json
import secrets
import time

from kb.core.db import Database
from kb.core.errors import NotFound
from kb.documents.uploads import CleanImage
from kb.requests.form import RequestForm, new_idempotency_key, new_reference
from kb.tickets.model import now_iso
from kb.tickets.records import HELP_CENTER, save_ticket

EVENTS = ("started", "deflected", "submitted")
CHANNELS = ("webhook", "mail")
UPLOAD_HOURS = 24          # screenshots of a form never sent are dropped after this long
CONTEXT_LIMITS = {"suggested": 20, "opened": 20, "searches": 20}


def channels(settings) -> list[str]:
    """The delivery channels configured: ``webhook`` and/or ``mail``."""
    return [c for c, on in (("webhook", settings.request_webhook_url), ("mail", settings.smtp_url)) if on]


def clean_context(context: dict | None) -> dict:
    """What the customer searched, was shown and opened, bounded: articles as {id, title, url},
    searches as text."""
    context = context or {}
    out: dict = {}
    for key in ("suggested", "opened"):
        seen, items = set(), []
        for a in context.get(key) or []:
            aid = str(a.get("id", ""))[:100] if isinstance(a, dict) else ""
            if aid and aid not in seen:
                seen.add(aid)
                items.append({"id": aid, "title": str(a.get("title") or "")[:300], "url": str(a.get("url") or "")[:500]})
        out[key] = items[:CONTEXT_LIMITS[key]]
    searches = [" ".join(str(q).split())[:200] for q in context.get("searches") or [] if str(q).strip()]
    out["searches"] = list(dict.fromkeys(searches))[-CONTEXT_LIMITS["searches"]:]
    return out


def accept(db: Database, settings, form: RequestForm, context: dict | None = None,
           uploads: list[str] | None = None) -> dict:
    """Store the request (screenshots, deliveries, ticket) in one transaction; return
    {reference, id, idempotency_key, channels}."""
    ctx = clean_context(context)
    now = now_iso()
    with db.transaction():
        for _ in range(10):
            reference = new_reference()
            if not db.value("SELECT 1 FROM requests WHERE reference = ? UNION ALL SELECT 1 FROM tickets WHERE id = ?",
                            [reference, reference]):
                break
        key = new_idempotency_key()
        rid = db["requests"].insert({
            "reference": reference, "idempotency_key": key, "email": form.email, "name": form.name,
            "product": form.product, "subject": form.subject, "description": form.description,
            "priority": form.priority, "language": form.language, "context": json.dumps(ctx, ensure_ascii=False),
            "created_at": now}, returning="id")
        for image in form.screenshots:
            _insert_file(db, image, request_id=rid)
        if uploads:
            marks = ",".join("?" * len(uploads))
            db.execute(f"UPDATE request_files SET request_id = ?, upload = NULL WHERE request_id IS NULL "
                       f"AND upload IN ({marks})", [rid, *uploads])
        live = channels(settings)
        for channel in live:
            db["request_deliveries"].insert({"request_id": rid, "channel": channel, "state": "waiting",
                                             "attempts": 0, "next_at": time.time(), "created_at": now})
        save_ticket(db, {"id": reference, "channel": "web", "priority": form.priority, "status": "new",
                         "customer": form.name, "contact": form.email, "product": form.product,
                         "subject": form.subject, "description": form.description, "created_at": now,
                         "help_center": {"reference": reference, "language": form.language, **ctx,
                                         "screenshots": _count_files(db, rid)}}, source=HELP_CENTER)
        record_event(db, "submitted", request_id=rid)
    return {"reference": reference, "id": rid, "idempotency_key": key, "channels": live}


def _insert_file(db: Database, image: CleanImage, *, request_id: int | None = None, upload: str | None = None):
    db["request_files"].insert({"request_id": request_id, "upload": upload, "name": image.name, "mime": image.mime,
                                "width": image.width, "height": image.height, "size": len(image.data),
                                "data": image.data, "created_at": now_iso()})


def _count_files(db: Database, request_id: int) -> int:
    return int(db.value("SELECT count(*) FROM request_files WHERE request_id = ?", [request_id]))


def hold_screenshots(db: Database, images: list[CleanImage]) -> str | None:
    """Keep the screenshots of a form that goes on to its suggestions step (no JavaScript) until
    it is sent; the token returned goes into the next page's form."""
    if not images:
        return None
    token = secrets.token_urlsafe(18)
    with db.transaction():
        cutoff = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=UPLOAD_HOURS)).strftime("%Y-%m-%dT%H:%M:%SZ")
        db.execute("DELETE FROM request_files WHERE request_id IS NULL AND created_at < ?", [cutoff])
        for image in images:
            _insert_file(db, image, upload=token)
    return token


def held_screenshots(db: Database, token: str | None) -> list[dict]:
    if not token:
        return []
    return db.rows("SELECT name, size, width, height FROM request_files WHERE request_id IS NULL AND upload = ? "
                   "ORDER BY id", [token])


def record_event(db: Database, kind: str, *, article_id: str | None = None, request_id: int | None = None) -> None:
    assert kind in EVENTS, kind
    db["request_events"].insert({"kind": kind, "article_id": article_id, "request_id": request_id,
                                 "created_at": now_iso()})


# --- reading --------------------------------------------------------------------------------

def get(db: Database, reference: str) -> dict:
    """A request by its reference (or number), with its deliveries and their attempts."""
    ref = str(reference).strip().upper()
    row = db.row("SELECT * FROM requests WHERE reference = ?", [ref])
    if row is None and ref.isdigit():
        row = db.row("SELECT * FROM requests WHERE id = ?", [int(ref)])
    if row is None:
        raise NotFound(f"no request {reference!r} (a reference looks like REQ-7K3M9QXD; `kb requests list` shows them)")
    row["context"] = json.loads(row["context"] or "{}")
    row["screenshots"] = db.rows("SELECT name, mime, size, width, height FROM request_files WHERE request_id = ? "
                                 "ORDER BY id", [row["id"]])
    row["deliveries"] = db.rows("SELECT * FROM request_deliveries WHERE request_id = ? ORDER BY channel", [row["id"]])
    for d in row["deliveries"]:
        d["attempt_log"] = db.rows("SELECT worker, started_at, seconds, ok, detail FROM request_attempts "
                                   "WHERE delivery_id = ? ORDER BY id", [d["id"]])
    return row


def files(db: Database, request_id: int) -> list[dict]:
    return db.rows("SELECT name, mime, size, width, height, data FROM request_files WHERE request_id = ? ORDER BY id",
                   [request_id])


def list_requests(db: Database, *, failed: bool = False, waiting: bool = False, limit: int = 50) -> list[dict]:
    """Newest first, each with its deliveries' state. ``failed``: requests with a delivery whose
    last attempt failed and that still waits; ``waiting``: with any delivery still waiting."""
    where = ""
    if failed:
        where = ("WHERE r.id IN (SELECT request_id FROM request_deliveries WHERE state = 'waiting' "
                 "AND last_error IS NOT NULL)")
    elif waiting:
        where = "WHERE r.id IN (SELECT request_id FROM request_deliveries WHERE state = 'waiting')"
    rows = db.rows(f"SELECT r.id, r.reference, r.subject, r.priority, r.created_at, r.helpdesk_id FROM requests r "
                   f"{where} ORDER BY r.id DESC LIMIT ?", [int(limit)])
    for r in rows:
        r["deliveries"] = db.rows("SELECT channel, state, attempts, next_at, delivered_at, last_error, remote_id "
                                  "FROM request_deliveries WHERE request_id = ? ORDER BY channel", [r["id"]])
    return rows
