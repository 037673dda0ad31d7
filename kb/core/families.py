"""Article families: an article in several languages is one source and its translations, each
its own file in its own language, naming the source in front matter (``translation_of: KB-0022``).
A family holds at most one version per language. Search ranks families, tickets and reports
count them as one, and git tells when a translation is behind its source.

``problems`` is what `kb check` reports about the links: a source that does not exist, a chain
(a translation of a translation), two versions in one language, and a public translation of an
internal source (customers would read what the source keeps from them).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

from kb.core.errors import ArticleError


@dataclass(frozen=True)
class Member:
    id: str
    path: str
    language: str
    visibility: str
    status: str
    translation_of: str | None = None


def family_of(m: Member, by_id: dict[str, Member]) -> str:
    """The family key of an article: its source's id, or its own when it is a source (or its
    link is broken, so that it stands alone)."""
    src = by_id.get(m.translation_of) if m.translation_of else None
    return src.id if src is not None and not src.translation_of and src.id != m.id else m.id


def families(members: Iterable[Member]) -> dict[str, list[Member]]:
    """Family key → its members, the source first, then translations by language."""
    members = list(members)
    by_id = {m.id: m for m in members}
    out: dict[str, list[Member]] = {}
    for m in members:
        out.setdefault(family_of(m, by_id), []).append(m)
    for key, group in out.items():
        group.sort(key=lambda m: (m.id != key, m.language, m.id))
    return out


def problems(members: Iterable[Member], shown: Callable[[str], str], line: Callable[[str, str], int]
             ) -> list[ArticleError]:
    """What is wrong with the translation links: ``shown(path)`` is how a path is printed,
    ``line(path, key)`` the line of a front matter key."""
    members = list(members)
    by_id = {m.id: m for m in members}
    out: list[ArticleError] = []
    reported: set[str] = set()
    for m in members:
        if not m.translation_of:
            continue
        reported.add(m.id)
        where = (shown(m.path), line(m.path, "translation_of"))
        src = by_id.get(m.translation_of)
        if src is None:
            out.append(ArticleError(*where, f"translation_of: no article {m.translation_of!r}"))
        elif src.id == m.id:
            out.append(ArticleError(*where, "translation_of: an article cannot be a translation of itself"))
        elif src.translation_of:
            out.append(ArticleError(*where, f"translation_of: {src.id} is itself a translation (of "
                                            f"{src.translation_of}): name the source, {src.translation_of}"))
        elif src.language == m.language:
            out.append(ArticleError(*where, f"translation_of: {src.id} is in {src.language} too: a translation "
                                            "is in another language"))
        elif m.visibility == "public" and src.visibility != "public":
            out.append(ArticleError(shown(m.path), line(m.path, "visibility"),
                                    f"visibility: public, but its source {src.id} is {src.visibility}: customers "
                                    "would read what the source keeps internal"))
        else:
            reported.discard(m.id)
    for key, group in families(members).items():
        seen: dict[str, Member] = {}
        for m in group:
            if m.id in reported:
                continue
            if m.language in seen:
                out.append(ArticleError(shown(m.path), line(m.path, "translation_of"),
                                        f"translation_of: {key} already has a {m.language} version "
                                        f"({seen[m.language].path}): one version per language"))
            else:
                seen[m.language] = m
    return out


def member(a) -> Member:
    """The family facts of a parsed Article."""
    return Member(a.id, a.path, a.language, a.visibility, a.status, a.translation_of)
