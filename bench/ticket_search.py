"""Does a big ticket history slow article search down? One run, same process, same queries:
article search latency (hybrid, real encoders, ticket boost on, role agent — as the console
runs it) on the starter KB before tickets exist, after importing 100,000 generated tickets
(bench/tickets.py's generator) into a copy of the same state folder, and after building the
similar-ticket index over them; then both folders again, taking turns query by query, since the
machine is shared and load from elsewhere shifts sequential figures; plus
the time that index build takes and the latency of a similar-ticket query at that size.
`--write` records the figures in bench/RESULTS.md under "## Tickets and article search".

    .venv/bin/python bench/ticket_search.py [--rows 100000] [--rounds 5] [--keyword-only] [--write]

The similar-ticket index is built keyword-only here: embedding 100k tickets with the real
encoders takes tens of minutes on 2 cores (once; later runs of `kb index` take cached vectors
from SQLite and embed only new or changed tickets), and article search never reads it either way.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from indexer.build import build  # noqa: E402
from indexer import tickets as ticket_index  # noqa: E402
from kb.tickets.similar import SimilarTickets  # noqa: E402
from kb.core import store  # noqa: E402
from kb.core.config import Settings  # noqa: E402
from kb.core.encoders import EncoderPool  # noqa: E402
from kb.search.searcher import Searcher, SearchQuery  # noqa: E402
from kb.tickets.importer import import_file  # noqa: E402
from kb.tickets.boost import TicketBoost  # noqa: E402
from results import pct, report  # noqa: E402
from search import QUERIES  # noqa: E402
from tickets import generate  # noqa: E402


def _searcher(settings: Settings, pool: EncoderPool) -> Searcher:
    searcher = Searcher(settings, pool=pool, boosts=TicketBoost(settings))
    for q in QUERIES:                      # warm: index snapshot, boost table, query vectors
        searcher.search(SearchQuery(q, limit=6, role="agent"))
    return searcher


def latencies(searchers: list[Searcher], rounds: int) -> list[tuple[float, float]]:
    """p50 / p95 ms of article searches for each searcher, the searchers taking turns query by
    query, so that load from elsewhere on the machine falls on all of them alike."""
    took: list[list[float]] = [[] for _ in searchers]
    for _ in range(rounds):
        for q in QUERIES:
            for i, searcher in enumerate(searchers):
                t = time.perf_counter()
                searcher.search(SearchQuery(q, limit=6, role="agent"))
                took[i].append((time.perf_counter() - t) * 1000)
    return [(pct(x, 50), pct(x, 95)) for x in took]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=5, help="passes over the 20 queries per measurement")
    ap.add_argument("--keyword-only", action="store_true", help="article search without the encoders")
    ap.add_argument("--vector-sample", type=int, default=500,
                    help="tickets embedded with the real encoders to measure the ticket-vector rate (0: skip)")
    ap.add_argument("--write", action="store_true", help="record the figures in bench/RESULTS.md")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="kb-bench-ticket-search-"))
    try:
        encoders = () if args.keyword_only else ("minilm", "use3")
        settings = Settings.load(env={}, home=tmp / "state", articles=ROOT / "articles",
                                 semantic=not args.keyword_only, encoders=encoders)
        pool = EncoderPool(encoders)
        t = time.perf_counter()
        built = build(settings, pool=pool)
        print(f"article index: {built.articles} articles in {time.perf_counter() - t:.1f} s", file=sys.stderr)
        empty = _searcher(settings, pool)
        before = latencies([empty], args.rounds)[0]
        print(f"before: {before}", file=sys.stderr)

        # the same state folder, copied, gets the tickets; the copy without them stays beside it
        full_home = tmp / "with-tickets"
        shutil.copytree(settings.home, full_home)
        loaded = settings.replace(home=full_home)
        csv_path = tmp / "export.csv"
        generate(csv_path, args.rows)
        db = store.connect(loaded)
        imported = import_file(db, csv_path)
        boost_ms = []
        for _ in range(3):      # what the search that finds the ticket-boost table stale pays
            t = time.perf_counter()
            TicketBoost(loaded).table()
            boost_ms.append((time.perf_counter() - t) * 1000)
        after_import = latencies([_searcher(loaded, pool)], args.rounds)[0]
        print(f"after import: {after_import}", file=sys.stderr)

        ticket_settings = loaded.replace(semantic=False, encoders=())
        upd = ticket_index.update(ticket_settings, db, pool=EncoderPool(()))
        again = ticket_index.update(ticket_settings, db, pool=EncoderPool(()))
        with_tickets = _searcher(loaded, pool)
        after_index = latencies([with_tickets], args.rounds)[0]
        print(f"after ticket index: {after_index}", file=sys.stderr)
        paired_empty, paired_full = latencies([empty, with_tickets], args.rounds)
        print(f"paired: {paired_empty} {paired_full}", file=sys.stderr)

        finder = SimilarTickets(ticket_settings, pool=EncoderPool(()))
        finder.search(QUERIES[0], role="agent", db=db)
        took = []
        for _ in range(args.rounds):
            for q in QUERIES:
                t = time.perf_counter()
                finder.search(q, role="agent", db=db)
                took.append((time.perf_counter() - t) * 1000)
        db.close()

        rate = None
        if args.vector_sample and not args.keyword_only:   # the real encoders on real-sized ticket texts
            sample = settings.replace(home=tmp / "vector-sample")
            generate(tmp / "sample.csv", args.vector_sample, seed=3)
            sdb = store.connect(sample)
            import_file(sdb, tmp / "sample.csv")
            vec = ticket_index.update(sample, sdb, pool=pool)
            rate = (vec.tickets, vec.seconds, vec.embedded)
            sdb.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    mode = "keyword" if args.keyword_only else "hybrid (minilm + use3)"
    n = len(QUERIES) * args.rounds
    lines = [
        f"Article search, {mode}, ticket boost on, role agent, 61 starter articles, {n} searches per row:",
        "",
        "| tickets in the database | article search p50 ms | p95 ms |",
        "|---|---:|---:|",
        f"| none | {before[0]:.1f} | {before[1]:.1f} |",
        f"| {imported.added:,} imported ({imported.links_added:,} links) | {after_import[0]:.1f} | {after_import[1]:.1f} |",
        f"| same, plus the similar-ticket index over {upd.tickets:,} resolved tickets | {after_index[0]:.1f} | "
        f"{after_index[1]:.1f} |",
        f"| taking turns query by query: no tickets | {paired_empty[0]:.1f} | {paired_empty[1]:.1f} |",
        f"| taking turns query by query: {imported.added:,} tickets + similar-ticket index | {paired_full[0]:.1f} | "
        f"{paired_full[1]:.1f} |",
        "",
        f"**With {imported.added:,} tickets / without, taking turns: p50 {paired_full[0] / paired_empty[0]:.2f}, p95 "
        f"{paired_full[1] / paired_empty[1]:.2f}** (one after the other: p50 {after_index[0] / before[0]:.2f}, "
        f"p95 {after_index[1] / before[1]:.2f}).",
        f"- importing {imported.rows:,} rows: {imported.seconds:.1f} s",
        f"- but: recomputing the ticket-boost table (kb/tickets/boost.py) over them takes **{min(boost_ms):.0f} ms**. "
        f"A Searcher reuses the table for a minute, or until a new link appears, so once a minute (and after "
        f"each new link) one article search per process pays that on top; the rows above, measured within "
        f"the minute, do not show it",
        f"- similar-ticket index over {upd.tickets:,} tickets (keyword side): full build {upd.seconds:.1f} s, "
        f"update with nothing changed {again.seconds:.1f} s",
        f"- similar-ticket query at that size (keyword side): p50 {pct(took, 50):.1f} ms, p95 {pct(took, 95):.1f} ms",
        *([f"- ticket vectors with the real encoders ({', '.join(f'{k} {v:,}' for k, v in rate[2].items())} "
            f"embedded): {rate[0]:,} tickets indexed in {rate[1]:.1f} s, **{rate[0] / rate[1]:.0f} tickets/s**, so the "
            f"first `kb index` after importing 100k tickets spends about {100_000 / (rate[0] / rate[1]) / 60:.0f} "
            f"minutes embedding them (once: later runs take them from the SQLite cache)"] if rate else []),
        "",
        "Ticket vectors were not built for the 100k tickets in this run (see the script's docstring). The generated tickets draw "
        "their subjects from a vocabulary of 26 words, so every query term matches about a sixth of all tickets: "
        "a worst case for the similar-ticket keyword query, which the console loads as a request of its own.",
    ]
    report(lines, "Tickets and article search", "python bench/ticket_search.py --write",
           "same process, same queries, before and after the import", args.write)


if __name__ == "__main__":
    main()
