"""Shared fixtures: real git repositories of real Markdown in tmp_path, real indexes."""
from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path

import pytest

from kb.core.config import Settings
from tests.pg_support import pg_server, pg_url  # noqa: F401  (a real PostgreSQL, started on first use)
from tests.oidc_support import idp, oidc_provider  # noqa: F401,E402  (a real OpenID Connect provider, on first use)

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
# the dev evaluation sets live beside the checkout (../shared/eval), never inside it
needs_shared = pytest.mark.skipif(not (SHARED / "eval").is_dir(),
                                  reason="../shared/eval (dev evaluation sets) is not beside this checkout")

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

GIT_ENV = {"GIT_AUTHOR_NAME": "Ada Engineer", "GIT_AUTHOR_EMAIL": "ada@northwind.example",
           "GIT_COMMITTER_NAME": "Ada Engineer", "GIT_COMMITTER_EMAIL": "ada@northwind.example"}


def git(cwd: Path, *args: str, env: dict | None = None) -> str:
    e = dict(os.environ)
    e.update(GIT_ENV)
    e.update(env or {})
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True, env=e).stdout


def article(id: str, title: str, *, product="printing", language="en", visibility="public",
            status="published", tags=("printer",), summary="A short summary.", review_by="2027-03-01",
            body: str | None = None) -> str:
    if body is None:
        if language == "zh":
            body = f"## 问题\n{title}。\n\n## 环境\nWindows 11\n\n## 原因\n配置错误。\n\n## 解决方法\n1. 打开设置。\n2. 重新启动。\n"
        else:
            body = (f"## Symptoms\n{title}.\n\n## Environment\nWindows 11\n\n## Cause\nA stale setting.\n\n"
                    "## Resolution\n1. Open **Settings**.\n2. Restart the device.\n")
    return textwrap.dedent(f"""\
        ---
        id: {id}
        title: "{title}"
        summary: {summary}
        product: {product}
        tags: [{", ".join(tags)}]
        language: {language}
        visibility: {visibility}
        status: {status}
        owners: [it-desk@northwind.example]
        review_by: {review_by}
        ---
        """) + body


BASIC = {
    "printer-offline.md": article("KB-0001", "Printer shows offline after the router was replaced",
                                  tags=("printer", "wifi")),
    "vpn-error-809.md": article("KB-0002", "VPN error 809 when connecting from home", product="vpn",
                                tags=("vpn",), summary="Allow IPsec through the home router."),
    "reset-password-zh.md": article("KB-0003", "重置忘记的账户密码", product="accounts", language="zh",
                                    tags=("密码", "账户"), summary="通过自助门户重置密码。"),
    "internal-spooler.md": article("KB-0004", "Restart the print spooler on the print server",
                                   visibility="internal", tags=("printer", "server")),
    "draft-scanner.md": article("KB-0005", "Scanner sends empty e-mails", status="draft",
                                tags=("scanner",)),
    "old-vpn-client.md": article("KB-0006", "Retired VPN client version 3 cannot connect", product="vpn",
                                 status="archived", tags=("vpn",)),
}


def make_repo(path: Path, files: dict[str, str], message: str = "Add articles") -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    write(path, files)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", message)
    return path


def write(path: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        p = path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, "utf-8")


def commit_all(path: Path, message: str) -> None:
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", message)


@pytest.fixture
def repo(tmp_path) -> Path:
    return make_repo(tmp_path / "articles", BASIC)


def pytest_generate_tests(metafunc):
    """Tests marked ``both_backends`` run once on SQLite and once on PostgreSQL."""
    if "backend" in metafunc.fixturenames:
        both = metafunc.definition.get_closest_marker("both_backends") is not None
        metafunc.parametrize("backend", ["sqlite", "postgresql"] if both else ["sqlite"], indirect=True)


@pytest.fixture
def backend(request) -> str:
    return getattr(request, "param", "sqlite")


@pytest.fixture
def database_url(request, backend) -> str | None:
    """None (SQLite in KB_HOME) or a new, empty PostgreSQL database on the suite's server."""
    return request.getfixturevalue("pg_url") if backend == "postgresql" else None


def db_env(s: Settings) -> dict[str, str]:
    """The environment that points a `kb` command or server at ``s``'s database."""
    return {"KB_DATABASE_URL": s.database_url} if s.database_url else {}


@pytest.fixture
def settings(tmp_path, repo, database_url) -> Settings:
    """Keyword-only settings (the real encoders have their own tests)."""
    return Settings.load(env={}, home=tmp_path / "state", articles=repo, semantic=False, encoders=(),
                         database_url=database_url)


@pytest.fixture
def indexed(settings):
    from indexer.build import build
    report = build(settings)
    assert report.ok, report.errors
    return settings


@pytest.fixture(scope="session")
def slapd(tmp_path_factory):
    """Debian's slapd with a small directory on free loopback ports, for the whole run; stopped
    at the end even when tests fail (tests/ldap_support.py)."""
    from tests.ldap_support import Slapd
    server = Slapd(tmp_path_factory.mktemp("slapd"))
    try:
        yield server
    finally:
        server.stop()
