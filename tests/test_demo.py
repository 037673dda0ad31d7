"""`kb demo load`: a realistic, reproducible data set over the starter knowledge base, every row
marked as demo, removable without touching real data; and `kb eval --tickets` on it."""
import datetime as dt
import json
import re

import pytest
from click.testing import CliRunner

from kb.ops import demo
from kb.core import store
from kb.tickets import records as tickets
from kb.cli import main
from kb.core.config import Settings
from kb.core.generation import IndexStore
from tests.conftest import ROOT
from tests.conftest import db_env

pytestmark = pytest.mark.both_backends       # SQLite and the suite's PostgreSQL

NOW = dt.datetime(2026, 11, 28, 12, tzinfo=dt.timezone.utc)


@pytest.fixture(scope="module")
def starter(tmp_path_factory):
    """The starter KB (articles/ of this repository), keyword index only, demo data loaded."""
    from indexer.build import build
    home = tmp_path_factory.mktemp("demo")
    s = Settings.load(env={}, home=home, articles=ROOT / "articles", semantic=False, encoders=())
    assert build(s).ok
    db = store.connect(s)
    counts = demo.load(db, s, seed=7, now=NOW)
    db.close()
    return s, counts


def test_demo_data_is_realistic_and_marked(starter):
    s, counts = starter
    db = store.connect(s)
    q = lambda sql: db.execute(sql).fetchall()             # noqa: E731
    assert 600 <= counts["tickets"] <= 1100 and counts["feedback"] > 100 and counts["search_log"] > 100
    for table in ("tickets", "links", "feedback", "search_log", "views", "flags"):
        assert q(f"SELECT count(*) FROM {table} WHERE demo = 0") == [(0,)], table
    assert all(r[0].startswith("DEMO-") for r in q("SELECT id FROM tickets"))
    assert {r[0] for r in q("SELECT channel FROM tickets")} == {"phone", "email", "web", "chat"}
    assert {r[0] for r in q("SELECT priority FROM tickets")} == {"urgent", "important", "normal"}
    assert {r[0] for r in q("SELECT product FROM tickets")} >= {"printing", "vpn", "email", "accounts", "crm",
                                                                "network", "laptop", "meetings", "mobile"}
    subjects = [r[0] for r in q("SELECT subject FROM tickets")]
    assert any(re.search(r"[\u4e00-\u9fff]", x) for x in subjects) and any(x.isascii() for x in subjects)
    first, last = q("SELECT min(created_at), max(created_at) FROM tickets")[0]
    assert first < "2026-07-10" and last > "2026-11-25"
    # phone answered in seconds, e-mail in hours
    waits = dict(q("SELECT channel, avg(julianday(first_response_at) - julianday(created_at)) * 86400 FROM tickets "
                   "WHERE first_response_at IS NOT NULL GROUP BY channel"))
    assert waits["phone"] < 60 < 3600 < waits["email"]
    assert q("SELECT count(*) FROM tickets WHERE reopened > 0")[0][0] > 5
    assert q("SELECT count(*) FROM tickets WHERE status IN ('new', 'open', 'pending')")[0][0] > 0
    assert 0 < q("SELECT count(*) FROM tickets WHERE csat IS NOT NULL")[0][0] < counts["tickets"]
    # links go to starter articles; some resolved tickets (the gaps) have none
    known = IndexStore(s.index_root).article_ids()
    assert {r[0] for r in q("SELECT article_id FROM links")} <= known
    assert {r[0] for r in q("SELECT kind FROM links")} == {"resolved_by", "created_from", "referenced"}
    unlinked = q("SELECT count(*) FROM tickets t WHERE status IN ('resolved', 'closed') AND NOT EXISTS "
                 "(SELECT 1 FROM links l WHERE l.ticket_id = t.id)")[0][0]
    assert unlinked > 50
    assert q("SELECT count(*) FROM search_log WHERE results = 0")[0][0] > 10
    db.close()


def test_same_seed_same_data_and_if_empty(starter, tmp_path):
    s, counts = starter
    other = Settings.load(env={}, home=tmp_path, articles=s.articles, semantic=False, encoders=())
    db = store.connect(other)
    assert demo.load(db, other, seed=7, now=NOW) == counts
    a = store.connect(s)
    rows = "SELECT * FROM tickets ORDER BY id"
    assert db.execute(rows).fetchall() == a.execute(rows).fetchall()
    assert demo.load(db, other, if_empty=True, now=NOW) is None
    a.close()
    db.close()


def test_reload_and_clear_never_touch_real_data(starter, tmp_path):
    s, _ = starter
    other = Settings.load(env={}, home=tmp_path, articles=s.articles, semantic=False, encoders=())
    db = store.connect(other)
    tickets.upsert_ticket(db, {"id": "REAL-1", "channel": "phone", "priority": "urgent", "subject": "real",
                               "created_at": "2026-11-01T10:00:00Z", "articles": ["KB-0001"]}, source="import:x")
    db.execute("INSERT INTO feedback (article_id, helpful, audience, created_at) VALUES ('KB-0001', 1, 'agent', "
                    "'2026-11-01T10:00:00+00:00')")
    env = {"KB_HOME": str(tmp_path), "KB_ARTICLES": str(s.articles), "KB_SEMANTIC": "0"}
    r = CliRunner().invoke(main, ["demo", "load", "--if-empty"], env=env)
    assert r.exit_code == 0 and "no demo data loaded" in r.output
    r = CliRunner().invoke(main, ["demo", "load", "--seed", "3"], env=env)
    assert r.exit_code == 0 and "demo data loaded" in r.output
    r = CliRunner().invoke(main, ["demo", "load", "--seed", "3"], env=env)         # replaces, never doubles
    n = db.execute("SELECT count(*) FROM tickets WHERE demo = 1").fetchone()[0]
    assert n == int(re.search(r"(\d+) tickets", r.output).group(1))
    r = CliRunner().invoke(main, ["demo", "clear"], env=env)
    assert r.exit_code == 0
    assert db.execute("SELECT id FROM tickets").fetchall() == [("REAL-1",)]
    assert db.execute("SELECT count(*) FROM links").fetchone()[0] == 1
    assert db.execute("SELECT count(*) FROM feedback").fetchone()[0] == 1
    db.close()


def test_stale_and_report_show_the_planted_signals(starter):
    s, _ = starter
    env = {"KB_HOME": str(s.home), "KB_ARTICLES": str(s.articles), "KB_SEMANTIC": "0", **db_env(s)}
    r = CliRunner().invoke(main, ["stale", "--json"], env=env)
    reasons = {x["article_id"]: {c["code"] for c in x["reasons"]} for x in json.loads(r.output)["articles"]}
    assert "flagged" in reasons["KB-0040"] and "review_overdue" in reasons["KB-0040"]
    assert "negative_feedback" in reasons["KB-0010"]


def test_eval_tickets_time_split(starter):
    s, _ = starter
    env = {"KB_HOME": str(s.home), "KB_ARTICLES": str(s.articles), "KB_SEMANTIC": "0", **db_env(s)}
    # the last week only, to keep the test quick (`kb eval --tickets` alone splits at the 75th percentile)
    r = CliRunner().invoke(main, ["eval", "--tickets", "--cutoff", "2026-11-25", "--mode", "keyword", "--json"],
                           env=env)
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)["tickets"]
    assert out["cutoff"] == "2026-11-25T00:00:00Z"
    assert out["learned_from"] > 300 and 5 < out["evaluated"] < 40 and out["boosted_articles"] > 20
    m = out["modes"]["keyword"]
    assert 0.3 < m["no_boost"]["ndcg@10"] <= 1 and 0.3 < m["boost"]["ndcg@10"] <= 1
    r = CliRunner().invoke(main, ["eval", "--tickets", "--dataset", str(ROOT)], env=env)
    assert r.exit_code == 2 and "leave out --dataset" in r.output
    r = CliRunner().invoke(main, ["eval"], env=env)
    assert r.exit_code == 2 and "--dataset" in r.output
