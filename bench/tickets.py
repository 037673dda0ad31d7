"""Ticket benchmark: import 100,000 generated tickets from CSV (then the same file again, which
must change nothing), and time the monthly report on them. Prints the figures measured in
this one run; `--write` puts them into bench/RESULTS.md under "## Tickets".

    .venv/bin/python bench/tickets.py [--rows 100000] [--write]
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import platform
import random
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kb.analytics import report
from kb.core import store  # noqa: E402
from kb.core.config import Settings  # noqa: E402
from kb.tickets.importer import import_file  # noqa: E402

CHANNELS = ["email"] * 38 + ["web"] * 24 + ["phone"] * 22 + ["chat"] * 16
PRIORITIES = ["normal"] * 65 + ["important"] * 27 + ["urgent"] * 8
PRODUCTS = ["printing", "vpn", "email", "accounts", "crm", "network", "laptop", "meetings", "mobile"]
ARTICLES = [f"KB-{i:04d}" for i in range(1, 62)]
WORDS = ("printer offline vpn error 809 outlook password mailbox full wifi certificate huddle camera "
         "crm export garbled laptop battery bitlocker recovery key mfa phone docking monitor").split()


def generate(path: Path, rows: int, seed: int = 1) -> dt.date:
    """A helpdesk-style export: 100k tickets over about a year, some bad rows mixed in."""
    rng = random.Random(seed)
    start = dt.datetime(2025, 12, 1, tzinfo=dt.timezone.utc)
    span = 365 * 86400
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["Ticket ID", "Subject", "Description", "Channel", "Priority", "Product", "Requester",
                    "Assignee", "Status", "Created", "First response", "Resolved", "CSAT", "FCR", "articles"])
        for i in range(rows):
            created = start + dt.timedelta(seconds=rng.randrange(span))
            channel = rng.choice(CHANNELS)
            wait = rng.lognormvariate(3, .6) if channel in ("phone", "chat") else rng.lognormvariate(8.5, .8)
            first = created + dt.timedelta(seconds=wait)
            resolved = first + dt.timedelta(hours=rng.lognormvariate(2, 1))
            subject = " ".join(rng.sample(WORDS, 4))
            linked = rng.random() < .7
            w.writerow([f"INC{i:07d}", subject, f"{subject}. " * rng.randrange(1, 6), channel,
                        rng.choice(PRIORITIES) if i % 997 else "whenever",          # ~0.1 % bad rows
                        rng.choice(PRODUCTS), f"Customer {rng.randrange(5000)}", f"Agent {rng.randrange(40)}",
                        "closed", created.isoformat(), first.isoformat(), resolved.isoformat(),
                        rng.choice(["", "", "3", "4", "5", "5", "2"]), rng.choice(["yes", "no"]),
                        rng.choice(ARTICLES) if linked else ""])
    return (start + dt.timedelta(days=180)).date()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--write", action="store_true", help="Record the figures in bench/RESULTS.md.")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="kb-bench-tickets-"))
    settings = Settings.load(env={}, home=tmp / "state", articles=ROOT / "articles", semantic=False, encoders=())
    path = tmp / "export.csv"
    t = time.perf_counter()
    mid = generate(path, args.rows)
    gen_s = time.perf_counter() - t
    db = store.connect(settings)
    first = import_file(db, path)
    again = import_file(db, path)
    month = mid.strftime("%Y-%m")
    t = time.perf_counter()
    r = report.build(db, settings, month, articles=None)
    build_s = time.perf_counter() - t
    t = time.perf_counter()
    html = report.render(r, "html")
    html_s = time.perf_counter() - t
    size_mb = path.stat().st_size / 1e6
    lines = [
        f"{args.rows:,} tickets ({size_mb:.0f} MB CSV, generated in {gen_s:.1f} s), "
        f"{len(first.bad)} bad rows reported and skipped",
        f"- first import: {first.seconds:.1f} s, **{first.rows / first.seconds:,.0f} rows/s** "
        f"({first.added:,} added, {first.links_added:,} links)",
        f"- same file again: {again.seconds:.1f} s, **{again.rows / again.seconds:,.0f} rows/s** "
        f"({again.unchanged:,} unchanged, {again.added} added, {again.updated} updated)",
        f"- `kb report --month {month}` over {r['tickets']['resolved']:,} resolved tickets of the month: "
        f"figures **{build_s * 1000:.0f} ms**, HTML with charts {html_s * 1000:.0f} ms ({len(html) / 1e3:.0f} kB)",
    ]
    text = "\n".join(lines)
    print(text)
    if args.write:
        machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        section = (f"## Tickets\n\nMeasured {dt.date.today().isoformat()} on {machine} (24 GiB), "
                   f"`.venv/bin/python bench/tickets.py --write`:\n\n{text}\n")
        res = ROOT / "bench" / "RESULTS.md"
        old = res.read_text("utf-8") if res.exists() else "# Benchmark results\n"
        if "## Tickets\n" in old:
            old = re.sub(r"## Tickets\n.*?(?=\n## |\Z)", section.rstrip("\n") + "\n", old, flags=re.S)
        else:
            old = old.rstrip("\n") + "\n\n" + section
        res.write_text(old, "utf-8")
    db.close()


if __name__ == "__main__":
    main()
