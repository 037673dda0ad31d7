"""Article pages with screenshots, measured on a real `kb serve` (gunicorn, 2 workers) over
loopback, in one run on one server:

1. **A page with 10 screenshots beside the same page without them**: a new visitor (one
   keep-alive connection, no cache) fetches the page and then every image it shows, as a
   browser does; then a returning visitor revalidates the page and the images with their ETags
   (304s). Times are per page view, all requests included.
2. **File requests per second**: clients on keep-alive connections fetch the screenshots in a
   loop, as new visitors (200 with the bytes) and revalidating (304), beside the page itself.

The KB is the starter knowledge base plus the two pages, in a git repository of its own; the
screenshots are real PNGs (UI-like, about 20 KB each) made with Pillow. Keyword search only: no
model is involved in serving pages or files.

Usage: .venv/bin/python bench/files.py [--views 200] [--clients 8] [--seconds 10] [--write]
"""
from __future__ import annotations

import argparse
import http.client
import io
import os
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
from pathlib import Path

from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results import pct, report  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
GIT_ENV = {**os.environ, "GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.org",
           "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "bench@example.org"}


def git(cwd, *args):
    subprocess.run(["git", *args], cwd=cwd, env=GIT_ENV, check=True, capture_output=True)


def screenshot(n: int) -> bytes:
    """A UI-like screenshot: window chrome, rows of text-like bars, a highlighted field."""
    rng = random.Random(n)
    w, h = 900, 560
    im = Image.new("RGB", (w, h), (246, 247, 250))
    d = ImageDraw.Draw(im)
    d.rectangle([0, 0, w, 36], fill=(232, 235, 240))
    for y in range(60, h - 40, 22):
        x = 30
        while x < w - 60:
            seg = rng.randint(20, 120)
            shade = rng.randint(40, 120)
            d.rectangle([x, y, min(x + seg, w - 40), y + 9], fill=(shade, shade + 10, shade + 30))
            x += seg + rng.randint(6, 14)
    d.rectangle([40, 300, 500, 340], outline=(232, 17, 35), width=3)
    for _ in range(1500):                       # anti-aliasing and gradients real screenshots have
        x, y = rng.randrange(w), rng.randrange(h)
        im.putpixel((x, y), (rng.randrange(200, 256),) * 3)
    out = io.BytesIO()
    im.save(out, "PNG", optimize=True)
    return out.getvalue()


def page(article_id: str, title: str, images: bool) -> str:
    steps = []
    for n in range(10):
        steps.append(f"{n + 1}. Open step {n + 1} of the dock firmware wizard and check the status line.\n")
        if images:
            steps.append(f"\n    ![Firmware wizard, step {n + 1}: the status line highlighted](media/dock/step-{n + 1}.png)\n\n")
    return (f"---\nid: {article_id}\ntitle: \"{title}\"\nsummary: Update the dock's firmware in ten steps.\n"
            f"product: laptop\ntags: [dock, firmware]\nlanguage: en\nvisibility: public\nstatus: published\n"
            f"owners: [it@example.org]\nreview_by: 2027-06-01\n---\n## Symptoms\nThe dock's monitors stay black.\n\n"
            f"## Resolution\n{''.join(steps)}")


def get(conn: http.client.HTTPConnection, path: str, tag: str | None = None) -> tuple[int, bytes, dict]:
    conn.request("GET", path, headers={"If-None-Match": tag} if tag else {})
    r = conn.getresponse()
    return r.status, r.read(), dict(r.getheaders())


def page_views(port: int, path: str, views: int) -> dict:
    """A new visitor's view (page + its images) and a returning visitor's revalidation."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    status, html, headers = get(conn, path)
    images = re.findall(r'<img[^>]* src="(/files/[^"]+)"', html.decode())
    tags = {path: headers["ETag"], **{u: get(conn, u)[2]["ETag"] for u in images}}
    first, again, size = [], [], 0
    for _ in range(views):
        t = time.perf_counter()
        size = 0
        for u in [path, *images]:
            code, body, _ = get(conn, u)
            assert code == 200, (u, code)
            size += len(body)
        first.append(time.perf_counter() - t)
        t = time.perf_counter()
        for u in [path, *images]:
            code, _, _ = get(conn, u, tags[u])
            assert code == 304, (u, code)
        again.append(time.perf_counter() - t)
    conn.close()
    return {"requests": 1 + len(images), "bytes": size, "first": first, "again": again}


def throughput(port: int, paths: list[str], clients: int, seconds: float, tags: dict | None) -> dict:
    done, codes, lock = [0] * clients, {}, threading.Lock()
    stop = time.perf_counter() + seconds

    def run(k):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        i = k
        while time.perf_counter() < stop:
            p = paths[i % len(paths)]
            i += 1
            code, _, _ = get(conn, p, tags[p] if tags else None)
            with lock:
                codes[code] = codes.get(code, 0) + 1
            done[k] += 1
        conn.close()
    threads = [threading.Thread(target=run, args=(k,)) for k in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"rps": sum(done) / (time.perf_counter() - t0), "codes": codes}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--views", type=int, default=200)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--write", action="store_true", help="store the table in bench/RESULTS.md")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="kb-bench-files-"))
    try:
        repo = work / "articles"
        shutil.copytree(ROOT / "articles", repo)
        (repo / "media" / "dock").mkdir(parents=True)
        sizes = []
        for n in range(10):
            data = screenshot(n)
            sizes.append(len(data))
            (repo / "media" / "dock" / f"step-{n + 1}.png").write_bytes(data)
        (repo / "dock-with-screenshots.md").write_text(page("KB-9901", "Dock firmware update, with screenshots", True))
        (repo / "dock-without-screenshots.md").write_text(page("KB-9902", "Dock firmware update", False))
        git(repo, "init", "-q", "-b", "main")
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", "Articles")
        env = {**os.environ, "KB_HOME": str(work / "home"), "KB_ARTICLES": str(repo), "KB_REFRESH_SECONDS": "0",
               "KB_WORKERS": "2", "KB_THREADS": "8", "KB_SECRET_KEY": "bench", "KB_SEMANTIC": "0",
               "KB_ENCODERS": "none"}
        subprocess.run([PY, "-m", "kb.cli", "index"], env=env, cwd=ROOT, check=True, capture_output=True)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = subprocess.Popen([PY, "-m", "kb.cli", "serve", "--port", str(port)], env=env, cwd=ROOT,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            t0 = time.perf_counter()
            while True:
                try:
                    if get(http.client.HTTPConnection("127.0.0.1", port, timeout=5), "/robots.txt")[0] == 200:
                        break
                except OSError:
                    pass
                if time.perf_counter() - t0 > 120:
                    raise SystemExit("kb serve did not start")
                time.sleep(0.2)
            time.sleep(2)
            with_ = page_views(port, "/help/articles/dock-with-screenshots", args.views)
            without = page_views(port, "/help/articles/dock-without-screenshots", args.views)
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            html = get(conn, "/help/articles/dock-with-screenshots")[1].decode()
            images = re.findall(r'<img[^>]* src="(/files/[^"]+)"', html)
            tags = {u: get(conn, u)[2]["ETag"] for u in images}
            pages = ["/help/articles/dock-without-screenshots"]
            tags.update({p: get(conn, p)[2]["ETag"] for p in pages})
            conn.close()
            files_full = throughput(port, images, args.clients, args.seconds, None)
            files_304 = throughput(port, images, args.clients, args.seconds, tags)
            page_full = throughput(port, pages, args.clients, args.seconds, None)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def ms(values, p):
        return f"{1000 * (statistics.median(values) if p == 50 else pct(values, p)):.1f}"
    lines = [f"Ten screenshots of {min(sizes) // 1024}–{max(sizes) // 1024} KB ({sum(sizes) // 1024} KB in all); "
             f"{args.views} views of each page, one keep-alive connection:", "",
             "| page view | requests | bytes | p50 ms | p95 ms |", "|---|---|---|---|---|"]
    for name, r, key in (("with 10 screenshots, new visitor", with_, "first"),
                         ("without screenshots, new visitor", without, "first"),
                         ("with 10 screenshots, revalidating (all 304)", with_, "again"),
                         ("without screenshots, revalidating (304)", without, "again")):
        size = r["bytes"] if key == "first" else 0
        lines.append(f"| {name} | {r['requests']} | {size:,} | {ms(r[key], 50)} | {ms(r[key], 95)} |")
    ratio_first = statistics.median(with_["first"]) / statistics.median(without["first"])
    ratio_again = statistics.median(with_["again"]) / statistics.median(without["again"])
    lines += ["", f"With / without screenshots, same run: new visitor **{ratio_first:.1f}×** the time for "
              f"{with_['requests']}× the requests; revalidating **{ratio_again:.1f}×**. Browsers do not even "
              "revalidate the images: they are `immutable` for a year.", "",
              f"| {args.clients} clients, {args.seconds:g} s each | req/s | statuses |", "|---|---|---|"]
    for name, r in (("screenshots, new visitors (200, bytes from git)", files_full),
                    ("screenshots, revalidating (304)", files_304),
                    ("the page without screenshots (200, rendered)", page_full)):
        lines.append(f"| {name} | {r['rps']:.0f} | {', '.join(f'{k}: {v}' for k, v in sorted(r['codes'].items()))} |")
    lines += ["", f"A screenshot is served at **{files_full['rps'] / page_full['rps']:.1f}×** the rate of an "
              "article page in the same run."]
    report(lines, "Article files", f"python bench/files.py --views {args.views} --clients {args.clients} "
           f"--seconds {args.seconds:g}", "starter KB plus a page with 10 screenshots and its twin without, "
           "`kb serve` with 2 workers, keyword only, loopback", args.write)


if __name__ == "__main__":
    main()
