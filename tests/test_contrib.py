"""Contributions end to end below the web layer: capture with strict validation and drafts,
export to a branch with git plumbing in a real repository with uncommitted edits, fsck, merge
detection with the created_from link and time to publish, reject, and the CLI."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from kb.contrib import capture as contrib
from kb.contrib.export import export, sync
from kb.core.errors import FieldError
from kb.core.store import connect
from kb.tickets.records import links_for_ticket, upsert_ticket
from tests.conftest import git
from tests.conftest import db_env

pytestmark = pytest.mark.both_backends       # SQLite and the suite's PostgreSQL

FIELDS = {"title": "Label printer prints blank labels", "summary": "Reload the label roll the right way up.",
          "product": "printing", "tags": "printer, labels", "language": "en", "visibility": "internal",
          "owners": "alice", "review_by": "2027-06-01",
          "symptoms": "Every label comes out blank.", "environment": "Zebra ZD420",
          "cause": "The roll was loaded upside down.", "resolution": "1. Open the lid.\n2. Turn the roll over."}


@pytest.fixture
def db(settings):
    d = connect(settings)
    upsert_ticket(d, {"id": "T-1", "channel": "phone", "priority": "normal", "subject": "Blank labels",
                      "description": "Labels blank", "created_at": "2026-11-01T09:00:00Z"})
    yield d
    d.close()


def test_capture_validates_like_strict_check_and_keeps_what_was_typed(settings, db):
    typed = dict(FIELDS, resolution="   ", visibility="", review_by="next spring")
    problems, cid, kept = contrib.capture_new(db, settings.articles, "alice", typed, ticket_id="T-1")
    assert cid is None
    assert set(problems) >= {"resolution", "visibility", "review_by"}
    assert "not a date" in problems["review_by"]
    assert kept["symptoms"] == FIELDS["symptoms"] and kept["review_by"] == "next spring"
    # the draft holds it too: a restart (a new connection) finds the same text
    again = connect(settings)
    draft = contrib.load_draft(again, contrib.draft_key("new", "T-1", "alice"))
    assert draft["fields"]["cause"] == FIELDS["cause"] and draft["fields"]["review_by"] == "next spring"
    assert again.execute("SELECT count(*) FROM contributions").fetchone()[0] == 0


def test_double_submit_updates_one_pending_contribution(settings, db):
    p1, c1, kept = contrib.capture_new(db, settings.articles, "alice", FIELDS, ticket_id="T-1")
    assert p1 == {} and c1
    assert kept["id"] == "KB-0007" and kept["slug"] == "label-printer-prints-blank-labels"
    p2, c2, _ = contrib.capture_new(db, settings.articles, "alice", dict(FIELDS, cause="Upside down."), ticket_id="T-1")
    assert p2 == {} and c2 == c1
    c = contrib.get(db, c1)
    assert c["state"] == "pending" and "Upside down." in c["markdown"] and "status: review" in c["markdown"]
    assert db.execute("SELECT count(*) FROM contributions").fetchone()[0] == 1


def test_duplicate_id_and_existing_slug_are_reported_on_their_fields(settings, db):
    problems, cid, _ = contrib.capture_new(db, settings.articles, "alice",
                                           dict(FIELDS, id="KB-0001", slug="printer-offline"))
    assert cid is None
    assert "KB-0001 is already used by printer-offline.md" in problems["id"]
    assert "already exists" in problems["slug"]


def _status(repo):
    return git(repo, "status", "--porcelain", "--untracked-files=all")


def test_export_makes_one_commit_on_a_new_branch_and_leaves_the_work_tree_alone(settings, db):
    repo = settings.articles
    # someone is working in the checkout: a modified file, a staged file and an untracked one
    (repo / "vpn-error-809.md").write_text((repo / "vpn-error-809.md").read_text() + "\nlocal edit\n")
    (repo / "staged.md").write_text("staged\n")
    git(repo, "add", "staged.md")
    (repo / "untracked.md").write_text("scratch\n")
    before_status, before_head = _status(repo), git(repo, "rev-parse", "HEAD").strip()
    before_index = (repo / ".git" / "index").read_bytes()
    _, cid, kept = contrib.capture_new(db, repo, "alice", FIELDS, ticket_id="T-1")
    c = export(db, repo, cid, display_name="Alice Agent")
    assert c["state"] == "exported" and c["branch"] == f"kb/contrib-{cid}-label-printer-prints-blank-labels"
    # nothing of the checkout moved
    assert _status(repo) == before_status
    assert git(repo, "rev-parse", "HEAD").strip() == before_head
    assert git(repo, "symbolic-ref", "HEAD").strip() == "refs/heads/main"
    assert (repo / ".git" / "index").read_bytes() == before_index
    assert "local edit" in (repo / "vpn-error-809.md").read_text()
    assert not (repo / "label-printer-prints-blank-labels.md").exists()
    # exactly one commit on top of main, adding exactly the one file, by the contributor
    assert git(repo, "rev-list", "--count", f"main..{c['branch']}").strip() == "1"
    assert git(repo, "rev-parse", f"{c['branch']}^").strip() == before_head
    changed = git(repo, "diff-tree", "--no-commit-id", "--name-status", "-r", c["branch"]).split("\n")
    assert changed[:1] == ["A\tlabel-printer-prints-blank-labels.md"] and changed[1:] == [""]
    assert git(repo, "show", "-s", "--format=%an <%ae>", c["branch"]).strip() == "Alice Agent <alice@users.kb.invalid>"
    assert "T-1" in git(repo, "show", "-s", "--format=%B", c["branch"])
    blob = git(repo, "show", f"{c['branch']}:label-printer-prints-blank-labels.md")
    assert blob == c["markdown"] and "id: KB-0007" in blob
    git(repo, "fsck", "--strict")      # raises on any problem
    # the exported file passes the strict check on its branch
    from kb.quality.check import check_folder
    wt = repo.parent / "wt"
    git(repo, "worktree", "add", "-q", str(wt), c["branch"])
    problems, _ = check_folder(wt, strict=True, against="main")
    assert problems == []
    with pytest.raises(FieldError):
        export(db, repo, cid)             # exported once only


def test_sync_detects_the_merge_and_records_created_from(settings, db):
    repo = settings.articles
    _, cid, _ = contrib.capture_new(db, repo, "alice", FIELDS, ticket_id="T-1")
    c = export(db, repo, cid)
    assert sync(db, repo) == []           # not merged yet
    git(repo, "merge", "-q", "--no-ff", "-m", "Merge contribution", c["branch"])
    merged = sync(db, repo)
    assert [m["id"] for m in merged] == [cid]
    c = contrib.get(db, cid)
    assert c["state"] == "merged" and c["merged_at"].endswith("+00:00")
    assert [(l["article_id"], l["kind"]) for l in links_for_ticket(db, "T-1")] == [("KB-0007", "created_from")]
    assert sync(db, repo) == []           # once only
    # the monthly figures see the article and its time to publish
    from kb.analytics.metrics import Period, kcs
    import datetime as dt
    month = dt.date.today().strftime("%Y-%m")
    from kb.analytics.metrics import month_period
    k = kcs(db, month_period(month), [])
    assert k["articles_created_from_tickets"] == 1 and k["time_to_publish"]["articles"] == 1
    assert isinstance(Period, type)


def test_improvement_export_and_conflict(settings, db):
    repo = settings.articles
    path = "vpn-error-809.md"
    text = (repo / path).read_text()
    edited = text.replace("Restart the device.", "Restart the device and the home router.")
    problems, cid = contrib.capture_improvement(db, repo, "alice", path, "KB-0002", edited,
                                                base_hash=contrib.content_hash(text))
    assert problems == {} and cid
    r = CliRunner().invoke(__import__("kb.cli", fromlist=["main"]).main, ["stale"],
                           env={"KB_HOME": str(settings.home), "KB_ARTICLES": str(repo), **db_env(settings)})
    assert r.exit_code == 0 and f"improvement_pending: 1 improvement(s) waiting for review or merge: #{cid} by alice" \
        in r.output
    bad, none = contrib.capture_improvement(db, repo, "bob", path, "KB-0002", edited.replace("id: KB-0002", "id: KB-9"))
    assert none is None and "must stay KB-0002" in bad["markdown"]
    # main moves on under the improvement: export refuses rather than undo that change
    (repo / path).write_text(text + "\nAnother fix.\n")
    git(repo, "commit", "-qam", "Someone else's fix")
    with pytest.raises(FieldError, match="changed on"):
        export(db, repo, cid)


def test_reject_needs_a_reason(settings, db):
    _, cid, _ = contrib.capture_new(db, settings.articles, "alice", FIELDS, ticket_id="T-1")
    with pytest.raises(FieldError, match="reason"):
        contrib.reject(db, cid, "  ")
    assert contrib.reject(db, cid, "Covered by KB-0001")["state"] == "rejected"


def test_cli_list_show_export_reject_sync(settings, db, tmp_path):
    from kb.cli import main
    env = {"KB_HOME": str(settings.home), "KB_ARTICLES": str(settings.articles), "KB_SEMANTIC": "0", **db_env(settings),
           "KB_ENCODERS": "none"}
    _, cid, _ = contrib.capture_new(db, settings.articles, "alice", FIELDS, ticket_id="T-1")
    run = CliRunner().invoke
    r = run(main, ["contrib", "list", "--json"], env=env)
    assert r.exit_code == 0, r.output
    assert [c["id"] for c in json.loads(r.output)] == [cid]
    r = run(main, ["contrib", "show", str(cid)], env=env)
    assert r.exit_code == 0 and "Label printer prints blank labels" in r.output
    r = run(main, ["contrib", "export", str(cid), "--push", "nowhere"], env=env)
    assert r.exit_code == 2 and "--push" in r.output and "nowhere" in r.output
    assert contrib.get(db, cid)["state"] == "pending"
    # a bare remote to push to
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(settings.articles, "remote", "add", "origin", str(remote))
    from kb.accounts.users import add_user
    add_user(db, "alice", "alice-password-1", "agent", "Alice Agent")
    r = run(main, ["contrib", "export", str(cid), "--push", "origin"], env=env)
    assert r.exit_code == 0, r.output
    assert f"kb/contrib-{cid}-" in git(remote, "branch", "--list")
    assert git(remote, "log", "-1", "--format=%an", f"kb/contrib-{cid}-label-printer-prints-blank-labels").strip() \
        == "Alice Agent"
    r = run(main, ["contrib", "reject", str(cid), "--reason", "late"], env=env)
    assert r.exit_code == 2 and "exported" in r.output
    r = run(main, ["contrib", "sync"], env=env)
    assert r.exit_code == 0 and "0 merged" in r.output
    r = run(main, ["contrib", "show", "999"], env=env)
    assert r.exit_code == 2 and "999" in r.output


def test_export_refuses_an_id_taken_meanwhile_and_a_recapture_gets_a_new_id(settings, db):
    repo = settings.articles
    _, cid, kept = contrib.capture_new(db, repo, "alice", FIELDS, ticket_id="T-1")
    assert kept["id"] == "KB-0007"
    (repo / "someone-elses.md").write_text((repo / "printer-offline.md").read_text()
                                           .replace("id: KB-0001", "id: KB-0007"))
    git(repo, "add", "someone-elses.md")
    git(repo, "commit", "-qm", "Another article took KB-0007")
    with pytest.raises(FieldError, match="KB-0007 is already used"):
        export(db, repo, cid)
    assert contrib.get(db, cid)["state"] == "pending"
    git(repo, "rm", "-q", "someone-elses.md")
    git(repo, "commit", "-qm", "Gone again")
    assert export(db, repo, cid)["state"] == "exported"
    # the same agent captures from the same ticket again: a new contribution with a fresh id and file
    problems, cid2, kept2 = contrib.capture_new(db, repo, "alice", FIELDS, ticket_id="T-1")
    assert problems == {} and cid2 != cid
    assert kept2["id"] == "KB-0008" and kept2["slug"] == "label-printer-prints-blank-labels-2"


def test_scrub_placeholders_become_inline_code_so_they_survive_rendering(settings, db):
    fields = dict(FIELDS, symptoms="Mail from <email> bounces; `<phone>` stays as typed.")
    _, cid, _ = contrib.capture_new(db, settings.articles, "alice", fields, ticket_id="T-1")
    md = contrib.get(db, cid)["markdown"]
    assert "Mail from `<email>` bounces; `<phone>` stays as typed." in md
    from kb.documents.render import render_markdown
    assert "<code>&lt;email&gt;</code>" in render_markdown(md.split("\n---\n", 1)[1], "x.md", lambda s: None).html
