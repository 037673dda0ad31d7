"""Keyword benchmark: full index throughput and keyword query latency at 1k and 10k articles.

    .venv/bin/python bench/keyword.py [--sizes 1000,10000] [--write]

Articles are generated from the starter KB (same structure and vocabulary, shuffled); the
build is keyword-only (no encoders), queries are English and Chinese, role agent.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from indexer.build import build  # noqa: E402
from kb.core.config import Settings  # noqa: E402
from kb.search.searcher import Searcher, SearchQuery  # noqa: E402
sys.path.insert(0, str(ROOT / "bench"))
from results import load_generator, pct, report  # noqa: E402

generate = load_generator()


QUERIES = ["printer offline after new router", "vpn error 809", "outlook keeps asking for password",
           "reset forgotten password", "mailbox full", "docking station monitors", "bitlocker recovery key",
           "密码", "打印机 脱机", "忘记密码怎么办", "邮箱已满", "priter ofline", "429 too many requests"]



def run(n: int, work: Path) -> str:
    arts = work / f"a{n}"
    generate(ROOT / "articles", arts, n, seed=9)
    s = Settings.load(env={}, home=work / f"h{n}", articles=arts, semantic=False, encoders=())
    t = time.perf_counter()
    r = build(s, full=True)
    took = time.perf_counter() - t
    searcher = Searcher(s)
    for q in QUERIES:
        searcher.search(SearchQuery(q, role="agent", mode="keyword"))
    lat = []
    for _ in range(10):
        for q in QUERIES:
            t = time.perf_counter()
            searcher.search(SearchQuery(q, role="agent", mode="keyword"))
            lat.append((time.perf_counter() - t) * 1000)
    return (f"| {n:,} | {took:.1f} s | {r.articles / took:,.0f} | {pct(lat, 50):.1f} | {pct(lat, 95):.1f} |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000,10000")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="kb-bench-kw-"))
    lines = ["| articles | full build | articles/s | query p50 ms | query p95 ms |", "|---|---|---|---|---|"]
    try:
        for n in (int(x) for x in args.sizes.split(",")):
            lines.append(run(n, work))
            print(lines[-1], flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report(lines, "Keyword", ".venv/bin/python bench/keyword.py --write", "keyword-only build; 13 English/Chinese queries × 10 incl. a typo, snippets included", args.write)

if __name__ == "__main__":
    main()
