"""A real `kb serve` (gunicorn, several workers) keeping itself current from a real bare
origin: pushes become searchable within two refresh cycles, a signed push webhook within
5 s with the periodic refresh off, a resolved ticket shows as similar on another ticket's
page within one cycle; exactly one worker refreshes per cycle; an unreachable origin leaves
search answering and health degraded; /metrics counts the searches and refuses anonymous
callers."""
from __future__ import annotations

import hashlib
import hmac
import json
import re
import time

from kb.accounts.tokens import create_token
from kb.accounts.users import add_user
from kb.core.store import connect
from kb.service.refresh import refresh_once
from kb.service.state import RefreshState
from tests.browser_support import serve
from tests.conftest import git
from tests.service_support import NEW, Client, node, origin, wait_for  # noqa: F401

INTERVAL = 2


def test_a_running_server_follows_origin_one_worker_a_cycle(node, origin, tmp_path):
    refresh_once(node)                       # the index a deployment starts from
    token = create_token(connect(node), "prometheus", "agent")
    env = {"KB_REFRESH_SECONDS": str(INTERVAL)}
    with serve(node, workers=3, env=env, log=open(tmp_path / "serve.log", "w")) as base:
        c = Client(base)
        assert "KB-0100" not in c.search("smudged barcodes")
        origin.push({"label-printer.md": NEW}, "Add the label printer article")
        took = wait_for(lambda: "KB-0100" in c.search("smudged barcodes"), 2 * INTERVAL + 3)
        assert "/help/articles/label-printer" in c.get("/sitemap.xml")[1], took
        origin.push({"label-printer.md": NEW.replace("smudged barcodes", "faded receipts")}, "Edit")
        wait_for(lambda: "faded receipts" in c.get("/help/articles/label-printer")[1], 2 * INTERVAL + 3)
        origin.push({"label-printer.md": None}, "Delete")
        wait_for(lambda: c.get("/help/articles/label-printer")[0] == 404, 2 * INTERVAL + 3)
        assert "KB-0100" not in c.search("faded receipts")
        assert "/help/articles/label-printer" not in c.get("/sitemap.xml")[1]

        # every cycle was run by exactly one of the three workers
        time.sleep(3 * INTERVAL)
        recent = RefreshState(node.home).read()["recent"]
        starts = [r["started"] for r in recent if r["trigger"] == "periodic"]
        gaps = [b - a for a, b in zip(starts, starts[1:])]
        assert len(starts) >= 5 and min(gaps) >= INTERVAL * 0.95, gaps
        assert len({r["pid"] for r in recent}) >= 1

        # metrics: the searches above, for token holders only
        assert c.get("/metrics")[0] == 401
        status, text, _ = c.get("/metrics", {"Authorization": f"Bearer {token}"})
        assert status == 200
        count = re.search(r'kb_search_duration_seconds_count\{mode="keyword",surface="api"\} (\d+)', text)
        assert count and int(float(count.group(1))) == c.searches, (c.searches, text[:2000])
        assert re.search(r"kb_refresh_runs_total \d", text) and "kb_index_generation_age_seconds" in text
        assert re.search(r'kb_http_responses_total\{status="404"\} [1-9]', text)

        # origin unreachable: search goes on, health says why it is degraded
        git(origin.checkout, "remote", "set-url", "origin", str(tmp_path / "gone.git"))
        wait_for(lambda: json.loads(c.get("/api/v1/health")[1])["status"] == "degraded", 3 * INTERVAL + 3)
        status, body, _ = c.get("/api/v1/health")
        health = json.loads(body)
        assert status == 200 and any("cannot fetch" in p for p in health["problems"]), health
        assert health["refresh"]["last"]["result"] == "failed" and health["database"]["reachable"]
        assert health["index"]["commit"] == origin.head()
        assert c.search("printer offline")


def test_a_signed_push_webhook_makes_a_change_searchable_within_five_seconds(node, origin, tmp_path):
    refresh_once(node)
    secret = "github-hook-secret"
    env = {"KB_REFRESH_SECONDS": "0", "KB_GIT_WEBHOOK_SECRET": secret}
    with serve(node, workers=2, env=env, log=open(tmp_path / "serve.log", "w")) as base:
        c = Client(base)
        after = origin.push({"label-printer.md": NEW}, "Add the label printer article")
        body = json.dumps({"ref": "refs/heads/main", "after": after}).encode()
        good = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        status, answer = c.post("/api/v1/hooks/git", body, {"X-GitHub-Event": "push", "X-Hub-Signature-256":
                                                            "sha256=" + "0" * 64})
        assert status == 401 and answer["field"] == "signature"
        time.sleep(3)
        assert "KB-0100" not in c.search("smudged barcodes") and origin.head() != after
        t0 = time.monotonic()
        status, answer = c.post("/api/v1/hooks/git", body, {"X-GitHub-Event": "push", "X-Hub-Signature-256": good})
        assert status == 202 and answer["refresh"] is True
        wait_for(lambda: "KB-0100" in c.search("smudged barcodes"), 5 - (time.monotonic() - t0))
        assert origin.head() == after


def test_a_ticket_resolved_through_the_api_is_similar_on_another_ticket_within_a_cycle(node, tmp_path):
    refresh_once(node)
    db = connect(node)
    add_user(db, "alice", "alice-password-1", "agent")
    token = create_token(db, "helpdesk", "agent")
    with serve(node, workers=2, env={"KB_REFRESH_SECONDS": str(INTERVAL)}, log=open(tmp_path / "serve.log", "w")) as base:
        c = Client(base)
        auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        ticket = {"channel": "phone", "priority": "urgent", "created_at": "2026-11-01T09:00:00Z"}
        status, _ = c.post("/api/v1/tickets", json.dumps({**ticket, "id": "T-NEW", "subject": "Label printer smudges barcodes",
                                                          "description": "Every barcode comes out smudged."}).encode(), auth)
        assert status == 201
        status, _ = c.post("/api/v1/tickets", json.dumps({**ticket, "id": "T-OLD", "status": "resolved",
                                                          "subject": "Smudged barcodes on the label printer",
                                                          "resolution": "Cleaned the print head and recalibrated.",
                                                          "resolved_at": "2026-11-02T09:00:00Z"}).encode(), auth)
        assert status == 201
        c.sign_in("alice", "alice-password-1")
        took = wait_for(lambda: "T-OLD" in c.get("/agent/tickets/T-NEW")[1], INTERVAL + 3)
        page = c.get("/agent/tickets/T-NEW")[1]
        assert "Cleaned the print head" in page, took
