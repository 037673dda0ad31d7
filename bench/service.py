"""The service, measured on a real `kb serve` (gunicorn) over loopback:

1. **Webhook to searchable**: a new article is pushed to a bare origin of the starter
   knowledge base, a signed GitHub-style push webhook is sent (periodic refresh off), and the
   time until `/api/v1/search` (hybrid, as the portal searches) returns it is taken.
2. **Portal throughput with and without If-None-Match**: clients on keep-alive connections
   fetch anonymous article pages in a loop, first as new visitors (full pages), then revalidating
   with the ETag each page carried (304s), in the same run on the same server.

Usage: .venv/bin/python bench/service.py [--pushes 5] [--clients 8] [--seconds 15] [--keyword-only]
"""
from __future__ import annotations

import argparse
import hashlib
import hmac
import http.client
import json
import os
import platform
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

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
SECRET = "bench-webhook-secret"
GIT_ENV = {**os.environ, "GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.org",
           "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "bench@example.org"}


def git(cwd, *args):
    return subprocess.run(["git", *args], cwd=cwd, env=GIT_ENV, check=True, capture_output=True, text=True).stdout


def article(n: int, phrase: str) -> str:
    return (f"---\nid: KB-9{n:03d}\ntitle: \"Dock station {phrase} after firmware {n}\"\nsummary: Reseat the dock.\n"
            f"product: laptop\ntags: [dock]\nlanguage: en\nvisibility: public\nstatus: published\n"
            f"owners: [it@example.org]\nreview_by: 2027-06-01\n---\n## Symptoms\nThe dock {phrase}.\n\n"
            f"## Resolution\n1. Unplug the dock.\n2. Update its firmware.\n")


def request(port: int, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data, dict(r.getheaders())


def found(port: int, phrase: str, article_id: str) -> bool:
    status, data, _ = request(port, "GET", "/api/v1/search?" + urllib.parse.urlencode({"q": phrase, "limit": 3}))
    return status == 200 and article_id in [h["id"] for h in json.loads(data)["results"]]


def webhook_to_searchable(port: int, writer: Path, pushes: int) -> list[float]:
    times = []
    for n in range(pushes):
        phrase = f"zq{n}flicker{n}x blinks"
        (writer / f"dock-{n}.md").write_text(article(n, phrase), "utf-8")
        git(writer, "add", "-A")
        git(writer, "commit", "-q", "-m", f"Dock article {n}")
        git(writer, "push", "-q", "origin", "main")
        body = json.dumps({"ref": "refs/heads/main", "after": git(writer, "rev-parse", "HEAD").strip()}).encode()
        assert not found(port, phrase, f"KB-9{n:03d}")
        sig = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        t0 = time.perf_counter()
        status, _, _ = request(port, "POST", "/api/v1/hooks/git", body,
                               {"X-GitHub-Event": "push", "X-Hub-Signature-256": sig,
                                "Content-Type": "application/json"})
        assert status == 202, status
        while not found(port, phrase, f"KB-9{n:03d}"):
            if time.perf_counter() - t0 > 60:
                raise SystemExit(f"push {n} not searchable after 60 s")
            time.sleep(0.02)
        times.append(time.perf_counter() - t0)
        time.sleep(0.5)
    return times


def throughput(port: int, paths: list[str], clients: int, seconds: float, tags: dict[str, str] | None):
    done, codes, lat = [0] * clients, {}, []
    stop = time.perf_counter() + seconds
    lock = threading.Lock()

    def run(k):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        i = k
        mine = []
        while time.perf_counter() < stop:
            path = paths[i % len(paths)]
            i += 1
            headers = {"If-None-Match": tags[path]} if tags else {}
            t = time.perf_counter()
            c.request("GET", path, headers=headers)
            r = c.getresponse()
            r.read()
            mine.append(time.perf_counter() - t)
            with lock:
                codes[r.status] = codes.get(r.status, 0) + 1
            done[k] += 1
        c.close()
        with lock:
            lat.extend(mine)
    threads = [threading.Thread(target=run, args=(k,)) for k in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    lat.sort()
    return {"requests": sum(done), "rps": sum(done) / elapsed, "codes": codes,
            "p50_ms": 1000 * lat[len(lat) // 2], "p95_ms": 1000 * lat[int(len(lat) * 0.95)]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pushes", type=int, default=5)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--keyword-only", action="store_true")
    args = ap.parse_args()
    load_before = os.getloadavg()[0]
    work = Path(tempfile.mkdtemp(prefix="kb-bench-service-"))
    try:
        seed = work / "seed"
        shutil.copytree(ROOT / "articles", seed)
        git(seed, "init", "-q", "-b", "main")
        git(seed, "add", "-A")
        git(seed, "commit", "-q", "-m", "Starter articles")
        git(work, "clone", "-q", "--bare", str(seed), str(work / "origin.git"))
        git(work, "clone", "-q", "-b", "main", str(work / "origin.git"), str(work / "articles"))
        git(work, "clone", "-q", "-b", "main", str(work / "origin.git"), str(work / "writer"))
        env = {**os.environ, "KB_HOME": str(work / "home"), "KB_ARTICLES": str(work / "articles"),
               "KB_REFRESH_SECONDS": "0", "KB_GIT_WEBHOOK_SECRET": SECRET, "KB_WORKERS": "2", "KB_THREADS": "8",
               "KB_SECRET_KEY": "bench", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
        if args.keyword_only:
            env.update(KB_SEMANTIC="0", KB_ENCODERS="none")
        subprocess.run([PY, "-m", "kb.cli", "index"], env=env, cwd=ROOT, check=True, capture_output=True)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = subprocess.Popen([PY, "-m", "kb.cli", "serve", "--port", str(port)], env=env, cwd=ROOT,
                                  stdout=subprocess.DEVNULL, stderr=open(work / "serve.log", "w"),
                                  start_new_session=True)
        try:
            t0 = time.perf_counter()
            while True:
                try:
                    if request(port, "GET", "/api/v1/health")[0] == 200 and found(port, "printer offline", "KB-0008"):
                        break
                except OSError:
                    pass
                if time.perf_counter() - t0 > 180:
                    raise SystemExit("kb serve did not start")
                time.sleep(0.2)
            time.sleep(2)                          # every worker warm
            hook = webhook_to_searchable(port, work / "writer", args.pushes)
            sitemap = request(port, "GET", "/sitemap.xml")[1].decode()
            paths = sorted({urllib.parse.urlsplit(u.split("</loc>")[0]).path
                            for u in sitemap.split("<loc>")[1:] if "/help/articles/" in u})
            tags = {p: request(port, "GET", p)[2]["ETag"] for p in paths}
            full = throughput(port, paths, args.clients, args.seconds, None)
            cond = throughput(port, paths, args.clients, args.seconds, tags)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        mode = "keyword only" if args.keyword_only else "hybrid (MiniLM + USE)"
        print(f"## Service\n\nMeasured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {platform.machine()}, "
              f"{os.cpu_count()} cores, Python {platform.python_version()}, load average before "
              f"{load_before:.2f}: `.venv/bin/python bench/service.py --pushes {args.pushes} --clients "
              f"{args.clients} --seconds {args.seconds:g}{' --keyword-only' if args.keyword_only else ''}` "
              f"(starter KB, {mode}, `kb serve` with 2 workers, loopback).\n")
        print(f"Webhook to searchable ({len(hook)} pushes of a new article, periodic refresh off): "
              f"median **{statistics.median(hook):.2f} s**, max {max(hook):.2f} s "
              f"({', '.join(f'{t:.2f}' for t in hook)})\n")
        print("| portal article pages, " + f"{args.clients} clients, {args.seconds:g} s each | requests | req/s | "
              "p50 ms | p95 ms | statuses |\n|---|---|---|---|---|---|")
        for name, r in (("new visitors (full pages)", full), ("revalidating with If-None-Match", cond)):
            print(f"| {name} | {r['requests']} | {r['rps']:.0f} | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} | "
                  f"{', '.join(f'{k}: {v}' for k, v in sorted(r['codes'].items()))} |")
        print(f"\nIf-None-Match / full throughput, same run: **{cond['rps'] / full['rps']:.1f}×**")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
