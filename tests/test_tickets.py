"""Tickets: validation, CSV/JSONL import (good and bad rows, line numbers, idempotency, column
mapping, links from the ``articles`` field), links, suggestions and the ticket boost — on a
real SQLite file and a real Whoosh index."""
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from kb.core import store
from kb.tickets import records as tickets
from kb.cli import main
from kb.core.errors import NotFound, TicketError
from kb.search.searcher import Searcher, SearchQuery
from kb.tickets.importer import import_file, parse_mapping
from kb.tickets.boost import TicketBoost
from kb.tickets.suggest import QUERY_CHARS, articles_for_ticket, ticket_query
from tests.conftest import db_env

pytestmark = pytest.mark.both_backends       # SQLite and the suite's PostgreSQL

GOOD = {"id": "T-1", "channel": "Phone", "priority": "High", "subject": "Printer offline after new router",
        "created_at": "2026-03-01 09:00"}


@pytest.fixture
def db(settings):
    d = store.connect(settings)
    yield d
    d.close()


def kb(settings, *args):
    env = {"KB_HOME": str(settings.home), "KB_ARTICLES": str(settings.articles), "KB_SEMANTIC": "0", **db_env(settings)}
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def test_upsert_normalises_and_validates(db):
    t = tickets.upsert_ticket(db, dict(GOOD, csat="4", fcr="yes"))
    assert (t["channel"], t["priority"], t["status"]) == ("phone", "important", "new")
    assert t["created_at"] == "2026-03-01T09:00:00Z" and t["csat"] == 4 and t["fcr"] is True
    for field, value, words in [("channel", "fax", "not one of"), ("csat", "7", "from 1 to 5"),
                                ("created_at", "yesterday", "not a date"), ("priority", "whenever", "not one of")]:
        with pytest.raises(TicketError) as e:
            tickets.upsert_ticket(db, dict(GOOD, id="T-2", **{field: value}))
        assert e.value.field == field and words in str(e.value)
    with pytest.raises(TicketError) as e:
        tickets.upsert_ticket(db, dict(GOOD, id="T-3", resolved_at="2026-02-01T00:00:00Z"))
    assert e.value.field == "resolved_at" and "before created_at" in str(e.value)
    with pytest.raises(TicketError) as e:
        tickets.upsert_ticket(db, {"id": "T-4", "channel": "email"})
    assert e.value.field == "priority"
    assert tickets.get_ticket(db, "T-2") is None and tickets.get_ticket(db, "T-1")["csat"] == 4


def test_partial_update_resolve_and_reopen(db):
    tickets.upsert_ticket(db, GOOD)
    t = tickets.upsert_ticket(db, {"id": "T-1", "status": "solved"})          # a live event: stamped now
    assert t["status"] == "resolved" and t["resolved_at"] and t["subject"] == GOOD["subject"]
    t = tickets.upsert_ticket(db, {"id": "T-1", "status": "open"})
    assert (t["status"], t["resolved_at"], t["reopened"]) == ("open", None, 1)
    with pytest.raises(TicketError) as e:                      # an import must say when it was resolved
        tickets.upsert_ticket(db, {"id": "T-1", "status": "resolved"}, source="import:x.csv")
    assert e.value.field == "resolved_at"


def test_list_newest_first_with_filters(db):
    for i, (day, product) in enumerate([("01", "vpn"), ("03", "printing"), ("02", "vpn")]):
        tickets.upsert_ticket(db, dict(GOOD, id=f"T-{i}", product=product, created_at=f"2026-03-{day}T10:00:00Z"))
    assert [t["id"] for t in tickets.list_tickets(db)] == ["T-1", "T-2", "T-0"]
    assert [t["id"] for t in tickets.list_tickets(db, product="vpn", limit=1, offset=1)] == ["T-0"]
    assert tickets.list_tickets(db, status="closed") == []
    with pytest.raises(TicketError) as e:
        tickets.list_tickets(db, status="bogus")
    assert e.value.field == "status"


CSV = (
    "Ticket ID,Title,Via,Priority,Created,Solved at,Requester,articles,Custom field\n"
    "T-10,VPN error 809 at the hotel,email,normal,2026-03-02T10:00:00Z,2026-03-02T12:00:00Z,Acme,\"KB-0002, KB-0099\",x\n"
    "T-11,,chat,normal,2026-03-02,,,,\n"
    "T-12,Fax me,fax,normal,2026-03-02,,,,\n"
    "T-13,Short row,chat\n"
    "T-14,\"Printer offline,\nsecond line\",phone,urgent,2026-03-03T08:00:00Z,,Globex,,\n"
    "T-15,Bad time,web,normal,2026-03-04T10:00,2026-03-01T10:00,,,\n"
)


def test_csv_import_good_and_bad_rows_with_line_numbers(db, tmp_path):
    f = tmp_path / "export.csv"
    f.write_text(CSV, "utf-8")
    r = import_file(db, f, known_articles={"KB-0002"})
    assert (r.rows, r.added, r.updated, r.unchanged) == (6, 2, 0, 0)
    assert r.problems() == [
        f"{f}:3: subject: missing",
        f"{f}:4: channel: 'fax' is not one of phone, email, web, chat",
        f"{f}:5: 3 values but the header has 9 columns",
        f"{f}:8: resolved_at: 2026-03-01T10:00:00Z is before created_at 2026-03-04T10:00:00Z",
    ]
    assert r.columns["Ticket ID"] == "id" and r.columns["Title"] == "subject" and r.columns["Solved at"] == "resolved_at"
    t = tickets.get_ticket(db, "T-10")
    assert t["status"] == "resolved" and t["customer"] == "Acme" and t["extra"] == {"Custom field": "x"}
    assert tickets.get_ticket(db, "T-14")["subject"] == "Printer offline,\nsecond line"
    assert [l["article_id"] for l in tickets.links_for_ticket(db, "T-10")] == ["KB-0002", "KB-0099"]
    assert r.links_added == 2 and any("'KB-0099' is not in the index" in w for w in r.warnings)
    # idempotent: the same file again changes nothing and duplicates nothing
    again = import_file(db, f)
    assert (again.added, again.updated, again.unchanged, again.links_added) == (0, 0, 2, 0)
    assert db.execute("SELECT count(*) FROM tickets").fetchone()[0] == 2
    assert db.execute("SELECT count(*) FROM links").fetchone()[0] == 2
    # a later export with a change updates the ticket in place
    f.write_text(CSV.replace("2026-03-02T12:00:00Z,Acme", "2026-03-02T12:00:00Z,Acme Corp"), "utf-8")
    third = import_file(db, f)
    assert (third.added, third.updated, third.unchanged) == (0, 1, 1)
    assert tickets.get_ticket(db, "T-10")["customer"] == "Acme Corp"


def test_jsonl_import_with_mapping(db, tmp_path):
    f = tmp_path / "export.jsonl"
    rows = [
        {"key": "J-1", "summary": "Outlook asks for password", "medium": "web", "prio": "P1",
         "opened": 1772352000, "state": "closed", "closed": "2026-03-02T10:00:00Z", "kb": ["KB-0001"], "csat": 5},
        "not json {",
        [1, 2],
        {"key": "J-2", "summary": "密码忘了", "medium": "电话", "prio": "普通", "opened": "2026-03-05T08:00:00+08:00"},
        {"key": "J-3", "summary": "Bad csat", "medium": "chat", "prio": "low", "opened": "2026-03-05", "csat": 9},
    ]
    f.write_text("\n".join(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows) + "\n\n",
                 "utf-8")
    mapping = parse_mapping(["id=key", "subject=summary", "channel=medium", "priority=prio", "created_at=opened",
                             "status=state", "closed_at=closed", "articles=kb"])
    r = import_file(db, f, mapping=mapping)
    assert (r.added, len(r.bad)) == (2, 3)
    assert [(b.line, b.field) for b in r.bad] == [(2, None), (3, None), (5, "csat")]
    assert "not valid JSON" in r.bad[0].message and "expected a JSON object" in r.bad[1].message
    j1 = tickets.get_ticket(db, "J-1")
    assert (j1["created_at"], j1["status"], j1["resolved_at"], j1["priority"]) == (
        "2026-03-01T08:00:00Z", "closed", "2026-03-02T10:00:00Z", "urgent")
    j2 = tickets.get_ticket(db, "J-2")
    assert (j2["channel"], j2["priority"], j2["created_at"]) == ("phone", "normal", "2026-03-05T00:00:00Z")
    assert tickets.links_for_ticket(db, "J-1")[0]["article_id"] == "KB-0001"


def test_import_refuses_bad_mapping_and_format(db, tmp_path):
    from kb.core.errors import ConfigError
    f = tmp_path / "x.csv"
    f.write_text("id,subject\n", "utf-8")
    with pytest.raises(ConfigError, match="unknown ticket field 'title'"):
        parse_mapping(["title=Subject"])
    with pytest.raises(ConfigError, match=r"--map subject=Title: .* has no such column"):
        import_file(db, f, mapping={"subject": "Title"})
    (tmp_path / "noid.csv").write_text("Number of seats,subject\n3,x\n", "utf-8")
    with pytest.raises(ConfigError, match="no column holds the ticket id"):
        import_file(db, tmp_path / "noid.csv")
    (tmp_path / "x.xlsx").write_bytes(b"PK")
    with pytest.raises(ConfigError, match="--format"):
        import_file(db, tmp_path / "x.xlsx")
    (tmp_path / "arr.json").write_text('[{"id": 1}]', "utf-8")
    with pytest.raises(ConfigError, match="JSON array"):
        import_file(db, tmp_path / "arr.json")


def test_import_can_update_existing_tickets_from_a_partial_export(db, tmp_path):
    f = tmp_path / "export.csv"
    f.write_text(CSV, "utf-8")
    import_file(db, f)
    (tmp_path / "csat.csv").write_text("Ticket ID;CSAT;FCR\nT-10;5;yes\nT-99;4;no\n", "utf-8")   # semicolons
    r = import_file(db, tmp_path / "csat.csv")
    assert (r.updated, r.added) == (1, 0) and [b.field for b in r.bad] == ["channel"]   # T-99 is new: incomplete
    t = tickets.get_ticket(db, "T-10")
    assert (t["csat"], t["fcr"], t["subject"]) == (5, True, "VPN error 809 at the hotel")


def test_cli_import_reports_and_exits_1_on_bad_rows(settings, tmp_path):
    f = tmp_path / "export.csv"
    f.write_text(CSV, "utf-8")
    r = kb(settings, "tickets", "import", str(f))
    assert r.exit_code == 1
    assert f"{f}:4: channel: 'fax'" in r.output and "2 added" in r.output and "4 bad (skipped)" in r.output
    r = kb(settings, "tickets", "show", "T-10", "--json")
    assert json.loads(r.output)["links"][0]["article_id"] == "KB-0002"
    r = kb(settings, "tickets", "import", str(f), "--map", "nonsense")
    assert r.exit_code == 2 and "expected FIELD=COLUMN" in r.output


def test_links_idempotent_and_errors(db):
    tickets.upsert_ticket(db, dict(GOOD, status="resolved", resolved_at="2026-03-01T10:00:00Z"))
    first = tickets.link_article(db, "T-1", "KB-0001", by="ann")
    again = tickets.link_article(db, "T-1", "KB-0001", by="bob")
    assert first["new"] and not again["new"] and again["id"] == first["id"] and again["created_by"] == "ann"
    tickets.link_article(db, "T-1", "KB-0001", "referenced")
    assert [l["kind"] for l in tickets.links_for_ticket(db, "T-1")] == ["resolved_by", "referenced"]
    with pytest.raises(NotFound):
        tickets.link_article(db, "T-404", "KB-0001")
    with pytest.raises(TicketError) as e:
        tickets.link_article(db, "T-1", "KB-0001", kind="fixed")
    assert e.value.field == "kind"
    side = tickets.links_for_article(db, "KB-0001")
    assert side[0]["subject"] == GOOD["subject"] and side[0]["status"] == "resolved"
    assert side[0]["resolved_at"] == "2026-03-01T10:00:00Z"
    assert tickets.unlink_article(db, "T-1", "KB-0001", "referenced") == 1


def test_suggest_searches_subject_and_description(indexed, db):
    tickets.upsert_ticket(db, {"id": "S-1", "channel": "email", "priority": "normal",
                               "subject": "Cannot connect from home", "description": "VPN error 809 every time",
                               "created_at": "2026-03-01T09:00:00Z", "articles": "KB-0002"})
    res = articles_for_ticket(Searcher(indexed), db, "S-1", limit=3)
    assert res.results[0].id == "KB-0002" and res.results[0].explanation["linked"] == ["resolved_by"]
    with pytest.raises(NotFound):
        articles_for_ticket(Searcher(indexed), db, "nope")
    customer = articles_for_ticket(Searcher(indexed), db, "S-1", role="customer", limit=10)
    assert all(h.visibility == "public" for h in customer.results)


def _ranking(searcher, text):
    return [(h.id, h.score) for h in searcher.search(SearchQuery(text, limit=10, role="agent", mode="keyword")).results]


def test_boost_changes_nothing_without_tickets(indexed):
    plain = Searcher(indexed)
    boosted = Searcher(indexed, boosts=TicketBoost(indexed))
    for q in ("printer offline", "vpn", "密码", "restart spooler"):
        assert _ranking(plain, q) == _ranking(boosted, q)
    assert not indexed.db_path.exists() or TicketBoost(indexed).table() == {}


def test_boost_lifts_articles_that_resolved_recent_tickets(indexed, db):
    from kb.tickets.model import now_iso
    boost = TicketBoost(indexed)
    searcher = Searcher(indexed, boosts=boost)
    before = _ranking(searcher, "printer")
    assert [d for d, _ in before][:2] == ["KB-0001", "KB-0004"]
    now = now_iso()
    for i in range(6):
        tickets.upsert_ticket(db, {"id": f"B-{i}", "channel": "phone", "priority": "normal", "subject": "print",
                                   "created_at": now, "resolved_at": now, "articles": ["KB-0004"]})
    after = searcher.search(SearchQuery("printer", limit=10, role="agent", mode="keyword")).results
    # the new links were seen at once (cache invalidated); the most-used article gets the full ×1.3
    assert after[1].id == "KB-0004" and after[1].explanation["boosts"]["tickets"] == pytest.approx(1.3)
    assert after[1].score == pytest.approx(dict(before)["KB-0004"] * 1.3, rel=1e-4)
    assert "tickets" not in after[0].explanation["boosts"] and after[0].score == dict(before)["KB-0001"]
    strong = Searcher(indexed, boosts=TicketBoost(indexed.replace(ticket_boost=4.0)))
    assert _ranking(strong, "printer")[0][0] == "KB-0004"
    # old tickets do not count: outside KB_TICKET_BOOST_DAYS there is no evidence
    old = Searcher(indexed, boosts=TicketBoost(indexed.replace(ticket_boost_days=1),
                                                          now=__import__("datetime").datetime(2030, 1, 1,
                                                          tzinfo=__import__("datetime").timezone.utc)))
    assert _ranking(old, "printer") == before


def test_links_from_another_process_reach_the_boost_without_blocking_a_query(indexed, db, monkeypatch):
    import subprocess
    import sys
    import time
    from kb.tickets import boost as ticket_rank
    from kb.tickets.model import now_iso
    monkeypatch.setattr(ticket_rank, "MARKER_SECONDS", 0.0)
    boost = TicketBoost(indexed)
    assert boost.table() == {}
    code = ("import sys; from kb.core import store; from kb.tickets import records as tickets; db = store.connect(sys.argv[1]);\n"
            "for i in range(6): tickets.upsert_ticket(db, {'id': f'P-{i}', 'channel': 'web', 'priority': 'normal',"
            " 'subject': 'print', 'created_at': sys.argv[2], 'resolved_at': sys.argv[2], 'articles': ['KB-0004']})")
    subprocess.run([sys.executable, "-c", code, indexed.database_url or str(indexed.db_path), now_iso()], check=True,
                   cwd=Path(__file__).resolve().parent.parent)
    assert boost.table() == {}          # this query keeps the current table; a refresh starts
    deadline = time.monotonic() + 10
    while boost.table().get("KB-0004") is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert boost.table()["KB-0004"] == pytest.approx(1.3)


def test_ticket_query_drops_quoted_mail_and_stays_short():
    q = ticket_query({"subject": "Outlook asks for my password",
                              "description": "It asks every few minutes.\n\nThanks\n-----Original Message-----\n"
                                             "From: IT Service Desk\nSubject: your ticket " + "blah " * 50})
    assert q == "Outlook asks for my password It asks every few minutes. Thanks"
    long = ticket_query({"subject": "VPN", "description": "word " * 500})
    assert len(long) <= QUERY_CHARS and long.startswith("VPN word") and not long.endswith(" ")
    reply = ticket_query({"subject": "Re: printer", "description": "Still broken.\nOn Mon, 2 Mar 2026 Ann wrote:\n> did you restart?"})
    assert reply == "Re: printer Still broken."


@pytest.mark.parametrize("given,stored", [
    ("2026-03-01 09:00", "2026-03-01T09:00:00Z"), ("2026/3/1 9:05", "2026-03-01T09:05:00Z"),
    ("2026-03-01T09:00:00+08:00", "2026-03-01T01:00:00Z"), ("2026-03-01T09:00:00 UTC", "2026-03-01T09:00:00Z"),
    ("2026-03-01", "2026-03-01T00:00:00Z"), ("1772352000", "2026-03-01T08:00:00Z"),
    (1772352000000, "2026-03-01T08:00:00Z"), ("2026-03-01T09:00:00.5Z", "2026-03-01T09:00:00Z")])
def test_helpdesk_time_formats(given, stored):
    from kb.tickets.model import parse_time
    assert parse_time(given, "created_at") == stored
