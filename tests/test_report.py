"""`kb report`: the JSON contract, Markdown and HTML renderings (charts drawn by pygal, user text
escaped and defused against spreadsheet formulas), and the command itself."""
import json

import pytest
from click.testing import CliRunner

from kb.analytics import report
from kb.core import store
from kb.tickets import records as tickets
from kb.cli import main
from tests.conftest import db_env

pytestmark = pytest.mark.both_backends       # SQLite and the suite's PostgreSQL

EVIL_QUERY = '=HYPERLINK("http://evil.example","x")'
XSS_QUERY = "<script>alert(1)</script> | **bold**"


@pytest.fixture
def filled(indexed):
    db = store.connect(indexed)
    for i, (channel, day) in enumerate([("phone", "02"), ("email", "03"), ("web", "10"), ("chat", "17"),
                                        ("email", "24")]):
        tickets.upsert_ticket(db, {"id": f"R-{i}", "channel": channel, "priority": "normal",
                                   "subject": f"problem {i}", "agent": "=cmd|' /C calc'!A0",
                                   "product": "@risk", "created_at": f"2026-03-{day}T09:00:00Z",
                                   "first_response_at": f"2026-03-{day}T09:00:10Z",
                                   "resolved_at": f"2026-03-{day}T11:00:00Z", "csat": 4,
                                   "articles": ["KB-0001"] if i % 2 else []}, source="import:x")
    db.executemany("INSERT INTO search_log (query, role, results, latency_ms, created_at) "
                        "VALUES (?, 'customer', 0, 5, '2026-03-05T10:00:00+00:00')", [(EVIL_QUERY,), (XSS_QUERY,)])
    db.close()
    return indexed


def kb(settings, *args):
    env = {"KB_HOME": str(settings.home), "KB_ARTICLES": str(settings.articles), "KB_SEMANTIC": "0", **db_env(settings)}
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


CONTRACT = {"month", "tickets", "link_rate", "reuse_rate", "articles_created_from_tickets", "mttr_hours", "fcr_rate",
            "csat_avg", "first_response_met", "with_article", "without_article", "zero_result_queries",
            "stale_articles"}


def test_json_contract(filled):
    r = kb(filled, "report", "--month", "2026-03", "--format", "json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert CONTRACT <= set(data)
    assert data["month"] == "2026-03" and data["tickets"]["resolved"] == 5 and data["link_rate"] == 0.4
    assert set(data["first_response_met"]) == {"phone", "email", "web", "chat"}
    assert data["with_article"]["tickets"] == 2 and data["without_article"]["tickets"] == 3
    assert {q["query"] for q in data["zero_result_queries"]} == {EVIL_QUERY.lower(), " ".join(XSS_QUERY.lower().split())}
    assert [w["week"] for w in data["tickets_per_week"]][:2] == ["W09", "W10"]   # Mon 23 Feb – …, Mon 2 Mar – …
    assert sum(w["email"] for w in data["tickets_per_week"]) == 2
    # review dates come from the index: the BASIC articles are reviewed in 2027, so none is overdue
    assert all(x["code"] != "review_overdue" for s in data["stale_articles"] for x in s["reasons"])


def test_markdown_escapes_and_defuses_user_text(filled):
    db = store.connect(filled)
    text = report.to_markdown(report.build(db, filled, "2026-03", articles=[]))
    assert "'=hyperlink(" in text and "| =hyperlink" not in text
    assert "<script>" not in text and "&lt;script&gt;" in text and "\\| \\*\\*bold\\*\\*" in text
    assert "| link rate | 40.0 % |" in text


def test_html_has_charts_and_escapes(filled, tmp_path):
    out = tmp_path / "march.html"
    r = kb(filled, "report", "--month", "2026-03", "--format", "html", "--out", str(out))
    assert r.exit_code == 0 and f"wrote {out}" in r.output
    html = out.read_text("utf-8")
    assert html.count('src="data:image/svg+xml;base64,') == 2
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<td>&#39;@risk</td>" in html                       # products whose tickets rarely link
    assert "'=hyperlink" in html.replace("&#39;", "'").replace("&#34;", '"')
    import base64
    import re
    svg = base64.b64decode(re.search(r'src="data:image/svg\+xml;base64,([^"]+)"', html).group(1)).decode()
    assert "<svg" in svg and "Tickets created per week" in svg and "phone" in svg


def test_bad_month_and_out_folder(filled, tmp_path):
    r = kb(filled, "report", "--month", "March")
    assert r.exit_code == 2 and "--month" in r.output
    r = kb(filled, "report", "--month", "2026-03", "--out", str(tmp_path / "nope" / "r.md"))
    assert r.exit_code == 2 and "--out" in r.output


def test_cell_and_md_helpers():
    assert report.cell("=1+1") == "'=1+1" and report.cell("-2") == "'-2" and report.cell("@x") == "'@x"
    assert report.cell("plain") == "plain" and report.cell(None) == ""
    assert report.md("a|b <i>") == "a\\|b &lt;i&gt;"
