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
from whoosh.codec.whoosh3 import W3Codec
from whoosh.fields import ID, KEYWORD, STORED, Schema

from kb.core.errors import IndexMissing, IndexOutdated
from kb.core.text import ANALYZER_VERSION

KEEP_OLD_GENERATIONS = 1
# what a generation holds beside the Whoosh index; the indexer rebuilds everything when it
# changes, and search refuses an older one until then (2: BM25F impacts and each article's
# filter facets in the manifest; 3: each section's terms stored; 4: the projection of a large
# vector matrix stored beside it, for every process to map; 5: the article and chunk tables as
# compact arrays (kb/core/tables.py), the manifest without per-article entries, and Whoosh
# indexing only what it answers: ids, spellings and stored fields; 6: the spelling vocabulary
# handed to Whoosh analysed, each distinct word of an article once)
INDEX_FORMAT = 6


def schema() -> Schema:
    """What Whoosh holds: stored fields, the ids articles are found by, and the spelling
    vocabulary (typo tolerance, completions). Keyword scores come from the BM25F impacts
    (kb/core/impact.py) and filters from the article table (kb/core/tables.py), so no scored
    or filtered field is indexed here: a full build at 100k articles spent most of its time
    writing postings nothing read. Segments are written as separate files, not Whoosh's compound
    file: a reader of a compound file copies each part it opens into memory (the stored fields
    and term tables, ~0.5 GB per server worker at 100k articles). The spelling vocabulary
    (``spell``) is only looked up as a lexicon (known words, close and longer spellings, how many
    articles hold each): the indexer analyses it with the scored fields' words
    (indexer/documents.py) and hands Whoosh each article's distinct words, space-separated, with
    neither positions nor field lengths to write (see ``codec``)."""
    return Schema(
        id=ID(stored=True, unique=True),
        path=ID(stored=True, unique=True),
        slug=ID(stored=True),
        title=STORED,
        summary=STORED,
        tags=STORED,
        body=STORED,                     # plain text for snippets
        spell=KEYWORD(),
        product=STORED,
        language=STORED,
        visibility=STORED,
        status=STORED,
        meta=STORED,
    )


def codec() -> W3Codec:
    """Whoosh's codec as the indexer writes segments with it: without the per-block length
    statistics that only Whoosh's own scoring reads. Writing them looked up each posting's field
    length, through a file check per posting for a field without lengths (a third of writing the
    spelling vocabulary). Readers are unaffected: the statistics are neither read nor written
    by anything kb does with the index."""
    c = W3Codec()
    c.length_stats = False
    return c


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

    def check_format(self, manifest: dict) -> None:
        """Raise IndexOutdated for a generation this code does not read (an older format, or
        terms from another analyzer): the next `kb index` rebuilds it."""
        found = (manifest.get("format"), manifest.get("analyzer"))
        if found != (INDEX_FORMAT, ANALYZER_VERSION):
            raise IndexOutdated(f"the search index in {self.path.parent} is of an older format "
                                f"(format {found[0]}, analyzer {found[1]}): `kb index` rebuilds it")

    def open_whoosh(self):
        return whoosh_index.open_dir(str(self.whoosh_dir))

    def vectors_file(self, encoder: str) -> Path:
        return self.path / f"vec-{encoder}.npy"


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

    def article_ids(self) -> set[str] | None:
        """Ids of the articles in the live generation, or None when nothing is indexed yet."""
        gen = self.current()
        if gen is None:
            return None
        return set(gen.manifest().get("articles", []))

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


# --- the similar-ticket index --------------------------------------------------------------
# ``KB_HOME/tickets-index``: ``manifest.json`` (replaced in one step) names the live generation
# folder ``gen-<time>``, the analyzer version and the encoder fingerprints. A generation holds
# the BM25 impacts over subject + description + resolution (``impact/``), ``ids.json`` (ticket
# ids in row order and their languages, for the indexer), ``ids.npy`` and ``zh.npy`` (the same
# as arrays search maps), ``hashes.json`` (ticket id → content hash) and one matrix per encoder
# (``vec-<encoder>.npy``, rows in ``ids.json`` order) with, above projection.EXACT_ROWS tickets,
# its projection. indexer/tickets.py writes it; kb/tickets/similar.py reads it.

TICKET_INDEX_FORMAT = "4"


def ticket_index_dir(home: Path) -> Path:
    return Path(home) / "tickets-index"


def read_json(path: Path, default):
    try:
        return json.loads(Path(path).read_text("utf-8"))
    except (FileNotFoundError, ValueError):
        return default


def ticket_manifest(root: Path) -> dict:
    """The small pointer readers check on every query (ticket hashes live in the generation)."""
    return read_json(Path(root) / "manifest.json", {})


def ticket_languages(gen: Path) -> dict[str, str]:
    """ticket id → language, from a generation's ids.json (empty when it cannot be read)."""
    meta = read_json(Path(gen) / "ids.json", None)
    return dict(zip(meta["ids"], meta["lang"])) if meta else {}
