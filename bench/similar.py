"""Similar tickets over a million resolved tickets: the index build (full, then after 1,000
changed tickets), query latency through the two-stage scan (the nearest cells of the projection,
kb/core/cells.py) against an exact scan of every row
in the same run (and how often both give the same top five), and the memory one server process
holds for the ticket index.

    .venv/bin/python bench/similar.py [--tickets 1000000] [--queries 200] [--work DIR] [--queries-only] [--write]

Tickets are generated as bench/build.py generates them (half English, half Chinese: a subject,
a three-sentence description, a two-sentence resolution) and imported with `kb tickets import`.
Embedding a million tickets takes most of a day on 2 cores, so the vectors are synthetic of the
real shape: the embedding cache is filled, under every ticket's real content hash, with the
vector of one of 2,000 really encoded tickets plus noise (as bench/search.py does for articles);
the build then does everything but the model calls. Queries are other tickets' subjects and
descriptions, encoded for real.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from results import load_bench, pct, report

from indexer import tickets as ticket_index
from kb.core import projection, store
from kb.core.config import Settings
from kb.core.encoders import EncoderPool
from kb.core.text import analyzer, detect_language
from kb.tickets import similar

PY = str(ROOT / ".venv" / "bin" / "python")


def rows_of(db):
    return db.execute("SELECT id, subject, description, resolution FROM tickets "
                      "WHERE status IN ('resolved', 'closed') ORDER BY id")


def prefill(s: Settings, pool: EncoderPool, only: list[str] | None = None, real: int = 2000) -> int:
    """Synthetic vectors for every ticket (or those ``only``) under its real content hash (see
    the docstring)."""
    db = store.connect(s)
    texts = []
    wanted = set(only) if only is not None else None
    for tid, subject, desc, res in rows_of(db):
        if wanted is None or tid in wanted:
            texts.append(ticket_index.embed_text({"subject": subject, "description": desc, "resolution": res}))
    zh = np.array([detect_language(t) == "zh" for t in texts])
    rng = np.random.default_rng(7 if only is None else 8)
    sample = rng.choice(len(texts), min(real, len(texts)), replace=False)
    for enc in pool.available():
        readable = np.ones(len(texts), bool) if enc.multilingual else ~zh
        pick = [i for i in sample if readable[i]]
        base = enc.encode([texts[i] for i in pick])
        base_zh = zh[pick]
        rows = np.flatnonzero(readable)
        for i in range(0, len(rows), 20000):
            part = rows[i:i + 20000]
            same = [np.flatnonzero(base_zh == zh[j]) for j in part]        # a ticket of its own language
            src = np.array([s_[rng.integers(len(s_))] for s_ in same])
            v = base[src] + rng.normal(0, 0.03, (len(part), base.shape[1]))
            v /= np.linalg.norm(v, axis=1, keepdims=True)
            store.save_vectors(db, enc.fingerprint, {ticket_index._hash(texts[j]): v[k].astype(np.float32)
                                                     for k, j in enumerate(part)})
    db.close()
    return len(texts)


def timed(s: Settings, pool: EncoderPool, queries: list[str]) -> tuple[float, float, dict, tuple]:
    """p50 and p95 ms, the top 5 of each query, and this process's memory after them (taken
    while the index is still loaded)."""
    finder = similar.SimilarTickets(s, pool=pool)
    for q in queries[:10]:
        finder.search(q, role="agent", limit=5)
    gc.collect()
    gc.freeze()
    took, top = [], {}
    for q in queries:
        t = time.perf_counter()
        top[q] = [h.id for h in finder.search(q, role="agent", limit=5)]
        took.append((time.perf_counter() - t) * 1000)
    gc.unfreeze()
    return pct(took, 50), pct(took, 95), top, process_memory()


def process_memory() -> tuple[float, float]:
    """(pages of mapped files, private anonymous memory) of this process in MB."""
    got = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("RssFile", "RssAnon"):
            got[key] = int(rest.split()[0]) / 1024
    return got["RssFile"], got["RssAnon"]


def query_part(s: Settings, work: Path, scan: str) -> None:
    """In a fresh process: time the queries through one scan; print one JSON line."""
    queries = json.loads((work / "queries.json").read_text("utf-8"))
    pool = EncoderPool.configured(s)
    pool.save_query_graphs()                  # as `kb index` leaves it in a KB_HOME
    for enc in pool.available():
        enc.encode(["warm up"])
    list(analyzer()("打印机 printer"))         # the Chinese dictionary, loaded by any search
    if scan == "exact":
        projection.EXACT_ROWS = 10 ** 12
    gc.collect()
    rss0, private0 = process_memory()
    p50, p95, top, (rss1, private1) = timed(s, pool, queries)
    print(json.dumps({"p50": p50, "p95": p95, "top": top, "rss": rss1 - rss0, "private": private1 - private0}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tickets", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--work", type=Path, help="keep the generated tickets here and reuse them next time")
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--query", choices=("two-stage", "exact"), help=argparse.SUPPRESS)
    ap.add_argument("--queries-only", action="store_true", help="measure the queries on the index built before")
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="kb-bench-similar-"))
    home = work / f"t{args.tickets}"
    s = Settings.load(env={}, home=home, articles=ROOT / "articles")
    if args.query:
        return query_part(s, work, args.query)
    pool = EncoderPool.configured(s)
    lines = []
    if not (home / "kb.sqlite").exists():
        home.mkdir(parents=True, exist_ok=True)
        csv = work / f"tickets{args.tickets}.csv"
        load_bench("build").write_tickets(csv, args.tickets)
        t = time.perf_counter()
        subprocess.run([PY, "-m", "kb.cli", "tickets", "import", str(csv)], check=True, capture_output=True,
                       env={**os.environ, "KB_HOME": str(home), "KB_ARTICLES": str(ROOT / "articles")})
        print(f"imported in {time.perf_counter() - t:.0f} s", flush=True)
        t = time.perf_counter()
        n = prefill(s, pool)
        print(f"prefilled {n:,} tickets in {time.perf_counter() - t:.0f} s", flush=True)
    if args.queries_only:           # the index and queries.json of an earlier run
        return measure(work, args.tickets, json.loads((work / "queries.json").read_text("utf-8")), lines, args.write)
    t = time.perf_counter()
    r = ticket_index.update(s, pool=pool, full=True)
    full_s = time.perf_counter() - t
    db = store.connect(s)
    ids = [row[0] for row in db.execute("SELECT id FROM tickets WHERE status = 'resolved' ORDER BY id LIMIT 1000")]
    with db.transaction():
        db.execute(f"UPDATE tickets SET resolution = resolution || ' (checked again)' "
                   f"WHERE id IN ({','.join('?' * len(ids))})", ids)
    db.close()
    prefill(s, pool, ids)               # their new texts' vectors too: the update's own work is timed
    db = store.connect(s)
    t = time.perf_counter()
    inc = ticket_index.update(s, pool=pool)
    inc_s = time.perf_counter() - t
    stages = ", ".join(f"{k} {v:.1f}s" for k, v in r.timings.items())
    lines.append(f"Index of {r.tickets:,} resolved tickets (synthetic vectors, see the docstring): full build "
                 f"{full_s / 60:.1f} min ({stages}); after {inc.changed:,} changed tickets {inc_s:.1f} s "
                 f"({', '.join(f'{k} {v:.1f}s' for k, v in inc.timings.items())}).")
    rng = np.random.default_rng(11)
    picks = set(rng.choice(r.tickets, args.queries, replace=False).tolist())
    queries = [f"{subject} {(desc or '')[:200]}" for i, (tid, subject, desc, _res) in enumerate(rows_of(db))
               if i in picks]
    db.close()
    (work / "queries.json").write_text(json.dumps(queries, ensure_ascii=False), "utf-8")
    measure(work, args.tickets, queries, lines, args.write)


def measure(work: Path, tickets: int, queries: list[str], lines: list[str], write: bool) -> None:
    got = {}
    for scan in ("two-stage", "exact"):         # each in a fresh process: its memory is the index's alone
        out = subprocess.run([PY, __file__, "--query", scan, "--tickets", str(tickets), "--work", str(work)],
                             check=True, capture_output=True, text=True).stdout
        got[scan] = json.loads(out.strip().splitlines()[-1])
    a, b = got["two-stage"], got["exact"]
    same = sum(a["top"][q] == b["top"][q] for q in queries) / len(queries)
    kept = sum(len(set(a["top"][q]) & set(b["top"][q])) / max(1, len(b["top"][q])) for q in queries) / len(queries)
    lines += ["", ("| scan | queries | p50 ms | p95 ms | same top 5 as the exact scan | share of its top 5 kept | "
                   "mapped file pages after the queries | private memory, over before loading |"),
              "|---|---|---|---|---|---|---|---|",
              (f"| two-stage (nearest cells of the projection, {similar.SHORTLIST:,} rows re-scored) | {len(queries)} | {a['p50']:.1f} | "
               f"{a['p95']:.1f} | {100 * same:.0f} % | {100 * kept:.1f} % | +{a['rss']:,.0f} MB | +{a['private']:,.0f} MB |"),
              (f"| exact, every row | {len(queries)} | {b['p50']:.1f} | {b['p95']:.1f} | — | — | +{b['rss']:,.0f} MB | "
               f"+{b['private']:,.0f} MB |"), "",
              ("Mapped file pages are those of the index's files a process read: one copy in the page cache, "
               "shared by every worker of the machine; private memory is what each worker holds of its own.")]
    report(lines, "Similar tickets at a million", f".venv/bin/python bench/similar.py --tickets {tickets}",
           "2 cores; ticket vectors synthetic of the real shape, query encoding real", write)


if __name__ == "__main__":
    main()
