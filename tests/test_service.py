"""The refresh cycle and the push webhook, in process: a real bare origin, real git, a real
index, SQLite and the Flask test client. (tests/test_service_serve.py runs them in a real
`kb serve`.)"""
from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time

import pytest
from click.testing import CliRunner

from kb.cli import main
from kb.core.store import connect
from kb.search.searcher import Searcher, SearchQuery
from kb.service.refresh import follow_remote, refresh_once
from kb.service.refresher import Refresher
from kb.service.state import RefreshState
from kb.tickets.records import save_ticket
from tests.conftest import article, git
from tests.service_support import NEW, node, origin  # noqa: F401

SECRET = "hook-secret-1"


def ids(settings, text: str) -> list[str]:
    return [h.id for h in Searcher(settings).search(SearchQuery(text, role="agent", mode="keyword")).results]


def test_a_cycle_fast_forwards_and_reindexes_what_was_merged(node, origin):
    first = refresh_once(node)
    assert first.result == "ok" and first.git.message == "up to date"
    assert first.articles.details["articles"] == 6
    pushed = origin.push({"label-printer.md": NEW}, "Add the label printer article")
    r = refresh_once(node)
    assert r.git.status == "ok" and r.git.details["to"] == pushed and origin.head() == pushed
    assert r.articles.details["added"] == ["label-printer.md"] and r.changed()
    assert ids(node, "smudged barcodes")[:1] == ["KB-0100"]
    origin.push({"label-printer.md": NEW.replace("smudged barcodes", "faded receipts")}, "Edit it")
    refresh_once(node)
    assert ids(node, "faded receipts")[:1] == ["KB-0100"] and not ids(node, "smudged barcodes")
    origin.push({"label-printer.md": None}, "Delete it")
    assert refresh_once(node).articles.details["removed"] == ["label-printer.md"]
    assert not ids(node, "faded receipts")


def test_local_changes_and_a_diverged_history_are_reported_and_never_reset(node, origin):
    refresh_once(node)
    origin.push({"label-printer.md": NEW}, "Add")
    edited = origin.checkout / "printer-offline.md"
    edited.write_text(edited.read_text("utf-8") + "\nA local edit.\n", "utf-8")
    before = origin.head()
    step = follow_remote(node)
    assert step.status == "failed" and "local changes" in step.message and "printer-offline.md" in step.message
    assert origin.head() == before and "A local edit." in edited.read_text("utf-8")
    git(origin.checkout, "checkout", "--", "printer-offline.md")
    (origin.checkout / "local.md").write_text(article("KB-0200", "A local commit"), "utf-8")
    git(origin.checkout, "add", "-A")
    git(origin.checkout, "commit", "-q", "-m", "A commit the remote does not have")
    mine = origin.head()
    r = refresh_once(node)
    assert r.result == "failed" and "diverged" in r.git.message and origin.head() == mine
    assert r.articles.status == "ok" and "KB-0200" in ids(node, "local commit")     # local work still indexed


def test_an_unreachable_remote_leaves_the_last_generation_serving(node, origin):
    refresh_once(node)
    gen = Searcher(node).snapshot().generation.name
    git(origin.checkout, "remote", "set-url", "origin", str(origin.bare.parent / "gone.git"))
    r = refresh_once(node)
    assert r.result == "failed" and r.git.status == "failed" and "cannot fetch" in r.git.message
    assert "the last generation keeps serving" in r.git.message
    assert ids(node, "printer offline") and Searcher(node).snapshot().generation.name in (gen, r.articles.details["generation"])


def test_credentials_in_a_remote_url_never_reach_the_report(node, origin):
    url = "https://kb-bot:s3cret-token@127.0.0.1:9/articles.git"
    git(origin.checkout, "remote", "set-url", "origin", url)
    for step in (follow_remote(node), follow_remote(node.replace(git_remote=url, git_branch="main"))):
        assert step.status == "failed" and "cannot fetch" in step.message
        assert "s3cret" not in step.message and "s3cret" not in str(step.details)
    assert "from 'https://…@127.0.0.1:9/articles.git'" in step.message


def test_folders_without_a_remote_to_follow_are_skipped(node, origin):
    git(origin.checkout, "branch", "--unset-upstream")
    assert follow_remote(node).status == "skipped"
    assert follow_remote(node.replace(git_remote="origin", git_branch="main")).status == "ok"
    sub = origin.checkout / "sub"
    sub.mkdir()
    (sub / "a.md").write_text(article("KB-0300", "In a sub folder"), "utf-8")
    git(origin.checkout, "add", "-A")
    git(origin.checkout, "commit", "-q", "-m", "sub")
    git(origin.checkout, "branch", "-u", "origin/main")
    step = follow_remote(node.replace(articles=sub))
    assert step.status == "skipped" and "KB_GIT_REMOTE" in step.message


def test_a_resolved_ticket_reaches_similar_tickets_in_the_next_cycle(node):
    from kb.tickets.similar import SimilarTickets
    refresh_once(node)
    db = connect(node)
    save_ticket(db, {"id": "T-1", "channel": "phone", "priority": "urgent", "subject": "Label printer smudges",
                     "description": "Barcodes come out smudged", "created_at": "2026-11-01T09:00:00Z"})
    assert refresh_once(node).tickets.details["tickets"] == 0
    save_ticket(db, {"id": "T-1", "status": "resolved", "resolution": "Cleaned the print head.",
                     "resolved_at": "2026-11-01T10:00:00Z"})
    r = refresh_once(node)
    assert r.tickets.details["added"] == 1 and r.tickets.details["changed"] is True
    found = SimilarTickets(node).search("smudged barcodes on the label printer", role="agent")
    assert [t.id for t in found] == ["T-1"]


def test_kb_refresh_prints_what_changed_and_fails_loudly(node, origin, monkeypatch):
    for k, v in {"KB_HOME": str(node.home), "KB_ARTICLES": str(node.articles), "KB_SEMANTIC": "0"}.items():
        monkeypatch.setenv(k, v)
    r = CliRunner().invoke(main, ["refresh"])
    assert r.exit_code == 0 and "6 articles (full build: 6 added" in r.output and "refresh ok" in r.output
    origin.push({"label-printer.md": NEW}, "Add")
    r = CliRunner().invoke(main, ["refresh", "--json"])
    report = json.loads(r.output)
    assert r.exit_code == 0 and report["articles"]["details"]["added"] == ["label-printer.md"]
    git(origin.checkout, "remote", "set-url", "origin", "/nonexistent/origin.git")
    r = CliRunner().invoke(main, ["refresh"])
    assert r.exit_code == 1 and "! git" in r.output and "cannot fetch" in r.output and "refresh failed" in r.output
    state = RefreshState(node.home).read()
    assert state["runs"] == 3 and state["failures"] == 1 and state["last"]["result"] == "failed"


def test_workers_share_one_cycle_and_a_webhook_request_starts_the_next(node):
    """Three refreshers (one per worker) asking at once: one cycle runs; a request made after
    it began makes exactly one more."""
    node = node.replace(refresh_seconds=3600)
    workers = [Refresher(node) for _ in range(3)]
    ran: list = []
    barrier = threading.Barrier(3)

    def work(w):
        barrier.wait()
        ran.append(w.run_if_due())
    threads = [threading.Thread(target=work, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r is not None for r in ran) == 1
    assert all(w.run_if_due() is None for w in workers)       # not due again for an hour
    time.sleep(0.05)
    workers[2].request()
    got = [w.run_if_due() for w in workers]
    assert sum(r is not None for r in got) == 1 and next(r for r in got if r).trigger == "webhook"
    assert RefreshState(node.home).read()["runs"] == 2


# --- the push webhook -----------------------------------------------------------------------

@pytest.fixture
def hook_app(node):
    from web import create_app
    refresh_once(node)
    app = create_app(node.replace(git_webhook_secret=SECRET))
    app.config["TESTING"] = True
    return app


def _github(body: bytes, secret: str = SECRET) -> dict:
    return {"X-GitHub-Event": "push", "Content-Type": "application/json",
            "X-Hub-Signature-256": "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()}


@pytest.mark.parametrize("host", ["github", "gitlab", "gitea", "forgejo"])
def test_a_signed_push_to_the_tracked_branch_asks_for_a_refresh(hook_app, node, host):
    body = json.dumps({"ref": "refs/heads/main", "after": "abc"}).encode()
    sig = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    headers = {"github": _github(body), "gitlab": {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": SECRET},
               "gitea": {"X-Gitea-Event": "push", "X-Gitea-Signature": sig},
               "forgejo": {"X-Forgejo-Event": "push", "X-Forgejo-Signature": sig}}[host]
    state = RefreshState(node.home)
    assert state.requested_at() == 0
    r = hook_app.test_client().post("/api/v1/hooks/git", data=body, headers=headers)
    assert r.status_code == 202 and r.get_json()["refresh"] is True and r.get_json()["host"] == host
    assert state.requested_at() > 0 and Refresher(node).due() == "webhook"


def test_bad_signatures_other_branches_and_events_change_nothing(hook_app, node):
    c = hook_app.test_client()
    body = json.dumps({"ref": "refs/heads/main"}).encode()
    for headers in (_github(body, "wrong-secret"), {"X-GitHub-Event": "push"}, {"X-Gitlab-Token": "nope"},
                    {"X-Gitea-Signature": "0" * 64}, {}):
        r = c.post("/api/v1/hooks/git", data=body, headers=headers)
        assert r.status_code == 401 and r.get_json()["field"] == "signature", headers
    tampered = json.dumps({"ref": "refs/heads/main", "x": 1}).encode()
    assert c.post("/api/v1/hooks/git", data=tampered, headers=_github(body)).status_code == 401
    assert RefreshState(node.home).requested_at() == 0
    other = json.dumps({"ref": "refs/heads/feature"}).encode()
    r = c.post("/api/v1/hooks/git", data=other, headers=_github(other))
    assert r.status_code == 202 and r.get_json()["refresh"] is False and "refs/heads/main" in r.get_json()["reason"]
    r = c.post("/api/v1/hooks/git", data=b"{}", headers={**_github(b"{}"), "X-GitHub-Event": "ping"})
    assert r.status_code == 200 and r.get_json()["reason"] == "ping"
    r = c.post("/api/v1/hooks/git", data=b"{}", headers={**_github(b"{}"), "X-GitHub-Event": "issues"})
    assert r.status_code == 202 and "not a push" in r.get_json()["reason"]
    assert RefreshState(node.home).requested_at() == 0


def test_the_webhook_is_off_without_a_secret(node):
    from web import create_app
    refresh_once(node)
    c = create_app(node).test_client()
    body = json.dumps({"ref": "refs/heads/main"}).encode()
    r = c.post("/api/v1/hooks/git", data=body, headers=_github(body))
    assert r.status_code == 404 and "KB_GIT_WEBHOOK_SECRET" in r.get_json()["error"]
