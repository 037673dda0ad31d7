"""The files articles reference, as one reader may get them. A reader gets a file only if an
article that reader may see references it — customers: a public, published article; staff: any
article their role may open, drafts and reviews included — and a file one public article uses
is public even when internal articles use it too. Anything else, a file nothing references
included, is ``NotFound``, exactly like a blob that does not exist.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kb.core.errors import NotFound
from kb.core.filetable import FileTable
from kb.core.gitobjects import BLOB_ID


@dataclass(frozen=True)
class ServedFile:
    blob: str
    name: str             # the file's name as an article references it
    kind: str             # image | attachment
    mime: str
    size: int
    width: int
    height: int
    public: bool          # customers may get it (then shared caches may keep it)


class Files:
    """The live generation's files table with the articles' visibility (one per generation)."""

    def __init__(self, snap):
        self.snap = snap
        self.table = FileTable.load(snap.generation)
        self._readers: dict[str, np.ndarray] = {}

    def _visible(self, role: str) -> np.ndarray:
        """Articles ``role`` may open (as Searcher.get decides: staff see archived ones too)."""
        mask = self._readers.get(role)
        if mask is None:
            mask = self.snap.allowed(role, None, None, (), None)
            if role != "customer":
                mask = mask | self.snap.articles.equals("status", "archived")
            self._readers[role] = mask
        return mask

    def _may(self, ids: list[str], role: str) -> bool:
        mask, pos = self._visible(role), self.snap.pos
        return any(mask[pos[i]] for i in ids if i in pos)

    def _served(self, blob: str, name: str, role: str) -> ServedFile | None:
        entry = self.table.blobs.get(blob)
        if entry is None or not self._may(entry[5], role):
            return None
        kind, mime, size, width, height = entry[:5]
        return ServedFile(blob, name, kind, mime, size, width, height, self._may(entry[5], "customer"))

    def by_path(self, path: str, role: str) -> ServedFile | None:
        """The file at ``path`` in the articles folder, if this reader may get it."""
        blob = self.table.paths.get(path)
        return None if blob is None else self._served(blob, path.rsplit("/", 1)[-1], role)

    def by_blob(self, blob: str, name: str, role: str) -> ServedFile:
        """The blob ``blob`` under one of the names articles reference it by, for this reader."""
        entry = self.table.blobs.get(blob) if BLOB_ID.match(blob) else None
        if entry is None or name not in entry[6]:
            raise NotFound(f"no file {blob}/{name}")
        found = self._served(blob, name, role)
        if found is None:
            raise NotFound(f"no file {blob}/{name}")
        return found
