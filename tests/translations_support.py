"""A small knowledge base in two languages for the translation tests: an English article with
its Chinese translation, an English-only one, staff accounts, in a real git repository with a
real index and database."""
from __future__ import annotations

from indexer.build import build
from kb.accounts.users import add_user
from kb.core.config import Settings
from kb.core.store import connect
from tests.conftest import article, make_repo


def translation(id, title, source, *, language="zh", **kw):
    """An article (Chinese unless said otherwise) that names ``source`` as what it translates."""
    return article(id, title, language=language, **kw).replace(
        f"language: {language}\n", f"language: {language}\ntranslation_of: {source}\n", 1)


def bilingual(tmp_path, database_url) -> Settings:
    repo = make_repo(tmp_path / "articles", {
        "printer.md": article("KB-0001", "Printer offline after the router change"),
        "printer-zh.md": translation("KB-0002", "更换路由器后打印机脱机", "KB-0001"),
        "vpn.md": article("KB-0003", "VPN error 809", product="vpn"),
    })
    s = Settings.load(env={}, home=tmp_path / "state", articles=repo, semantic=False, encoders=(),
                      secret_key="test", database_url=database_url)
    assert build(s).ok
    db = connect(s)
    add_user(db, "alice", "alice-password-1", "agent", "Alice Agent")
    add_user(db, "bob", "bob-password-22", "engineer", "Bob Engineer")
    db.close()
    return s
