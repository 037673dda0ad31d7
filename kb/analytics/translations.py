"""Translations in the figures: which translations are behind their source (for `kb stale`
and the report), and which missing translations matter most — the articles readers of a
language keep reaching although there is no version in their language: searches in that
language that opened the article (e.g. Chinese searches opening an English-only article), and
page views by readers whose UI is in that language.
"""
from __future__ import annotations

import datetime as dt
from collections import Counter

from kb.core.db import Database
from kb.core.text import has_cjk

WINDOW_DAYS = 90


def behind_reasons(families, articles: dict[str, dict], now: dt.datetime | None = None) -> dict[str, list[dict]]:
    """Article id → the ``translation_behind`` reason of each translation behind its source."""
    out: dict[str, list[dict]] = {}
    for article_id, b in families.outdated().items():
        src = families.source(article_id)
        days = b.days(now)
        lang = (articles.get(src) or {}).get("language") or "source"
        out[article_id] = [{"code": "translation_behind", "source": src, "days": days, "changes": b.commits,
                            "since": b.since[:10],
                            "detail": f"translation behind its {lang} source {src}: {b.commits} change(s) since "
                                      f"{b.since[:10]}, {days} day(s) behind"}]
    return out


def priorities(db: Database, families, articles: dict[str, dict], *, now: dt.datetime | None = None,
               days: int = WINDOW_DAYS, limit: int = 20) -> list[dict]:
    """The missing translations readers ask for most, most wanted first: for each article and
    language it lacks, the searches in that language that opened it and the views by readers of
    that language, in the last ``days`` days."""
    now = now or dt.datetime.now(dt.timezone.utc)
    since = (now - dt.timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S")

    def languages(article_id: str) -> set[str]:
        return {(articles.get(m) or {}).get("language") for m in families.members(article_id)}

    searches: Counter = Counter()
    for query, clicked in db.execute("SELECT query, clicked FROM search_log WHERE clicked IS NOT NULL AND "
                                     "clicked != '' AND created_at >= ?", [since]):
        lang = "zh" if has_cjk(query or "") else "en"
        if clicked in articles and lang not in languages(clicked):
            searches[(families.family(clicked), lang)] += 1
    views: Counter = Counter()
    for article_id, lang, n in db.execute("SELECT article_id, language, COUNT(*) FROM views WHERE language IS NOT NULL "
                                          "AND created_at >= ? GROUP BY article_id, language", [since]):
        if article_id in articles and lang not in languages(article_id):
            views[(families.family(article_id), lang)] += int(n)
    rows = []
    for key in set(searches) | set(views):
        family, lang = key
        a = articles.get(family) or {}
        rows.append({"article_id": family, "title": a.get("title"), "language": a.get("language"), "missing": lang,
                     "searches": searches[key], "views": views[key], "score": 2 * searches[key] + views[key]})
    return sorted(rows, key=lambda r: (-r["score"], r["article_id"], r["missing"]))[:limit]
