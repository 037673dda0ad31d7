"""Load test: N concurrent clients for a bounded time against a real `kb serve` on 127.0.0.1,
with the starter knowledge base and the demo tickets in a temporary KB_HOME.

The mix is what a support desk does all day: agents searching as they type (real queries
typed key by key at 3–20 keys a second; a request goes out when the next key is slower than
the console's 80 ms debounce, as web/static/agent.js does), customers on portal pages and
suggestions (100 ms debounce), article views by both, and the helpdesk's webhook updating
tickets; each client pauses 0.5–3 s between actions. Reported:
throughput, p50/p95/p99 latency per kind of request, errors, and the server's resident memory
(all its processes, from /proc) over time.

    .venv/bin/python bench/load.py [--clients 32] [--seconds 60] [--keyword-only] [--reindex]
                                   [--saturate] [--nodes 2] [--write]

``--nodes 2``: two `kb serve` nodes, each with its own KB_HOME, on one PostgreSQL (a private
server started in a temporary folder, as the tests do) behind Debian's haproxy on loopback
(`apt-get install haproxy`; `make bench` installs it); the clients talk to haproxy.

Targets on 2 cores: 0 errors, search p95 ≤ 200 ms, memory flat after warm-up. ``--write``
stores the result as the "Load" section of bench/RESULTS.md.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results import pct, write_section  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PY = str(ROOT / ".venv" / "bin" / "python")
QUERIES = ["printer offline after router change", "outlook keeps asking for password", "vpn error 809",
           "reset password", "screen share black screen", "mailbox full", "bitlocker recovery key",
           "打印机脱机", "重置密码", "无法连接公司 Wi-Fi", "crm report timeout", "mfa new phone",
           "laptop battery drains fast", "teams camera not working", "account locked"]
PASSWORD = "load-password-1"
# (kind, weight): one "agent_type" action is a whole query typed key by key
MIX = [("agent_type", 30), ("portal_page", 20), ("portal_suggest", 15), ("article_view", 25), ("webhook", 10)]
SEARCH_KINDS = ("agent_type", "portal_suggest", "portal_search")
KEY_GAP = (0.05, 0.30)      # seconds between key strokes: 3–20 keys a second
AGENT_DEBOUNCE = 0.08       # web/static/agent.js waits this long after a key before asking
PORTAL_DEBOUNCE = 0.10      # web/static/portal.js
THINK = (0.5, 3.0)          # seconds between actions: reading, talking to the caller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def node_env(home: Path, semantic: bool, database_url: str | None = None) -> dict:
    env = dict(os.environ, KB_HOME=str(home), KB_ARTICLES=str(ROOT / "articles"), HF_HUB_OFFLINE="1",
               TRANSFORMERS_OFFLINE="1", KB_SEMANTIC="1" if semantic else "0",
               KB_ENCODERS="minilm,use3" if semantic else "none", KB_SECRET_KEY="load-secret-shared-by-nodes")
    if database_url:
        env["KB_DATABASE_URL"] = database_url
    return env


def prepare(home: Path, semantic: bool, database_url: str | None = None) -> tuple[dict, str]:
    """Index the starter KB, load the demo tickets, add an agent and a webhook token."""
    env = node_env(home, semantic, database_url)
    for args in (["demo", "load"], ["index"]):
        subprocess.run([PY, "-m", "kb.cli", *args], env=env, cwd=ROOT, check=True, capture_output=True)
    code = ("from kb.core.config import Settings; from kb.core.store import connect; from kb.accounts.users import add_user;"
            "from kb.accounts.tokens import create_token; db = connect(Settings.load());"
            f"add_user(db, 'load-agent', {PASSWORD!r}, 'agent'); print(create_token(db, 'load-webhook', 'agent'))")
    token = subprocess.run([PY, "-c", code], env=env, cwd=ROOT, check=True, capture_output=True,
                           text=True).stdout.strip()
    return env, token


def start(env: dict, port: int) -> subprocess.Popen:
    p = subprocess.Popen([PY, "-m", "kb.cli", "serve", "--port", str(port)], env=env, cwd=ROOT,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    return healthy(p, port, "kb serve", 1200)


def healthy(p: subprocess.Popen, port: int, what: str, tries: int) -> subprocess.Popen:
    """``p`` once /api/v1/health answers 200 on ``port`` (tries of 0.1 s), else stopped and said."""
    for _ in range(tries):
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/api/v1/health")
            if c.getresponse().status == 200:
                return p
        except OSError:
            pass
        if p.poll() is not None:
            raise SystemExit(f"{what} exited at start")
        time.sleep(0.1)
    stop(p)
    raise SystemExit(f"{what} did not start in {tries / 10:.0f} s")


def stop(p: subprocess.Popen) -> None:
    try:
        os.killpg(p.pid, signal.SIGTERM)
        p.wait(timeout=20)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait(timeout=10)


def haproxy(port: int, backends: list[int], folder: Path) -> subprocess.Popen:
    """Debian's haproxy on 127.0.0.1:port, round robin over the nodes, health-checked."""
    exe = shutil.which("haproxy") or "/usr/sbin/haproxy"
    if not os.path.exists(exe):
        raise SystemExit("haproxy is not installed: apt-get install haproxy (make bench installs it)")
    cfg = folder / "haproxy.cfg"
    cfg.write_text("\n".join([
        "global", "  maxconn 4096", "defaults", "  mode http", "  timeout connect 5s", "  timeout client 120s",
        "  timeout server 120s", "  option http-keep-alive", "frontend kb", f"  bind 127.0.0.1:{port}",
        "  default_backend nodes", "backend nodes", "  balance roundrobin", "  option httpchk GET /api/v1/health",
        *[f"  server n{i} 127.0.0.1:{p} check inter 2s" for i, p in enumerate(backends)], ""]))
    p = subprocess.Popen([exe, "-f", str(cfg), "-db"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    return healthy(p, port, "haproxy", 100)


def rss_mb(pid: int) -> float:
    """Resident memory of the server and its worker processes (Linux /proc)."""
    total = 0
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text().rsplit(")", 1)[1].split()
            if int(d.name) == pid or int(stat[1]) == pid:
                total += int(stat[21]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError, ValueError):
            continue
    return total / 2 ** 20


class Client:
    """One keep-alive connection with its own session cookie; records every request."""

    def __init__(self, port: int, log: list, errors: list):
        self.port, self.log, self.errors = port, log, errors
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.cookie = ""

    def request(self, kind: str, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
                expect: tuple[int, ...] = (200,)) -> bytes:
        h = {"Cookie": self.cookie} if self.cookie else {}
        h.update(headers or {})
        t = time.perf_counter()
        try:
            self.conn.request(method, path, body=body, headers=h)
            r = self.conn.getresponse()
            data = r.read()
        except (OSError, http.client.HTTPException) as e:
            self.errors.append(f"{kind} {method} {path[:80]}: {type(e).__name__}: {e}")
            self.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            return b""
        ms = (time.perf_counter() - t) * 1000
        for k, v in r.getheaders():
            if k.lower() == "set-cookie" and v.startswith("kb_session="):
                self.cookie = v.split(";", 1)[0]
        self.log.append((kind, time.monotonic(), ms))
        if r.status not in expect:
            self.errors.append(f"{kind} {method} {path[:80]}: HTTP {r.status}")
        return data

    def login(self) -> None:
        page = self.request("login", "GET", "/login")
        token = re.search(rb'name="csrf_token" value="([^"]+)"', page).group(1).decode()
        body = urllib.parse.urlencode({"csrf_token": token, "username": "load-agent", "password": PASSWORD})
        self.request("login", "POST", "/login", body.encode(), {"Content-Type": "application/x-www-form-urlencoded"},
                     expect=(302,))


def typing(c: Client, rng: random.Random, deadline: float, query: str, first: int, debounce: float, send) -> None:
    """Type ``query`` key by key at a person's pace; like the pages' scripts, a request goes out
    only when no next key comes within the debounce delay (and for the last key)."""
    for n in range(1, len(query) + 1):
        gap = rng.uniform(*KEY_GAP)
        if n >= first and (gap >= debounce or n == len(query)):
            send(query[:n])
        time.sleep(gap)
        if time.monotonic() >= deadline:
            return


def worker(k: int, port: int, deadline: float, catalogue: dict, token: str, log: list, errors: list) -> None:
    rng = random.Random(k)
    c = Client(port, log, errors)
    if k % 2 == 0:          # half the clients are signed-in agents, half anonymous customers
        c.login()
    kinds, weights = zip(*MIX)
    q = lambda s: urllib.parse.quote(s)  # noqa: E731
    while time.monotonic() < deadline:
        kind = rng.choices(kinds, weights)[0]
        query = rng.choice(QUERIES)
        if kind == "agent_type" and c.cookie and k % 2 == 0:
            typing(c, rng, deadline, query, 3, AGENT_DEBOUNCE, lambda text: c.request(
                "agent_type", "GET", f"/agent/results?q={q(text)}",
                headers={"X-Requested-With": "fetch", "Accept": "text/html"}))
        elif kind in ("agent_type", "portal_suggest"):
            typing(c, rng, deadline, query[:16], 2, PORTAL_DEBOUNCE, lambda text: c.request(
                "portal_suggest", "GET", f"/api/v1/suggest?q={q(text)}&limit=6"))
        elif kind == "portal_page":
            path = rng.choice(["/help", f"/help/products/{rng.choice(catalogue['products'])}",
                               f"/help/search?q={q(query)}"])
            c.request("portal_search" if "search" in path else "portal_page", "GET", path)
        elif kind == "article_view":
            slug = rng.choice(catalogue["slugs"])
            path = f"/agent/articles/{slug}" if c.cookie and k % 2 == 0 else f"/help/articles/{slug}"
            c.request("article_view", "GET", path, expect=(200, 404))   # 404: an internal slug for a customer
        else:
            tid = rng.choice(catalogue["tickets"])
            body = json.dumps({"id": tid, "status": rng.choice(["open", "pending", "resolved"]),
                               "subject": f"{query} (update {rng.randrange(10 ** 6)})"}).encode()
            c.request("webhook", "POST", "/api/v1/tickets", body,
                      {"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        time.sleep(rng.uniform(*THINK))                 # reading the answer, talking to the caller


def catalogue(env: dict) -> dict:
    code = ("import json; from kb.core.config import Settings; from kb.core.store import connect; s = Settings.load();"
            "db = connect(s); from kb.search.searcher import Searcher; docs = Searcher(s).all_articles('agent');"
            "print(json.dumps({'slugs': [d['slug'] for d in docs], 'products': sorted({d['product'] for d in docs "
            "if d.get('visibility') == 'public'}), 'tickets': [r[0] for r in db.execute("
            "'SELECT id FROM tickets ORDER BY id LIMIT 200')]}))")
    out = subprocess.run([PY, "-c", code], env=env, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--keyword-only", action="store_true", help="KB_SEMANTIC=0 (default: hybrid search, the "
                                                               "production default)")
    ap.add_argument("--reindex", action="store_true", help="run `kb index --full` again and again meanwhile "
                                                           "(the served generation changes under load)")
    ap.add_argument("--saturate", action="store_true", help="no pauses, no debounce: a request per key stroke "
                                                             "and 0–0.2 s between actions (capacity, not a desk)")
    ap.add_argument("--nodes", type=int, default=1, choices=(1, 2),
                    help="2: two kb serve nodes on one PostgreSQL behind haproxy on loopback")
    ap.add_argument("--write", action="store_true", help="store the result in bench/RESULTS.md")
    ap.add_argument("--note", default="", help="a paragraph added under the result (what else ran, …)")
    args = ap.parse_args()
    if args.saturate:
        global KEY_GAP, AGENT_DEBOUNCE, PORTAL_DEBOUNCE, THINK
        KEY_GAP, AGENT_DEBOUNCE, PORTAL_DEBOUNCE, THINK = (0.03, 0.12), 0.0, 0.0, (0.0, 0.2)
    home = Path(tempfile.mkdtemp(prefix="kb-load-"))
    proc = None
    extra: list[subprocess.Popen] = []          # the second node and haproxy
    pg = None
    try:
        if args.nodes == 2:
            sys.path.insert(0, str(ROOT))
            from tests.pg_support import Server
            pg = Server()
            url = pg.create_database()
            env, token = prepare(home / "a", semantic=not args.keyword_only, database_url=url)
            env_b = node_env(home / "b", not args.keyword_only, url)
            subprocess.run([PY, "-m", "kb.cli", "index"], env=env_b, cwd=ROOT, check=True, capture_output=True)
        else:
            env, token = prepare(home, semantic=not args.keyword_only)
        cat = catalogue(env)
        port = free_port()
        load_before = Path("/proc/loadavg").read_text().split()[:3]
        if args.nodes == 2:
            pa, pb = free_port(), free_port()
            proc = start(env, pa)
            extra.append(start(env_b, pb))
            extra.append(haproxy(port, [pa, pb], home))
        else:
            proc = start(env, port)
        log: list = []
        errors: list = []
        memory: list[tuple[float, float]] = []
        t0 = time.monotonic()
        deadline = t0 + args.seconds
        done = threading.Event()

        def sample():
            while not done.is_set():
                memory.append((time.monotonic() - t0, rss_mb(proc.pid) + sum(rss_mb(e.pid) for e in extra[:1])))
                done.wait(max(1.0, args.seconds / 30))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        builds: list[int] = []

        def reindex():
            while time.monotonic() < deadline - 1:
                r = subprocess.run([PY, "-m", "kb.cli", "index", "--full"], env=env, cwd=ROOT, capture_output=True,
                                   text=True)
                builds.append(r.returncode)
                if r.returncode:
                    errors.append(f"kb index --full failed: {r.stderr.strip()[-300:]}")

        indexer = threading.Thread(target=reindex, daemon=True)
        if args.reindex:
            indexer.start()
        threads = [threading.Thread(target=worker, args=(k, port, deadline, cat, token, log, errors), daemon=True)
                   for k in range(args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=args.seconds + 120)
        done.set()
        sampler.join()
        if args.reindex:
            indexer.join(timeout=300)
        memory.append((time.monotonic() - t0, rss_mb(proc.pid) + sum(rss_mb(e.pid) for e in extra[:1])))
        elapsed = time.monotonic() - t0
        load_after = Path("/proc/loadavg").read_text().split()[:3]
    finally:
        for p in [*reversed(extra), *([proc] if proc is not None else [])]:
            stop(p)
        if pg is not None:
            pg.stop()
        shutil.rmtree(home, ignore_errors=True)
    lines = summarise(args, log, errors, memory, elapsed, load_before, load_after)
    if args.reindex:
        lines.insert(1, f"Meanwhile `kb index --full` ran {len(builds)} times ({builds.count(0)} completed), "
                        "each swapping in a new index generation under the load.")
    print("\n".join(lines))
    if args.write:
        cmd = "bench/load.py" + (f" --clients {args.clients}" if args.clients != 32 else "") + (
            f" --seconds {args.seconds:g}" if args.seconds != 60 else "") + (" --keyword-only" if args.keyword_only else "") + (
            " --reindex" if args.reindex else "") + (" --saturate" if args.saturate else "") + (
            " --nodes 2" if args.nodes == 2 else "")
        where = ("two `kb serve` nodes on one PostgreSQL behind haproxy on 127.0.0.1" if args.nodes == 2
                 else "`kb serve` on 127.0.0.1")
        write_section("Load" if args.nodes == 1 else "Load through two nodes", cmd,
                      f"{where}, starter KB + demo tickets, {'keyword' if args.keyword_only else 'hybrid'} search",
                      "\n".join(lines) + (f"\n\n{args.note}" if args.note else ""))


def summarise(args, log, errors, memory, elapsed, load_before, load_after) -> list[str]:
    lines = [f"{args.clients} clients for {elapsed:.0f} s: {len(log)} requests, {len(log) / elapsed:.1f} requests/s, "
             f"{len(errors)} errors. Load average before / after: {' '.join(load_before)} / {' '.join(load_after)}.",
             "", "| kind | requests | p50 ms | p95 ms | p99 ms | max ms |", "|---|---:|---:|---:|---:|---:|"]
    kinds = sorted({k for k, _, _ in log if k != "login"})
    for kind in kinds + ["all searches"]:
        ms = [m for k, _, m in log if (k == kind or (kind == "all searches" and k in SEARCH_KINDS))]
        if ms:
            lines.append(f"| {kind} | {len(ms)} | {pct(ms, 50):.0f} | {pct(ms, 95):.0f} | {pct(ms, 99):.0f} | "
                         f"{max(ms):.0f} |")
    if memory:
        warm = [m for t, m in memory if t >= elapsed * 0.25]
        half = len(warm) // 2
        first, last = warm[:half] or warm, warm[half:] or warm
        growth = sum(last) / len(last) - sum(first) / len(first)
        lines += ["", "Server memory (RSS of all its processes, MB) over time: " +
                  ", ".join(f"{t:.0f}s {m:.0f}" for t, m in memory[:: max(1, len(memory) // 12)]) + ".",
                  f"After warm-up (the first quarter): {min(warm):.0f}–{max(warm):.0f} MB, second half vs first "
                  f"half {growth:+.0f} MB."]
    if errors:
        lines += ["", "Errors (first 10):", *[f"- {e}" for e in errors[:10]]]
    return lines


if __name__ == "__main__":
    main()
