"""Article families at query time: the versions of one article in several languages (a source
and its translations, kb.core.families), as the live generation's ``families.json`` lists them,
and which of those a reader may open; and which translations are behind their source.
"""
from __future__ import annotations

import json

from kb.core.translations import Behind


class Families:
    """The live generation's families (one per generation)."""

    def __init__(self, snap):
        self.snap = snap
        path = snap.generation.path / "families.json"
        try:
            table = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError):
            table = {}
        self.groups: dict[str, list[str]] = table.get("groups", {})
        self.key: dict[str, str] = {i: k for k, ids in self.groups.items() for i in ids}
        self._behind = {i: Behind(**b) for i, b in table.get("behind", {}).items()}
        # every version of a family: id → (slug, language, title), to show without reading the index
        self._versions: dict[str, list] = table.get("versions", {})

    def family(self, article_id: str) -> str:
        """The family key (the source's id) of an article; its own id when it has no translation."""
        return self.key.get(article_id, article_id)

    def members(self, article_id: str) -> list[str]:
        """Every version of the article's family, the source first."""
        return self.groups.get(self.family(article_id), [article_id])

    def source(self, article_id: str) -> str:
        return self.family(article_id)

    def version(self, article_id: str) -> dict:
        """A version as a search hit lists it: id, slug, language, title."""
        slug, language, title = self._versions.get(article_id, ["", "", ""])
        return {"id": article_id, "slug": slug, "language": language, "title": title}

    def behind(self, article_id: str) -> Behind | None:
        """How far a translation is behind its source (None: up to date, or not a translation)."""
        return self._behind.get(article_id)

    def outdated(self) -> dict[str, Behind]:
        return dict(self._behind)
