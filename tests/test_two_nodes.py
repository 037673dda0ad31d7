"""Two kb nodes on one PostgreSQL: two `kb serve` with their own KB_HOME and checkout of one bare
articles remote, on loopback ports. The second node's first `kb index` computes no vector (the
shared embedding cache has them all) and builds the same generation; both answer the same
queries identically; a ticket posted to A is read from B; a contribution captured on A is
reviewed and exported on B; a user disabled on A is signed out of B; and `kill -9` of A in the
middle of writes loses nothing A acknowledged."""
from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

import numpy as np
import pytest

from kb.core.config import Settings
from kb.core.generation import IndexStore
from tests.conftest import ROOT, git
from tests.service_support import Client, Origin, wait_for

SECRET = "shared-by-every-node"
QUERIES = ["printer offline after new router", "vpn 809", "重置密码", "printer wifi", "home router ipsec", "vpn 连接"]


def kb(node: Settings, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "KB_HOME": str(node.home), "KB_ARTICLES": str(node.articles), "KB_ENCODERS": "use3",
           "KB_DATABASE_URL": node.database_url, "KB_SECRET_KEY": SECRET}
    return subprocess.run([sys.executable, "-m", "kb.cli", *args], cwd=ROOT, env=env, input=stdin,
                          capture_output=True, text=True, timeout=300)


@contextlib.contextmanager
def serving(node: Settings, log: Path):
    """`kb serve` for ``node`` (hybrid search with the multilingual encoder); yields (base URL, process)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "KB_HOME": str(node.home), "KB_ARTICLES": str(node.articles), "KB_ENCODERS": "use3",
           "KB_DATABASE_URL": node.database_url, "KB_SECRET_KEY": SECRET, "KB_WORKERS": "1", "KB_THREADS": "8",
           "KB_REFRESH_SECONDS": "0"}
    proc = subprocess.Popen([sys.executable, "-m", "kb.cli", "serve", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _up(base), 120)
        yield base, proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def _up(base: str) -> bool:
    try:
        return Client(base).get("/api/v1/health")[0] == 200
    except OSError:
        return False


@pytest.fixture
def nodes(tmp_path, pg_url):
    origin = Origin(tmp_path)
    second = tmp_path / "articles-b"
    git(tmp_path, "clone", "-q", "-b", "main", str(origin.bare), str(second))
    a = Settings.load(env={}, home=tmp_path / "a", articles=origin.checkout, database_url=pg_url, encoders=("use3",))
    b = Settings.load(env={}, home=tmp_path / "b", articles=second, database_url=pg_url, encoders=("use3",))
    return a, b


def _same_generation(a: Settings, b: Settings) -> None:
    ga, gb = IndexStore(a.index_root).current(), IndexStore(b.index_root).current()
    ma, mb = ga.manifest(), gb.manifest()
    for key in ("commit", "analyzer", "format", "encoders"):
        assert ma[key] == mb[key], key
    assert ma["articles"] == mb["articles"]
    for table in sorted(p.name for p in [*ga.path.glob("chunk-*.npy"), *ga.path.glob("article-*.npy")]) + [
            "articles.json", "facets.json", "sections.json"]:
        assert (ga.path / table).read_bytes() == (gb.path / table).read_bytes(), table
    assert np.array_equal(np.load(ga.vectors_file("use3")), np.load(gb.vectors_file("use3")))
    for name in sorted(p.name for p in (ga.path / "impact").iterdir()):
        fa, fb = ga.path / "impact" / name, gb.path / "impact" / name
        assert fa.read_bytes() == fb.read_bytes(), name


def test_two_nodes_share_one_database(nodes, tmp_path):
    a, b = nodes
    first = kb(a, "index")
    assert first.returncode == 0, first.stderr
    computed = re.search(r"articles .* embedded (\d+) \((\d+) from the shared cache\)", first.stdout)
    assert computed and int(computed.group(1)) > 20 and computed.group(2) == "0", first.stdout
    second = kb(b, "index")
    assert second.returncode == 0, second.stderr
    cached = re.search(r"articles .* embedded (\d+) \((\d+) from the shared cache\)", second.stdout)
    assert cached and cached.group(1) == "0" and cached.group(2) == computed.group(1), second.stdout
    _same_generation(a, b)
    for user, role in (("alice", "agent"), ("bob", "engineer")):
        assert kb(a, "users", "add", user, "--role", role, "--password-stdin", stdin=f"{user}-password-1\n").returncode == 0
    token = kb(a, "tokens", "create", "helpdesk").stdout.strip()

    with serving(a, tmp_path / "a.log") as (base_a, proc_a), serving(b, tmp_path / "b.log") as (base_b, _):
        ca, cb = Client(base_a), Client(base_b)
        for q in QUERIES:           # the same answers, in the same order, with the same scores
            path = "/api/v1/search?" + urllib.parse.urlencode({"q": q, "limit": 10})
            ra, rb = json.loads(ca.get(path)[1]), json.loads(cb.get(path)[1])
            assert [(h["id"], h["score"]) for h in ra["results"]] == [(h["id"], h["score"]) for h in rb["results"]], q
            assert ra["results"] and not ra["degraded"], q

        auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        ticket = {"id": "T-A1", "channel": "phone", "priority": "urgent", "subject": "Label printer smudges",
                  "description": "Barcodes come out smudged.", "created_at": "2026-11-01T09:00:00Z"}
        assert ca.post("/api/v1/tickets", json.dumps(ticket).encode(), auth)[0] == 201
        status, body, _ = cb.get("/api/v1/tickets/T-A1", {"Authorization": f"Bearer {token}"})
        assert status == 200 and json.loads(body)["ticket"]["subject"] == "Label printer smudges"

        ca.sign_in("alice", "alice-password-1")
        capture = {"title": "Label printer smudges barcodes", "summary": "Clean the print head.", "product": "printing",
                   "tags": "printer, labels", "language": "en", "visibility": "internal", "review_by": "2027-06-01",
                   "symptoms": "Every barcode is smudged.", "environment": "Zebra ZD420",
                   "cause": "A dirty print head.", "resolution": "1. Clean the print head.\n2. Print a test label."}
        status, _ = ca.form("/agent/contrib/ticket/T-A1", capture)
        assert status in (200, 302)
        cb.sign_in("bob", "bob-password-1")
        queue = cb.get("/agent/contrib/?state=pending")[1]
        assert "Label printer smudges barcodes" in queue
        cid = int(json.loads(kb(b, "contrib", "list", "--json").stdout)[0]["id"])
        status, _ = cb.form(f"/agent/contrib/{cid}/export", {}, page=f"/agent/contrib/{cid}")
        assert status in (200, 302)
        branch = json.loads(kb(b, "contrib", "show", str(cid), "--json").stdout)["branch"]
        assert "Clean the print head" in git(b.articles, "show", f"{branch}:label-printer-smudges-barcodes.md")

        cb2 = Client(base_b)
        cb2.sign_in("alice", "alice-password-1")
        status, page, _ = cb2.get("/agent")
        assert status == 200 and 'name="password"' not in page       # the console
        assert kb(a, "users", "disable", "alice").returncode == 0
        status, page, _ = cb2.get("/agent")
        assert 'name="password"' in page                              # signed out on B: the sign-in form

        # kill -9 of A while it takes writes: every ticket A acknowledged is in the database
        acked: list[str] = []
        stop = threading.Event()

        def write():
            i = 0
            while not stop.is_set():
                t = {**ticket, "id": f"K-{i:04d}", "subject": f"Write {i}"}
                try:
                    if ca.post("/api/v1/tickets", json.dumps(t).encode(), auth)[0] == 201:
                        acked.append(t["id"])
                except OSError:
                    return
                i += 1
        writer = threading.Thread(target=write)
        writer.start()
        wait_for(lambda: len(acked) >= 20, 60, 0.05)
        os.killpg(proc_a.pid, signal.SIGKILL)
        stop.set()
        writer.join(30)
        for tid in acked:
            status, _, _ = cb.get(f"/api/v1/tickets/{tid}", {"Authorization": f"Bearer {token}"})
            assert status == 200, tid
        assert len(acked) >= 20
