"""One node with a large knowledge base, before and after a revision, in one run: memory of
`kb serve` with four workers at 100k articles, search latency at 10k and 100k (hybrid, keyword,
and as an agent types), the no-op and one-edit `kb index` at 100k, and the keyword-only full
build at 100k on every core.

    .venv/bin/python bench/scale.py --before-code DIR --work DIR [--skip memory,latency,index,keyword]
                                    [--keyword-size 100000] [--keyword-codes before,after]
                                    [--latency-codes before,after]

``--work`` holds the generated KBs (``a10000``, ``a100000``: git repositories of articles made
from the starter ones, as bench/search.py makes them) and, for each code, its index homes
``before10000``, ``after10000``, ``before100000``, ``after100000`` (full builds with vectors from
a prefilled embedding cache: matrices of true shape, real query encoding). ``--before-code`` is a
checkout of the earlier revision; both trees run with this checkout's virtualenv, each in a
process of its own. Latency is server side, in process, on a warm heap frozen as a server worker
freezes it: 20 English and Chinese queries × 5, each encoded afresh; typing replays every
prefix of the same queries through the console's path (kb.search.suggest.typed).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = str(ROOT / ".venv" / "bin" / "python")
sys.path.insert(0, str(ROOT / "bench"))
from results import load_bench, report

QUERIES = load_bench("search").QUERIES

LATENCY = r"""
import gc, json, sys, time
from kb.core.config import Settings
from kb.search.searcher import Searcher, SearchQuery
from kb.search.suggest import typed
home, arts, queries = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
searcher = Searcher(Settings.load(env={}, home=home, articles=arts))
def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]
for q in queries:
    searcher.search(SearchQuery(q, role="agent"))
gc.collect(); gc.freeze()
out = {}
for mode in ("keyword", "hybrid"):
    took = []
    for _ in range(5):
        for q in queries:
            searcher._qcache.clear()
            t = time.perf_counter()
            searcher.search(SearchQuery(q, role="agent", mode=mode))
            took.append((time.perf_counter() - t) * 1000)
    out[mode] = (pct(took, 50), pct(took, 95))
searcher._qcache.clear()
took = []
for q in queries:
    for n in range(2, len(q) + 1):
        t = time.perf_counter()
        text, semantic = typed(searcher, q[:n])
        searcher.search(SearchQuery(text=text, limit=6, role="agent", mode="hybrid", semantic_text=semantic))
        took.append((time.perf_counter() - t) * 1000)
out["typing"] = (pct(took, 50), pct(took, 95), len(took))
print(json.dumps(out))
"""


def kb(code: Path, home: Path, articles: Path, *args: str, **env: str) -> tuple[float, str]:
    e = {**os.environ, "KB_HOME": str(home), "KB_ARTICLES": str(articles), "HF_HUB_OFFLINE": "1",
         "TRANSFORMERS_OFFLINE": "1", "KB_REFRESH_SECONDS": "0", **env}
    t = time.perf_counter()
    r = subprocess.run([PY, "-m", "kb.cli", *args], cwd=code, env=e, capture_output=True, text=True, check=False)
    if r.returncode:
        raise SystemExit(f"kb {' '.join(args)} in {code} failed:\n{r.stderr[-1500:]}")
    return time.perf_counter() - t, r.stdout + r.stderr


def latency(code: Path, home: Path, articles: Path) -> dict:
    r = subprocess.run([PY, "-c", LATENCY, str(home), str(articles), json.dumps(QUERIES)], cwd=code,
                       env={**os.environ, "HF_HUB_OFFLINE": "1"}, capture_output=True, text=True, check=False)
    if r.returncode:
        raise SystemExit(f"latency in {code} failed:\n{r.stderr[-1500:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def commit(repo: Path, message: str) -> None:
    for args in (("add", "-A"), ("-c", "user.name=bench", "-c", "user.email=bench@example.com", "commit", "-qm", message)):
        subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def index_ops(codes: dict[str, Path], work: Path) -> list[str]:
    """One edited (and committed) article, then `kb index` with nothing changed, at 100k."""
    arts = work / "a100000"
    for label, code in codes.items():       # both indexes at the checkout's HEAD first
        kb(code, work / f"{label}100000", arts, "index")
    victim = sorted(arts.glob("*.md"))[50_000]
    victim.write_text(victim.read_text("utf-8").replace("## ", "## Updated: ", 1), "utf-8")
    commit(arts, "One edit")
    got = {}
    for label, code in codes.items():
        home = work / f"{label}100000"
        edit, _ = kb(code, home, arts, "index")
        noop = statistics.median(kb(code, home, arts, "index")[0] for _ in range(3))
        got[label] = (edit, noop)
        print(f"  index {label}: one edit {edit:.2f} s, no-op {noop:.2f} s", flush=True)
    b, a = got["before"], got["after"]
    return ["| `kb index` at 100k articles (wall time of the command) | before | after | after / before |",
            "|---|---|---|---|",
            f"| one edited article, committed | {b[0]:.2f} s | {a[0]:.2f} s | {a[0] / b[0]:.2f} |",
            f"| nothing changed (median of 3) | {b[1]:.2f} s | {a[1]:.2f} s | {a[1] / b[1]:.2f} |"]


def keyword_builds(codes: dict[str, Path], work: Path, n: int) -> list[str]:
    got = {}
    for label, code in codes.items():
        home = work / f"kw-{label}"
        shutil.rmtree(home, ignore_errors=True)
        home.mkdir()
        took, _ = kb(code, home, work / f"a{n}", "index", "--full", KB_SEMANTIC="0")
        got[label] = took
        shutil.rmtree(home, ignore_errors=True)
        print(f"  keyword build {label}: {took / 60:.1f} min", flush=True)
    line = (f"Keyword-only full build of {n:,} articles (`KB_SEMANTIC=0 kb index --full`, {os.cpu_count()} cores): "
            + ", ".join(f"{k} {v / 60:.1f} min" for k, v in got.items()))
    if len(got) == 2:
        line += f" (**{got['before'] / got['after']:.2f}×**)"
    return [line + "."]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--before-code", type=Path, required=True)
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--skip", default="")
    ap.add_argument("--keyword-size", type=int, default=100_000, help="articles of the keyword-only builds")
    ap.add_argument("--keyword-codes", default="before,after", help="which code trees build them")
    ap.add_argument("--latency-codes", default="before,after", help="which code trees' homes the latency is measured on")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    codes = {"before": args.before_code.resolve(), "after": ROOT}
    work = args.work
    lines: list[str] = []
    if "memory" not in skip:
        serve = load_bench("memory").serve
        got = {label: serve(code, work / f"{label}100000", work / "a100000", args.workers)
               for label, code in codes.items()}
        b, a = got["before"], got["after"]
        lines += [(f"`kb serve` with {args.workers} workers on 100,000 articles (618,898 chunks), after warm-up and "
                   "hybrid searches through every worker (bench/memory.py's measure):"), "",
                  "| code | processes | sum of PSS (the machine's real total) | largest private memory of a worker | sum of RSS |",
                  "|---|---|---|---|---|"]
        lines += [f"| {k} | {r['processes']} | {r['pss_mb']:,.0f} MB | {r['private_mb']:,.0f} MB | {r['rss_mb']:,.0f} MB |"
                  for k, r in got.items()]
        lines += ["", (f"After / before: PSS {a['pss_mb'] / b['pss_mb']:.2f}×, private memory of a worker "
                       f"{a['private_mb'] / b['private_mb']:.2f}×."), ""]
        print("\n".join(lines), flush=True)
    if "latency" not in skip:
        rows = ["| articles | code | keyword p50 / p95 ms | hybrid p50 / p95 ms | as you type p50 / p95 ms (keystrokes) |",
                "|---|---|---|---|---|"]
        for n in (10_000, 100_000):
            for label in args.latency_codes.split(","):
                r = latency(codes[label], work / f"{label}{n}", work / f"a{n}")
                rows.append(f"| {n:,} | {label} | {r['keyword'][0]:.1f} / {r['keyword'][1]:.1f} | "
                            f"{r['hybrid'][0]:.1f} / {r['hybrid'][1]:.1f} | {r['typing'][0]:.1f} / {r['typing'][1]:.1f} "
                            f"({r['typing'][2]}) |")
                print(rows[-1], flush=True)
        lines += rows + [""]
    if "index" not in skip:
        lines += index_ops(codes, work) + [""]
    if "keyword" not in skip:
        lines += keyword_builds({k: codes[k] for k in args.keyword_codes.split(",")}, work, args.keyword_size)
    report(lines, "Scale: one node with 100k articles", f".venv/bin/python bench/scale.py --before-code DIR --work DIR "
           f"--skip {args.skip or '-'}", "before and after in one run, see the script's docstring", args.write)


if __name__ == "__main__":
    main()
