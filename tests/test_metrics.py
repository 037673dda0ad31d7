"""Every figure of the monthly report on a small fixture computed by hand (see the comments),
and stale-article detection, on a real SQLite database."""
import datetime as dt

import pytest

from kb.analytics import metrics
from kb.analytics import report
from kb.core import store
from kb.tickets import records as tickets
from kb.core.config import Settings
from kb.analytics.stale import stale_articles

pytestmark = pytest.mark.both_backends       # SQLite and the suite's PostgreSQL

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 4, 15, tzinfo=UTC)


def T(id, channel, created, first=None, resolved=None, *, agent="ann", product="printing", csat=None, fcr=None,
      reopened=0, status=None):
    row = {"id": id, "channel": channel, "priority": "normal", "subject": f"ticket {id}", "agent": agent,
           "product": product, "created_at": created, "first_response_at": first, "resolved_at": resolved,
           "csat": csat, "fcr": fcr, "reopened": reopened}
    if status:
        row["status"] = status
    return row


# March 2026 (targets: phone 30 s, email 4 h, web 4 h, chat 60 s)
FIXTURE = [
    #  id    channel  created                 first response          resolved (hours)
    T("T1", "phone", "2026-03-02T09:00:00Z", "2026-03-02T09:00:20Z", "2026-03-02T10:00:00Z",  # 1 h
      product="vpn", csat=5, fcr=True),
    T("T2", "email", "2026-03-03T08:00:00Z", "2026-03-03T13:00:00Z", "2026-03-04T08:00:00Z",  # 24 h, 5 h wait
      agent="bob", product="vpn", csat=3, fcr=False),
    T("T3", "web", "2026-03-05T10:00:00Z", "2026-03-05T11:00:00Z", "2026-03-05T13:00:00Z",    # 3 h
      csat=4, fcr=False),
    T("T4", "chat", "2026-03-06T10:00:00Z", "2026-03-06T10:01:30Z", "2026-03-06T12:00:00Z",   # 2 h, 90 s wait
      agent="cat", fcr=True),
    T("T5", "phone", "2026-03-07T10:00:00Z", "2026-03-07T10:00:10Z", "2026-03-07T18:00:00Z",  # 8 h
      agent="cat", csat=2, fcr=False, reopened=1),
    T("T6", "email", "2026-03-20T10:00:00Z", agent="bob"),                                     # never answered
    T("T7", "email", "2026-02-25T10:00:00Z", "2026-02-25T11:00:00Z", "2026-03-01T10:00:00Z",  # 96 h, Feb → Mar
      agent="dan", product="crm", csat=1, fcr=False),
    T("T8", "web", "2026-03-30T10:00:00Z", "2026-03-30T10:30:00Z", "2026-04-02T10:00:00Z",    # resolved in April
      product="crm"),
]


@pytest.fixture
def db(tmp_path):
    d = store.connect(tmp_path / "kb.sqlite")
    for row in FIXTURE:
        tickets.upsert_ticket(d, row, source="import:fixture.csv")
    links = [("T1", "KB-1", "resolved_by", "ann", "2026-03-02T10:00:00Z"),
             ("T3", "KB-2", "referenced", "ann", "2026-03-05T13:00:00Z"),
             ("T3", "KB-3", "created_from", "ann", "2026-03-10T00:00:00Z"),
             ("T5", "KB-1", "resolved_by", "cat", "2026-03-07T18:00:00Z"),
             ("T8", "KB-2", "resolved_by", "ann", "2026-04-02T10:00:00Z")]
    d.executemany("INSERT INTO links (ticket_id, article_id, kind, created_by, created_at) VALUES (?,?,?,?,?)",
                       links)
    searches = [("VPN Linux", 0, None, "2026-03-03T10:00:00+00:00"), ("vpn   linux", 0, None, "2026-03-09T10:00:00+00:00"),
                ("plotter", 0, None, "2026-03-04T10:00:00+00:00"), ("printer", 5, None, "2026-03-05T10:00:00+00:00"),
                ("printer", 5, "KB-2", "2026-03-06T10:00:00+00:00"), ("fax", 0, None, "2026-04-01T10:00:00+00:00")]
    d.executemany("INSERT INTO search_log (query, role, results, clicked, latency_ms, created_at) "
                       "VALUES (?, 'agent', ?, ?, 12.0, ?)", searches)
    votes = ([("KB-1", 1, "2026-01-10T10:00:00+00:00")] * 6 + [("KB-1", 1, "2026-03-10T10:00:00+00:00")]
             + [("KB-1", 0, "2026-03-11T10:00:00+00:00")] * 4
             + [("KB-2", 1, "2026-02-10T10:00:00+00:00")] * 5 + [("KB-2", 1, "2026-03-10T10:00:00+00:00")] * 4
             + [("KB-2", 0, "2026-03-12T10:00:00+00:00")])
    d.executemany("INSERT INTO feedback (article_id, helpful, audience, created_at) VALUES (?, ?, 'agent', ?)",
                       votes)
    yield d
    d.close()


@pytest.fixture
def march(db, tmp_path):
    s = Settings.load(env={}, home=tmp_path, articles=tmp_path, semantic=False, encoders=())
    return report.build(db, s, "2026-03", articles=[], now=NOW)


def test_support_figures(march):
    r = march
    assert r["month"] == "2026-03"
    # resolved in March: T1 T2 T3 T4 T5 T7; created in March: T1–T6, T8
    assert r["tickets"] == {"created": 7, "resolved": 6, "reopened": 1,
                            "by_channel": {"phone": 2, "email": 2, "web": 2, "chat": 1},
                            "by_priority": {"urgent": 0, "important": 0, "normal": 7}}
    assert r["mttr_hours"] == 22.33                       # (1 + 24 + 3 + 2 + 8 + 96) / 6
    assert r["mttr_median_hours"] == 5.5                  # (3 + 8) / 2
    assert r["fcr_rate"] == 0.3333                        # T1, T4 of 6
    assert r["csat_avg"] == 3.0 and r["csat_responses"] == 5          # (5 + 3 + 4 + 2 + 1) / 5
    assert r["csat_distribution"] == {"1": 1, "2": 1, "3": 1, "4": 1, "5": 1}
    fr = r["first_response_met"]
    assert fr["phone"] == {"target_seconds": 30.0, "tickets": 2, "met": 2, "rate": 1.0}      # 20 s, 10 s
    assert fr["email"] == {"target_seconds": 14400.0, "tickets": 2, "met": 0, "rate": 0.0}   # 5 h; T6 unanswered
    assert fr["web"] == {"target_seconds": 14400.0, "tickets": 2, "met": 2, "rate": 1.0}     # 1 h, 30 min
    assert fr["chat"] == {"target_seconds": 60.0, "tickets": 1, "met": 0, "rate": 0.0}       # 90 s


def test_split_with_and_without_article(march):
    w, wo = march["with_article"], march["without_article"]
    # with: T1 (1 h), T3 (3 h), T5 (8 h); without: T2 (24 h), T4 (2 h), T7 (96 h)
    assert (w["tickets"], w["mttr_hours"], w["mttr_median_hours"], w["fcr_rate"], w["csat_avg"]) == (
        3, 4.0, 3.0, 0.3333, 3.67)
    assert (wo["tickets"], wo["mttr_hours"], wo["mttr_median_hours"], wo["fcr_rate"], wo["csat_avg"]) == (
        3, 40.67, 24.0, 0.3333, 2.0)
    assert w["csat_distribution"] == {"1": 0, "2": 1, "3": 0, "4": 1, "5": 1}
    # created in March and linked: T1, T5 (phone), T3, T8 (web; T8 was linked when resolved in April)
    assert [(c, v["met"], v["tickets"]) for c, v in w["first_response_met"].items()] == [
        ("phone", 2, 2), ("email", 0, 0), ("web", 2, 2), ("chat", 0, 0)]
    assert w["first_response_met"]["email"]["rate"] is None
    assert [(c, v["met"], v["tickets"]) for c, v in wo["first_response_met"].items()] == [
        ("phone", 0, 0), ("email", 0, 2), ("web", 0, 0), ("chat", 0, 1)]


def test_kcs_figures(march):
    r = march
    assert r["link_rate"] == 0.5                          # T1, T3, T5 of 6
    assert r["links"] == {"resolved_by": 2, "referenced": 1, "created_from": 1}
    assert r["reuse_rate"] == 0.75                        # 3 reused of 4 links
    assert r["articles_created_from_tickets"] == 1        # KB-3 from T3
    assert r["created_articles"] == [{"article_id": "KB-3", "ticket_id": "T3", "linked_at": "2026-03-10T00:00:00Z"}]
    assert r["time_to_publish"] == {"articles": 1, "avg_hours": 110.0, "median_hours": 110.0}  # 03-05 10:00 → 03-10
    assert r["participation"] == {"agents": 4, "participating": 2, "rate": 0.5, "not_participating": ["bob", "dan"]}
    assert r["link_rate_trend"][-2:] == [{"month": "2026-02", "resolved": 0, "link_rate": None},
                                         {"month": "2026-03", "resolved": 6, "link_rate": 0.5}]


def test_gaps(march, db):
    r = march
    assert [(q["query"], q["count"]) for q in r["zero_result_queries"]] == [("vpn linux", 2), ("plotter", 1)]
    assert r["zero_result_queries"][0]["last_seen"].startswith("2026-03-09")
    assert [(q["query"], q["count"]) for q in r["no_click_queries"]] == [("printer", 1)]
    # KB-1: 1 of 5 helpful in March, 6 of 6 before: fell, and significantly. KB-2: 4 of 5 against 5 of 5 is a
    # 20-point drop, but five votes each cannot show it is real.
    assert r["falling_helpfulness"] == [{"article_id": "KB-1", "helpful_rate": 0.2, "votes": 5,
                                         "helpful_rate_before": 1.0, "votes_before": 6}]
    rows = [{"product": p, "linked": l} for p, l in
            [("crm", 0), ("crm", 0), ("crm", 1), ("vpn", 1), ("vpn", 1), ("vpn", 0), ("mobile", 0), (None, 0)]]
    assert metrics.products_rarely_linked(rows) == [
        {"product": "crm", "resolved": 3, "linked": 1, "link_rate": 0.3333}]


def test_first_response_not_yet_due_is_left_out():
    created = [{"channel": "chat", "created_at": "2026-03-31T23:59:30Z", "first_response_at": None},
               {"channel": "chat", "created_at": "2026-03-31T23:50:00Z", "first_response_at": None}]
    now = dt.datetime(2026, 4, 1, 0, 0, 0, tzinfo=UTC)
    fr = metrics.first_response(created, {"phone": 30, "email": 14400, "web": 14400, "chat": 60}, now)
    assert fr["chat"] == {"target_seconds": 60.0, "tickets": 1, "met": 0, "rate": 0.0}


def test_month_validation():
    from kb.core.errors import ConfigError
    with pytest.raises(ConfigError, match="--month"):
        metrics.month_period("March")
    p = metrics.month_period("2026-12")
    assert (p.lo, p.hi) == ("2026-12-01T00:00:00", "2027-01-01T00:00:00")


def _add(db, tid, article, created, hours, reopened=0):
    created_t = dt.datetime.fromisoformat(created.replace("Z", "+00:00"))
    resolved = (created_t + dt.timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")
    tickets.upsert_ticket(db, {"id": tid, "channel": "email", "priority": "normal", "subject": tid,
                               "created_at": created, "resolved_at": resolved, "reopened": reopened,
                               "articles": [article]}, source="import:x")


def test_stale_detection(tmp_path):
    db = store.connect(tmp_path / "kb.sqlite")
    today = dt.datetime(2026, 6, 30, tzinfo=UTC)          # recent window: from 2026-04-01
    articles = [{"id": "A-REVIEW", "title": "Old", "status": "published", "meta": {"review_by": "2026-06-01"}},
                {"id": "A-FRESH", "title": "Fine", "status": "published", "meta": {"review_by": "2027-01-01"}},
                {"id": "A-ARCH", "title": "Gone", "status": "archived", "meta": {"review_by": "2020-01-01"}},
                {"id": "A-REOPEN", "title": "R", "status": "published", "meta": {}},
                {"id": "A-SLOW", "title": "S", "status": "published", "meta": {}},
                {"id": "A-NEG", "title": "N", "status": "published", "meta": {}},
                {"id": "A-FLAG", "title": "F", "status": "published", "meta": {}}]
    for i, reopened in enumerate([1, 1, 0, 0]):          # 2 of 4 recent tickets reopened
        _add(db, f"R{i}", "A-REOPEN", f"2026-05-0{i + 1}T09:00:00Z", 2, reopened)
    _add(db, "R9", "A-FRESH", "2026-05-09T09:00:00Z", 2, 1)  # one reopen alone is not a pattern
    for i in range(5):                                   # 2 h before, 10 h lately
        _add(db, f"S{i}", "A-SLOW", f"2026-02-1{i}T09:00:00Z", 2)
        _add(db, f"N{i}", "A-SLOW", f"2026-05-1{i}T09:00:00Z", 10)
        _add(db, f"F{i}", "A-FRESH", f"2026-05-2{i}T09:00:00Z", 2.5 if i % 2 else 1.5)   # no slower
        _add(db, f"G{i}", "A-FRESH", f"2026-02-2{i}T09:00:00Z", 2)
    db.executemany("INSERT INTO feedback (article_id, helpful, audience, created_at) VALUES (?, ?, 'customer', ?)",
                        [("A-NEG", h, "2026-06-01T10:00:00+00:00") for h in (1, 0, 0, 0, 0)]
                        + [("A-FRESH", h, "2026-06-01T10:00:00+00:00") for h in (1, 1, 1, 0)])
    db.executemany("INSERT INTO flags (article_id, reason, created_by, created_at, resolved_at) VALUES (?,?,?,?,?)",
                        [("A-FLAG", "outdated", "ann", "2026-06-01T00:00:00+00:00", None),
                         ("A-FLAG", "incorrect", "bob", "2026-06-02T00:00:00+00:00", None),
                         ("A-FRESH", "unclear", "ann", "2026-05-01T00:00:00+00:00", "2026-05-02T00:00:00+00:00"),
                         ("A-ARCH", "outdated", "ann", "2026-06-01T00:00:00+00:00", None),
                         ("NOT-INDEXED", "outdated", "ann", "2026-06-01T00:00:00+00:00", None)])
    got = {r["article_id"]: [x["code"] for x in r["reasons"]] for r in stale_articles(db, articles, today)}
    assert got == {"A-REVIEW": ["review_overdue"], "A-REOPEN": ["reopened"], "A-SLOW": ["slower"],
                   "A-NEG": ["negative_feedback"], "A-FLAG": ["flagged"]}
    rows = {r["article_id"]: r for r in stale_articles(db, articles, today)}
    assert rows["A-REOPEN"]["reasons"][0]["detail"] == "2 of 4 tickets it resolved in the last 90 days were reopened"
    assert rows["A-SLOW"]["reasons"][0]["median_hours"] == 10.0 and rows["A-SLOW"]["reasons"][0]["median_hours_before"] == 2.0
    assert rows["A-FLAG"]["reasons"][0]["detail"] == "2 open flag(s): incorrect, outdated"
    # without an index, review dates are unknown but every other signal is still listed
    assert "NOT-INDEXED" in {r["article_id"] for r in stale_articles(db, None, today)}
