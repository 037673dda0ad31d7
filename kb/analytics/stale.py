"""Stale articles: which articles need a person to look at them, and why (`kb stale`, the
monthly report, the engineers' pages).

An article is listed with one reason for each signal that fires, as of a day ``today``:

- ``review_overdue``: its ``review_by`` date has passed;
- ``reopened``: of the tickets it resolved that were created in the last 90 days, at least 2
  and at least a quarter were reopened;
- ``slower``: those recent tickets took at least 1.5× as long to resolve (median) as the
  tickets it resolved in the 90 days before, at least 5 tickets in each window, and the shift
  is significant (one-sided Mann–Whitney test at 2.5 %: a handful of tickets varies a lot);
- ``negative_feedback``: in the last 90 days its "helpful" share fell by 20 points or more
  against the 90 days before (at least 5 votes in each, significant at 2.5 %), or at least 5
  votes came in and fewer than 40 % said helpful;
- ``flagged``: people raised flags on it that nobody has resolved yet;
- ``improvement_pending``: agents submitted improvements to it (kb/contrib/capture.py) that are not
  merged or rejected yet;
- ``translation_behind``: it is a translation whose source's content changed after it (from git,
  kb/analytics/translations.py), with the days it is behind.

Archived articles are never listed.
"""
from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict

from kb.core.db import Database

from kb.analytics.metrics import helpfulness, helpfulness_fell, shifted_up
from kb.tickets.model import parse_iso

WINDOW_DAYS = 90
REOPEN_MIN = 2
REOPEN_SHARE = 0.25
SLOWER_FACTOR = 1.5
SLOWER_MIN_TICKETS = 5
NEGATIVE_MIN_VOTES = 5
NEGATIVE_SHARE = 0.4


def _bound(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S")


def _ticket_signals(db: Database, today: dt.datetime) -> dict[str, list[dict]]:
    recent = today - dt.timedelta(days=WINDOW_DAYS)
    before = recent - dt.timedelta(days=WINDOW_DAYS)
    rows = db.execute(
        "SELECT l.article_id, t.created_at, t.resolved_at, t.status, t.reopened FROM links l "
        "JOIN tickets t ON t.id = l.ticket_id WHERE l.kind = 'resolved_by' AND t.created_at >= ? "
        "AND t.created_at < ?", [_bound(before), _bound(today)]).fetchall()
    by: dict[str, dict[str, list]] = defaultdict(lambda: {"recent": [], "before": []})
    for article, created, resolved, status, reopened in rows:
        window = "recent" if created >= _bound(recent) else "before"
        hours = None
        if resolved and status in ("resolved", "closed"):
            hours = (parse_iso(resolved) - parse_iso(created)).total_seconds() / 3600
        by[article][window].append((hours, int(reopened or 0)))
    out: dict[str, list[dict]] = defaultdict(list)
    for article, w in by.items():
        rec = w["recent"]
        reopened = sum(1 for _, r in rec if r > 0)
        if reopened >= REOPEN_MIN and reopened >= REOPEN_SHARE * len(rec):
            out[article].append({"code": "reopened", "detail": f"{reopened} of {len(rec)} tickets it resolved "
                                 f"in the last {WINDOW_DAYS} days were reopened",
                                 "tickets": len(rec), "reopened": reopened})
        now_h = [h for h, _ in rec if h is not None]
        old_h = [h for h, _ in w["before"] if h is not None]
        if len(now_h) >= SLOWER_MIN_TICKETS and len(old_h) >= SLOWER_MIN_TICKETS:
            m_now, m_old = statistics.median(now_h), statistics.median(old_h)
            if m_old > 0 and m_now >= SLOWER_FACTOR * m_old and shifted_up(now_h, old_h):
                out[article].append({"code": "slower", "detail": f"tickets it resolved took {m_now:.1f} h "
                                     f"(median) in the last {WINDOW_DAYS} days, {m_old:.1f} h before",
                                     "median_hours": round(m_now, 2), "median_hours_before": round(m_old, 2)})
    return out


def _feedback_signals(db: Database, today: dt.datetime) -> dict[str, list[dict]]:
    recent = today - dt.timedelta(days=WINDOW_DAYS)
    now = helpfulness(db, _bound(recent), _bound(today))
    before = helpfulness(db, _bound(recent - dt.timedelta(days=WINDOW_DAYS)), _bound(recent))
    out: dict[str, list[dict]] = defaultdict(list)
    for article, (h, n) in now.items():
        hb, nb = before.get(article, (0, 0))
        fell = helpfulness_fell(h, n, hb, nb)
        poor = n >= NEGATIVE_MIN_VOTES and h / n < NEGATIVE_SHARE
        if fell or poor:
            detail = f"{h} of {n} readers found it helpful in the last {WINDOW_DAYS} days"
            if nb:
                detail += f" ({hb} of {nb} before)"
            out[article].append({"code": "negative_feedback", "detail": detail, "helpful": h, "votes": n,
                                 "helpful_before": hb, "votes_before": nb})
    return out


def _flag_signals(db: Database) -> dict[str, list[dict]]:
    by: dict[str, list[str]] = defaultdict(list)
    for article, reason in db.execute("SELECT article_id, reason FROM flags WHERE resolved_at IS NULL "
                                           "ORDER BY created_at, id"):
        by[article].append(reason)
    return {a: [{"code": "flagged", "detail": f"{len(r)} open flag(s): {', '.join(sorted(set(r)))}",
                 "open_flags": len(r)}] for a, r in by.items()}


def _improvement_signals(db: Database) -> dict[str, list[dict]]:
    from kb.contrib.capture import pending_for_article
    return {a: [{"code": "improvement_pending", "detail": f"{len(cs)} improvement(s) waiting for review or merge: "
                 + ", ".join(f"#{c['id']} by {c['author']} ({c['state']})" for c in cs),
                 "improvements": len(cs), "contributions": [c["id"] for c in cs]}]
            for a, cs in pending_for_article(db).items()}


def stale_articles(db: Database, articles: list[dict] | None, today: dt.datetime | None = None,
                   families=None) -> list[dict]:
    """Articles with at least one reason to review them, most reasons first.

    ``articles`` are the indexed articles (``id``, ``title``, ``status``, ``review_by``…), e.g.
    from ``Searcher.all_articles("admin")``; None when there is no index (then review dates are
    unknown and every article with a signal is listed by id).
    """
    today = today or dt.datetime.now(dt.timezone.utc)
    reasons: dict[str, list[dict]] = defaultdict(list)
    known = {a["id"]: a for a in articles} if articles is not None else None
    if known is not None:
        for a in known.values():
            review_by = a.get("review_by") or (a.get("meta") or {}).get("review_by")
            if a.get("status") != "archived" and review_by and str(review_by) < today.date().isoformat():
                reasons[a["id"]].append({"code": "review_overdue", "detail": f"review_by {review_by} has passed",
                                         "review_by": str(review_by)})
    signals_of = [_ticket_signals(db, today), _feedback_signals(db, today), _flag_signals(db),
                  _improvement_signals(db)]
    if families is not None and known is not None:
        from kb.analytics.translations import behind_reasons
        signals_of.append(behind_reasons(families, known, today))
    for signals in signals_of:
        for article, rs in signals.items():
            if known is not None and (article not in known or known[article].get("status") == "archived"):
                continue
            reasons[article].extend(rs)
    out = []
    for article, rs in reasons.items():
        a = (known or {}).get(article, {})
        out.append({"article_id": article, "title": a.get("title"), "product": a.get("product"),
                    "owners": (a.get("meta") or {}).get("owners") or a.get("owners") or [],
                    "reasons": rs})
    return sorted(out, key=lambda r: (-len(r["reasons"]), r["article_id"]))
