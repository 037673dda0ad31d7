"""What changed in the articles folder since the live generation, reading only what may have.

In a git checkout the live generation's commit, the commits since (tree and blob ids) and git's
stat cache of the working tree (`git status`) name the files that may differ; only those are
read and hashed, so an unchanged folder of 100,000 articles costs one `git status`, not 100,000
reads. Files that were dirty or broken when the live generation was built (its ``unsettled``
list) are always looked at again: a revert to the committed text is then noticed too. Outside
git, after a change of folder or for a full build, every file is read and hashed.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from kb.core.repo import ArticleRepo, is_listed


@dataclass
class Scan:
    files: list[str]                                     # every article file now, sorted
    raw: dict[str, bytes] = field(default_factory=dict)  # the files read (all, or what may have changed)
    hashes: dict[str, str] = field(default_factory=dict)  # their SHA-1
    dirty: set[str] = field(default_factory=set)         # changed in the working tree, not committed


def scan(repo: ArticleRepo, manifest: dict | None, known: list[str]) -> Scan:
    """The folder's article files and the bytes of those that may differ from the live
    generation (``manifest``, None for a full build; ``known``: its article paths)."""
    changes = repo.changed_since(manifest.get("commit")) if manifest is not None else None
    if changes is None:
        files = repo.files()
        if repo.is_git and repo.head() is not None:
            dirty = (repo.changed_since(repo.head()) or (set(), set()))[1]
        else:
            dirty = set()
        return _read(repo, Scan(files, dirty=dirty), files)
    committed, dirty = changes
    look = committed | dirty | set(manifest.get("unsettled", ()))
    present = set(known)
    for rel in look:
        if is_listed(repo.root, rel):
            present.add(rel)
        else:
            present.discard(rel)
    return _read(repo, Scan(sorted(present), dirty=dirty), sorted(look & present))


def _read(repo: ArticleRepo, found: Scan, relpaths: list[str]) -> Scan:
    found.raw = repo.read_listed(relpaths)
    found.hashes = {rel: hashlib.sha1(b).hexdigest() for rel, b in found.raw.items()}
    return found
