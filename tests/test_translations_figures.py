"""An article in several languages counted as one in the figures: ticket links, views, feedback
and flags of its versions add up on its staff page (feedback split by language), the ticket
boost lifts every version with the family's evidence, `kb stale` lists a translation behind its
source and the missing translations readers ask for — real repository, index and database."""
from __future__ import annotations

import datetime as dt
import json

import pytest
from click.testing import CliRunner

from indexer.build import build
from kb.analytics import activity
from kb.cli import main
from kb.core.store import connect
from kb.tickets.boost import TicketBoost, by_family, searcher as boosted
from kb.tickets.records import link_article, upsert_ticket
from tests.conftest import commit_all
from tests.translations_support import bilingual
from tests.web_support import signed_in

pytestmark = pytest.mark.both_backends


@pytest.fixture
def kb(tmp_path, database_url):
    s = bilingual(tmp_path, database_url)
    db = connect(s)
    now = dt.datetime.now(dt.timezone.utc)
    for n, (aid, subject) in enumerate([("KB-0001", "Printer offline"), ("KB-0002", "打印机脱机"),
                                        ("KB-0002", "打印机又脱机"), ("KB-0003", "VPN 809")]):
        when = (now - dt.timedelta(days=2, hours=n)).strftime("%Y-%m-%dT%H:%M:%SZ")
        upsert_ticket(db, {"id": f"T-{n}", "channel": "phone", "priority": "normal", "subject": subject,
                           "status": "resolved", "created_at": when, "resolved_at": when})
        link_article(db, f"T-{n}", aid, by="alice")
    db.close()
    return s


def test_the_staff_page_counts_every_version_as_one_article(kb):
    from web import create_app
    db = connect(kb)
    activity.record_feedback(db, "KB-0001", True, "Clear steps", "customer")
    activity.record_feedback(db, "KB-0002", False, "第三步看不懂", "customer")
    activity.record_feedback(db, "KB-0002", True, None, "customer")
    activity.record_view(db, "KB-0002", "customer", "zh")
    activity.flag_article(db, "KB-0002", "outdated", "步骤旧了", by="alice")
    app = create_app(kb)
    app.config["TESTING"] = True
    page = signed_in(app.test_client(), "alice").get("/agent/articles/printer").get_data(as_text=True)
    assert "T-0" in page and "T-1" in page and "T-2" in page and "T-3" not in page     # links of both versions
    assert "<strong>67%</strong>" in page                                                 # 2 of 3 votes
    assert "data-feedback-split" in page and "第三步看不懂" in page
    assert page.count("步骤旧了") == 1                                                    # the zh version's flag
    assert '<dt>Views (30 days)</dt><dd>2</dd>' in page                                  # this view and the zh one


def test_the_ticket_boost_adds_up_a_family_s_evidence_for_every_version(kb):
    weights = {"KB-0001": 1.0, "KB-0002": 2.0, "KB-0003": 1.0}
    assert by_family(weights, {"KB-0001": "KB-0001", "KB-0002": "KB-0001"}, {"KB-0001": ["KB-0001", "KB-0002"]}) \
        == {"KB-0001": 3.0, "KB-0002": 3.0, "KB-0003": 1.0}
    s = boosted(kb)
    table = s.boosts.table()
    assert table["KB-0001"] == table["KB-0002"] > table["KB-0003"] > 1.0
    plain = TicketBoost(kb).table()                                 # without families: each version alone
    assert plain["KB-0002"] > plain["KB-0001"]


def test_kb_stale_lists_a_translation_behind_and_the_missing_translations_readers_ask_for(kb):
    src = kb.articles / "printer.md"
    src.write_text(src.read_text().replace("A stale setting.", "The printer kept its old IP address."))
    commit_all(kb.articles, "Explain the cause")
    assert build(kb).ok
    db = connect(kb)
    sid = activity.log_search(db, "VPN 报错 809 怎么办", "customer", 3, 12.0)
    activity.record_click(db, sid, "KB-0003")                         # a Chinese search opened an English-only article
    for _ in range(3):
        activity.record_view(db, "KB-0003", "customer", "zh")
    activity.record_view(db, "KB-0003", "customer", "en")
    activity.record_view(db, "KB-0001", "customer", "zh")          # it has a zh version: not missing
    db.close()
    env = {"KB_HOME": str(kb.home), "KB_ARTICLES": str(kb.articles), "KB_SEMANTIC": "0",
           **({"KB_DATABASE_URL": kb.database_url} if kb.database_url else {})}
    r = CliRunner().invoke(main, ["stale", "--json"], env=env)
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    behind = {x["article_id"]: x["reasons"] for x in out["articles"]}["KB-0002"]
    assert behind[0]["code"] == "translation_behind" and behind[0]["source"] == "KB-0001" and behind[0]["days"] == 0
    assert out["translation_priorities"] == [{"article_id": "KB-0003", "title": "VPN error 809", "language": "en",
                                              "missing": "zh", "searches": 1, "views": 3, "score": 5}]
    text = CliRunner().invoke(main, ["stale"], env=env).output
    assert "translation_behind: translation behind its en source KB-0001: 1 change(s)" in text
    assert "KB-0003 → zh: 1 search(es), 3 view(s)" in text


def test_the_monthly_report_counts_outdated_translations_and_the_missing_ones(kb):
    src = kb.articles / "printer.md"
    src.write_text(src.read_text().replace("A stale setting.", "The printer kept its old IP address."))
    commit_all(kb.articles, "Explain the cause")
    assert build(kb).ok
    db = connect(kb)
    for _ in range(2):
        activity.record_view(db, "KB-0003", "customer", "zh")
    db.close()
    env = {"KB_HOME": str(kb.home), "KB_ARTICLES": str(kb.articles), "KB_SEMANTIC": "0",
           **({"KB_DATABASE_URL": kb.database_url} if kb.database_url else {})}
    month = dt.date.today().strftime("%Y-%m")
    r = CliRunner().invoke(main, ["report", "--month", month, "--format", "json"], env=env)
    assert r.exit_code == 0, r.output
    t = json.loads(r.output)["translations"]
    assert t["families"] == 1 and [x["article_id"] for x in t["outdated"]] == ["KB-0002"]
    assert t["outdated"][0]["source"] == "KB-0001" and t["priorities"][0]["missing"] == "zh"
    text = CliRunner().invoke(main, ["report", "--month", month], env=env).output
    assert "## Translations" in text and "1 translation(s) behind their source" in text
    html = CliRunner().invoke(main, ["report", "--month", month, "--format", "html"], env=env).output
    assert "<h2>Translations</h2>" in html and "KB-0002" in html
