"""Hostile input: XSS payloads in articles, front matter, tickets, feedback, flags and queries
render inert on every page (HTML scanned here; tests/test_hostile_browser.py runs them in
Chromium); path traversal; oversized and invalid input; formula injection in reports; and
property-based tests (hypothesis) of the front matter parser, the ticket importer and the query
parameters — never an unhandled exception, always a typed error naming the place.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, example, given, settings as hsettings, strategies as st

from kb.core.articles import parse_article
from kb.core.config import Settings
from kb.core.errors import ArticleError, BadQuery, ConfigError, KbError, TicketError
from kb.search.searcher import Searcher, SearchQuery
from kb.core.store import connect
from tests.conftest import BASIC, ROOT, make_repo
from tests.hostile_support import PAYLOADS, executable, hostile_settings
from tests.web_support import signed_in

# small example counts keep the whole file well under a minute; applied per test, not globally
BOUNDED = hsettings(max_examples=60, deadline=None, derandomize=True,  # the same examples on every run
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    from web import create_app
    s = hostile_settings(tmp_path_factory.mktemp("hostile"))
    app = create_app(s)
    app.config["TESTING"] = True
    return s, app


PORTAL_PAGES = ["/help", "/help/articles/xss-body", "/help/articles/xss-front", "/help/products/printing",
                "/help/search?q=printer+offline", "/sitemap.xml"]
AGENT_PAGES = ["/agent", "/agent?q=printer+offline", "/agent/results?q=printer+offline", "/agent/articles/xss-body",
               "/agent/articles/xss-front", "/agent/tickets", "/agent/tickets/T-XSS", "/agent/flags"]


def test_stored_payloads_render_inert_on_every_page(hostile):
    s, app = hostile
    problems = []
    anon = app.test_client()
    for path in PORTAL_PAGES:
        r = anon.get(path)
        assert r.status_code == 200, path
        problems += [f"{path}: {p}" for p in executable(r.get_data(as_text=True))]
    for user in ("alice", "bob"):
        c = signed_in(app.test_client(), user)
        for path in AGENT_PAGES + ["/agent?ticket=T-XSS"]:
            r = c.get(path)
            if r.status_code == 403 and user == "alice":
                continue
            assert r.status_code == 200, (user, path, r.status_code)
            problems += [f"{user} {path}: {p}" for p in executable(r.get_data(as_text=True))]
    assert not problems, "\n".join(problems)
    # the payloads are there, as text: the test looked at pages that carry them
    page = signed_in(app.test_client(), "bob").get("/agent/articles/xss-body").get_data(as_text=True)
    assert "&lt;script&gt;" in page and "onerror" in page
    assert "&lt;script&gt;" in app.test_client().get("/help/articles/xss-front").get_data(as_text=True)


def test_query_payloads_render_inert(hostile):
    s, app = hostile
    anon = app.test_client()
    agent = signed_in(app.test_client(), "alice")
    problems = []
    for p in PAYLOADS:
        q = quote(p, safe="")
        for client, path in ((anon, f"/help/search?q={q}"), (anon, f"/help/search?q=printer&product={q}"),
                             (agent, f"/agent?q={q}"), (agent, f"/agent/results?q={q}"),
                             (anon, f"/login?next={q}"), (anon, f"/language/zh?next={q}")):
            r = client.get(path)
            assert r.status_code < 500, (path, r.status_code)
            if r.status_code in (301, 302):
                assert not r.headers["Location"].lower().lstrip().startswith(("javascript:", "data:")), path
                continue
            problems += [f"{path}: {x}" for x in executable(r.get_data(as_text=True))]
        for path in (f"/api/v1/search?q={q}", f"/api/v1/suggest?q={q}"):
            r = anon.get(path)
            assert r.status_code == 200 and r.mimetype == "application/json", path
            assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert not problems, "\n".join(problems)


def test_feedback_comment_payloads_are_stored_as_text_and_shown_inert(hostile):
    s, app = hostile
    anon = app.test_client()
    for p in PAYLOADS[:6]:
        r = anon.post("/help/articles/xss-body/feedback", data={"helpful": "no", "comment": p},
                      headers={"X-Requested-With": "fetch", "Accept": "application/json"})
        assert r.status_code in (200, 400), r.status_code   # 400 only for the CSRF token
    page = signed_in(app.test_client(), "bob").get("/agent/articles/xss-body").get_data(as_text=True)
    assert not executable(page)


# --- path traversal ---------------------------------------------------------------------------

TRAVERSALS = ["..%2f..%2fstate%2fkb.sqlite", "../../state/kb.sqlite", "..%2F..%2F..%2Fetc%2Fpasswd",
              "%2e%2e/%2e%2e/etc/passwd", "....//....//etc/passwd", "..\\..\\etc\\passwd", "/etc/passwd",
              "%252e%252e%252fetc%252fpasswd", "xss-body/../../state/secret_key", "printer-offline%00.md",
              "..", ".", "%2e", "printer-offline/../internal-spooler", "./internal-spooler"]


def test_path_traversal_in_article_addresses_reaches_no_file(hostile):
    s, app = hostile
    secret = (s.home / "secret_key").read_text() if (s.home / "secret_key").exists() else "hostile-secret"
    anon, agent = app.test_client(), signed_in(app.test_client(), "alice")
    for t in TRAVERSALS:
        for client, prefix in ((anon, "/help/articles/"), (anon, "/api/v1/articles/"), (agent, "/agent/articles/"),
                               (anon, "/help/products/"), (anon, "/static/")):
            r = client.get(prefix + t)
            text = r.get_data(as_text=True)
            assert r.status_code in (301, 302, 308, 400, 404), (prefix + t, r.status_code)
            assert "root:x:0" not in text and "SQLite format" not in text and secret not in text, prefix + t
            if r.status_code in (301, 302, 308):
                assert "internal-spooler" not in r.headers["Location"] or client is agent


def test_a_symlinked_article_pointing_outside_the_articles_folder_is_not_read(tmp_path):
    """Regression: an article file that is a symbolic link was read through the link, so a merged
    `leak.md -> /etc/passwd` (or -> KB_HOME/secret_key) was indexed and shown to agents."""
    from indexer.build import build
    secret = tmp_path / "outside-secret.md"
    secret.write_text("---\nid: KB-LEAK\ntitle: Leaked qzsymlinkmarker\nvisibility: public\n---\nqzsymlinkmarker\n")
    repo = make_repo(tmp_path / "articles", BASIC)
    (repo / "leak.md").symlink_to(secret)
    (repo / "shared.txt").write_text("---\nid: KB-0900\ntitle: Shared text\nvisibility: public\n---\nShared.\n")
    (repo / "inside.md").symlink_to(repo / "shared.txt")
    s = Settings.load(env={}, home=tmp_path / "state", articles=repo, semantic=False, encoders=())
    report = build(s)
    searcher = Searcher(s)
    assert not searcher.search(SearchQuery(text="qzsymlinkmarker", role="admin")).results
    assert report.ok and report.articles == len(BASIC) + 1      # the link inside the folder is read
    assert searcher.search(SearchQuery(text="printer offline router", role="customer")).results


# --- oversized and invalid input -------------------------------------------------------------

def test_a_50_mb_article_is_refused_with_its_path_and_the_rest_still_indexes(tmp_path):
    from indexer.build import build
    repo = make_repo(tmp_path / "articles", BASIC)
    big = repo / "huge.md"
    with open(big, "w") as f:
        f.write("---\nid: KB-HUGE\ntitle: Huge\n---\n")
        line = "printer offline lorem ipsum dolor sit amet " * 20 + "\n"
        f.write(line * (50 * 1024 * 1024 // len(line) + 1))
    s = Settings.load(env={}, home=tmp_path / "state", articles=repo, semantic=False, encoders=())
    t0 = time.perf_counter()
    report = build(s)
    took = time.perf_counter() - t0
    assert [e.path for e in report.errors] == [str(big)], report.errors
    assert "MB" in report.errors[0].message
    assert report.articles == len(BASIC)
    assert took < 30, took


def test_a_100k_character_query_is_answered_fast_never_a_500(hostile):
    s, app = hostile
    c = app.test_client()
    long = ("printer offline " * 7000)[:100_000]
    for path in ("/help/search?q=", "/api/v1/search?q=", "/api/v1/suggest?q="):
        t0 = time.perf_counter()
        r = c.get(path + quote(long))
        took = time.perf_counter() - t0
        assert r.status_code in (200, 400, 414), (path, r.status_code)
        assert took < 3, (path, took)
    agent = signed_in(app.test_client(), "alice")
    t0 = time.perf_counter()
    assert agent.get("/agent/results?q=" + quote(long)).status_code in (200, 400, 414)
    assert time.perf_counter() - t0 < 3


def test_invalid_utf8_in_queries_is_never_a_500(hostile):
    s, app = hostile
    c = app.test_client()
    for raw in ("%ff%fe", "printer%c3%28", "%ed%a0%80", "%00", "a%f0%28%8c%bc"):
        for path in (f"/help/search?q={raw}", f"/api/v1/search?q={raw}", f"/api/v1/suggest?q={raw}",
                     f"/help/articles/{raw}", f"/api/v1/articles/{raw}"):
            r = c.get(path)
            assert r.status_code in (200, 400, 404), (path, r.status_code)


def test_invalid_utf8_article_and_csv_name_the_place(tmp_path):
    with pytest.raises(ArticleError) as e:
        parse_article("bad.md", b"---\nid: KB-1\ntitle: ok\n---\nline two\n\xff\xfe broken\n")
    assert e.value.path == "bad.md" and e.value.line == 6
    from kb.tickets.importer import import_file
    db = connect(tmp_path / "kb.sqlite")
    f = tmp_path / "t.csv"
    f.write_bytes(b"id,subject\nT-1,ok\nT-2,\xff\xfe bad\n")
    with pytest.raises(ConfigError) as e:
        import_file(db, f)
    assert "t.csv" in str(e.value)


def test_report_and_backup_outputs_that_cannot_be_written_are_clear_errors(hostile, tmp_path):
    """Regression: `kb report --out` to a place that cannot be written ended in a traceback."""
    s, _ = hostile
    env = dict(os.environ, KB_HOME=str(s.home), KB_ARTICLES=str(s.articles), KB_SEMANTIC="0", KB_ENCODERS="none")
    for args, flag in ((["report", "--out", "/proc/kb-report.md"], "--out"),
                       (["report", "--out", str(tmp_path / "missing" / "r.md")], "--out"),
                       (["backup", "/proc/kb-backup"], "DEST"), (["backup", str(s.db_path)], "DEST"),
                       (["restore", str(tmp_path)], "SRC")):
        p = subprocess.run([sys.executable, "-m", "kb.cli", *args], cwd=ROOT, env=env, capture_output=True,
                           text=True, timeout=60)
        assert p.returncode != 0 and "Traceback" not in p.stderr and flag in p.stderr, (args, p.stderr[-400:])


# --- formula injection in reports ---------------------------------------------------------------

FORMULAS = ["=HYPERLINK(\"http://x\",\"y\")", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)", "\t=1+1", "\r=1+1"]


def test_report_cells_never_start_a_formula(tmp_path):
    from kb.analytics import report as rep
    from kb.analytics.activity import log_search
    from kb.tickets.records import upsert_ticket
    s = Settings.load(env={}, home=tmp_path / "state", articles=tmp_path, semantic=False, encoders=())
    db = connect(s)
    for i, f in enumerate(FORMULAS):
        log_search(db, f, "agent", 0, 5.0)
        upsert_ticket(db, {"id": f"T-{i}", "channel": "web", "priority": "normal", "product": f, "subject": f,
                           "customer": f, "agent": f, "created_at": "2026-10-03T09:00:00Z",
                           "resolved_at": "2026-10-03T10:00:00Z", "status": "resolved"})
    db.execute("UPDATE search_log SET created_at = '2026-10-05T10:00:00+00:00'")
    r = rep.build(db, s, "2026-10", articles=[])
    for fmt in ("md", "html"):
        text = rep.render(r, fmt)
        cells = re.findall(r"\|([^|\n]*)", text) if fmt == "md" else re.findall(r"<td[^>]*>([^<]*)", text)
        bad = [c for c in cells if re.match(r"^\s*[=+@]|^\s*-\d", c.replace("&#39;", "'")) or c.startswith(("\t", "\r"))]
        assert not bad, (fmt, bad)
    text = rep.render(r, "md")
    assert "| '=1+1 |" in text and "| '-2+3 |" in text, text     # the queries are in the report, defused


# --- property-based: parsers never crash -------------------------------------------------------

yaml_scalar = st.one_of(st.text(max_size=30), st.integers(), st.booleans(), st.none(),
                        st.lists(st.text(max_size=10), max_size=3), st.dates().map(str))
front = st.dictionaries(st.sampled_from(["id", "title", "summary", "product", "tags", "language", "visibility",
                                         "status", "owners", "review_by", "x-extra"]), yaml_scalar, max_size=8)


@BOUNDED
@given(front, st.text(max_size=200))
def test_front_matter_parser_never_crashes_on_structured_input(fm, body):
    import yaml
    raw = ("---\n" + yaml.safe_dump(fm, allow_unicode=True) + "---\n" + body).encode("utf-8", "surrogatepass")
    try:
        a = parse_article("p/x.md", raw)
    except ArticleError as e:
        assert e.path == "p/x.md" and e.line >= 1 and e.message
    else:
        assert a.visibility in ("public", "internal") and a.status in ("draft", "review", "published", "archived")


@BOUNDED
@given(st.binary(max_size=300) | st.text(max_size=300).map(lambda t: ("---\n" + t).encode("utf-8", "replace")))
def test_front_matter_parser_never_crashes_on_arbitrary_bytes(raw):
    try:
        parse_article("x.md", raw)
    except ArticleError as e:
        assert e.path == "x.md" and e.line >= 1


ticket_value = st.one_of(st.text(max_size=40), st.integers(-5, 10**12), st.none(), st.booleans(),
                         st.floats(allow_nan=True), st.lists(st.text(max_size=5), max_size=3))


@BOUNDED
@given(st.dictionaries(st.sampled_from(["id", "channel", "priority", "customer", "subject", "created_at",
                                        "resolved_at", "first_response_at", "csat", "fcr", "reopened", "status",
                                        "articles", "extra", "zzz"]), ticket_value, max_size=10))
@example({"csat": float("nan")})
@example({"csat": float("inf"), "channel": None})
@example({"reopened": "-inf"})
def test_ticket_fields_give_a_ticket_error_naming_the_field(fields):
    from kb.tickets.records import prepare
    try:
        prepare(fields, None, source="test", now="2026-11-28T00:00:00Z")
    except TicketError as e:
        assert e.field and str(e)


csv_cell = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=15)


@BOUNDED
@given(st.lists(st.lists(csv_cell, min_size=1, max_size=5), min_size=1, max_size=6),
       st.sampled_from(["id,subject,channel,priority,created_at", "Ticket ID,Title,Via", "subject,customer", ""]))
def test_ticket_import_reports_bad_rows_or_a_config_error_naming_the_file(tmp_path_factory, rows, header):
    import csv
    import io
    from kb.tickets.importer import import_file
    d = tmp_path_factory.mktemp("imp")
    buf = io.StringIO()
    if header:
        buf.write(header + "\n")
    csv.writer(buf).writerows(rows)
    path = d / "export.csv"
    path.write_text(buf.getvalue(), "utf-8")
    db = connect(d / "kb.sqlite")
    try:
        report = import_file(db, path)
    except ConfigError as e:
        assert "export.csv" in str(e) or "--map" in str(e)
    else:
        for b in report.bad:
            assert b.line >= 2 and b.message
    finally:
        db.close()


@pytest.fixture(scope="module")
def query_app(hostile):
    return hostile[1]


params = st.dictionaries(st.sampled_from(["q", "limit", "lang", "product", "tag", "status", "mode", "explain", "x"]),
                         st.one_of(st.text(max_size=30), st.integers(-3, 200).map(str)), max_size=6)


@BOUNDED
@given(params)
def test_search_api_parameters_are_200_or_a_400_naming_the_field(query_app, p):
    r = query_app.test_client().get("/api/v1/search", query_string=p)
    assert r.status_code in (200, 400), (p, r.status_code)
    if r.status_code == 400:
        assert r.get_json()["field"]


@BOUNDED
@given(st.dictionaries(st.sampled_from(["q", "limit", "lang", "product", "tag"]),
                       st.one_of(st.text(max_size=30), st.integers(-3, 20).map(str)), max_size=5),
       st.sampled_from(["/api/v1/suggest", "/help/search", "/api/v1/articles/KB-0001"]))
def test_suggest_portal_and_article_parameters_are_answered_or_a_400(query_app, p, path):
    r = query_app.test_client().get(path, query_string=p)
    assert r.status_code in (200, 400), (path, p, r.status_code)
    if r.status_code == 400 and path.startswith("/api/"):
        assert r.get_json()["field"]


@BOUNDED
@given(st.lists(st.one_of(st.dictionaries(st.sampled_from(["id", "subject", "channel", "priority", "created_at",
                                                           "csat", "articles", "customer"]), ticket_value,
                                          max_size=6).map(lambda d: __import__("json").dumps(d)),
                          st.text(max_size=40)), min_size=1, max_size=6))
def test_jsonl_import_reports_bad_lines_or_a_config_error_naming_the_file(tmp_path_factory, lines):
    from kb.tickets.importer import import_file
    d = tmp_path_factory.mktemp("jsonl")
    path = d / "export.jsonl"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    db = connect(d / "kb.sqlite")
    try:
        report = import_file(db, path)
    except ConfigError as e:
        assert "export.jsonl" in str(e)
    else:
        for b in report.bad:
            assert b.line >= 1 and b.message
    finally:
        db.close()


@BOUNDED
@given(st.text(max_size=120), st.integers(-2, 200), st.sampled_from(["customer", "agent", "admin", "x", ""]),
       st.sampled_from([None, "en", "zh", "fr"]), st.sampled_from(["keyword", "hybrid", "semantic", "x"]))
def test_query_parser_gives_results_or_a_bad_query_naming_the_field(hostile, text, limit, role, lang, mode):
    s, app = hostile
    searcher = app.extensions["kb_searcher"]
    try:
        searcher.search(SearchQuery(text=text, limit=limit, role=role, lang=lang, mode=mode))
    except BadQuery as e:
        assert e.field in ("q", "limit", "role", "lang", "mode", "status")


def test_kb_search_cli_with_a_hostile_query_exits_cleanly(hostile):
    s, _ = hostile
    env = dict(os.environ, KB_HOME=str(s.home), KB_ARTICLES=str(s.articles), KB_SEMANTIC="0", KB_ENCODERS="none")
    for q in ("", "   ", "a" * 5000, "<script>", "printer~2 AND OR NOT (", "*"):
        p = subprocess.run([sys.executable, "-m", "kb.cli", "search", q, "--json"], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=60)
        assert p.returncode in (0, 1, 2), (q, p.returncode)
        assert "Traceback" not in p.stderr, (q, p.stderr[-500:])
        if p.returncode:
            assert "q:" in p.stderr or "QUERY" in p.stderr or "empty" in p.stderr, p.stderr
