"""`kb eval`: measure search quality on a labelled set, the same way the reference scorer does.

A dataset folder holds ``corpus.jsonl`` ({id, title, text}), ``queries.jsonl`` ({id, text}) and
``qrels.tsv`` (query-id, doc-id, relevance; header line). The corpus becomes a throwaway
articles folder of real Markdown files, indexed through the normal article → index path in a
temporary KB_HOME; every query is run; nDCG@10, MRR@10, Recall@10 and Recall@100 are computed
(ties ordered as trec_eval does) and a TREC run file can be written with byte-exact doc ids.

Other label sources (ticket links) plug in as another ``Labels`` producer.
"""
from __future__ import annotations

import hashlib
import json
import math
import re
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import yaml

from kb.config import Settings
from kb.errors import ConfigError

DEPTH = 100


@dataclass
class Labels:
    queries: dict[str, str]                  # query id → text
    qrels: dict[str, dict[str, int]]         # query id → doc id → relevance


def _jsonl(path: Path) -> list[dict]:
    out = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise ConfigError(f"{path}:{n}: not valid JSON ({e.msg})") from None
            if not isinstance(obj, dict) or "id" not in obj:
                raise ConfigError(f"{path}:{n}: expected an object with an \"id\"")
            out.append(obj)
    return out


def load_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = defaultdict(dict)
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f):
            parts = line.split()
            if not parts:
                continue
            if len(parts) == 4:
                qid, _, did, rel = parts
            elif len(parts) == 3:
                qid, did, rel = parts
            else:
                raise ConfigError(f"{path}:{n + 1}: expected 3 or 4 columns")
            try:
                r = int(float(rel))
            except ValueError:
                if n == 0:
                    continue
                raise ConfigError(f"{path}:{n + 1}: relevance {rel!r} is not a number") from None
            qrels[qid][did] = max(r, qrels[qid].get(did, r))
    return dict(qrels)


def load_dataset(folder: Path) -> tuple[list[dict], Labels, dict]:
    folder = Path(folder)
    for name in ("corpus.jsonl", "queries.jsonl", "qrels.tsv"):
        if not (folder / name).exists():
            raise ConfigError(f"--dataset: {folder / name} does not exist")
    meta = json.loads((folder / "meta.json").read_text("utf-8")) if (folder / "meta.json").exists() else {}
    corpus = _jsonl(folder / "corpus.jsonl")
    queries = {str(q["id"]): str(q.get("text", "")) for q in _jsonl(folder / "queries.jsonl")}
    return corpus, Labels(queries, load_qrels(folder / "qrels.tsv")), meta


def write_corpus(corpus: list[dict], dest: Path, language: str | None) -> None:
    """Each corpus document becomes a Markdown article with its exact id in the front matter."""
    dest.mkdir(parents=True, exist_ok=True)
    for doc in corpus:
        doc_id = str(doc["id"])
        stem = re.sub(r"[^a-z0-9]+", "-", doc_id.lower()).strip("-")[:60] or "doc"
        name = f"{stem}-{hashlib.sha1(doc_id.encode()).hexdigest()[:8]}.md"
        fm = {"id": doc_id, "title": str(doc.get("title") or doc_id), "visibility": "public",
              "status": "published"}
        if language in ("en", "zh"):
            fm["language"] = language
        text = str(doc.get("text", ""))
        (dest / name).write_text("---\n" + yaml.safe_dump(fm, allow_unicode=True) + "---\n" + text + "\n",
                                 "utf-8")


def ranked(run_rows: list[tuple[str, float]]) -> list[str]:
    """trec_eval order: score descending, ties by doc id descending; a doc counts once."""
    rows = sorted(run_rows, key=lambda x: x[0], reverse=True)
    rows.sort(key=lambda x: -x[1])
    seen, out = set(), []
    for d, _ in rows:
        if d not in seen:
            seen.add(d)
            out.append(d)
    return out


def metrics(run: dict[str, list[tuple[str, float]]], qrels: dict[str, dict[str, int]]) -> dict[str, float]:
    totals = defaultdict(float)
    n = 0
    for qid, judged in qrels.items():
        rel = {d: r for d, r in judged.items() if r > 0}
        if not rel:
            continue
        n += 1
        order = ranked(run.get(qid, []))
        dcg = sum(rel.get(d, 0) / math.log2(i + 2) for i, d in enumerate(order[:10]))
        ideal = sorted(rel.values(), reverse=True)[:10]
        idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
        totals["ndcg@10"] += dcg / idcg if idcg else 0.0
        totals["mrr@10"] += next((1.0 / (i + 1) for i, d in enumerate(order[:10]) if d in rel), 0.0)
        for k in (10, 100):
            totals[f"recall@{k}"] += len(set(order[:k]) & set(rel)) / len(rel)
    return {k: (totals[k] / n if n else 0.0) for k in ("ndcg@10", "mrr@10", "recall@10", "recall@100")}


def run_queries(searcher, labels: Labels, mode: str) -> dict[str, list[tuple[str, float]]]:
    from kb.search import SearchQuery
    run = {}
    if mode != "keyword":
        searcher.warm_queries([t for q, t in labels.queries.items() if q in labels.qrels])
    for qid, text in labels.queries.items():
        if qid not in labels.qrels or not text.strip():
            continue
        res = searcher.search(SearchQuery(text=text, limit=DEPTH, role="admin", mode=mode, detail=False))
        run[qid] = [(h.id, h.score) for h in res.results]
    return run


def write_run(run: dict[str, list[tuple[str, float]]], path: Path, tag: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for qid, rows in run.items():
            best: dict[str, float] = {}
            for d, score in rows:
                best[d] = max(score, best.get(d, score))
            for rank, d in enumerate(ranked(list(best.items())), 1):
                f.write(f"{qid} Q0 {d} {rank} {best[d]!r} {tag}\n")


def prepare(dataset: Path, settings: Settings, home: Path | None = None, progress=None):
    """Build a throwaway KB for ``dataset``; returns (settings for it, labels, build report)."""
    from indexer.build import build
    corpus, labels, meta = load_dataset(dataset)
    home = Path(home) if home else Path(tempfile.mkdtemp(prefix="kb-eval-"))
    articles = home / "articles"
    write_corpus(corpus, articles, meta.get("language"))
    s = settings.replace(home=home / "state", articles=articles)
    report = build(s, progress=progress)
    return s, labels, report


# --- ticket labels: the KB's own history ----------------------------------------------------

def ticket_labels(db, *, since: str | None = None, until: str | None = None) -> Labels:
    """Resolved tickets with ``resolved_by`` links, resolved in [since, until): the ticket's
    subject + description is the query, its ``resolved_by`` articles are the relevant set."""
    from kb.tickets import ticket_query
    where, params = ["l.kind = 'resolved_by'", "+t.status IN ('resolved', 'closed')"], []
    if since:
        where.append("t.resolved_at >= ?")
        params.append(since)
    if until:
        where.append("t.resolved_at < ?")
        params.append(until)
    queries: dict[str, str] = {}
    qrels: dict[str, dict[str, int]] = defaultdict(dict)
    for tid, subject, description, article in db.conn.execute(
            "SELECT t.id, t.subject, t.description, l.article_id FROM tickets t JOIN links l ON l.ticket_id = t.id "
            f"WHERE {' AND '.join(where)} ORDER BY t.resolved_at, t.id", params):
        queries[tid] = ticket_query({"subject": subject, "description": description})
        qrels[tid][article] = 1
    return Labels(queries, dict(qrels))


def ticket_cutoff(db, share: float = 0.75) -> str:
    """The resolution time before which ``share`` of the labelled tickets were resolved."""
    times = [r[0] for r in db.conn.execute(
        "SELECT DISTINCT t.resolved_at FROM tickets t JOIN links l ON l.ticket_id = t.id "
        "WHERE l.kind = 'resolved_by' AND +t.status IN ('resolved', 'closed') AND t.resolved_at IS NOT NULL "
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
    import sqlite3

    import sqlite_utils

    from kb.search import Searcher
    from kb.ticket_model import parse_time
    from kb.ticket_rank import TicketBoost
    if not settings.db_path.exists():
        raise ConfigError(f"--tickets: no database in {settings.home} (import tickets first)")
    db = sqlite_utils.Database(sqlite3.connect(f"file:{settings.db_path}?mode=ro", uri=True,
                                               check_same_thread=False))
    try:
        cut = parse_time(cutoff, "--cutoff") if cutoff else ticket_cutoff(db)
        labels = ticket_labels(db, since=cut)
        if not labels.qrels:
            raise ConfigError(f"--cutoff: no labelled ticket was resolved after {cut}")
        learned = db.conn.execute(
            "SELECT count(DISTINCT t.id) FROM tickets t JOIN links l ON l.ticket_id = t.id WHERE "
            "l.kind = 'resolved_by' AND t.resolved_at < ?", [cut]).fetchone()[0]
        when = dt.datetime.strptime(cut, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
        plain = Searcher(settings)
        boost = TicketBoost(settings, now=when, until=when, db=db)
        boosted = Searcher(settings, pool=plain.pool, boosts=boost)
        out: dict = {"cutoff": cut, "learned_from": learned, "evaluated": len(labels.qrels),
                     "boosted_articles": len(boost.table()), "modes": {}}
        for m in modes:
            out["modes"][m] = {"no_boost": metrics(run_queries(plain, labels, m), labels.qrels),
                               "boost": metrics(run_queries(boosted, labels, m), labels.qrels)}
        return out
    finally:
        db.conn.close()
