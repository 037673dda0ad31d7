"""KCS and support figures for a period, read straight from SQLite (tickets, links, feedback,
search_log, contributions). Every figure is defined here once; the monthly report and the web
UI show these numbers and nothing else.

Definitions (a period is [start, end) in UTC):

- resolved tickets: status resolved/closed with ``resolved_at`` in the period. MTTR, FCR, CSAT,
  link rate and reuse are over these. "With article" = the ticket has any link to an article.
- link rate = resolved tickets with a link / resolved tickets.
- reuse rate = links to existing articles (``resolved_by``, ``referenced``) / all links, over the
  links of the resolved tickets; ``created_from`` links are articles created from tickets.
- articles created from tickets = distinct articles with a ``created_from`` link made in the
  period; time to publish = hours from the ticket's creation to the article's publication
  (the contribution's ``merged_at`` when one is recorded, else the ``created_from`` link time).
- participation = share of the agents who resolved tickets in the period that also linked an
  article or submitted a contribution in it.
- MTTR = mean hours from ``created_at`` to ``resolved_at``; FCR rate = first-contact resolved /
  resolved tickets whose FCR is known; CSAT = mean of the scores given (1–5) and their counts.
- first response met, by channel: tickets created in the period whose first response came
  within the channel's target. A ticket not answered yet counts as missed once its target has
  passed and is left out before that.

Rates are rounded to 4 decimals and hours to 2; a figure with nothing to count is None.
"""
from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass

from kb.core.db import Database

from kb.core.errors import ConfigError
from kb.tickets.model import CHANNELS, parse_iso

REUSE_KINDS = ("resolved_by", "referenced")
RARE_LINK_RATE = 0.5          # a product "rarely links" below this link rate …
RARE_LINK_MIN_TICKETS = 3     # … with at least this many resolved tickets
HELPFUL_MIN_VOTES = 5
HELPFUL_DROP = 0.2            # helpfulness "falls" by at least 20 points, and significantly
Z_TEST = 1.96                 # one-sided 2.5 % level for the tests below: few false alarms
TOP = 20


@dataclass(frozen=True)
class Period:
    start: dt.datetime
    end: dt.datetime

    @property
    def lo(self) -> str:          # zone-less bounds compare right against "…Z" and "…+00:00" times
        return self.start.strftime("%Y-%m-%dT%H:%M:%S")

    @property
    def hi(self) -> str:
        return self.end.strftime("%Y-%m-%dT%H:%M:%S")

    @property
    def label(self) -> str:
        return self.start.strftime("%Y-%m")

    def previous(self, months: int = 1) -> "Period":
        y, m = self.start.year, self.start.month - months
        while m < 1:
            y, m = y - 1, m + 12
        return month_period(f"{y:04d}-{m:02d}")


def month_period(month: str) -> Period:
    try:
        start = dt.datetime.strptime(str(month).strip(), "%Y-%m").replace(tzinfo=dt.timezone.utc)
    except ValueError:
        raise ConfigError(f"--month: {month!r} is not a month (use YYYY-MM, e.g. 2026-03)") from None
    end = start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)
    return Period(start, end)


def _rate(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def _hours(seconds: list[float], how=statistics.fmean) -> float | None:
    return round(how(seconds) / 3600, 2) if seconds else None


def _secs(a: str | None, b: str | None) -> float | None:
    if not a or not b:
        return None
    return (parse_iso(b) - parse_iso(a)).total_seconds()


_TICKET_COLS = ("id, channel, priority, product, agent, status, created_at, first_response_at, resolved_at, "
                "csat, fcr, reopened, EXISTS (SELECT 1 FROM links l WHERE l.ticket_id = t.id) AS linked")


def _rows(db: Database, sql: str, params: list) -> list[dict]:
    cur = db.execute(sql, params)
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


def resolved_tickets(db: Database, p: Period) -> list[dict]:
    return _rows(db, f"SELECT {_TICKET_COLS} FROM tickets t WHERE (t.status || '') IN ('resolved', 'closed') "
                     "AND t.resolved_at >= ? AND t.resolved_at < ?", [p.lo, p.hi])


def created_tickets(db: Database, p: Period) -> list[dict]:
    return _rows(db, f"SELECT {_TICKET_COLS} FROM tickets t WHERE t.created_at >= ? AND t.created_at < ?",
                 [p.lo, p.hi])


# --- support figures -----------------------------------------------------------------------

def first_response(created: list[dict], targets: dict[str, float], now: dt.datetime) -> dict:
    out = {}
    for ch in CHANNELS:
        target = float(targets[ch])
        n = met = 0
        for t in created:
            if t["channel"] != ch:
                continue
            waited = _secs(t["created_at"], t["first_response_at"])
            if waited is None:
                if (now - parse_iso(t["created_at"])).total_seconds() <= target:
                    continue          # not answered yet, still within target: not counted
                n += 1
                continue
            n += 1
            met += waited <= target
        out[ch] = {"target_seconds": target, "tickets": n, "met": met, "rate": _rate(met, n)}
    return out


def support(resolved: list[dict], created: list[dict], targets: dict[str, float], now: dt.datetime) -> dict:
    """MTTR, FCR, CSAT and first response for one group of tickets."""
    durations = [s for s in (_secs(t["created_at"], t["resolved_at"]) for t in resolved) if s is not None]
    fcr_known = [t["fcr"] for t in resolved if t["fcr"] is not None]
    scores = [int(t["csat"]) for t in resolved if t["csat"] is not None]
    dist = Counter(scores)
    return {
        "tickets": len(resolved),
        "mttr_hours": _hours(durations),
        "mttr_median_hours": _hours(durations, statistics.median),
        "fcr_rate": _rate(sum(1 for f in fcr_known if f), len(fcr_known)),
        "csat_avg": round(statistics.fmean(scores), 2) if scores else None,
        "csat_responses": len(scores),
        "csat_distribution": {str(k): dist.get(k, 0) for k in range(1, 6)},
        "first_response_met": first_response(created, targets, now),
    }


# --- KCS figures ---------------------------------------------------------------------------

def link_rate(resolved: list[dict]) -> float | None:
    return _rate(sum(1 for t in resolved if t["linked"]), len(resolved))


def kcs(db: Database, p: Period, resolved: list[dict]) -> dict:
    ids = [t["id"] for t in resolved]
    kinds: Counter = Counter()
    for i in range(0, len(ids), 500):
        part = ids[i:i + 500]
        for kind, n in db.execute(
                f"SELECT kind, count(*) FROM links WHERE ticket_id IN ({','.join('?' * len(part))}) "
                "GROUP BY kind", part):
            kinds[kind] += n
    reused = sum(kinds[k] for k in REUSE_KINDS)
    created_links = _rows(db, """
        SELECT l.article_id, l.ticket_id, l.created_at AS linked_at, t.created_at AS ticket_created_at,
               (SELECT min(c.merged_at) FROM contributions c WHERE c.ticket_id = l.ticket_id
                  AND c.article_id = l.article_id AND c.merged_at IS NOT NULL) AS merged_at
        FROM links l JOIN tickets t ON t.id = l.ticket_id
        WHERE l.kind = 'created_from' AND l.created_at >= ? AND l.created_at < ?
        ORDER BY l.created_at, l.id""", [p.lo, p.hi])
    first: dict[str, dict] = {}
    for row in created_links:
        first.setdefault(row["article_id"], row)
    publish = []
    for row in first.values():
        published = (row["merged_at"] or row["linked_at"])[:19] + "Z"
        s = _secs(row["ticket_created_at"], published)
        if s is not None and s >= 0:
            publish.append(s)
    active = {t["agent"] for t in resolved if t["agent"]}
    linkers = {r[0] for r in db.execute(
        "SELECT DISTINCT created_by FROM links WHERE created_at >= ? AND created_at < ? AND created_by IS NOT NULL",
        [p.lo, p.hi])}
    authors = {r[0] for r in db.execute(
        "SELECT DISTINCT author FROM contributions WHERE created_at >= ? AND created_at < ? AND author IS NOT NULL",
        [p.lo, p.hi])}
    participants = active & (linkers | authors)
    return {
        "link_rate": link_rate(resolved),
        "reuse_rate": _rate(reused, reused + kinds["created_from"]),
        "links": {"resolved_by": kinds["resolved_by"], "referenced": kinds["referenced"],
                  "created_from": kinds["created_from"]},
        "articles_created_from_tickets": len(first),
        "created_articles": [{"article_id": a, "ticket_id": r["ticket_id"], "linked_at": r["linked_at"]}
                             for a, r in first.items()],
        "time_to_publish": {"articles": len(publish), "avg_hours": _hours(publish),
                            "median_hours": _hours(publish, statistics.median)},
        "participation": {"agents": len(active), "participating": len(participants),
                          "rate": _rate(len(participants), len(active)),
                          "not_participating": sorted(active - participants)},
    }


# --- gaps ----------------------------------------------------------------------------------

def _queries(db: Database, p: Period, where: str, limit: int) -> list[dict]:
    counts: Counter = Counter()
    last: dict[str, str] = {}
    roles: dict[str, set] = defaultdict(set)
    for query, role, created in db.execute(
            f"SELECT query, role, created_at FROM search_log WHERE created_at >= ? AND created_at < ? AND {where}",
            [p.lo, p.hi]):
        key = " ".join(str(query or "").lower().split())
        if not key:
            continue
        counts[key] += 1
        last[key] = max(last.get(key, ""), created or "")
        roles[key].add(role or "-")
    top = sorted(counts, key=lambda k: (-counts[k], k))[:limit]
    return [{"query": k, "count": counts[k], "last_seen": last[k], "roles": sorted(roles[k])} for k in top]


def zero_result_queries(db: Database, p: Period, limit: int = TOP) -> list[dict]:
    return _queries(db, p, "results = 0", limit)


def no_click_queries(db: Database, p: Period, limit: int = TOP) -> list[dict]:
    return _queries(db, p, "results > 0 AND clicked IS NULL", limit)


def products_rarely_linked(resolved: list[dict]) -> list[dict]:
    by: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for t in resolved:
        b = by[t["product"] or "(none)"]
        b[0] += 1
        b[1] += bool(t["linked"])
    out = [{"product": k, "resolved": n, "linked": l, "link_rate": _rate(l, n)} for k, (n, l) in by.items()
           if n >= RARE_LINK_MIN_TICKETS and l / n < RARE_LINK_RATE]
    return sorted(out, key=lambda r: (r["link_rate"], -r["resolved"], r["product"]))


def helpfulness(db: Database, lo: str, hi: str) -> dict[str, tuple[int, int]]:
    """Article → (helpful votes, all votes) in [lo, hi)."""
    return {a: (int(h or 0), n) for a, h, n in db.execute(
        "SELECT article_id, sum(helpful), count(*) FROM feedback WHERE created_at >= ? AND created_at < ? "
        "GROUP BY article_id", [lo, hi])}


def helpfulness_fell(h: int, n: int, hb: int, nb: int) -> bool:
    """Whether h/n helpful is at least HELPFUL_DROP below hb/nb, with HELPFUL_MIN_VOTES votes in
    each and a one-sided two-proportion z-test at 2.5 % (few votes swing a share a lot)."""
    if n < HELPFUL_MIN_VOTES or nb < HELPFUL_MIN_VOTES or h / n > hb / nb - HELPFUL_DROP:
        return False
    pooled = (h + hb) / (n + nb)
    se = (pooled * (1 - pooled) * (1 / n + 1 / nb)) ** 0.5
    return se > 0 and (hb / nb - h / n) / se >= Z_TEST


def shifted_up(now: list[float], before: list[float]) -> bool:
    """One-sided Mann–Whitney test at 2.5 %: are the values in ``now`` larger than in ``before``?"""
    n1, n2 = len(now), len(before)
    if not n1 or not n2:
        return False
    ranked = sorted([(v, 0) for v in now] + [(v, 1) for v in before])
    ranks = [0.0] * len(ranked)
    i = 0
    while i < len(ranked):
        j = i
        while j + 1 < len(ranked) and ranked[j + 1][0] == ranked[i][0]:
            j += 1
        for k in range(i, j + 1):
            ranks[k] = (i + j) / 2 + 1
        i = j + 1
    u = sum(r for r, (_, g) in zip(ranks, ranked) if g == 0) - n1 * (n1 + 1) / 2
    sd = (n1 * n2 * (n1 + n2 + 1) / 12) ** 0.5
    return sd > 0 and (u - n1 * n2 / 2) / sd >= Z_TEST


def by_family(counts: dict[str, tuple[int, int]], family_of) -> dict[str, tuple[int, int]]:
    """(helpful, votes) per article added up per article family (``family_of``: id → family key)."""
    if family_of is None:
        return counts
    out: dict[str, tuple[int, int]] = {}
    for a, (h, n) in counts.items():
        key = family_of(a)
        oh, on = out.get(key, (0, 0))
        out[key] = (oh + h, on + n)
    return out


def falling_helpfulness(db: Database, p: Period, family_of=None) -> list[dict]:
    """Articles whose "helpful" share in the period fell against the three months before it
    (see ``helpfulness_fell``); with ``family_of``, the versions of an article count as one."""
    now = by_family(helpfulness(db, p.lo, p.hi), family_of)
    before = by_family(helpfulness(db, p.previous(3).lo, p.lo), family_of)
    out = []
    for a, (h, n) in now.items():
        hb, nb = before.get(a, (0, 0))
        if helpfulness_fell(h, n, hb, nb):
            out.append({"article_id": a, "helpful_rate": _rate(h, n), "votes": n,
                        "helpful_rate_before": _rate(hb, nb), "votes_before": nb})
    return sorted(out, key=lambda r: (r["helpful_rate"] - r["helpful_rate_before"], r["article_id"]))


# --- charts' series ------------------------------------------------------------------------

def tickets_per_week(created: list[dict], p: Period) -> list[dict]:
    """Tickets created per ISO week (Monday first) inside the period, by channel."""
    weeks: dict[str, dict] = {}
    day = p.start.date()
    while day < p.end.date():
        monday = day - dt.timedelta(days=day.weekday())
        key = monday.isoformat()
        weeks.setdefault(key, {"week": f"W{monday.isocalendar()[1]:02d}", "starts": max(monday, p.start.date())
                               .isoformat(), **{c: 0 for c in CHANNELS}})
        day += dt.timedelta(days=1)
    for t in created:
        d = parse_iso(t["created_at"]).date()
        key = (d - dt.timedelta(days=d.weekday())).isoformat()
        if key in weeks and t["channel"] in CHANNELS:
            weeks[key][t["channel"]] += 1
    return list(weeks.values())


def link_rate_trend(db: Database, p: Period, months: int = 6) -> list[dict]:
    out = []
    for back in range(months - 1, -1, -1):
        q = p.previous(back) if back else p
        n, linked = db.execute(
            "SELECT count(*), coalesce(sum(CASE WHEN EXISTS (SELECT 1 FROM links l WHERE l.ticket_id = t.id) THEN 1 ELSE 0 END), 0) "
            "FROM tickets t WHERE (t.status || '') IN ('resolved', 'closed') AND t.resolved_at >= ? AND t.resolved_at < ?",
            [q.lo, q.hi]).fetchone()
        out.append({"month": q.label, "resolved": n, "link_rate": _rate(linked, n)})
    return out
