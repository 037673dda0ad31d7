"""Staff accounts (kb.accounts.users and `kb users …`): hashing, roles, throttling, demo accounts and
what `kb serve` prints for them."""
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from click.testing import CliRunner

from kb.accounts import users as U
from kb.cli import main
from kb.core.errors import AuthError, FieldError, LoginThrottled
from kb.core.store import connect
from kb.tickets.records import upsert_ticket
from tests.conftest import ROOT

pytestmark = pytest.mark.both_backends       # SQLite and the suite's PostgreSQL


@pytest.fixture
def db(tmp_path):
    return connect(tmp_path / "kb.sqlite")


def test_passwords_are_salted_scrypt_hashes(db):
    U.add_user(db, "alice", "correct horse battery", "agent")
    row = next(db["users"].rows)
    assert row["password_hash"].startswith("scrypt$") and "correct horse" not in row["password_hash"]
    assert U.hash_password("same-password-1") != U.hash_password("same-password-1")
    assert U.authenticate(db, "alice", "correct horse battery").role == "agent"
    with pytest.raises(AuthError):
        U.authenticate(db, "alice", "wrong horse battery")
    with pytest.raises(AuthError):
        U.authenticate(db, "nobody", "correct horse battery")


@pytest.mark.parametrize("name,password,role,field", [
    ("a", "long-enough-pw", "agent", "username"), ("bad name", "long-enough-pw", "agent", "username"),
    ("carol", "short", "agent", "password"), ("carol", "long-enough-pw", "boss", "role"),
    ("carol", " long-enough-pw", "agent", "password")])
def test_bad_accounts_are_refused_naming_the_field(db, name, password, role, field):
    with pytest.raises(FieldError) as e:
        U.add_user(db, name, password, role)
    assert e.value.field == field
    assert db["users"].count == 0


def test_duplicate_and_disabled(db):
    U.add_user(db, "alice", "long-enough-pw", "agent")
    with pytest.raises(FieldError):
        U.add_user(db, "alice", "long-enough-pw", "admin")
    U.set_disabled(db, "alice")
    with pytest.raises(AuthError):
        U.authenticate(db, "alice", "long-enough-pw")


def test_throttling_per_user_and_per_client(db):
    U.add_user(db, "alice", "long-enough-pw", "agent")
    for _ in range(U.MAX_FAILURES_PER_USER):
        with pytest.raises(AuthError):
            U.authenticate(db, "alice", "nope-nope-nope", client="10.0.0.1")
    with pytest.raises(LoginThrottled) as e:
        U.authenticate(db, "alice", "long-enough-pw", client="10.0.0.2")
    assert 0 < e.value.retry_after <= 15 * 60
    for i in range(U.MAX_FAILURES_PER_CLIENT):
        with pytest.raises(AuthError):
            U.authenticate(db, f"user{i}", "nope-nope-nope", client="10.0.0.9")
    U.add_user(db, "bob", "long-enough-pw", "agent")
    with pytest.raises(LoginThrottled):
        U.authenticate(db, "bob", "long-enough-pw", client="10.0.0.9")
    assert U.authenticate(db, "bob", "long-enough-pw", client="10.0.0.3").username == "bob"


def test_demo_users_only_with_demo_data_and_only_while_no_real_account(db):
    assert U.ensure_demo_users(db) == []
    upsert_ticket(db, {"id": "DEMO-1", "channel": "phone", "priority": "normal", "subject": "Printer",
                       "created_at": "2026-11-01T09:00:00Z"}, source="demo")
    made = U.ensure_demo_users(db)
    assert [(u.username, u.role, u.demo) for u, _ in made] == [("demo-agent", "agent", True),
                                                              ("demo-engineer", "engineer", True)]
    for u, pw in made:
        assert U.authenticate(db, u.username, pw).username == u.username
    again = U.ensure_demo_users(db)                 # a restart: fresh passwords, the old ones stop working
    assert {pw for _, pw in again}.isdisjoint({pw for _, pw in made})
    with pytest.raises(AuthError):
        U.authenticate(db, "demo-agent", made[0][1])
    U.add_user(db, "realperson", "long-enough-pw", "admin")
    assert U.ensure_demo_users(db) == []


def kb(tmp_path, *args, input=None):
    return CliRunner().invoke(main, list(args), input=input, env={"KB_HOME": str(tmp_path / "state")})


def test_users_cli(tmp_path):
    r = kb(tmp_path, "users", "add", "alice", "--role", "agent", "--display-name", "Alice A", "--password-stdin",
           input="alice-password-1\n")
    assert r.exit_code == 0 and "added alice (agent)" in r.output
    assert "alice-password-1" not in r.output
    r = kb(tmp_path, "users", "add", "alice", "--role", "agent", "--password-stdin", input="alice-password-1\n")
    assert r.exit_code == 2 and "already exists" in r.output
    r = kb(tmp_path, "users", "add", "bob", "--role", "agent", "--password-stdin", input="short\n")
    assert r.exit_code == 2 and "password" in r.output
    r = kb(tmp_path, "users", "add", "bob", "--role", "agent", input="")
    assert r.exit_code == 2 and "--password-stdin" in r.output
    r = kb(tmp_path, "users", "list", "--json")
    assert '"username": "alice"' in r.output and "password" not in r.output
    assert kb(tmp_path, "users", "disable", "alice").exit_code == 0
    assert "disabled" in kb(tmp_path, "users", "list").output
    assert kb(tmp_path, "users", "enable", "alice").exit_code == 0
    assert kb(tmp_path, "users", "password", "alice", "--password-stdin", input="another-password-2\n").exit_code == 0
    assert U.authenticate(connect(tmp_path / "state" / "kb.sqlite"), "alice", "another-password-2")
    r = kb(tmp_path, "users", "disable", "nobody")
    assert r.exit_code == 2 and "nobody" in r.output


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_kb_serve_closes_its_database_before_the_workers_fork(tmp_path):
    """announce_demo_users runs in the process gunicorn forks: its connection must be closed by
    then, not by a later garbage collection inside a worker (which drops the worker's SQLite
    locks, so another process deletes the WAL under it: "disk I/O error" under load)."""
    import gc
    from web.cli import announce_demo_users
    db = connect(tmp_path / "kb.sqlite")
    upsert_ticket(db, {"id": "DEMO-1", "channel": "phone", "priority": "normal", "subject": "Printer",
                       "created_at": "2026-11-01T09:00:00Z"}, source="demo")
    db.close()

    def open_files() -> list[str]:
        out = []
        for fd in os.listdir("/proc/self/fd"):
            try:
                out.append(os.readlink(f"/proc/self/fd/{fd}"))
            except OSError:
                pass
        return [f for f in out if f.startswith(str(tmp_path / "kb.sqlite"))]

    from kb.core.config import Settings
    gc.disable()
    try:
        for _ in range(2):                 # with demo accounts to create, then with them there
            announce_demo_users(Settings.load(env={}, home=tmp_path))
            assert open_files() == []
    finally:
        gc.enable()


def test_kb_serve_prints_demo_credentials_and_serves(tmp_path):
    """The real `kb serve` (gunicorn, several workers) on a free loopback port."""
    from tests.web_support import build_settings
    s = build_settings(tmp_path)
    db = connect(s)
    upsert_ticket(db, {"id": "DEMO-1", "channel": "phone", "priority": "normal", "subject": "Printer",
                       "created_at": "2026-11-01T09:00:00Z"}, source="demo")
    port = _free_port()
    env = dict(os.environ, KB_HOME=str(s.home), KB_ARTICLES=str(s.articles), KB_SEMANTIC="0", KB_ENCODERS="none",
               KB_WORKERS="2", KB_THREADS="2")
    p = subprocess.Popen([sys.executable, "-m", "kb.cli", "serve", "--port", str(port)], cwd=ROOT, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for _ in range(100):
            try:
                body = urllib.request.urlopen(f"http://127.0.0.1:{port}/help", timeout=2).read().decode()
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise AssertionError("kb serve did not answer")
        assert "How can we help?" in body
    finally:
        p.terminate()
        out = p.communicate(timeout=30)[0]
    assert "demo-agent" in out and "demo-engineer" in out
    password = out.split("demo-agent", 1)[1].split("password", 1)[1].split()[0]
    assert U.authenticate(connect(s), "demo-agent", password).role == "agent"
