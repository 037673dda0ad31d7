"""Memory of `kb serve` with several workers on a large knowledge base, before and after a
revision (``--before``), in one run on one machine.

A 100k-article KB is generated and its vectors put in the embedding cache as `bench/search.py`
does (real starter-chunk vectors plus noise: matrices of true shape, no model call in the
build); it is indexed once by the current code and once by ``--before`` (a git revision, run
from a worktree of it), each into its own KB_HOME. Then each serves with ``--workers`` workers;
once every worker is warm (gunicorn's warm-up loads the generation and its parts) and has
answered hybrid searches, the server's memory is taken from /proc: the sum of RSS over the
master and its workers, and the sum of PSS (pages shared by N processes count 1/N in each:
the machine's real total; a mapped page shared by four workers counts four times in the RSS
sum), and each worker's private memory (pages no other process maps: what one more worker
costs).

    .venv/bin/python bench/memory.py [--articles 100000] [--workers 4] [--before 9e4b3ad] [--work DIR]
"""
from __future__ import annotations

import argparse
import http.client
import importlib.util
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = str(ROOT / ".venv" / "bin" / "python")
QUERIES = ["printer offline after new router", "vpn error 809", "reset forgotten password", "打印机 脱机",
           "忘记密码怎么办", "bitlocker recovery key", "mailbox full cannot send", "docking station monitors black"]


def bench_search():
    spec = importlib.util.spec_from_file_location("bench_search", ROOT / "bench" / "search.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def family(pid: int) -> list[int]:
    out = [pid]
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if int((d / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(d.name))
            except (OSError, IndexError, ValueError):
                pass
    return out


def memory(pid: int) -> tuple[float, float, int, float]:
    """(sum of RSS, sum of PSS) in MB over the server and its workers, how many processes, and
    the largest private memory (Private_Clean + Private_Dirty) of a worker."""
    rss = pss = 0
    private = []
    pids = family(pid)
    for p in pids:
        mine = 0
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                key, _, rest = line.partition(":")
                if key in ("Rss", "Pss", "Private_Clean", "Private_Dirty"):
                    kb = int(rest.split()[0])
                    if key == "Rss":
                        rss += kb
                    elif key == "Pss":
                        pss += kb
                    else:
                        mine += kb
        except OSError:
            pass
        if p != pid:
            private.append(mine)
    return rss / 1024, pss / 1024, len(pids), max(private, default=0) / 1024


def get(port: int, path: str) -> int:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    c.request("GET", path)
    r = c.getresponse()
    r.read()
    return r.status


def serve(cwd: Path, home: Path, articles: Path, workers: int) -> dict:
    port = free_port()
    env = {**os.environ, "KB_HOME": str(home), "KB_ARTICLES": str(articles), "KB_WORKERS": str(workers),
           "KB_THREADS": "4", "KB_REFRESH_SECONDS": "0", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "KB_SECRET_KEY": "bench"}
    p = subprocess.Popen([PY, "-m", "kb.cli", "serve", "--port", str(port)], cwd=cwd, env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        t0 = time.monotonic()
        while True:
            try:
                if get(port, "/api/v1/health") == 200:
                    break
            except OSError:
                pass
            if time.monotonic() - t0 > 900:
                raise SystemExit(f"kb serve in {cwd} did not start")
            time.sleep(1)
        ready = time.monotonic() - t0
        # every worker warms itself before it takes requests; then searches through all of them
        for _ in range(workers * 3):
            for q in QUERIES:
                assert get(port, "/api/v1/search?" + urllib.parse.urlencode({"q": q})) == 200
        time.sleep(5)
        samples = [memory(p.pid) for _ in range(3) if not time.sleep(2)]
        rss, pss, procs = max(s[0] for s in samples), max(s[1] for s in samples), samples[-1][2]
        return {"ready_s": ready, "rss_mb": rss, "pss_mb": pss, "processes": procs,
                "private_mb": max(s[3] for s in samples)}
    finally:
        os.killpg(p.pid, signal.SIGTERM)
        try:
            p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)


def index(cwd: Path, home: Path, articles: Path) -> float:
    env = {**os.environ, "KB_HOME": str(home), "KB_ARTICLES": str(articles), "HF_HUB_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1"}
    t = time.perf_counter()
    r = subprocess.run([PY, "-m", "kb.cli", "index", "--full"], cwd=cwd, env=env, capture_output=True, text=True)
    if r.returncode:
        raise SystemExit(f"kb index in {cwd} failed: {r.stderr[-500:]}")
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--articles", type=int, default=100_000)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--before", default="9e4b3ad", help="git revision to compare with")
    ap.add_argument("--work", type=Path, help="keep the generated KB here and reuse it next time")
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="kb-bench-memory-"))
    work.mkdir(parents=True, exist_ok=True)
    before_tree = work / "before-code"
    if not before_tree.exists():
        subprocess.run(["git", "worktree", "add", "-q", "--detach", str(before_tree), args.before], cwd=ROOT, check=True)
    arts = work / f"a{args.articles}"
    after_home, before_home = work / "after", work / "before"
    timings = {}
    if not (after_home / "index" / "CURRENT").exists():
        bs = bench_search()
        from kb.core.config import Settings
        from kb.core.encoders import EncoderPool
        from indexer.vectors import chunk_article
        if not arts.exists():
            bs.generate(ROOT / "articles", arts, args.articles, seed=5)
        pool = EncoderPool(("minilm", "use3"))
        starter = [c.text for a in bs.articles_of(ROOT / "articles") for c in chunk_article(a)]
        real = {e.name: e.encode(starter) for e in pool.available()}
        bs.prefill(Settings.load(env={}, home=after_home, articles=arts), arts, real, pool)
        timings["after"] = index(ROOT, after_home, arts)
    if not (before_home / "index" / "CURRENT").exists():
        before_home.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(after_home / "kb.sqlite", before_home / "kb.sqlite")      # the same vector cache
        timings["before"] = index(before_tree, before_home, arts)
    chunks = json.loads((after_home / "index" / (after_home / "index" / "CURRENT").read_text().strip()
                         / "manifest.json").read_text())["chunks"]
    results = {"before": serve(before_tree, before_home, arts, args.workers),
               "after": serve(ROOT, after_home, arts, args.workers)}
    print(f"## Memory with {args.workers} workers\n\nMeasured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on "
          f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}: "
          f"`.venv/bin/python bench/memory.py --articles {args.articles} --workers {args.workers} --before "
          f"{args.before}` ({args.articles:,} generated articles, {chunks:,} chunks, hybrid search with MiniLM and "
          f"USE; before = {args.before}; after = this code), one run.\n")
    print("| code | processes | ready after | sum of RSS | sum of PSS (the machine's real total) | largest private memory of a worker |")
    print("|---|---|---|---|---|---|")
    for label, r in results.items():
        print(f"| {label} | {r['processes']} | {r['ready_s']:.0f} s | {r['rss_mb']:,.0f} MB | {r['pss_mb']:,.0f} MB | "
              f"{r['private_mb']:,.0f} MB |")
    b, a = results["before"], results["after"]
    print(f"\nAfter vs before: RSS {a['rss_mb'] - b['rss_mb']:+,.0f} MB ({a['rss_mb'] / b['rss_mb']:.2f}×), "
          f"PSS {a['pss_mb'] - b['pss_mb']:+,.0f} MB ({a['pss_mb'] / b['pss_mb']:.2f}×), "
          f"private memory of a worker {a['private_mb'] / b['private_mb']:.2f}×.")
    if timings:
        print("Full builds in this run: " + ", ".join(f"{k} {v / 60:.1f} min" for k, v in timings.items()) + ".")


if __name__ == "__main__":
    main()
