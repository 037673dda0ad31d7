"""One edit at 100k articles, before and after a revision, in one run: an article is edited and
committed, then `kb index` runs with each code on its own home of the same articles, turn about;
English and Chinese articles alternate (a Chinese one loads jieba's dictionary). Then searches
on the two homes' generations, turn about in one process with this checkout's code: the after
home's generation shares its rows with earlier ones (kb/core/matrix.py, indexer/shared.py), the
before home's is written whole. Last, the after home's keyword scores (shared impacts weighted
with the statistics of their last whole write, and a delta) against the same articles' impacts
written whole.

    .venv/bin/python bench/edit.py --before-code DIR --work DIR [--rounds 4] [--skip index,latency,scores]

``--work`` holds ``a100000`` (the generated articles, a git repository, bench/scale.py) and two
index homes of them, ``before100000`` and ``after100000``, at the same commit; ``--before-code``
is a checkout of the earlier revision. The homes must start from generations both codes read
whole (a full build, or a copy of one made with ``cp -al`` and its own database files).
"""
from __future__ import annotations

import argparse
import gc
import json
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from results import load_bench, pct, report

scale = load_bench("scale")


def _language(path: Path) -> str:
    m = re.search(r"^language:\s*(\S+)", path.read_text("utf-8"), re.M)
    return m.group(1) if m else "en"


def edits(codes: dict[str, Path], work: Path, rounds: int) -> list[str]:
    arts = work / "a100000"
    files = sorted(arts.glob("*.md"))
    for label, code in codes.items():       # both homes at the articles' HEAD first
        scale.kb(code, work / f"{label}100000", arts, "index")
    warm = files[59_000]                     # and one edit each, not counted: a code's first build
    warm.write_text(warm.read_text("utf-8").replace("## ", "## Warm-up: ", 1), "utf-8")   # on the other's
    scale.commit(arts, "Warm-up edit")                                                    # files redoes work
    for label, code in codes.items():
        scale.kb(code, work / f"{label}100000", arts, "index")
    rows = ["| round | article | code | `kb index` wall time | the build's stages |", "|---|---|---|---|---|"]
    took: dict[str, list[float]] = {label: [] for label in codes}
    at = 60_000
    for r in range(rounds):
        want = "en" if r % 2 == 0 else "zh"
        while _language(files[at]) != want:
            at += 1
        victim = files[at]
        at += 97
        victim.write_text(victim.read_text("utf-8").replace("## ", f"## Round {r}: ", 1), "utf-8")
        scale.commit(arts, f"Edit round {r}")
        order = list(codes.items()) if r % 2 == 0 else list(codes.items())[::-1]
        for label, code in order:
            wall, out = scale.kb(code, work / f"{label}100000", arts, "index")
            line = next((x for x in out.splitlines() if x.startswith("indexed") and " articles " in x), "")
            stages = line[line.find("in ", line.find("chunks")):] if line else ""
            took[label].append(wall)
            rows.append(f"| {r + 1} | {victim.name} ({want}) | {label} | {wall:.2f} s | {stages} |")
            print(rows[-1], flush=True)
    noop = {label: statistics.median(scale.kb(code, work / f"{label}100000", arts, "index")[0] for _ in range(3))
            for label, code in codes.items()}
    b, a = statistics.median(took["before"]), statistics.median(took["after"])
    return rows + ["", f"Median of the {rounds} edits: before {b:.2f} s, after {a:.2f} s (after / before {a / b:.2f}); "
                       f"nothing changed (median of 3): before {noop['before']:.2f} s, after {noop['after']:.2f} s."]


def latency(work: Path) -> list[str]:
    """Hybrid searches on both homes' live generations, pinned, turn about, in this process."""
    from kb.core.config import Settings
    from kb.core.generation import IndexStore
    from kb.search.searcher import Searcher, SearchQuery
    from kb.search.snapshot import Snapshot
    arts = work / "a100000"
    searchers = {}
    for label in ("before", "after"):
        home = work / f"{label}100000"
        s = Searcher(Settings.load(env={}, home=home, articles=arts))
        snap = Snapshot.load(IndexStore(home / "index").require_current())
        s.warm(snap)
        s.snapshot = (lambda snap=snap: snap)
        kind = type(snap.vectors.get("use3")).__name__
        searchers[f"{label} home ({'rows shared' if kind == 'SharedRows' else 'written whole'})"] = s
    for s in searchers.values():
        for q in scale.QUERIES:
            s.search(SearchQuery(q, role="agent"))
    gc.collect()
    gc.freeze()
    took: dict[str, list[float]] = {k: [] for k in searchers}
    for rep in range(5):
        for q in scale.QUERIES:
            for name, s in (list(searchers.items()) if rep % 2 == 0 else list(searchers.items())[::-1]):
                s._qcache.clear()
                t = time.perf_counter()
                s.search(SearchQuery(q, role="agent", mode="hybrid"))
                took[name].append((time.perf_counter() - t) * 1000)
    rows = ["| generation searched (this code) | hybrid p50 ms | hybrid p95 ms | searches |", "|---|---|---|---|"]
    for name, v in took.items():
        rows.append(f"| {name} | {pct(v, 50):.1f} | {pct(v, 95):.1f} | {len(v)} |")
    return rows


def scores(work: Path) -> list[str]:
    """Keyword scores of the after home's generation, shared impacts and their delta, against the
    same articles' impacts written whole (each article carried from where it is counted)."""
    import numpy as np

    from indexer import shared
    from kb.core import impact
    from kb.core.generation import IndexStore
    from kb.search.keyword import FIELD_BOOSTS, KeywordRanker
    folder = IndexStore(work / "after100000" / "index").require_current().path / impact.DIR
    if not (folder / impact.DELTA).exists():
        return ["The after home's impacts are written whole: nothing to compare."]
    delta = json.loads((folder / impact.DELTA / "ids.json").read_text("utf-8"))
    dead = set(np.load(folder / impact.DEAD).tolist())
    ids = [d for i, d in enumerate(json.loads((folder / "ids.json").read_text("utf-8"))) if i not in dead] + delta
    whole = impact.ImpactWriter()
    shared.carry(whole, folder, ids)
    tmp = Path(tempfile.mkdtemp(dir=work))
    whole.write(tmp / "whole")
    pos = {d: i for i, d in enumerate(ids)}
    a, b = impact.Impacts(folder, pos), impact.Impacts(tmp / "whole", pos)
    ranker, allowed = KeywordRanker(), np.ones(len(ids), dtype=bool)
    worst, same = 0.0, 0
    for q in scale.QUERIES:
        keys = [(f, t) for f in FIELD_BOOSTS for t in ranker.terms(q)]
        got = [dict(i.top([(c, FIELD_BOOSTS[f]) for (f, _), c in zip(keys, i.columns(keys)) if c is not None],
                          allowed, 100)) for i in (a, b)]
        worst = max([worst] + [abs(got[0][d] - got[1][d]) / got[1][d] for d in set(got[0]) & set(got[1])])
        same += [sorted(g, key=g.get, reverse=True)[:10] for g in got][0] == sorted(got[1], key=got[1].get,
                                                                                   reverse=True)[:10]
    shutil.rmtree(tmp)
    return [f"Keyword scores with {len(delta)} articles in the delta and {len(dead)} dead rows, against the same "
            f"{len(ids):,} articles' impacts written whole, over {len(scale.QUERIES)} queries: largest relative "
            f"difference {worst:.1e}, the same top 10 in {same}."]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--before-code", type=Path, required=True)
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--skip", default="")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    lines: list[str] = []
    if "index" not in skip:
        lines += edits({"before": args.before_code.resolve(), "after": ROOT}, args.work, args.rounds) + [""]
    if "latency" not in skip:
        lines += latency(args.work) + [""]
    if "scores" not in skip:
        lines += scores(args.work)
    report(lines, "One edit at 100k", f".venv/bin/python bench/edit.py --before-code DIR --work DIR --rounds "
           f"{args.rounds} --skip {args.skip or '-'}", "before and after in one run, see the script's docstring",
           args.write)


if __name__ == "__main__":
    main()
