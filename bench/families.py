"""Search latency with article families (one result per article, shown in the reader's
language) beside the same searches treating every version alone, in one run on one index.

A 10k-article KB is generated from the starter KB as bench/search.py does (its ten translated
pairs copied each round, so about one article in six belongs to a family of two), with vectors
of real starter chunks plus noise in the cache (no model call in the build); query encoding is
real. Each bench query runs hybrid as an agent, with families and without, alternately, on a
warm, frozen heap.

With ``--stage``, it times instead the families stage of a full build (indexer/families.py:
which articles are versions of one, and which translations are behind, from git) on the
generated KB, once reading every file's commits from one ``git log`` and once asking git per
pair (as a history with merge commits is read).

    .venv/bin/python bench/families.py [--articles 10000] [--rounds 5] [--stage] [--work DIR] [--write]
"""
from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from indexer.build import build  # noqa: E402
from kb.core.config import Settings  # noqa: E402
from kb.core.encoders import EncoderPool  # noqa: E402
from kb.search.searcher import SearchQuery, Searcher  # noqa: E402
from results import load_bench, pct, report  # noqa: E402

search = load_bench("search")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--articles", type=int, default=10000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--work", type=Path, default=None)
    ap.add_argument("--stage", action="store_true", help="time the families stage of a build instead")
    ap.add_argument("--write", action="store_true", help="store the table in bench/RESULTS.md")
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="kb-bench-families-"))
    arts = work / f"a{args.articles}"
    if args.stage:
        return build_stage(args, work, arts)
    s = Settings.load(env={}, home=work / f"h{args.articles}", articles=arts)
    pool = EncoderPool(("minilm", "use3"))
    if not (s.index_root / "CURRENT").exists():
        search.generate(ROOT / "articles", arts, args.articles, seed=5)
        real = {e.name: e.encode([c.text for a in search.articles_of(ROOT / "articles")
                                  for c in search.chunk_article(a)]) for e in pool.available()}
        search.prefill(s, arts, real, pool)
        build(s, full=True, pool=pool)
    searcher = Searcher(s, pool=pool)
    fam = searcher.families()
    grouped = sum(len(v) for v in fam.groups.values())
    for q in search.QUERIES:
        for families in (True, False):
            searcher.search(SearchQuery(q, role="agent", families=families))
    gc.collect()
    gc.freeze()
    took = {True: [], False: []}
    stage = {True: [], False: []}
    shown = {True: 0, False: 0}
    for _ in range(args.rounds):
        for q in search.QUERIES:
            for families in (True, False):
                searcher._qcache.clear()
                t = time.perf_counter()
                res = searcher.search(SearchQuery(q, role="agent", families=families))
                took[families].append((time.perf_counter() - t) * 1000)
                stage[families].append(res.timings.get("families_ms", 0.0))
                shown[families] += len({fam.family(h.id) for h in res.results})
    gc.unfreeze()
    n = len(search.QUERIES) * args.rounds
    lines = [f"{args.articles:,} articles, {len(fam.groups):,} families holding {grouped:,} of them; "
             f"{len(search.QUERIES)} queries × {args.rounds} rounds, hybrid, agent, alternating:", "",
             "| one result per article | p50 ms | p95 ms | grouping p95 ms | distinct articles in a top 10 |",
             "|---|---|---|---|---|"]
    for families in (True, False):
        lines.append(f"| {'yes (families)' if families else 'no (every version alone)'} | {pct(took[families], 50):.1f} | "
                     f"{pct(took[families], 95):.1f} | {pct(stage[families], 95):.2f} | {shown[families] / n:.1f} |")
    lines += ["", f"With / without families, same run: p95 **{pct(took[True], 95) / pct(took[False], 95):.2f}×**; "
              f"a top 10 holds {shown[True] / n:.1f} distinct articles instead of {shown[False] / n:.1f}."]
    report(lines, "Article families", f"python bench/families.py --articles {args.articles} --rounds {args.rounds}",
           "generated KB with vectors of real starter chunks plus noise, real query encoding, one process",
           args.write)


def build_stage(args, work: Path, arts: Path) -> None:
    from indexer import families as family_files
    from kb.core import translations
    from kb.core.articles import parse_article
    from kb.core.repo import ArticleRepo
    if not arts.exists():
        search.generate(ROOT / "articles", arts, args.articles, seed=5)
    repo = ArticleRepo(arts)
    parsed = {p.name: parse_article(p.name, p.read_bytes()) for p in sorted(arts.glob("*.md"))}
    ids = {rel: a.id for rel, a in parsed.items()}
    gen = SimpleNamespace(path=work / "gen")        # all the stage reads of a generation
    gen.path.mkdir(exist_ok=True)
    took = {}
    t = time.perf_counter()
    table = family_files.build(gen, None, repo, ids, parsed)
    took["one git log (the build's way)"] = time.perf_counter() - t
    path = {i: v[0] + ".md" for i, v in table["versions"].items()}
    pairs = [(path[key], path[tid]) for key, group in table["groups"].items() for tid in group[1:]]
    t = time.perf_counter()
    with translations.Translations(repo) as per_pair:
        per_pair.linear = False
        asked = [per_pair.behind(src, tr) for src, tr in pairs]
    took["git per pair (as with merge commits)"] = time.perf_counter() - t
    assert sum(b is not None for b in asked) == len(table["behind"])
    lines = [f"Families stage of a full build, {args.articles:,} articles, {len(table['groups']):,} families, "
             f"{len(table['behind'])} behind, {len(pairs):,} pairs, one commit:", "",
             "| reading the history | seconds |", "|---|---|"]
    lines += [f"| {way} | {sec:.2f} |" for way, sec in took.items()]
    one, each = took.values()
    lines += ["", f"Stage / the same pairs asked per pair, same run: **{one / each:.2f}×**."]
    report(lines, f"Families stage at {args.articles:,} articles",
           f"python bench/families.py --stage --articles {args.articles}", "generated KB in one commit, one process",
           args.write)


if __name__ == "__main__":
    main()
