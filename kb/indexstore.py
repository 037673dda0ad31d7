"""Where the search indexes live and how a generation is swapped in atomically.

``KB_HOME/index/CURRENT`` names the live generation folder (``gen-<time>-<pid>``). A build
writes a complete new generation beside it — Whoosh index, manifest, chunk rows and vector
matrices — then replaces CURRENT with one ``os.replace``. Readers that already opened the old
generation keep using it; a build that dies half way leaves CURRENT untouched.
"""
from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from whoosh import index as whoosh_index
from whoosh.analysis import SpaceSeparatedTokenizer
from whoosh.fields import ID, KEYWORD, STORED, TEXT, Schema

from kb.errors import IndexMissing
from kb.text import analyzer, spelling_analyzer

KEEP_OLD_GENERATIONS = 1


def schema() -> Schema:
    ana = analyzer()
    return Schema(
        id=ID(stored=True, unique=True),
        path=ID(stored=True, unique=True),
        slug=ID(stored=True),
        title=TEXT(analyzer=ana, stored=True),
        summary=TEXT(analyzer=ana, stored=True),
        tags=TEXT(analyzer=ana, stored=True),
        body=STORED,                     # plain text for snippets; searched through `content`
        # title + summary + tags + body, the main BM25 field: analysed by the indexer, given
        # to Whoosh as space-separated terms (see indexer/keyword.py)
        content=TEXT(analyzer=SpaceSeparatedTokenizer(), phrase=False),
        spell=TEXT(analyzer=spelling_analyzer()),
        product=ID(stored=True),
        language=ID(stored=True),
        visibility=ID(stored=True),
        status=ID(stored=True),
        tag=KEYWORD(commas=True, lowercase=True),
        meta=STORED,
    )


@dataclass
class Generation:
    """One complete, immutable set of indexes."""

    path: Path

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def whoosh_dir(self) -> Path:
        return self.path / "whoosh"

    def manifest(self) -> dict:
        return json.loads((self.path / "manifest.json").read_text("utf-8"))

    def open_whoosh(self):
        return whoosh_index.open_dir(str(self.whoosh_dir))

    def vectors_file(self, encoder: str) -> Path:
        return self.path / f"vec-{encoder}.npy"

    @property
    def chunks_file(self) -> Path:
        return self.path / "chunks.json"


class IndexStore:
    def __init__(self, root: Path):
        self.root = Path(root)

    @property
    def pointer(self) -> Path:
        return self.root / "CURRENT"

    def current_name(self) -> str | None:
        try:
            return self.pointer.read_text("utf-8").strip() or None
        except FileNotFoundError:
            return None

    def current(self) -> Generation | None:
        name = self.current_name()
        if not name or not (self.root / name / "manifest.json").exists():
            return None
        return Generation(self.root / name)

    def require_current(self) -> Generation:
        gen = self.current()
        if gen is None:
            raise IndexMissing(f"no search index in {self.root}: run `kb index` first")
        return gen

    def new_generation(self) -> Generation:
        self.root.mkdir(parents=True, exist_ok=True)
        name = f"gen-{time.strftime('%Y%m%d%H%M%S')}-{time.time_ns() % 10**9:09d}-{os.getpid()}"
        path = self.root / name
        path.mkdir()
        return Generation(path)

    def publish(self, gen: Generation) -> None:
        """Make ``gen`` the live generation (atomic), then drop generations no longer needed."""
        tmp = self.root / f"CURRENT.{os.getpid()}.tmp"
        tmp.write_text(gen.name, "utf-8")
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, self.pointer)
        self.cleanup()

    def cleanup(self) -> None:
        """Remove abandoned builds and all but the newest old generation."""
        live = self.current_name()
        gens = sorted((p for p in self.root.glob("gen-*") if p.is_dir()), key=lambda p: p.name)
        old = [p for p in gens if p.name != live and (p / "manifest.json").exists()]
        for p in gens:
            if p.name == live:
                continue
            complete = (p / "manifest.json").exists()
            stale_build = not complete and time.time() - p.stat().st_mtime > 3600
            dead_owner = not complete and not _pid_alive(p.name.rsplit("-", 1)[-1])
            if (complete and p in old[:-KEEP_OLD_GENERATIONS]) or stale_build or dead_owner:
                shutil.rmtree(p, ignore_errors=True)
        for tmp in self.root.glob("CURRENT.*.tmp"):
            if not _pid_alive(tmp.name.split(".")[1]):
                tmp.unlink(missing_ok=True)


def _pid_alive(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True
