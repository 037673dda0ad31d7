"""The request form under load, on a real `kb serve` (gunicorn, one worker per core) on loopback:

1. suggestion round trips while a customer describes a problem — one request per word typed
   (the page debounces key strokes), the subject first, then the description, each round opening
   with another word so that no text repeats — on the starter
   KB with hybrid search (BM25 + MiniLM + USE) and on generated articles (bench/web.py's
   generator; keyword only, as bench/web.py measures them);
2. requests accepted per second while the helpdesk is down (the webhook points at a closed
   port): several clients send the form at once; then every accepted request must be stored
   with its delivery waiting, none lost; then the helpdesk comes up (a real HTTP receiver) and
   the time until the queue is drained is measured, each request delivered once.

    flock -x /tmp/kb-heavy.lock .venv/bin/python bench/requests.py [--articles 10000] [--requests 400] [--write]

Work folders go under /tmp/kb-bench-requests/ and are removed at the end.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import statistics
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from results import load_bench, pct, report

web = load_bench("web")
ROOT = Path(__file__).resolve().parent.parent
WORK = Path("/tmp/kb-bench-requests")
SECRET = "bench-requests-secret-0123456789"
PROBLEMS = [("Printer offline", "The printer shows offline since the router was replaced yesterday"),
            ("Outlook password prompt", "Outlook keeps asking for my password every few minutes after the update"),
            ("VPN error 809", "I cannot connect to the VPN from home, it fails with error 809"),
            ("Screen sharing black", "When I share my screen in a meeting the others only see a black screen"),
            ("打印机脱机", "更换路由器以后打印机一直显示脱机 无法打印"),
            ("Mailbox full", "I get a warning that my mailbox is full and I cannot send mail anymore")]


def typed(subject: str, description: str) -> list[tuple[str, str]]:
    """(subject, description) as the page sends them: after each word of the subject, then of the description."""
    out, words = [], subject.split()
    out += [(" ".join(words[:i]), "") for i in range(1, len(words) + 1)]
    dwords = description.split()
    out += [(subject, " ".join(dwords[:i])) for i in range(1, len(dwords) + 1)]
    return out


OPENERS = ["Help:", "Question:", "Problem:", "Issue:", "Urgent:", "Again:", "Hello,", "Hi team,"]


def suggestions(port: int, rounds: int) -> list[float]:
    """Every round opens the text with another word, so no round reuses an earlier round's query
    vectors or results: each request is new text, as from another customer."""
    c = web.Client(port)
    times = []
    for r in range(rounds):
        opener = OPENERS[r % len(OPENERS)]
        for subject, description in PROBLEMS:
            for s, d in typed(f"{opener} {subject}", f"{opener} {description}"):
                q = urllib.parse.urlencode({"subject": s, "description": d})
                status, body, ms = c.request("GET", f"/help/contact/suggestions?{q}", headers={"Accept-Language": "en"})
                assert status == 200, (status, body[:200])
                if r:                        # the first round warms the caches and the models
                    times.append(ms)
    return times


class Helpdesk:
    """A receiver that answers 200 with a ticket id and counts requests by idempotency key."""

    def __init__(self, port: int):
        self.keys: dict[str, int] = {}
        hd = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                self.rfile.read(int(self.headers["Content-Length"]))
                key = self.headers["Idempotency-Key"]
                hd.keys[key] = hd.keys.get(key, 0) + 1
                body = json.dumps({"ticket_id": f"HD-{len(hd.keys)}"}).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", port), H)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def accept(port: int, total: int, clients: int) -> tuple[float, int, list[float]]:
    """``total`` form posts from ``clients`` at once: (seconds, accepted, latencies)."""
    done, lat, lock = [0], [], threading.Lock()
    counter = iter(range(total))

    def run(k: int):
        c = web.Client(port)
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            subject, description = PROBLEMS[i % len(PROBLEMS)]
            body = urllib.parse.urlencode({"email": f"customer{i}@fabrikam.example", "name": f"Customer {i}",
                                           "subject": subject, "description": description, "priority": "normal",
                                           "action": "submit"})
            status, _, ms = c.request("POST", "/help/contact", body, {
                "Content-Type": "application/x-www-form-urlencoded", "Sec-Fetch-Site": "same-origin"})
            with lock:
                lat.append(ms)
                done[0] += status == 303
    threads = [threading.Thread(target=run, args=(k,)) for k in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - t0, done[0], lat


def waiting(home: Path) -> tuple[int, int, int]:
    db = sqlite3.connect(home / "kb.sqlite")
    try:
        return (db.execute("SELECT count(*) FROM requests").fetchone()[0],
                db.execute("SELECT count(*) FROM request_deliveries WHERE state = 'waiting'").fetchone()[0],
                db.execute("SELECT count(*) FROM request_deliveries WHERE state = 'delivered'").fetchone()[0])
    finally:
        db.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--articles", type=int, default=10000)
    ap.add_argument("--requests", type=int, default=400)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=4, help="typings of the six problems (the first is a warm-up)")
    ap.add_argument("--write", action="store_true", help="store the table as the 'Requests' section of RESULTS.md")
    args = ap.parse_args()
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    lines = ["| corpus | what | requests | p50 ms | p95 ms | max ms |", "|---|---|---|---|---|---|"]
    try:
        setups = [("starter KB, hybrid (BM25 + MiniLM + USE)", ROOT / "articles", True)]
        if args.articles:
            web.generate(ROOT / "articles", WORK / "gen", args.articles)
            setups.append((f"{args.articles:,} generated articles (keyword)", WORK / "gen", False))
        for i, (label, articles, semantic) in enumerate(setups):
            env = web.prepare(WORK / f"home{i}", articles, semantic)
            port = web.free_port()
            p = web.start("gunicorn", env, port)
            try:
                t = suggestions(port, args.rounds)
            finally:
                web.stop(p)
            lines.append(f"| {label} | suggestions while typing | {len(t)} | {statistics.median(t):.1f} | "
                         f"{pct(t, 95):.1f} | {max(t):.1f} |")
            print(lines[-1], file=sys.stderr, flush=True)
        # the helpdesk down: requests are accepted and queue
        hd_port = web.free_port()
        env = dict(web.prepare(WORK / "home0", ROOT / "articles", False, index=False),
                   KB_REQUEST_WEBHOOK_URL=f"http://127.0.0.1:{hd_port}/hooks/kb", KB_REQUEST_WEBHOOK_SECRET=SECRET,
                   KB_REQUEST_LIMIT_ADDRESS="1000000/hour", KB_REQUEST_LIMIT_EMAIL="1000/hour",
                   KB_REQUEST_RETRY="1s", KB_REQUEST_TIMEOUT="2s")
        home = WORK / "home0"
        before = waiting(home)[0]
        port = web.free_port()
        p = web.start("gunicorn", env, port)
        try:
            secs, ok, lat = accept(port, args.requests, args.clients)
            stored, queued, delivered = waiting(home)
            assert ok == args.requests and stored - before == ok and queued == ok and delivered == 0, \
                (ok, stored, queued, delivered)
            lines.append(f"| starter KB, helpdesk down | form posts accepted ({args.clients} clients at once) | {ok} | "
                         f"{statistics.median(lat):.1f} | {pct(lat, 95):.1f} | {max(lat):.1f} |")
            hd = Helpdesk(hd_port)
            t0 = time.perf_counter()
            try:
                while waiting(home)[1] and time.perf_counter() - t0 < 600:
                    time.sleep(0.2)
                drained = time.perf_counter() - t0
            finally:
                hd.stop()
        finally:
            web.stop(p)
        stored, queued, delivered = waiting(home)
        twice = sum(1 for n in hd.keys.values() if n > 1)
        lines += ["", "Suggestions: one request per word typed, every text new (no query vector or result reused). The starter KB runs the full hybrid search; the 10,000 generated articles are searched by keyword only, as in bench/web.py (embedding them with both encoders takes most of an hour on 2 shared cores).",
                  "", f"With the helpdesk down, **{ok / secs:.0f} requests accepted per second** ({ok} in {secs:.1f} s "
                      f"from {args.clients} clients; every one stored with its delivery waiting, none lost). When the "
                      f"helpdesk came up (KB_REQUEST_RETRY=1s), the queue of {ok} was delivered in "
                      f"{drained:.1f} s ({ok / drained:.0f}/s): {delivered} delivered, {queued} waiting, "
                      f"{len(hd.keys)} distinct requests at the helpdesk, {twice} received twice."]
    finally:
        shutil.rmtree(WORK, ignore_errors=True)
    report(lines, "Requests", "flock -x /tmp/kb-heavy.lock .venv/bin/python bench/requests.py" +
           "".join(f" {a}" for a in sys.argv[1:] if a != "--write"),
           "gunicorn as `kb serve` runs it, loopback, keep-alive", args.write)


if __name__ == "__main__":
    main()
