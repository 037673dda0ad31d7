"""The files table of an index generation (``files.json``): for the images and files the
generation's articles reference, which path in the articles folder is which git blob, what each
blob is (kind, type, size, image dimensions), which articles reference it and by which names,
and why a blob may not be served. The indexer writes it (indexer/files.py); search reads it to
decide who may get a file (kb/search/files.py).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from kb.core.generation import Generation

FORMAT = 1


@dataclass
class FileTable:
    """What ``files.json`` holds."""
    refs: dict[str, list[list]] = field(default_factory=dict)   # article path → [[target, path, line, image, alt]]
    paths: dict[str, str] = field(default_factory=dict)         # path → blob id, for files that may be served
    blobs: dict[str, list] = field(default_factory=dict)        # blob id → [FileInfo fields…, [article ids], [names]]
    bad: dict[str, str] = field(default_factory=dict)           # "blob id.ext" → why it may not be served

    def to_json(self) -> str:
        return json.dumps({"format": FORMAT, "refs": self.refs, "paths": self.paths, "blobs": self.blobs,
                           "bad": self.bad})

    @classmethod
    def load(cls, gen: Generation | None) -> "FileTable":
        path = files_path(gen) if gen is not None else None
        if path is None or not path.exists():
            return cls()
        d = json.loads(path.read_text("utf-8"))
        return cls(d["refs"], d["paths"], d["blobs"], d.get("bad", {})) if d.get("format") == FORMAT else cls()


def files_path(gen: Generation) -> Path:
    return gen.path / "files.json"
