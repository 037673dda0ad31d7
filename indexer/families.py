"""The families of a generation: which articles are versions of one article (a source and its
translations, kb.core.families) and which translations are behind their source
(kb.core.translations), written as ``families.json`` beside the index for search and the
pages. ``family-members.jsonl`` keeps every article's family facts for the next incremental
build, so unchanged articles are not parsed again (indexer/members.py); ``family-pairs.json``
keeps each pair's answer by the blobs of its two files and the commit they were read at, so a
pair whose files kept their blobs keeps its answer without asking git again.

An edit costs what it changed. When no article it touched is in a family, before or after, and
no file changed in a commit since the live pairs were answered is a family's, the live families
file is linked and the pairs file copied with HEAD as its commit, decided from the members'
lines alone. Else, when no article that came, went or was parsed is, or was, in a family by its
id, language or link, the live groups and versions stand (with the titles of the parsed ones);
the members file is the live one with the touched lines spliced in; the blobs of the families'
files are the live ones updated by one tree diff since the live commit; only the pairs whose
blobs changed are asked about, from the log of their own files since the live commit (each
pair's answer there and its translation's last content commit are kept in
``family-pairs.json``); and a file whose content is the live one's is linked, not written again.
"""
from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

from kb.core import families, gitobjects
from kb.core.articles import Article
from kb.core.generation import Generation
from kb.core.errors import RepoError
from kb.core.repo import ArticleRepo, git
from kb.core.translations import Behind, Translations
from indexer.members import NAME as MEMBERS, Members, facts, splice, write_all

FORMAT = 2
# up to this many pairs to ask git about, the log of their files alone (0.3 s at 100,000 articles,
# 800 files); above it, the log of the whole folder (1.3 s there, as many pairs as asked)
FEW_PAIRS = 256
FEW = 32      # up to this many articles touched or files changed since the pairs, the live files may stand
SEP = "\x1f"
# how a pairs file opens (it is written with its format, then its commit, then the pairs)
_OPENING = re.compile(rb'\{"format": (\d+), "commit": "([0-9a-f]{40,64})", "pairs": ')


def _read(path: Path) -> dict:
    try:
        d = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return d if d.get("format") == FORMAT else {}


def build(gen: Generation, live: Generation | None, repo: ArticleRepo, articles: dict[str, str],
          parsed: dict[str, Article], removed: list[str] | None = None) -> None:
    """Write the family files of ``gen`` for its articles (path → id), of which ``parsed`` were
    parsed anew (``removed``: the live articles that went, when the caller knows)."""
    old = Members.read(live.path) if live is not None else None
    fresh = {rel: facts(parsed[rel]) for rel in parsed if rel in articles}
    touched = {**{rel: None for rel in (old.gone(articles, fresh, removed) if old else ())}, **fresh}
    unique = len(set(articles.values())) == len(articles)
    pairs_now = _apart(repo, live, old, touched, unique) if old is not None else None
    if pairs_now is not None and _keep(gen, live, "families.json"):
        (gen.path / "family-pairs.json").write_bytes(pairs_now)
        _write_members(gen, live, old, touched, unique, lambda: _members(articles, fresh, old))
        return
    old_table = _read(live.path / "families.json") if live is not None and old is not None else {}
    members = None
    if old_table and _same_groups(old, touched, unique):
        groups, versions = old_table["groups"], old_table["versions"]
        for rel, v in fresh.items():
            if v[0] in versions and versions[v[0]] != [rel[:-3], v[1], v[5]]:
                versions = dict(versions) if versions is old_table["versions"] else versions
                versions[v[0]] = [rel[:-3], v[1], v[5]]
        # the groups' members kept their paths (a renamed one is gone and added: the groups
        # would not stand), and every article's path ends in .md (kb.core.repo.list_markdown)
        paths = {i: f"{v[0]}.md" for i, v in versions.items()}
    else:
        members = _members(articles, fresh, old)
        ms = [families.Member(v[0], rel, *v[1:5]) for rel, v in members.items()]
        groups = {key: [m.id for m in group] for key, group in families.families(ms).items() if len(group) > 1}
        paths = {v[0]: rel for rel, v in members.items()}
        titles = {v[0]: v[5] for v in members.values()}
        languages: dict[str, str] = {}
        for v in members.values():
            languages.setdefault(v[0], v[1])
        versions = {i: [paths[i][:-3], languages[i], titles.get(i, "")] for ids in groups.values() for i in ids}
    old_pairs = _read(live.path / "family-pairs.json") if live is not None else {}
    # answers kept without their translations' last commits (an older generation) are worked out
    # again once, as a first build does, so that every later edit reads only the commits since
    known = {tuple(k.split(SEP)): v for k, v in old_pairs["pairs"].items()} if "last" in old_pairs else {}
    head = repo.head() if repo.is_git else None
    blobs = _blobs(repo, head, sorted({paths[i] for g in groups.values() for i in g}), old_pairs.get("commit"),
                   known) if head else {}
    committed = any(blobs.values())
    pairs: dict[str, dict | None] = {}
    order: list[tuple[str, str]] = []                  # (pair key, translation id) of every pair
    asked: list[tuple[str, str, str]] = []             # (pair key, source, translation) to ask git about
    for key, ids in groups.items():
        for tid in ids[1:]:
            src, tr = paths[key], paths[tid]
            blob_key = (src, blobs.get(src, ""), tr, blobs.get(tr, ""))
            k = SEP.join(blob_key)
            order.append((k, tid))
            if blob_key in known:
                pairs[k] = known[blob_key]
            else:
                pairs[k] = None                         # not committed yet (no blobs): nothing is behind
                if committed:
                    asked.append((k, src, tr))
    old_last = old_pairs.get("last", {})
    last = {k: old_last[k] for k in pairs if k in old_last}     # each pair's translation's last content commit
    if asked:
        _ask(repo, asked, pairs, last, old_pairs, head)
    outdated = {tid: pairs[k] for k, tid in order if pairs[k]}
    _write_members(gen, live, old, touched, unique,
                   lambda: members if members is not None else _members(articles, fresh, old))
    (gen.path / "family-pairs.json").write_text(json.dumps({"format": FORMAT, "commit": head, "pairs": pairs,
                                                            "last": last}), "utf-8")
    table = {"format": FORMAT, "groups": groups, "behind": outdated, "versions": versions}
    # the groups and versions that stood are the live ones: only the answers need comparing
    stood = groups is old_table.get("groups") and versions is old_table.get("versions")
    same = (outdated == old_table.get("behind") if stood else table == old_table) and \
        all(list(table[k]) == list(old_table[k]) for k in ("groups", "behind", "versions"))
    if not (same and _keep(gen, live, "families.json")):
        (gen.path / "families.json").write_text(json.dumps(table, ensure_ascii=False), "utf-8")


def _apart(repo: ArticleRepo, live: Generation, old: Members, touched: dict[str, list | None],
           unique: bool) -> bytes | None:
    """The live pairs file as answered at HEAD, if the live family files stand as they are:
    the groups stand, no article that came, went or was parsed is in a family before or after,
    and no file changed in a commit since the live pairs were answered is a family's (a pair's
    answer, and its translation's last content commit, depend on its two files' history alone:
    they are the same at HEAD, which the file then names, so that the next build reads only the
    commits after it). Decided from the members' lines of those few articles and one tree diff,
    without reading the families or their pairs; None when they may not stand."""
    if len(touched) > FEW or not (live.path / "families.json").exists() or not _same_groups(old, touched, unique):
        return None
    alone = lambda v: v is None or (not v[4] and v[0] not in old.named)
    if not all(alone(v) and alone(old.get(rel)) for rel, v in touched.items()):
        return None
    try:
        data = (live.path / "family-pairs.json").read_bytes()
    except OSError:
        return None
    m = _OPENING.match(data)
    head = repo.head() if repo.is_git else None
    if not m or int(m.group(1)) != FORMAT or b', "last": {' not in data or not head:
        return None          # (a quote inside a JSON string is escaped: only the key reads `, "last": {`)
    commit = m.group(2).decode()
    since = gitobjects.changed(repo, commit, head) if commit != head else {}
    if since is None or len(since) > FEW or not all(alone(touched[rel] if rel in touched else old.get(rel))
                                                     for rel in since):
        return None
    return data[:m.start(2)] + head.encode() + data[m.end(2):]


def _write_members(gen: Generation, live: Generation | None, old: Members | None, touched: dict, unique: bool,
                   every) -> None:
    """The members file of ``gen``: the live one spliced with ``touched``, or linked when it
    stays the same; written whole from ``every()`` when the live one is of an older form."""
    spliced = old is not None and old.whole is None and (splice(gen.path / MEMBERS, old, touched, unique)
                                                         or _keep(gen, live, MEMBERS))
    if not spliced:
        write_all(gen.path / MEMBERS, every())


def _members(articles: dict[str, str], fresh: dict[str, list], old: Members | None) -> dict[str, list]:
    """Every article's facts: parsed anew (``fresh``) or kept from the live generation."""
    kept = old.all() if old is not None else {}
    return {rel: fresh[rel] if rel in fresh else kept[rel] for rel in articles if rel in fresh or rel in kept}


def _ask(repo: ArticleRepo, asked: list[tuple[str, str, str]], pairs: dict, last: dict, old_pairs: dict,
         head: str) -> None:
    """Answer the pairs ``asked`` (key, source, translation) into ``pairs`` and ``last``. A pair
    the live generation answered at its commit, when that commit is in HEAD's history, is
    answered from the commits since (``Translations.behind_after``: the log of a few files over
    a long history took 1.1 s at 100,000 articles); the others from the whole history, with one
    set of git processes: the log of their files alone when they are few (an edit), of the
    whole folder when many (a first build)."""
    since = old_pairs.get("commit")
    before = {}                                      # (source, translation) → (answer, last) at ``since``
    for k, answer in old_pairs.get("pairs", {}).items():
        parts = k.split(SEP)
        if len(parts) == 4 and k in old_pairs.get("last", {}):
            before[(parts[0], parts[2])] = (answer, old_pairs["last"][k])
    after = [a for a in asked if (a[1], a[2]) in before] if since and _in_history(repo, since) else []
    whole = [a for a in asked if a not in after]
    for group, start in ((after, since), (whole, None)):
        if not group:
            continue
        few = [p for _, src, tr in group for p in (src, tr)] if len(group) <= FEW_PAIRS else None
        with Translations(repo, few, since=start) as history:
            for k, src, tr in group:
                if start:
                    answer, was = before[(src, tr)]
                    b, last[k] = history.behind_after(src, tr, Behind(**answer) if answer else None, was)
                else:
                    b, last[k] = history.behind_and_last(src, tr)
                pairs[k] = b.to_dict() if b else None


def _in_history(repo: ArticleRepo, commit: str) -> bool:
    try:
        git(repo.toplevel, "merge-base", "--is-ancestor", commit, "HEAD")
        return True
    except RepoError:
        return False


def _same_groups(old: Members, touched: dict[str, list | None], unique: bool) -> bool:
    """Whether the members make the groups ``old`` made, ``touched`` (path → facts, None: gone)
    being the articles that came, went or were parsed: every one either kept its id, language
    and source, or stands alone on both sides (it names no source, no article names it, no other
    has its id; ``unique``: the new ids are unique)."""
    key = lambda v: (v[0], v[1], v[4]) if v is not None else None
    changed = [(was, v) for rel, v in touched.items() if key(was := old.get(rel)) != key(v)]
    if not changed:
        return True
    named = set(old.named) | {v[4] for _, v in changed if v is not None and v[4]}
    return old.unique and unique and all(v is None or (not v[4] and v[0] not in named) for pair in changed
                                         for v in pair)


def _blobs(repo: ArticleRepo, head: str, paths: list[str], since: str | None, known) -> dict[str, str]:
    """The blob of each of ``paths`` in commit ``head`` (``""``: not in it): those the live
    pairs ``known`` name as they were at its commit ``since``, with the files changed since
    then (one tree diff); the others from ``head``'s tree."""
    at: dict[str, str] = {}
    if since:
        for src, src_blob, tr, tr_blob in known:
            at[src], at[tr] = src_blob, tr_blob
        diff = gitobjects.changed(repo, since, head) if since != head else {}
        if diff is None:
            at = {}
        else:
            at.update(diff)
    found = gitobjects.entries(repo, head, [p for p in paths if p not in at])
    return {p: at[p] if p in at else (found[p].object if p in found else "") for p in paths}


def _keep(gen: Generation, live: Generation | None, name: str) -> bool:
    """The live generation's file ``name`` linked (or copied) into ``gen``, as it is unchanged
    (generation files are never written again once published); False if it cannot be."""
    if live is None:
        return False
    try:
        os.link(live.path / name, gen.path / name)
        return True
    except OSError:
        try:
            shutil.copyfile(live.path / name, gen.path / name)
            return True
        except OSError:
            return False
