"""Web UI speed on loopback, measured in one run: search-as-you-type round trips (the agent
console's results fragment and the portal's suggestions, one request per key stroke as a
person types), first page renders, and the same typing from several agents at once — for the
starter knowledge base and for 10,000 generated articles, served by waitress and by gunicorn.

    .venv/bin/python bench/web.py [--articles 10000] [--servers waitress,gunicorn] [--quick] [--kb DIR/h10000]

Prints a Markdown report (paste it under "## Web" in bench/RESULTS.md).
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
PY = str(ROOT / ".venv" / "bin" / "python")
QUERIES = ["printer offline after router change", "outlook keeps asking for password", "vpn error 809",
           "reset password", "screen share black screen", "mailbox full", "bitlocker recovery key",
           "打印机脱机", "重置密码", "无法连接公司 Wi-Fi", "crm report timeout", "mfa new phone"]
AGENTS = 4          # agents typing at the same time (4 queries each)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def generate(src: Path, dst: Path, n: int, seed: int = 5) -> None:
    """``n`` articles made from the starter ones: same structure and vocabulary, shuffled. A
    translation stays a translation: of the copy of its source made in the same round."""
    rng = random.Random(seed)
    sources = sorted(src.glob("*.md"))
    texts = [p.read_text("utf-8") for p in sources]
    position = {m.group(1): k for k, t in enumerate(texts) if (m := re.search(r"^id: (.*)$", t, re.M))}
    products = ["printing", "vpn", "email", "accounts", "network", "laptop", "mobile", "meetings", "crm"]
    dst.mkdir(parents=True)
    for i in range(n):
        text = texts[i % len(texts)]
        fm, body = text.split("\n---\n", 1)
        paras = body.split("\n\n")
        head, rest = paras[:2], paras[2:]
        rng.shuffle(rest)
        fm = re.sub(r"^id: .*$", f"id: GEN-{i:05d}", fm, flags=re.M)
        fm = re.sub(r"^title: (.*)$", lambda m: "title: " + json.dumps(f"{yaml.safe_load(m.group(1))} #{i}",
                                                                       ensure_ascii=False), fm, flags=re.M)
        fm = re.sub(r"^product: .*$", f"product: {rng.choice(products)}", fm, flags=re.M)
        source = i - i % len(texts) + position.get(m.group(1).strip(), -len(texts)) \
            if (m := re.search(r"^translation_of: (.*)$", fm, re.M)) else None
        if source is not None:
            fm = re.sub(r"^translation_of: .*$", f"translation_of: GEN-{source:05d}" if 0 <= source < n else "",
                        fm, flags=re.M)
        (dst / f"gen-{i:05d}.md").write_text(fm + "\n---\n" + "\n\n".join(head + rest), "utf-8")


def prepare(home: Path, articles: Path, semantic: bool, index: bool = True) -> dict:
    env = dict(os.environ, KB_HOME=str(home), KB_ARTICLES=str(articles), HF_HUB_OFFLINE="1",
               KB_SEMANTIC="1" if semantic else "0", KB_ENCODERS="minilm,use3" if semantic else "none")
    t = time.perf_counter()
    if index:
        subprocess.run([PY, "-m", "kb.cli", "index", "--full"], env=env, cwd=ROOT, check=True, capture_output=True)
    env["_index_s"] = f"{time.perf_counter() - t:.1f}"
    code = ("import sys; from kb.core.config import Settings; from kb.core.store import connect; from kb.accounts.users import add_user;"
            "from kb.core.errors import KbError\ntry: add_user(connect(Settings.load().db_path), 'bench', 'bench-password-1', 'agent')\n"
            "except KbError: pass")
    subprocess.run([PY, "-c", code], env=env, cwd=ROOT, check=True)
    return env


def start(server: str, env: dict, port: int) -> subprocess.Popen:
    if server == "waitress":     # one process, 8 threads
        cmd = [str(ROOT / ".venv" / "bin" / "waitress-serve"), "--host", "127.0.0.1", "--port", str(port),
               "--threads", "8", "--call", "web:create_app"]
    else:                        # what `kb serve` runs: gunicorn, one worker per core (2 here), 8 threads each
        cmd = [PY, "-m", "kb.cli", "serve", "--port", str(port)]
    p = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    for _ in range(600):
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/robots.txt")
            c.getresponse().read()
            return p
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{server} did not start")


def stop(p: subprocess.Popen) -> None:
    os.killpg(p.pid, signal.SIGTERM)
    try:
        p.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)


class Client:
    """One keep-alive connection with a cookie jar of one session."""

    def __init__(self, port: int):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookie = ""

    def request(self, method: str, path: str, body: str | None = None, headers: dict | None = None):
        h = {"Cookie": self.cookie} if self.cookie else {}
        h.update(headers or {})
        t = time.perf_counter()
        self.conn.request(method, path, body=body, headers=h)
        r = self.conn.getresponse()
        data = r.read()
        ms = (time.perf_counter() - t) * 1000
        for k, v in r.getheaders():
            if k.lower() == "set-cookie" and v.startswith("kb_session="):
                self.cookie = v.split(";", 1)[0]
        return r.status, data, ms

    def login(self) -> None:
        _, page, _ = self.request("GET", "/login")
        token = re.search(rb'name="csrf_token" value="([^"]+)"', page).group(1).decode()
        body = urllib.parse.urlencode({"csrf_token": token, "username": "bench", "password": "bench-password-1"})
        status, _, _ = self.request("POST", "/login", body, {"Content-Type": "application/x-www-form-urlencoded"})
        assert status == 302, status


def typing(client: Client, path: str, queries: list[str]) -> list[float]:
    """One request per key stroke from the 2nd character on, the way the pages send them."""
    out = []
    for q in queries:
        for i in range(2, len(q) + 1):
            status, _, ms = client.request("GET", path + urllib.parse.quote(q[:i]), headers={"X-Requested-With": "fetch"})
            assert status == 200, (status, path, q[:i])
            out.append(ms)
    return out


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def measure(server: str, env: dict, slug: str, quick: bool) -> dict:
    port = free_port()
    t0 = time.perf_counter()
    p = start(server, env, port)
    started = time.perf_counter() - t0
    try:
        c = Client(port)
        c.login()
        first = {}
        for name, path in (("/help", "/help"), ("/agent", "/agent"), ("portal article", f"/help/articles/{slug}"),
                           ("agent article", f"/agent/articles/{slug}")):
            first[name] = c.request("GET", path)[2]
        warm = {name: statistics.median(c.request("GET", path)[2] for _ in range(5)) for name, path in
                (("/help", "/help"), ("/agent", "/agent"), ("portal article", f"/help/articles/{slug}"),
                 ("agent article", f"/agent/articles/{slug}"))}
        qs = QUERIES[:4] if quick else QUERIES[::2] + QUERIES[1::4]
        typing(c, "/agent/results?q=", qs[:2])                    # warm-up (models, caches)
        console = typing(c, "/agent/results?q=", qs)
        suggest = typing(Client(port), "/api/v1/suggest?q=", qs)
        results: dict[int, list[float]] = {}

        def agent(k: int) -> None:
            cl = Client(port)
            cl.login()
            results[k] = typing(cl, "/agent/results?q=", random.Random(k).sample(qs, 4))
        threads = [threading.Thread(target=agent, args=(k,)) for k in range(AGENTS)]
        t = time.perf_counter()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        wall = time.perf_counter() - t
        together = [v for vs in results.values() for v in vs]
        rss = _rss_mb(p.pid)
    finally:
        stop(p)
    return {"start_s": started, "first": first, "warm": warm, "console": console, "suggest": suggest,
            "concurrent": together, "rps": len(together) / wall, "rss_mb": rss}


def _rss_mb(pid: int) -> float:
    """Resident memory of the server and its worker processes."""
    total = 0
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text().split()
            if int(d.name) == pid or int(stat[3]) == pid:
                total += int(stat[23]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError, ValueError):
            continue
    return total / 2 ** 20


def report(label: str, server: str, m: dict) -> list[str]:
    row = lambda name, v: (f"| {label} | {server} | {name} | {len(v)} | {statistics.median(v):.1f} | "  # noqa: E731
                           f"{pct(v, 95):.1f} | {max(v):.1f} |")
    return [row("console results, 1 agent typing", m["console"]), row("portal suggestions, 1 visitor", m["suggest"]),
            row(f"console results, {AGENTS} agents at once ({m['rps']:.0f} req/s)", m["concurrent"])]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--articles", type=int, default=10000)
    ap.add_argument("--servers", default="waitress,gunicorn")
    ap.add_argument("--quick", action="store_true", help="fewer queries (a smoke run)")
    ap.add_argument("--kb", type=Path, action="append", default=[],
                    help="also serve a hybrid KB that bench/search.py --work DIR built (DIR/aN articles, DIR/hN "
                         "state with vectors of true shape); give DIR/hN, repeatable")
    args = ap.parse_args()
    servers = [s for s in args.servers.split(",") if s]
    if "waitress" in servers and not (ROOT / ".venv" / "bin" / "waitress-serve").exists():
        print("waitress is not installed in .venv: measuring gunicorn only", file=sys.stderr)
        servers.remove("waitress")
    tmp = Path(tempfile.mkdtemp(prefix="kb-bench-web-"))
    lines = [f"Measured {time.strftime('%Y-%m-%d')} on {platform.node() or 'this machine'} "
             f"({os.cpu_count()} cores, Python {platform.python_version()}), loopback, keep-alive, "
             f"`{' '.join(['.venv/bin/python', 'bench/web.py'] + sys.argv[1:])}`.", "",
             "| corpus | server | what | requests | p50 ms | p95 ms | max ms |", "|---|---|---|---|---|---|---|"]
    pages: list[str] = []
    try:
        setups = [("starter KB (61 articles, hybrid: BM25 + MiniLM + USE)", ROOT / "articles", True,
                   "printer-offline-after-router-change")]
        if args.articles:
            generate(ROOT / "articles", tmp / "gen", args.articles)
            setups.append((f"{args.articles:,} generated articles (keyword only)", tmp / "gen", False, "gen-00007"))
        for home in args.kb:
            articles = home.parent / ("a" + home.name[1:])
            n = sum(1 for _ in articles.glob("*.md"))
            setups.append((f"{n:,} generated articles (hybrid, vectors of true shape: bench/search.py)",
                           articles, True, "gen-00007", home))
        for i, (label, articles, semantic, slug, *home) in enumerate(setups):
            env = prepare(home[0] if home else tmp / f"home{i}", articles, semantic, index=not home)
            for server in servers:
                m = measure(server, env, slug, args.quick)
                lines += report(label, server, m)
                print("\n".join(report(label, server, m)), file=sys.stderr, flush=True)
                pages.append(f"| {label} | {server} | {m['start_s']:.1f} s | "
                             + " | ".join(f"{m['first'][k]:.0f} / {m['warm'][k]:.0f}" for k in m["first"])
                             + f" | {m['rss_mb']:.0f} MB |")
            pages_head = ("| corpus | server | ready after | " + " | ".join(f"{k} first / warm ms" for k in m["first"])
                          + " | memory |")
            print(f"indexed {label} in {env['_index_s']} s", file=sys.stderr)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    lines += ["", pages_head, "|" + "---|" * (pages_head.count("|") - 1)] + pages
    print("\n".join(lines))


if __name__ == "__main__":
    main()
