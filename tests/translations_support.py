"""A small knowledge base in two languages for the translation tests: an English article with
its Chinese translation, an English-only one, staff accounts, in a real git repository with a
real index and database."""
from __future__ import annotations

import json
from pathlib import Path

import indexer.families as fam
from indexer.build import build
from kb.accounts.users import add_user
from kb.core.articles import parse_article
from kb.core.config import Settings
from kb.core.generation import Generation
from kb.core.repo import ArticleRepo
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


def families_stage(tmp_path: Path, name: str, repo: Path, live: Generation | None, edited: list[str] | None = None,
                   removed: list[str] | None = None):
    """The families stage into a new generation folder ``name``: of every article (a full
    build), or of ``edited`` parsed anew beside the live generation's (``removed``: what the
    build would say went). Returns the generation and its families table."""
    files = sorted(p.name for p in repo.glob("*.md"))
    parsed = {rel: parse_article(rel, (repo / rel).read_bytes()) for rel in (files if edited is None else edited)}
    ids = {rel: parsed[rel].id if rel in parsed else parse_article(rel, (repo / rel).read_bytes()).id for rel in files}
    gen = Generation(tmp_path / name)
    gen.path.mkdir()
    fam.build(gen, live, ArticleRepo(repo), ids, parsed, removed)
    return gen, json.loads((gen.path / "families.json").read_text("utf-8"))


def families_same_as_full(tmp_path: Path, repo: Path, gen: Generation, name: str) -> dict:
    """``gen``'s families file is what a full families stage writes; returns that table."""
    full, table = families_stage(tmp_path, name, repo, None)
    assert (gen.path / "families.json").read_text("utf-8") == (full.path / "families.json").read_text("utf-8")
    return table
