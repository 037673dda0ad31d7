"""/api/v1/health tells the truth: ok when all is well, degraded with every reason when the node
serves but something needs a person, failing (503) when it cannot serve."""
from __future__ import annotations

from pathlib import Path

from kb.core.encoders import EncoderPool
from kb.core.errors import ModelUnavailable
from kb.search.searcher import Searcher
from kb.service.refresh import refresh_once, run_and_record
from kb.tickets.boost import TicketBoost
from tests.conftest import git
from tests.service_support import node, origin  # noqa: F401
from tests.tiny_encoder import TinyEncoder


class TinyUse3(TinyEncoder):
    name = "use3"


def _health(settings, searcher=None):
    from web import create_app
    app = create_app(settings, searcher=searcher)
    r = app.test_client().get("/api/v1/health")
    return r.status_code, r.get_json()


def test_a_current_node_is_ok(node):
    run_and_record(node)
    status, h = _health(node)
    assert status == 200 and h["status"] == "ok" and h["ok"] and h["problems"] == []
    assert h["index"]["commit"] and h["index"]["age_seconds"] >= 0 and h["articles"] == 6
    assert h["refresh"]["last"]["result"] == "ok" and h["refresh"]["interval_seconds"] == 60
    assert h["database"] == {"reachable": True}
    assert h["models"]["semantic"] is False and "keyword only" in h["models"]["note"]


def test_a_failed_refresh_a_missing_model_and_a_failing_boost_degrade_it(node, origin):
    git(origin.checkout, "remote", "set-url", "origin", "/nonexistent/origin.git")
    run_and_record(node)

    def broken():
        raise ModelUnavailable("minilm: cannot load all-MiniLM-L6-v2 (OSError: weights missing)")
    pool = EncoderPool(("minilm", "use3"), factories={"minilm": broken, "use3": TinyUse3})
    pool.available()
    boost = TicketBoost(node)
    boost.last_error = "OperationalError: database is locked"
    status, h = _health(node, Searcher(node, pool=pool, boosts=boost))
    assert status == 200 and h["status"] == "degraded" and not h["ok"]
    text = " | ".join(h["problems"])
    assert "the last refresh failed: git: cannot fetch" in text
    assert "without the minilm encoder" in text and "weights missing" in text
    assert "ticket boost cannot be recomputed: OperationalError" in text
    assert h["models"]["loaded"] == ["use3"] and "minilm" in h["models"]["failed"]


def test_no_index_or_no_database_is_failing(node, tmp_path):
    from web import create_app
    status, h = _health(node)
    assert status == 503 and h["status"] == "failing" and "run `kb index` first" in h["problems"][0]
    refresh_once(node)
    client = create_app(node).test_client()
    assert client.get("/api/v1/health").status_code == 200
    for suffix in ("", "-wal", "-shm"):                   # the database goes away under the running app
        Path(f"{node.db_path}{suffix}").rename(tmp_path / f"gone{suffix}")
    node.db_path.mkdir()
    r = client.get("/api/v1/health")
    h = r.get_json()
    assert r.status_code == 503 and h["status"] == "failing" and h["database"]["reachable"] is False
    assert any("database cannot be reached" in p for p in h["problems"])
    assert client.get("/api/v1/search?q=printer").status_code == 200      # search itself still answers


def test_a_stalled_refresher_and_skipped_articles_are_reported(node, origin):
    (origin.checkout / "broken.md").write_text("---\nid: [unclosed\n---\nbody\n", "utf-8")
    run_and_record(node.replace(refresh_seconds=1))
    import time
    time.sleep(3.2)
    status, h = _health(node.replace(refresh_seconds=1))
    text = " | ".join(h["problems"])
    assert h["status"] == "degraded" and "no refresh for" in text and "not served because of errors" in text
    assert "broken.md" in text
