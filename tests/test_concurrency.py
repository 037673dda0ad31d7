"""Concurrency: many threads reading and writing through the real app at once (votes, webhook
ticket updates, searches that are logged, sign-ins) — zero failed requests and every write
counted; and a short run of bench/load.py against a real `kb serve` while `kb index --full`
runs again and again, so the load script keeps working and the served instance answers a mixed
load through index swaps without one error."""
from __future__ import annotations

import re
import subprocess
import sys
import threading

from kb.core.store import connect
from kb.accounts.tokens import create_token
from tests.conftest import ROOT
from tests.web_support import app, signed_in, web_settings  # noqa: F401

THREADS = 8
ROUNDS = 15


def test_concurrent_reads_and_writes_through_the_app_all_succeed(app, web_settings):
    db = connect(web_settings)
    token = create_token(db, "helpdesk", "agent")
    db.close()
    failures: list[str] = []
    barrier = threading.Barrier(THREADS)

    def run(k: int):
        anon = app.test_client()
        agent = signed_in(app.test_client(), "alice") if k % 2 else None
        barrier.wait()
        for i in range(ROUNDS):
            answers = [
                anon.post("/help/articles/printer-offline/feedback", data={"helpful": "yes" if i % 2 else "no"},
                          headers={"X-Requested-With": "fetch", "Accept": "application/json"}),
                anon.post("/api/v1/tickets", headers={"Authorization": f"Bearer {token}"},
                          json={"id": f"T-C{k}-{i}", "channel": "web", "priority": "normal",
                                "subject": f"Printer offline {k} {i}", "created_at": "2026-11-01T09:00:00Z",
                                "articles": ["KB-0001"]}),
                anon.post("/api/v1/tickets", headers={"Authorization": f"Bearer {token}"},
                          json={"id": "T-100", "status": "open" if i % 2 else "pending"}),
                anon.get(f"/help/search?q=printer+offline+{i}"),
                anon.get("/api/v1/suggest?q=vpn+err"),
                anon.get("/help/articles/vpn-error-809"),
            ]
            if agent is not None:
                answers.append(agent.get(f"/agent/results?q=printer+{i}", headers={"X-Requested-With": "fetch"}))
            for r in answers:
                if r.status_code >= 400:
                    failures.append(f"{r.request.path}: {r.status_code} {r.get_data(as_text=True)[:160]}")

    app.config["WTF_CSRF_ENABLED"] = False       # the anonymous vote form's token is not the point here
    threads = [threading.Thread(target=run, args=(k,)) for k in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not failures, failures[:5]
    db = connect(web_settings)
    assert db.execute("SELECT COUNT(*) FROM feedback").fetchone()[0] == THREADS * ROUNDS
    assert db.execute("SELECT COUNT(*) FROM tickets WHERE id LIKE 'T-C%'").fetchone()[0] == THREADS * ROUNDS
    assert db.execute("SELECT COUNT(*) FROM links WHERE ticket_id LIKE 'T-C%'").fetchone()[0] == THREADS * ROUNDS
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    db.close()


def test_a_short_load_run_against_kb_serve_has_no_errors():
    p = subprocess.run([sys.executable, str(ROOT / "bench" / "load.py"), "--clients", "6", "--seconds", "8",
                        "--keyword-only", "--reindex"], cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert p.returncode == 0, p.stderr[-2000:]
    m = re.search(r"(\d+) requests, [\d.]+ requests/s, (\d+) errors", p.stdout)
    assert m, p.stdout
    assert int(m.group(1)) > 30 and int(m.group(2)) == 0, p.stdout
    assert "| webhook |" in p.stdout and "| agent_type |" in p.stdout and "Server memory" in p.stdout
    builds = re.search(r"ran (\d+) times \((\d+) completed\)", p.stdout)
    assert builds and int(builds.group(2)) >= 1, p.stdout     # the generation changed under the load
