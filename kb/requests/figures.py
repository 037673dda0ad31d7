"""Counts of customers' requests, from the database, for health (what waits and fails),
/metrics (running totals) and the monthly report (started, deflected by article, submitted,
delivered, the self-service score, the articles that prevent most requests, and the subjects
that reach support most often although articles were suggested).

The self-service score is help-center visits ÷ requests submitted, where a visit is a
customer's article view or search as kb logs them (a page a CDN served from its cache is not
counted). Subjects are grouped by their analysed words (kb.core.text: stemmed, stop words
dropped, Chinese segmented) and shown with customer data replaced (kb.quality.scrub).
"""
from __future__ import annotations

import datetime as dt
import json
import time

from kb.core.db import Database
from kb.core.text import tokens
from kb.quality.scrub import scrub
from kb.requests.delivery import FAILING
from kb.requests.records import channels

TOP = 10


def waiting(db: Database, now: float | None = None) -> dict:
    """Deliveries still waiting, how many of them keep failing, and the oldest one's age."""
    now = time.time() if now is None else now
    row = db.row("SELECT count(*) AS waiting, min(r.created_at) AS oldest FROM request_deliveries d "
                 "JOIN requests r ON r.id = d.request_id WHERE d.state = 'waiting'")
    failing = db.rows("SELECT r.reference, r.created_at, d.channel, d.last_error FROM request_deliveries d "
                      "JOIN requests r ON r.id = d.request_id WHERE d.state = 'waiting' AND "
                      "(SELECT count(*) FROM request_attempts a WHERE a.delivery_id = d.id AND a.ok = 0) >= ? "
                      "ORDER BY r.created_at", [FAILING])
    oldest = row["oldest"]
    age = None if not oldest else round(now - dt.datetime.fromisoformat(oldest).timestamp(), 1)
    return {"waiting": int(row["waiting"]), "failing": len(failing), "oldest_waiting_seconds": age,
            "failing_requests": failing[:20]}


def health_part(settings, db: Database) -> dict:
    """Health's ``requests`` part: ``off`` (no channel), ``ok``, or ``degraded`` with a problem."""
    live = channels(settings)
    out = {"status": "off" if not live else "ok", "channels": live, **waiting(db)}
    if out["failing"]:
        first = out["failing_requests"][0]
        out["status"] = "degraded"
        out["problem"] = (f"{out['failing']} customer request(s) cannot be delivered to the helpdesk "
                          f"(the oldest waits for {out['oldest_waiting_seconds']:.0f} s): {first['channel']}: "
                          f"{first['last_error']}; see `kb requests list --failed`")
    return out


def totals(db: Database) -> dict:
    """Running totals since the start, for /metrics."""
    events = {k: n for k, n in db.execute("SELECT kind, count(*) FROM request_events WHERE demo = 0 GROUP BY kind")}
    by_article = dict(db.execute("SELECT article_id, count(*) FROM request_events WHERE kind = 'deflected' "
                                 "AND demo = 0 GROUP BY article_id").fetchall())
    delivered = dict(db.execute("SELECT channel, count(*) FROM request_deliveries WHERE state = 'delivered' "
                                "GROUP BY channel").fetchall())
    failures = dict(db.execute("SELECT d.channel, count(*) FROM request_attempts a JOIN request_deliveries d "
                               "ON d.id = a.delivery_id WHERE a.ok = 0 GROUP BY d.channel").fetchall())
    return {"started": events.get("started", 0), "submitted": events.get("submitted", 0),
            "deflected": events.get("deflected", 0), "deflected_by_article": by_article,
            "delivered": delivered, "delivery_failures": failures, **waiting(db)}


def _count(db: Database, sql: str, params: list) -> int:
    return int(db.value(sql, params) or 0)


def month(db: Database, lo: str, hi: str, titles: dict[str, str] | None = None) -> dict:
    """The figures of the period [lo, hi) for the monthly report."""
    titles = titles or {}
    kinds = {k: _count(db, "SELECT count(*) FROM request_events WHERE kind = ? AND created_at >= ? AND created_at < ?",
                       [k, lo, hi]) for k in ("started", "deflected", "submitted")}
    delivered = _count(db, "SELECT count(*) FROM requests r WHERE r.created_at >= ? AND r.created_at < ? AND EXISTS "
                       "(SELECT 1 FROM request_deliveries d WHERE d.request_id = r.id) AND NOT EXISTS (SELECT 1 FROM "
                       "request_deliveries d WHERE d.request_id = r.id AND d.state <> 'delivered')", [lo, hi])
    visits = (_count(db, "SELECT count(*) FROM views WHERE role = 'customer' AND created_at >= ? AND created_at < ?",
                     [lo, hi])
              + _count(db, "SELECT count(*) FROM search_log WHERE role = 'customer' AND created_at >= ? "
                       "AND created_at < ?", [lo, hi]))
    top = [{"article_id": a, "title": titles.get(a, ""), "requests_prevented": n} for a, n in db.execute(
        "SELECT article_id, count(*) AS n FROM request_events WHERE kind = 'deflected' AND created_at >= ? "
        "AND created_at < ? GROUP BY article_id ORDER BY n DESC, article_id LIMIT ?", [lo, hi, TOP]).fetchall()]
    return {
        "started": kinds["started"], "deflected": kinds["deflected"], "submitted": kinds["submitted"],
        "delivered": delivered, "help_center_visits": visits,
        "deflection_rate": round(kinds["deflected"] / kinds["started"], 4) if kinds["started"] else None,
        "self_service_score": round(visits / kinds["submitted"], 2) if kinds["submitted"] else None,
        "top_deflecting_articles": top,
        "subjects_despite_suggestions": subjects_despite_suggestions(db, lo, hi),
    }


def subjects_despite_suggestions(db: Database, lo: str, hi: str, limit: int = TOP) -> list[dict]:
    """Requests sent although articles were suggested, grouped by their subject's words: what
    the knowledge base does not answer yet."""
    groups: dict[tuple, dict] = {}
    for r in db.rows("SELECT subject, name, email, product, context FROM requests WHERE created_at >= ? "
                     "AND created_at < ? ORDER BY id", [lo, hi]):
        ctx = json.loads(r["context"] or "{}")
        if not ctx.get("suggested"):
            continue
        key = tuple(sorted(set(tokens(r["subject"])))) or (r["subject"].lower(),)
        g = groups.setdefault(key, {"subject": scrub(r["subject"], [r["name"], r["email"]]), "requests": 0,
                                    "products": set(), "suggested": {}})
        g["requests"] += 1
        if r["product"]:
            g["products"].add(r["product"])
        for a in ctx["suggested"]:
            g["suggested"][a["id"]] = g["suggested"].get(a["id"], 0) + 1
    out = sorted(groups.values(), key=lambda g: (-g["requests"], g["subject"]))[:limit]
    return [{"subject": g["subject"], "requests": g["requests"], "products": sorted(g["products"]),
             "articles_suggested": [a for a, _ in sorted(g["suggested"].items(), key=lambda kv: -kv[1])[:3]]}
            for g in out]
