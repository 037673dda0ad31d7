"""`kb eval --tickets`: search quality on the knowledge base's own history. A resolved ticket's
subject + description is the query and its ``resolved_by`` articles are the relevant set; the
ticket boost learns from tickets resolved before a cut-off and is measured on those after it.
"""
from __future__ import annotations

from collections import defaultdict

from kb.core.config import Settings
from kb.core.errors import ConfigError
from kb.evaluation.labelled import Labels, metrics, run_queries


def ticket_labels(db, *, since: str | None = None, until: str | None = None) -> Labels:
    """Resolved tickets with ``resolved_by`` links, resolved in [since, until): the ticket's
    subject + description is the query, its ``resolved_by`` articles are the relevant set."""
    from kb.tickets.suggest import ticket_query
    where, params = ["l.kind = 'resolved_by'", "(t.status || '') IN ('resolved', 'closed')"], []
    if since:
        where.append("t.resolved_at >= ?")
        params.append(since)
    if until:
        where.append("t.resolved_at < ?")
        params.append(until)
    queries: dict[str, str] = {}
    qrels: dict[str, dict[str, int]] = defaultdict(dict)
    for tid, subject, description, article in db.execute(
            "SELECT t.id, t.subject, t.description, l.article_id FROM tickets t JOIN links l ON l.ticket_id = t.id "
            f"WHERE {' AND '.join(where)} ORDER BY t.resolved_at, t.id", params):
        queries[tid] = ticket_query({"subject": subject, "description": description})
        qrels[tid][article] = 1
    return Labels(queries, dict(qrels))


def ticket_cutoff(db, share: float = 0.75) -> str:
    """The resolution time before which ``share`` of the labelled tickets were resolved."""
    times = [r[0] for r in db.execute(
        "SELECT DISTINCT t.resolved_at FROM tickets t JOIN links l ON l.ticket_id = t.id "
        "WHERE l.kind = 'resolved_by' AND (t.status || '') IN ('resolved', 'closed') AND t.resolved_at IS NOT NULL "
        "ORDER BY t.resolved_at")]
    if len(times) < 8:
        raise ConfigError(f"--tickets: only {len(times)} resolved tickets with a resolved_by link; "
                          "at least 8 are needed to measure anything")
    return times[min(len(times) - 1, int(len(times) * share))]


def evaluate_tickets(settings: Settings, modes: list[str], cutoff: str | None = None) -> dict:
    """Search quality on the KB's own tickets with and without the ticket boost, split in time:
    the boost learns from tickets resolved before ``cutoff`` and is measured on those after it.
    Reads KB_HOME's index and database, writes nothing."""
    import datetime as dt

    from kb.core import store
    from kb.search.searcher import Searcher
    from kb.tickets.model import parse_time
    from kb.tickets.boost import TicketBoost, searcher as boosted_searcher
    if not settings.database_url and not settings.db_path.exists():
        raise ConfigError(f"--tickets: no database in {settings.home} (import tickets first)")
    db = store.connect(settings, read_only=True)
    try:
        cut = parse_time(cutoff, "--cutoff") if cutoff else ticket_cutoff(db)
        labels = ticket_labels(db, since=cut)
        if not labels.qrels:
            raise ConfigError(f"--cutoff: no labelled ticket was resolved after {cut}")
        learned = db.execute(
            "SELECT count(DISTINCT t.id) FROM tickets t JOIN links l ON l.ticket_id = t.id WHERE "
            "l.kind = 'resolved_by' AND t.resolved_at < ?", [cut]).fetchone()[0]
        when = dt.datetime.strptime(cut, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
        plain = Searcher(settings)
        boost = TicketBoost(settings, now=when, until=when, db=db)
        boosted = boosted_searcher(settings, pool=plain.pool, boosts=boost)
        out: dict = {"cutoff": cut, "learned_from": learned, "evaluated": len(labels.qrels),
                     "boosted_articles": len(boost.table()), "modes": {}}
        for m in modes:
            out["modes"][m] = {"no_boost": metrics(run_queries(plain, labels, m), labels.qrels),
                               "boost": metrics(run_queries(boosted, labels, m), labels.qrels)}
        return out
    finally:
        db.close()
