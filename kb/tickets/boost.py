"""The ticket-evidence ranking signal: articles that resolved many recent tickets rank higher.

Evidence for an article is the number of distinct tickets it resolved (``resolved_by`` links
of resolved or closed tickets) within the last KB_TICKET_BOOST_DAYS days, each ticket weighted
by how recent it is (1 when resolved just now, fading linearly to 0 at the window's edge) and
counted within its language (see ``evidence``).
The multiplier is

    1 + KB_TICKET_BOOST × confidence × log(1 + evidence) / log(1 + top evidence)

where ``confidence`` = min(1, top evidence / 5): with only a ticket or two of history, no
article is lifted much. A knowledge base without tickets gets no multipliers at all, so its
ranking is exactly the unboosted one.

An article in several languages is one article here too: the tickets its versions resolved add
up, and every version gets the family's multiplier (``family_of``, given by ``searcher``).

The table is computed once and reused for a minute per process. A new link made in this
process makes the next query recompute it (the agent who linked sees the effect at once). A
new row in ``links`` from another process (looked for at most once a second) or the minute
passing refreshes it in the background while queries keep the current table: at 100k
tickets a recompute takes ~100 ms, which no search should wait for.
"""
from __future__ import annotations

import datetime as dt
import logging
import math
import threading
import time

from kb.core.config import Settings
from kb.core.text import has_cjk
from kb.tickets.model import fmt_time

log = logging.getLogger("kb.tickets.boost")
TTL_SECONDS = 60.0
MARKER_SECONDS = 1.0     # how often ``links`` is looked at for rows from other processes
MIN_EVIDENCE = 5.0
_generation = 0


def invalidate() -> None:
    """Called when links change in this process: every TicketBoost recomputes on next use."""
    global _generation
    _generation += 1


def evidence(db, *, now: dt.datetime, days: int, until: dt.datetime | None = None) -> dict[str, float]:
    """Article id → recency-weighted count of recent tickets it resolved.

    Tickets are counted within their language (Chinese when the subject has CJK characters,
    else English): each language's tickets weigh as much in total, so a desk with more English
    than Chinese tickets does not lift every English article above its Chinese twin."""
    start = now - dt.timedelta(days=days)
    # up to and including now; strictly before ``until`` (the tickets from then on are measured)
    end, op = (fmt_time(until), "<") if until and until <= now else (fmt_time(now), "<=")
    rows = db.execute(
        "SELECT l.article_id, t.resolved_at, t.subject FROM links l JOIN tickets t ON t.id = l.ticket_id "
        "WHERE l.kind = 'resolved_by' AND (t.status || '') IN ('resolved', 'closed') "
        f"AND t.resolved_at >= ? AND t.resolved_at {op} ?", [fmt_time(start), end]).fetchall()
    span = days * 86400.0
    weighted: list[tuple[str, str, float]] = []
    per_lang: dict[str, float] = {}
    for article_id, resolved_at, subject in rows:
        age = (now - dt.datetime.fromisoformat(resolved_at)).total_seconds()
        w = max(0.0, 1.0 - age / span)
        if w > 0:
            lang = "zh" if has_cjk(subject or "") else "en"
            weighted.append((article_id, lang, w))
            per_lang[lang] = per_lang.get(lang, 0.0) + w
    total = sum(per_lang.values())
    scale = {lang: total / (len(per_lang) * v) for lang, v in per_lang.items()}
    out: dict[str, float] = {}
    for article_id, lang, w in weighted:
        out[article_id] = out.get(article_id, 0.0) + w * scale[lang]
    return out


def by_family(weights: dict[str, float], family_of: dict[str, str], members: dict[str, list[str]]
              ) -> dict[str, float]:
    """Evidence of each family (the sum of its versions'), given to every version of it."""
    if not family_of:
        return weights
    summed: dict[str, float] = {}
    for article_id, w in weights.items():
        key = family_of.get(article_id, article_id)
        summed[key] = summed.get(key, 0.0) + w
    return {m: w for key, w in summed.items() for m in members.get(key, [key])}


def multipliers(weights: dict[str, float], strength: float) -> dict[str, float]:
    """Evidence → ranking multipliers (see the module docstring)."""
    if strength <= 0 or not weights:
        return {}
    top = max(weights.values())
    if top <= 0:
        return {}
    confidence = min(1.0, top / MIN_EVIDENCE)
    scale = strength * confidence / math.log1p(top)
    return {a: 1.0 + scale * math.log1p(w) for a, w in weights.items() if w > 0}


class TicketBoost:
    """Callable(candidate ids) → {id: multiplier}; cheap per query, safe across threads."""

    def __init__(self, settings: Settings, *, now: dt.datetime | None = None, until: dt.datetime | None = None,
                 db=None):
        self.settings = settings
        self.strength = float(settings.ticket_boost)
        self.days = int(settings.ticket_boost_days)
        self.fixed_now = now
        self.until = until
        self._lock = threading.Lock()
        self._db = db                   # given: used as is (e.g. read-only); else opened on first use
        self.families = None            # () → kb.search.families.Families, to count versions as one
        self._owns_db = db is None
        self._table: dict[str, float] | None = None
        self._at = 0.0                  # when the table was computed (monotonic)
        self._seen = (-1, None)         # (_generation, max link id) it was computed from
        self._checked = 0.0             # when max(links.id) was last read
        self._refreshing = False
        self.last_error: str | None = None       # why the last background recompute failed
        self.last_error_at: str | None = None

    def status(self) -> dict:
        """For health: when the table was computed and whether recomputing it fails."""
        age = round(time.monotonic() - self._at, 1) if self._table is not None else None
        return {"articles": len(self._table or {}), "age_seconds": age, "error": self.last_error,
                "error_at": self.last_error_at}

    def __call__(self, ids: list[str]) -> dict[str, float]:
        table = self.table()
        if not table:
            return {}
        return {d: table[d] for d in ids if d in table}

    def table(self) -> dict[str, float]:
        """The whole id → multiplier table (recomputed when stale)."""
        if self.strength <= 0 or self.days <= 0:
            return {}
        with self._lock:
            try:
                db = self._connect()
                if db is None:
                    return {}
                if self._table is None or self.fixed_now is not None or self._seen[0] != _generation:
                    return self._compute(db)
            except Exception as e:      # search answers without the boost rather than not at all
                self._failed(e)
                return self._table or {}
            now = time.monotonic()
            if now - self._checked >= MARKER_SECONDS and not self._refreshing:
                self._checked = now
                marker = db.execute("SELECT max(id) FROM links").fetchone()[0]
                if marker != self._seen[1] or now - self._at >= TTL_SECONDS:
                    self._refreshing = True
                    threading.Thread(target=self._refresh, name="kb-ticket-boost", daemon=True).start()
            return self._table

    def _compute(self, db) -> dict[str, float]:
        seen = (_generation, db.execute("SELECT max(id) FROM links").fetchone()[0])
        now = self.fixed_now or dt.datetime.now(dt.timezone.utc)
        self._table = multipliers(self._evidence(db, now), self.strength)
        self._at, self._seen, self._checked = time.monotonic(), seen, time.monotonic()
        return self._table

    def _evidence(self, db, now: dt.datetime) -> dict[str, float]:
        weights = evidence(db, now=now, days=self.days, until=self.until)
        fam = self.families() if self.families is not None else None
        return by_family(weights, fam.key, fam.groups) if fam is not None else weights

    def _refresh(self) -> None:
        """Recompute on a connection of its own; queries keep the old table until it is done."""
        from kb.core import store
        try:
            db = store.connect(self.settings)
            try:
                seen = (_generation, db.execute("SELECT max(id) FROM links").fetchone()[0])
                table = multipliers(self._evidence(db, dt.datetime.now(dt.timezone.utc)), self.strength)
            finally:
                db.close()
            with self._lock:
                if self._seen[0] == seen[0]:      # not overtaken by a link made in this process
                    self._table, self._at, self._seen = table, time.monotonic(), seen
            self.last_error = self.last_error_at = None
        except Exception as e:    # the current table stays; the next check tries again
            self._failed(e)
        finally:
            self._refreshing = False

    def _failed(self, e: Exception) -> None:
        """Remember and log why the table could not be (re)computed (shown by health)."""
        self.last_error = f"{type(e).__name__}: {e}"
        self.last_error_at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        log.error("ticket boost: computing the table failed (search goes on with the previous one, or "
                  "none): %s", self.last_error, exc_info=e)
        if self._owns_db and self._db is not None:     # reconnect next time
            try:
                self._db.close()
            finally:
                self._db = None

    def _connect(self):
        if self._db is None:
            if not self.settings.database_url and not self.settings.db_path.exists():
                return None          # no database yet: nothing to learn from, and nothing created
            from kb.core import store
            self._db = store.connect(self.settings)
        return self._db

    def close(self) -> None:
        with self._lock:
            if self._db is not None and self._owns_db:
                self._db.close()
                self._db = None


def searcher(settings: Settings, **kwargs):
    """A Searcher with the ticket-evidence boost, its versions of one article counted as one."""
    from kb.search.searcher import Searcher
    boost = kwargs.pop("boosts", None) or TicketBoost(settings)
    s = Searcher(settings, boosts=boost, **kwargs)
    boost.families = s.families
    return s


__all__ = ["TicketBoost", "evidence", "multipliers", "invalidate", "fmt_time", "searcher", "by_family"]
