"""What people do with the knowledge base, recorded in SQLite for ranking and metrics:
"was this helpful?" votes (``feedback``), article views (``views``), searches and the result
that was opened from them (``search_log``), and flags raised against articles (``flags``).

Every writer validates what a person typed and raises FieldError naming the field; nothing
here knows about HTTP.
"""
from __future__ import annotations

import datetime as dt

from kb.core.db import Database

from kb.core.errors import FieldError, NotFound

AUDIENCES = ("customer", "agent", "engineer", "admin", "api")
FLAG_REASONS = ("outdated", "incorrect", "incomplete", "unclear", "duplicate")
MAX_COMMENT = 2000
MAX_QUERY = 500


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _comment(value: str | None, field: str = "comment") -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise FieldError(field, "must be text")
    value = value.strip()
    if len(value) > MAX_COMMENT:
        raise FieldError(field, f"is {len(value)} characters long; at most {MAX_COMMENT} are kept")
    return value or None


def _article_id(article_id: str) -> str:
    if not isinstance(article_id, str) or not article_id.strip():
        raise FieldError("article_id", "is empty")
    return article_id.strip()


# --- feedback ----------------------------------------------------------------------------

def record_feedback(db: Database, article_id: str, helpful: bool, comment: str | None,
                    audience: str) -> int:
    """One "was this helpful?" answer; returns its id (a comment can be added later)."""
    if audience not in AUDIENCES:
        raise FieldError("audience", f"{audience!r} is not one of {', '.join(AUDIENCES)}")
    if not isinstance(helpful, bool):
        raise FieldError("helpful", "must be yes or no")
    return db["feedback"].insert({"article_id": _article_id(article_id), "helpful": int(helpful),
                                  "comment": _comment(comment), "audience": audience,
                                  "created_at": _now()}, returning="id")


def add_feedback_comment(db: Database, feedback_id: int, comment: str | None) -> None:
    """Attach (or replace) the optional comment of an answer already recorded."""
    if not list(db["feedback"].rows_where("id = ?", [feedback_id], limit=1)):
        raise NotFound(f"no feedback {feedback_id}")
    db["feedback"].update(feedback_id, {"comment": _comment(comment)})


def _among(ids: str | list[str]) -> tuple[str, list[str]]:
    """``article_id IN (…)`` for one article or the versions of one (a family counts as one)."""
    ids = [ids] if isinstance(ids, str) else list(ids)
    return f"article_id IN ({', '.join('?' * len(ids))})", ids


def feedback_totals(db: Database, article_ids: str | list[str], languages: dict[str, str] | None = None) -> dict:
    """{"helpful", "not_helpful", "total", "ratio" (None without votes), "comments": latest 20,
    "by_language": {language: {"helpful", "total"}}} of an article, or of all versions of one
    (``languages``: each version's language, for the split)."""
    where, ids = _among(article_ids)
    rows = db.execute(f"SELECT article_id, COALESCE(SUM(CASE WHEN helpful = 1 THEN 1 ELSE 0 END), 0), COUNT(*) "
                      f"FROM feedback WHERE {where} GROUP BY article_id", ids).fetchall()
    by_language: dict[str, dict[str, int]] = {}
    for aid, h, n in rows:
        lang = (languages or {}).get(aid, "")
        split = by_language.setdefault(lang, {"helpful": 0, "total": 0})
        split["helpful"] += int(h)
        split["total"] += int(n)
    yes = sum(int(r[1]) for r in rows)
    total = sum(int(r[2]) for r in rows)
    comments = [dict(zip(("helpful", "comment", "audience", "created_at", "article_id"), r)) for r in db.execute(
        f"SELECT helpful, comment, audience, created_at, article_id FROM feedback WHERE {where} "
        "AND comment IS NOT NULL AND comment != '' ORDER BY created_at DESC, id DESC LIMIT 20", ids)]
    for c in comments:
        c["helpful"] = bool(c["helpful"])
        c["language"] = (languages or {}).get(c["article_id"])
    return {"helpful": yes, "not_helpful": total - yes, "total": total,
            "ratio": (yes / total) if total else None, "comments": comments,
            "by_language": by_language if languages and len(by_language) > 1 else {}}


def most_helpful(db: Database, candidates, limit: int = 6,
                 min_votes: int = 1) -> list[tuple[str, int, int]]:
    """(article id, helpful votes, all votes) among ``candidates`` (ids a reader may see), best
    first; a Laplace-smoothed share keeps one lucky vote from beating a long record."""
    allowed = set(candidates)
    rows = [r for r in db.execute(
        "SELECT article_id, SUM(CASE WHEN helpful = 1 THEN 1 ELSE 0 END), COUNT(*) FROM feedback "
        "GROUP BY article_id HAVING COUNT(*) >= ?",
        [min_votes]) if r[0] in allowed]
    rows.sort(key=lambda r: (-(r[1] + 1) / (r[2] + 2), -r[2], r[0]))
    return [(r[0], int(r[1]), int(r[2])) for r in rows[:limit]]


# --- views and searches ------------------------------------------------------------------

def record_view(db: Database, article_id: str, role: str, language: str | None = None) -> None:
    """A page view, with the reader's UI language (what tells which translations are missed)."""
    db["views"].insert({"article_id": _article_id(article_id), "role": role, "created_at": _now(),
                        "language": language})


def view_count(db: Database, article_ids: str | list[str], days: int | None = None) -> int:
    """Views of an article, or of all versions of one."""
    where, ids = _among(article_ids)
    if days is None:
        return db.execute(f"SELECT COUNT(*) FROM views WHERE {where}", ids).fetchone()[0]
    since = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=days)).isoformat(timespec="seconds")
    return db.execute(f"SELECT COUNT(*) FROM views WHERE {where} AND created_at >= ?", [*ids, since]).fetchone()[0]


def log_search(db: Database, query: str, role: str, results: int, latency_ms: float,
               clicked: str | None = None) -> int:
    """One search as a person ran it; returns its id, to record the click on it later."""
    return db["search_log"].insert({"query": (query or "").strip()[:MAX_QUERY], "role": role,
                                    "results": int(results), "clicked": clicked,
                                    "latency_ms": round(float(latency_ms), 3), "created_at": _now()}, returning="id")


def refine_search(db: Database, search_id: int, query: str, results: int,
                  latency_ms: float) -> None:
    """Replace a logged search by the longer query the person went on typing (search as you
    type logs one row per search, not one per key stroke)."""
    db["search_log"].update(search_id, {"query": (query or "").strip()[:MAX_QUERY], "results": int(results),
                                        "latency_ms": round(float(latency_ms), 3), "created_at": _now()})


def record_click(db: Database, search_id: int, article_id: str) -> bool:
    """Note which article was opened from a logged search (the first one counts)."""
    cur = db.execute("UPDATE search_log SET clicked = ? WHERE id = ? AND clicked IS NULL",
                          [_article_id(article_id), int(search_id)])
    return cur.rowcount == 1


# --- flags -------------------------------------------------------------------------------

def flag_article(db: Database, article_id: str, reason: str, comment: str | None, by: str,
                 ticket_id: str | None = None) -> int:
    """Raise a flag (a reason from FLAG_REASONS, an optional comment); returns its id."""
    if reason not in FLAG_REASONS:
        raise FieldError("reason", f"{reason!r} is not one of {', '.join(FLAG_REASONS)}")
    if not by:
        raise FieldError("by", "who raised the flag is missing")
    return db["flags"].insert({"article_id": _article_id(article_id), "reason": reason,
                               "comment": _comment(comment), "created_by": by,
                               "ticket_id": (ticket_id or "").strip() or None, "created_at": _now(),
                               "resolved_at": None}, returning="id")


def flags_for_article(db: Database, article_ids: str | list[str], open_only: bool = False) -> list[dict]:
    """Flags on an article, or on any version of one."""
    where, ids = _among(article_ids)
    where += " AND resolved_at IS NULL" if open_only else ""
    return list(db["flags"].rows_where(where, ids, order_by="created_at DESC, id DESC"))


def open_flags(db: Database, limit: int = 200) -> list[dict]:
    """Flags nobody has dealt with yet, oldest first (the engineers' queue)."""
    return list(db["flags"].rows_where("resolved_at IS NULL", order_by="created_at, id", limit=limit))


def resolve_flag(db: Database, flag_id: int) -> dict:
    rows = list(db["flags"].rows_where("id = ?", [flag_id], limit=1))
    if not rows:
        raise NotFound(f"no flag {flag_id}")
    if rows[0]["resolved_at"] is None:
        db["flags"].update(flag_id, {"resolved_at": _now()})
    return next(db["flags"].rows_where("id = ?", [flag_id], limit=1))
