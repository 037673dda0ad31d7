"""The families of a generation: which articles are versions of one article (a source and its
translations, kb.core.families) and which translations are behind their source
(kb.core.translations), written as ``families.json`` beside the index for search and the
pages. ``family-members.json`` keeps every article's family facts for the next incremental
build, so unchanged articles are not parsed again; a pair whose two files kept their blobs keeps
its answer without asking git again.
"""
from __future__ import annotations

import json
from pathlib import Path

from kb.core import families, gitobjects
from kb.core.articles import Article
from kb.core.generation import Generation
from kb.core.repo import ArticleRepo
from kb.core.translations import Translations

FORMAT = 2
# up to this many pairs to ask git about, the log of their files alone (0.3 s at 100,000 articles,
# 800 files); above it, the log of the whole folder (1.3 s there, as many pairs as asked)
FEW_PAIRS = 256


def _read(path: Path) -> dict:
    try:
        d = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return d if d.get("format") == FORMAT else {}


def build(gen: Generation, live: Generation | None, repo: ArticleRepo, articles: dict[str, str],
          parsed: dict[str, Article]) -> dict:
    """Write the family files of ``gen`` for its articles (path → id); returns the families table."""
    old = _read(live.path / "family-members.json") if live is not None else {}
    members: dict[str, list] = {}
    for rel in articles:
        if rel in parsed:
            m = families.member(parsed[rel])
            members[rel] = [m.id, m.language, m.visibility, m.status, m.translation_of, parsed[rel].title]
        elif rel in old.get("members", {}):
            members[rel] = old["members"][rel]
    ms = [families.Member(v[0], rel, *v[1:5]) for rel, v in members.items()]
    groups = {key: [m.id for m in group] for key, group in families.families(ms).items() if len(group) > 1}
    paths = {m.id: m.path for m in ms}
    blobs = gitobjects.entries(repo, "HEAD", sorted({paths[i] for g in groups.values() for i in g})) \
        if repo.is_git and repo.head() else {}
    known = {tuple(k.split("\x1f")): v for k, v in old.get("pairs", {}).items()}
    pairs: dict[str, dict | None] = {}
    order: list[tuple[str, str]] = []                  # (pair key, translation id) of every pair
    asked: list[tuple[str, str, str]] = []             # (pair key, source, translation) to ask git about
    for key, ids in groups.items():
        for tid in ids[1:]:
            src, tr = paths[key], paths[tid]
            blob_key = (src, _blob(blobs, src), tr, _blob(blobs, tr))
            k = "\x1f".join(blob_key)
            order.append((k, tid))
            if blob_key in known:
                pairs[k] = known[blob_key]
            else:
                pairs[k] = None                         # not committed yet (no blobs): nothing is behind
                if blobs:
                    asked.append((k, src, tr))
    if asked:
        # one set of git processes for every pair asked about; the log of their files alone
        # when they are few (an edit), of the whole folder when many (a first build)
        few = [p for _, src, tr in asked for p in (src, tr)] if len(asked) <= FEW_PAIRS else None
        with Translations(repo, few) as history:
            for k, src, tr in asked:
                b = history.behind(src, tr)
                pairs[k] = b.to_dict() if b else None
    outdated = {tid: pairs[k] for k, tid in order if pairs[k]}
    (gen.path / "family-members.json").write_text(json.dumps({"format": FORMAT, "members": members,
                                                             "pairs": pairs}), "utf-8")
    titles = {v[0]: v[5] for v in members.values()}
    languages: dict[str, str] = {}
    for m in ms:
        languages.setdefault(m.id, m.language)
    versions = {i: [paths[i][:-3], languages[i], titles.get(i, "")] for ids in groups.values() for i in ids}
    table = {"format": FORMAT, "groups": groups, "behind": outdated, "versions": versions}
    (gen.path / "families.json").write_text(json.dumps(table, ensure_ascii=False), "utf-8")
    return table


def _blob(entries: dict, path: str) -> str:
    e = entries.get(path)
    return e.object if e is not None else ""
