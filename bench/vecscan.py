"""The two-stage vector scan (kb/search/vecscan.py) on real vectors: `kb eval` figures with every part
forced through the projection and a shortlist of a given share of the rows, against the exact
scan of the same index in the same run.

    .venv/bin/python bench/vecscan.py [--eval ../shared/eval] [--shares 0.016,0.1] [--write]

`bench/search.py` measures speed and agreement at 100k articles, whose vectors are real starter
vectors plus noise; the dev sets are small (750-1,500 chunks) but their vectors are real. At
100k the default shortlist is 10,000 of 618,898 rows (1.6 %): on a dev set that share is
12-24 rows, far fewer than the 100 candidate articles search keeps, so it is a harsh test.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from kb.evaluation import labelled as evaluation
from kb.core import projection  # noqa: E402
from kb.search import vecscan  # noqa: E402
from kb.core.config import Settings  # noqa: E402
from kb.search.searcher import Searcher  # noqa: E402
from results import report  # noqa: E402

SETS = ("stackfaq-a", "gnome-help-en", "gnome-help-zh", "wsl-docs")
MODES = ("semantic", "hybrid")


def measure(dataset: Path, home: Path, shares: list[float]) -> list[str]:
    defaults = projection.EXACT_ROWS, vecscan.SHORTLIST
    projection.EXACT_ROWS = 0               # the build writes every matrix's projection
    try:
        s, labels, _ = evaluation.prepare(dataset, Settings.load(env={}), home)
    finally:
        projection.EXACT_ROWS = defaults[0]
    rows = len(Searcher(s).snapshot().row_article)
    runs = {"exact": None, **{f"{share:.1%}": share for share in shares}}
    figures = {}
    try:
        for label, share in runs.items():
            if share is not None:               # read the stored projection, this share shortlisted
                projection.EXACT_ROWS, vecscan.SHORTLIST = 0, max(1, round(rows * share))
            searcher = Searcher(s)                      # a fresh snapshot: parts made with the settings
            for m in MODES:
                figures[label, m] = evaluation.metrics(evaluation.run_queries(searcher, labels, m), labels.qrels)
            figures[label, "shortlist"] = "all" if share is None else str(vecscan.SHORTLIST)
    finally:
        projection.EXACT_ROWS, vecscan.SHORTLIST = defaults
    out = []
    for label in runs:
        cells = " | ".join(f"{figures[label, m]['ndcg@10']:.4f} / {figures[label, m]['recall@10']:.4f} / "
                           f"{figures[label, m]['recall@100']:.4f}" for m in MODES)
        out.append(f"| {dataset.name} | {rows:,} | {label} ({figures[label, 'shortlist']} rows) | {cells} |")
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--eval", type=Path, default=ROOT.parent / "shared" / "eval")
    ap.add_argument("--shares", default="0.016,0.1", help="shortlist sizes, as shares of each set's rows")
    ap.add_argument("--write", action="store_true", help="write the results into bench/RESULTS.md")
    args = ap.parse_args()
    shares = [float(x) for x in args.shares.split(",")]
    lines = ["| set | chunks | scan | semantic nDCG@10 / R@10 / R@100 | hybrid nDCG@10 / R@10 / R@100 |",
             "|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory(prefix="kb-bench-vecscan-") as tmp:
        for name in SETS:
            if (args.eval / name).is_dir():
                lines += measure(args.eval / name, Path(tmp) / name, shares)
                print(lines[-1], flush=True)
    report(lines, "Two-stage vector scan on real vectors", ".venv/bin/python bench/vecscan.py --write",
           f"kb eval figures, every part forced through the {projection.DIMS}-dimension projection with a "
           "shortlist of the given share of rows, against the exact scan in the same run", args.write)


if __name__ == "__main__":
    main()
