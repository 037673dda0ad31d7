"""Directory accounts through the real app (Flask test client, real SQLite) and a real slapd:
sign-in with the role of the group, the role following the groups, sessions ending when the
directory removes or disables someone, injection, throttling, local accounts beside the
directory, an unreachable directory, the sign-in log and `kb users` for directory accounts."""
import json
import uuid

import pytest
from click.testing import CliRunner

from kb.accounts import audit
from kb.accounts.users import get_user
from kb.cli import main
from kb.core.config import Settings
from kb.core.store import connect
from tests.ldap_support import PASSWORDS as DIR_PASSWORDS, dead_url, org_env, org_search_env
from tests.web_support import PASSWORDS, csrf_token, make_app, post, web_settings  # noqa: F401
from tests.conftest import db_env

pytestmark = pytest.mark.both_backends       # SQLite and the suite's PostgreSQL


@pytest.fixture
def new_person(slapd):
    """A directory user of its own for one test (the directory lives for the whole run)."""
    def make(role: str | None = "agent") -> tuple[str, str]:
        uid = "u" + uuid.uuid4().hex[:8]
        return uid, slapd.add_person(uid, f"Person {uid}", role)
    return make


def sign_in(client, name: str, password: str):
    return client.post("/login", data={"csrf_token": csrf_token(client), "username": name, "password": password})


def signed_in_person(base: Settings, slapd, new_person, role: str, **env: str):
    """An app on the OpenLDAP directory (``env`` added) and a client signed in as a new ``role``."""
    app = make_app(base, org_env(slapd, **env))
    uid, pw = new_person(role)
    c = app.test_client()
    assert sign_in(c, uid, pw).status_code == 302
    return app, c, uid, pw


def log_rows(settings, **filters) -> list[dict]:
    return audit.entries(connect(settings), **filters)


def test_a_directory_user_signs_in_with_the_role_of_their_group(web_settings, slapd, new_person):
    app = make_app(web_settings, org_env(slapd))
    uid, pw = new_person("engineer")
    c = app.test_client()
    r = sign_in(c, uid, pw)
    assert r.status_code == 302 and r.headers["Location"] == "/agent"
    page = c.get("/agent").get_data(as_text=True)
    assert f"Person {uid}" in page and "Engineer" in page
    assert c.get("/agent/flags").status_code == 200
    user = get_user(connect(web_settings), uid)
    assert (user.source, user.role, user.display_name) == ("ldap", "engineer", f"Person {uid}")
    row = log_rows(web_settings, user=uid)[0]
    assert (row["method"], row["ok"], row["client"]) == ("ldap", True, "127.0.0.1")
    assert sign_in(app.test_client(), uid.upper(), pw).status_code == 302          # the same account
    assert [u.username for u in [get_user(connect(web_settings), uid.upper())] if u] == []


def test_moving_to_another_group_changes_the_role_at_the_next_sign_in(web_settings, slapd, new_person):
    app, c, uid, pw = signed_in_person(web_settings, slapd, new_person, "agent")   # re-check every 60 s
    assert c.get("/agent/flags").status_code == 403
    slapd.leave(uid, "agent")
    slapd.join(uid, "admin")
    post(c, "/logout", fetch=False)
    assert sign_in(c, uid, pw).status_code == 302
    assert c.get("/agent/signins").status_code == 200
    assert get_user(connect(web_settings), uid).role == "admin"


def test_removing_someone_ends_their_sessions_at_the_next_request(web_settings, slapd, new_person):
    app = make_app(web_settings, org_env(slapd, KB_LDAP_RECHECK="0"))
    uid, pw = new_person("agent")
    desk, laptop = app.test_client(), app.test_client()
    for c in (desk, laptop):
        assert sign_in(c, uid, pw).status_code == 302
        assert c.get("/agent").status_code == 200
    slapd.leave(uid, "agent")
    for c in (desk, laptop):
        r = c.get("/agent")
        assert r.status_code == 302 and "/login" in r.headers["Location"]
        assert c.get("/agent").status_code == 302                 # and stays out
    assert sign_in(desk, uid, pw).status_code == 401
    user = get_user(connect(web_settings), uid)
    assert user.sync_error == "in none of the groups of KB_LDAP_ROLES"
    reasons = [r["reason"] for r in log_rows(web_settings, user=uid, failed=True)]
    assert "session ended: in none of the groups of KB_LDAP_ROLES" in reasons
    slapd.join(uid, "agent")                                      # back in the group: a new sign-in works,
    assert desk.get("/agent").status_code == 302                  # the ended sessions stay ended
    assert sign_in(desk, uid, pw).status_code == 302 and desk.get("/agent").status_code == 200
    assert laptop.get("/agent").status_code == 302


def test_the_directory_is_asked_again_only_after_the_recheck_interval(web_settings, slapd, new_person):
    app, c, uid, pw = signed_in_person(web_settings, slapd, new_person, "engineer", KB_LDAP_RECHECK="1h")
    slapd.leave(uid, "engineer")
    slapd.join(uid, "agent")
    assert c.get("/agent/flags").status_code == 200               # confirmed less than an hour ago
    connect(web_settings).execute("UPDATE users SET synced_at = '2026-01-01T00:00:00+00:00' "
                                                "WHERE username = ?", [uid])
    assert c.get("/agent/flags").status_code == 403               # re-checked: now an agent
    assert c.get("/agent").status_code == 200


def test_a_lock_in_the_directory_ends_sessions_and_sign_in(web_settings, slapd, new_person):
    app, c, uid, pw = signed_in_person(web_settings, slapd, new_person, "agent", KB_LDAP_RECHECK="0")
    slapd.lock(uid)
    assert c.get("/agent").status_code == 302
    assert sign_in(c, uid, pw).status_code == 401
    assert "session ended: disabled in the directory" in [r["reason"] for r in log_rows(web_settings, user=uid)]


def test_people_outside_the_mapped_groups_cannot_sign_in(web_settings, slapd):
    app = make_app(web_settings, org_env(slapd))
    c = app.test_client()
    r = sign_in(c, "nora", DIR_PASSWORDS["nora"])
    assert r.status_code == 401 and "Wrong user name or password." in r.get_data(as_text=True)
    assert get_user(connect(web_settings), "nora") is None
    assert log_rows(web_settings, user="nora")[0]["reason"] == "in none of the groups of KB_LDAP_ROLES"
    assert sign_in(c, "dave", DIR_PASSWORDS["dave"]).status_code == 401


@pytest.mark.parametrize("mode", ["template", "search"])
@pytest.mark.parametrize("name", ["eri*", "*)(uid=*", "*", "erin)(|(uid=*", "uid=erin,ou=people,dc=example,dc=org"])
def test_an_injection_user_name_fails(web_settings, slapd, name, mode):
    app = make_app(web_settings, org_env(slapd) if mode == "template" else org_search_env(slapd))
    c = app.test_client()
    r = sign_in(c, name, DIR_PASSWORDS["erin"])
    assert r.status_code == 401 and c.get("/agent").status_code == 302
    db = connect(web_settings)
    assert db.execute("SELECT COUNT(*) FROM users WHERE source = 'ldap'").fetchone()[0] == 0


def test_a_local_account_keeps_its_name_and_works_beside_the_directory(web_settings, slapd):
    """The local "alice" (web_support) shadows the directory's alice; "root" is a local admin."""
    app = make_app(web_settings, org_env(slapd))
    c = app.test_client()
    assert sign_in(c, "alice", DIR_PASSWORDS["alice"]).status_code == 401
    assert sign_in(c, "alice", PASSWORDS["alice"]).status_code == 302
    assert get_user(connect(web_settings), "alice").source == "local"
    assert sign_in(app.test_client(), "root", PASSWORDS["root"]).status_code == 302
    assert [r["method"] for r in log_rows(web_settings, user="alice")] == ["local", "local"]


def test_throttling_applies_to_directory_accounts(web_settings, slapd):
    app = make_app(web_settings, org_env(slapd))
    c = app.test_client()
    for _ in range(5):
        assert sign_in(c, "erin", "wrong-password-x").status_code == 401
    r = sign_in(c, "erin", DIR_PASSWORDS["erin"])
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    assert log_rows(web_settings, user="erin")[0]["reason"].startswith("throttled")


def test_an_unreachable_directory_is_said_on_the_form_and_local_accounts_still_sign_in(web_settings, slapd, caplog):
    app = make_app(web_settings, org_env(slapd, KB_LDAP_URL=dead_url()))
    c = app.test_client()
    page = c.get("/login").get_data(as_text=True)
    assert "The company directory cannot be reached" in page and 'id="directory-down"' in page
    r = sign_in(c, "erin", DIR_PASSWORDS["erin"])
    assert r.status_code == 503 and "directory accounts cannot sign in right now" in r.get_data(as_text=True)
    whole = c.get("/api/v1/health").get_json()
    health = whole["directory"]
    assert health["status"] == "degraded" and health["error"] == "cannot connect to the directory"
    assert whole["status"] == "degraded" and any("company directory cannot be reached" in p for p in whole["problems"])
    assert "127.0.0.1" not in json.dumps(whole)                  # the public health names no server
    assert sign_in(c, "root", PASSWORDS["root"]).status_code == 302
    page = c.get("/agent/signins").get_data(as_text=True)
    assert 'data-status="degraded"' in page and "directory unavailable: cannot connect to the directory" in page
    zh = c.get("/login", headers={"Accept-Language": "zh-CN"})   # signed in: back to the console
    assert zh.status_code == 302
    assert "无法连接公司目录" in app.test_client().get("/login", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)


def test_an_outage_does_not_end_sessions_and_health_recovers(web_settings, slapd, new_person):
    live, c, uid, pw = signed_in_person(web_settings, slapd, new_person, "agent", KB_LDAP_RECHECK="0")
    assert c.get("/api/v1/health").get_json()["directory"]["status"] == "ok"
    assert not any("directory" in p for p in c.get("/api/v1/health").get_json()["problems"])
    down = make_app(web_settings, org_env(slapd, KB_LDAP_RECHECK="0", KB_LDAP_URL=dead_url()))
    d = down.test_client()
    d.set_cookie("kb_session", c.get_cookie("kb_session").value)
    assert d.get("/agent").status_code == 200                     # the same session, directory away
    assert d.get("/api/v1/health").get_json()["directory"]["status"] == "degraded"


def test_switching_the_directory_off_ends_directory_sessions(web_settings, slapd, new_person):
    _, c, uid, pw = signed_in_person(web_settings, slapd, new_person, "agent")
    off = make_app(web_settings, {}).test_client()
    off.set_cookie("kb_session", c.get_cookie("kb_session").value)
    assert off.get("/agent").status_code == 302
    assert sign_in(off, uid, pw).status_code == 401              # no password of theirs is stored
    assert off.get("/api/v1/health").get_json()["directory"] == {"status": "off"}


def kb(settings, *args):
    return CliRunner().invoke(main, list(args), env={"KB_HOME": str(settings.home), **db_env(settings)})


def test_kb_users_shows_where_accounts_come_from_and_the_sign_in_log(web_settings, slapd, new_person):
    app = make_app(web_settings, org_env(slapd, KB_LDAP_RECHECK="0"))
    uid, pw = new_person("agent")
    assert sign_in(app.test_client(), uid, pw).status_code == 302
    assert sign_in(app.test_client(), "bob", "wrong-password-x").status_code == 401
    rows = {r["username"]: r for r in json.loads(kb(web_settings, "users", "list", "--json").output)}
    assert rows[uid]["source"] == "ldap" and rows["bob"]["source"] == "local" and rows[uid]["refused"] is None
    line = next(l for l in kb(web_settings, "users", "list").output.splitlines() if l.startswith(uid))
    assert " ldap " in line and " active " in line
    r = kb(web_settings, "users", "password", uid, "--password-stdin")
    assert r.exit_code == 2 and "NAME" in r.output and "company directory" in r.output
    assert kb(web_settings, "users", "disable", uid).exit_code == 0      # a kb-side disable stays
    assert sign_in(app.test_client(), uid, pw).status_code == 401
    assert log_rows(web_settings, user=uid)[0]["reason"] == "disabled in kb"
    assert kb(web_settings, "users", "enable", uid).exit_code == 0
    assert sign_in(app.test_client(), uid, pw).status_code == 302

    out = json.loads(kb(web_settings, "users", "log", "--json").output)
    assert {r["method"] for r in out} == {"ldap", "local"} and out[0]["username"] == uid and out[0]["ok"]
    assert set(out[0]) == {"id", "username", "method", "client", "ok", "reason", "created_at"}
    failed = json.loads(kb(web_settings, "users", "log", "--failed", "--json").output)
    assert failed and not any(r["ok"] for r in failed)
    only = json.loads(kb(web_settings, "users", "log", "--user", "bob", "--method", "local", "--json").output)
    assert [(r["username"], r["reason"]) for r in only] == [("bob", "wrong user name or password")]
    assert len(json.loads(kb(web_settings, "users", "log", "--limit", "2", "--json").output)) == 2
    assert json.loads(kb(web_settings, "users", "log", "--since", "2999-01-01", "--json").output) == []
    text = kb(web_settings, "users", "log", "--user", "bob").output
    assert "FAILED" in text and "local" in text and "127.0.0.1" in text
    for bad, flag in ((["--since", "yesterday"], "--since"), (["--limit", "0"], "--limit"), (["--method", "x"], "--method")):
        r = kb(web_settings, "users", "log", *bad)
        assert r.exit_code == 2 and flag in r.output, r.output


def test_the_sign_in_log_page_filters_and_speaks_chinese(web_settings, slapd):
    app = make_app(web_settings, org_env(slapd))
    sign_in(app.test_client(), "nora", DIR_PASSWORDS["nora"])
    c = app.test_client()
    assert sign_in(c, "root", PASSWORDS["root"]).status_code == 302
    page = c.get("/agent/signins?failed=1").get_data(as_text=True)
    assert "nora" in page and "in none of the groups of KB_LDAP_ROLES" in page and "signin-ok" not in page
    page = c.get("/agent/signins?method=local").get_data(as_text=True)
    assert "root" in page and "nora" not in page
    page = c.get("/agent/signins?user=nobody").get_data(as_text=True)
    assert "No sign-ins to show" in page
    c.set_cookie("kb_lang", "zh")
    page = c.get("/agent/signins").get_data(as_text=True)
    assert "登录记录" in page and "公司目录 (LDAP)" in page and "本地账号" in page
