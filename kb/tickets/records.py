"""Ticket records and their article links: reading, writing (one validation for the API, the
importer and the demo loader: everything goes through ``save_rows``), and linking tickets to
the articles that resolved them. A new link tells the ranking boost (kb.tickets.boost) to
recompute.
"""
from __future__ import annotations

import re
from typing import Any, Iterable

from kb.core.db import Database

from kb.core.errors import NotFound, TicketError
from kb.core.store import transaction
from kb.tickets.model import (CHANNELS, COLUMNS, LINK_KINDS, PRIORITIES, STATUS_ALIASES, STATUSES,
                             article_ids, merge, normalise, now_iso, public, same)

__all__ = ["CHANNELS", "PRIORITIES", "STATUSES", "LINK_KINDS", "get_ticket", "list_tickets",
           "upsert_ticket", "save_ticket", "link_article", "unlink_article", "links_for_ticket",
           "links_for_article"]

_ARTICLE_ID = re.compile(r"^[^\x00-\x1f\x7f]{1,100}$")


# --- reading --------------------------------------------------------------------------------

def get_ticket(db: Database, ticket_id: str) -> dict | None:
    cur = db.execute("SELECT * FROM tickets WHERE id = ?", [str(ticket_id).strip()])
    row = cur.fetchone()
    return None if row is None else public(dict(zip([d[0] for d in cur.description], row)))


def list_tickets(db: Database, *, status: str | None = None, product: str | None = None,
                 limit: int = 50, offset: int = 0) -> list[dict]:
    """Newest first (by created_at), with ``link_count`` for each ticket."""
    where, params = [], []
    if status is not None:
        s = STATUS_ALIASES.get(str(status).strip().lower())
        if s is None:
            raise TicketError("status", f"{status!r} is not one of {', '.join(STATUSES)}")
        where.append("t.status = ?")
        params.append(s)
    if product is not None:
        where.append("t.product = ?")
        params.append(str(product).strip().lower())
    if not isinstance(limit, int) or not 1 <= limit <= 1000:
        raise TicketError("limit", f"must be a whole number from 1 to 1000, got {limit!r}")
    if not isinstance(offset, int) or offset < 0:
        raise TicketError("offset", f"must be a whole number from 0 up, got {offset!r}")
    sql = ("SELECT t.*, (SELECT count(*) FROM links l WHERE l.ticket_id = t.id) AS link_count "
           "FROM tickets t" + (" WHERE " + " AND ".join(where) if where else "")
           + " ORDER BY t.created_at DESC, t.id DESC LIMIT ? OFFSET ?")
    cur = db.execute(sql, [*params, limit, offset])
    cols = [d[0] for d in cur.description]
    return [public(dict(zip(cols, r))) for r in cur.fetchall()]


def _existing(db: Database, ids: list[str]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for i in range(0, len(ids), 500):
        part = ids[i:i + 500]
        cur = db.execute(f"SELECT * FROM tickets WHERE id IN ({','.join('?' * len(part))})", part)
        cols = [d[0] for d in cur.description]
        for r in cur.fetchall():
            out[r[0]] = dict(zip(cols, r))
    return out


# --- writing --------------------------------------------------------------------------------

_UPSERT = (f"INSERT INTO tickets ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))}) "
           f"ON CONFLICT(id) DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in COLUMNS if c != "id"))


class Prepared:
    """A validated ticket ready to store: the row, what changes, and the article links it asks for."""

    __slots__ = ("row", "change", "articles")

    def __init__(self, row: dict, change: str, articles: list[str]):
        self.row, self.change, self.articles = row, change, articles


def prepare(fields: dict[str, Any], existing: dict | None, *, source: str, now: str) -> Prepared:
    """Validate ``fields`` against the stored ``existing`` row (or None); raises TicketError."""
    if not isinstance(fields, dict):
        raise TicketError("ticket", "expected an object of ticket fields")
    given, extra = normalise(fields)
    articles = article_ids(fields.get("articles"))
    if existing is None and not given.get("id"):
        raise TicketError("id", "missing")
    row = merge(existing, given, extra, source=source, now=now)
    change = "added" if existing is None else "unchanged" if same(existing, row) else "updated"
    row["updated_at"] = existing["updated_at"] if change == "unchanged" else now
    if change == "unchanged":
        row["source"] = existing.get("source")
    return Prepared(row, change, articles)


def save_rows(db: Database, prepared: Iterable[Prepared], *, link_time: str | None = None,
              demo: bool = False) -> int:
    """Store prepared tickets and the links their ``articles`` ask for (inside the caller's
    transaction if there is one). Returns how many links were new."""
    rows, links = [], []
    for p in prepared:
        if p.change != "unchanged":
            rows.append([p.row[c] for c in COLUMNS])
        when = link_time or p.row.get("resolved_at") or p.row["created_at"]
        links += [(p.row["id"], a, "resolved_by", p.row.get("agent"), when, int(demo)) for a in p.articles]
    with transaction(db):
        if rows:
            db.executemany(_UPSERT, rows)
        added = db.executemany("INSERT INTO links (ticket_id, article_id, kind, created_by, created_at, demo) "
                               "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (ticket_id, article_id, kind) DO NOTHING",
                               links)
    if added:
        _links_changed()
    return added


def save_ticket(db: Database, fields: dict, *, source: str = "api") -> tuple[dict, str, int]:
    """Create or update one ticket: (stored ticket, "added"|"updated"|"unchanged", new links)."""
    if not isinstance(fields, dict):
        raise TicketError("ticket", "expected an object of ticket fields")
    tid = str(fields.get("id") or "").strip()
    if not tid:
        raise TicketError("id", "missing")
    with transaction(db):
        fields = resolve_ids(db, [fields])[0]
        tid = str(fields["id"]).strip()
        existing = _existing(db, [tid]).get(tid)
        now = now_iso()
        p = prepare(fields, existing, source=source, now=now)
        new_links = save_rows(db, [p], link_time=now if source == "api" else None)
    return get_ticket(db, p.row["id"]), p.change, new_links


def upsert_ticket(db: Database, fields: dict, *, source: str = "api") -> dict:
    """Create or update a ticket from ``fields`` (keys given replace stored values, also when
    empty; keys left out keep theirs). Raises TicketError naming the bad field."""
    return save_ticket(db, fields, source=source)[0]


# --- the helpdesk's ids of tickets kb opened (customers' requests from the help center) -------

HELP_CENTER = "help-center"              # the source of tickets kb opens from the request form
_REFERENCE_KEYS = ("reference", "external_id", "kb_reference")
_BRACKETED = re.compile(r"\[([A-Z][A-Z0-9]*-[A-Z0-9]{4,})\]")


def add_alias(db: Database, alias: str, ticket_id: str) -> None:
    """Remember that the helpdesk calls kb's ticket ``ticket_id`` by ``alias`` (its own id)."""
    if alias and alias != ticket_id:
        db.execute("INSERT INTO ticket_aliases (alias, ticket_id) VALUES (?, ?) ON CONFLICT (alias) DO NOTHING",
                   [alias, ticket_id])


def resolve_ids(db: Database, rows: list[dict]) -> list[dict]:
    """Rows the helpdesk sends about a ticket kb opened from a customer's request, under kb's id:
    found by the alias kb recorded when the helpdesk answered its webhook, else by kb's reference
    the row carries (a ``reference``/``external_id`` field, or ``[REQ-…]`` in the subject, as the
    mail's subject has it; recorded as an alias then). The helpdesk's id is kept as
    ``helpdesk_id``; the ticket keeps kb's channel and creation time (the customer asked on the
    web, then). Other rows come back as they are."""
    ids = [str(r.get("id") or "").strip() if isinstance(r, dict) else "" for r in rows]
    known = {a: t for a, t in _in(db, "SELECT alias, ticket_id FROM ticket_aliases WHERE alias IN ({})",
                                  [i for i in ids if i])}
    wanted = {}
    for i, r in enumerate(rows):
        if ids[i] and ids[i] not in known and isinstance(r, dict):
            refs = [str(r[k]).strip() for k in _REFERENCE_KEYS if r.get(k)]
            refs += _BRACKETED.findall(str(r.get("subject") or ""))
            wanted[i] = [x for x in refs if x != ids[i]]
    ours = {t for t, in _in(db, f"SELECT id FROM tickets WHERE (source = '{HELP_CENTER}' OR extra LIKE "
                            f"'%\"help_center\"%') AND id IN ({{}})",
                            sorted({x for refs in wanted.values() for x in refs}))}
    out = []
    for i, r in enumerate(rows):
        target = known.get(ids[i]) or next((x for x in wanted.get(i, ()) if x in ours), None)
        if target is None:
            out.append(r)
            continue
        if ids[i] not in known:
            add_alias(db, ids[i], target)
        r = {k: v for k, v in r.items() if k not in ("channel", "created_at")}
        out.append({**r, "id": target, "helpdesk_id": ids[i]})
    return out


def _in(db: Database, sql: str, values: list[str]) -> list[tuple]:
    out: list[tuple] = []
    for i in range(0, len(values), 500):
        part = values[i:i + 500]
        out += db.execute(sql.format(",".join("?" * len(part))), part).fetchall()
    return out


# --- links ----------------------------------------------------------------------------------

def _check_link(ticket_id: str, article_id: str, kind: str) -> tuple[str, str]:
    if kind not in LINK_KINDS:
        raise TicketError("kind", f"{kind!r} is not one of {', '.join(LINK_KINDS)}")
    tid = str(ticket_id or "").strip()
    if not tid:
        raise TicketError("ticket_id", "missing")
    aid = str(article_id or "").strip()
    if not aid or not _ARTICLE_ID.match(aid):
        raise TicketError("article_id", f"{article_id!r} is not an article id")
    return tid, aid


def link_article(db: Database, ticket_id: str, article_id: str, kind: str = "resolved_by",
                 by: str | None = None) -> dict:
    """Link a ticket to an article (idempotent: linking twice keeps the first link). The returned
    link has ``new`` = whether this call created it."""
    tid, aid = _check_link(ticket_id, article_id, kind)
    with transaction(db):
        if db.execute("SELECT 1 FROM tickets WHERE id = ?", [tid]).fetchone() is None:
            raise NotFound(f"no ticket {tid!r}")
        cur = db.execute("INSERT INTO links (ticket_id, article_id, kind, created_by, created_at) "
                         "VALUES (?, ?, ?, ?, ?) ON CONFLICT (ticket_id, article_id, kind) DO NOTHING",
                         [tid, aid, kind, (by or None), now_iso()])
        new = cur.rowcount == 1
        row = db.execute("SELECT id, ticket_id, article_id, kind, created_by, created_at FROM links "
                         "WHERE ticket_id = ? AND article_id = ? AND kind = ?", [tid, aid, kind]).fetchone()
    if new:
        _links_changed()
    return dict(zip(("id", "ticket_id", "article_id", "kind", "created_by", "created_at"), row), new=new)


def unlink_article(db: Database, ticket_id: str, article_id: str, kind: str | None = None) -> int:
    """Remove a link (of one kind, or all kinds); returns how many were removed."""
    tid, aid = _check_link(ticket_id, article_id, kind or "resolved_by")
    sql, params = "DELETE FROM links WHERE ticket_id = ? AND article_id = ?", [tid, aid]
    if kind:
        sql, params = sql + " AND kind = ?", params + [kind]
    n = db.execute(sql, params).rowcount
    if n:
        _links_changed()
    return n


def links_for_ticket(db: Database, ticket_id: str) -> list[dict]:
    cur = db.execute("SELECT id, ticket_id, article_id, kind, created_by, created_at FROM links "
                          "WHERE ticket_id = ? ORDER BY created_at, id", [str(ticket_id)])
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


def links_for_article(db: Database, article_ids: str | list[str], limit: int = 200) -> list[dict]:
    """Tickets linked to an article (or to any version of one), most recently resolved (or
    created) first."""
    ids = [article_ids] if isinstance(article_ids, str) else list(article_ids)
    cur = db.execute(
        "SELECT l.id, l.ticket_id, l.article_id, l.kind, l.created_by, l.created_at, t.subject, t.status, "
        "t.resolved_at, t.created_at AS ticket_created_at, t.channel, t.priority, t.product, t.reopened "
        f"FROM links l JOIN tickets t ON t.id = l.ticket_id WHERE l.article_id IN ({', '.join('?' * len(ids))}) "
        "ORDER BY coalesce(t.resolved_at, t.created_at) DESC, l.id DESC LIMIT ?", [*map(str, ids), limit])
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


def _links_changed() -> None:
    from kb.tickets import boost
    boost.invalidate()
