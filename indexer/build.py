"""Incremental index builds: what changed since the live generation is reprocessed, the rest
is carried over; the result is a new generation swapped in atomically.

A change of analyzer version, articles folder or ``--full`` rebuilds everything; a full build
analyses the articles in worker processes (indexer.segments, ``KB_BUILD_PROCS``). With nothing
changed no generation is written and no model is loaded. A broken article is reported
(path:line) and skipped; if an earlier version of it was indexed, that version keeps serving
until the file is fixed.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from whoosh import index as whoosh_index

from indexer import segments
from indexer.families import build as build_families
from indexer.files import build as build_files
from indexer.documents import document
from indexer.stages import Stages
from indexer.vectors import CHUNKING_VERSION, chunk_article, embed_rows, usable_encoders
from kb.core import impact, projection
from kb.core.filetable import FileTable, files_path
from kb.core import store
from kb.core.articles import Article, _key_line, parse_article
from kb.core.config import Settings
from kb.core.encoders import EncoderPool, reads
from kb.core.errors import ArticleError, ModelUnavailable
from kb.core.generation import INDEX_FORMAT, IndexStore, schema
from kb.core.repo import ArticleRepo
from kb.core.text import ANALYZER_VERSION

Progress = Callable[[str, int, int], None]   # (stage, done, total)


@dataclass
class BuildReport:
    full: bool
    generation: str = ""
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    errors: list[ArticleError] = field(default_factory=list)
    file_problems: list[str] = field(default_factory=list)     # references to files that are not served
    articles: int = 0
    chunks: int = 0
    embedded: dict[str, int] = field(default_factory=dict)      # vectors computed, per encoder
    cached: dict[str, int] = field(default_factory=dict)        # vectors taken from the embedding cache
    encoders: dict[str, str] = field(default_factory=dict)
    encoder_failures: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)   # seconds per stage, and "total"
    written: bool = True        # False: nothing changed, the live generation stays

    @property
    def ok(self) -> bool:
        return not self.errors


def build(settings: Settings, *, full: bool = False, pool: EncoderPool | None = None,
          progress: Progress | None = None) -> BuildReport:
    report = BuildReport(full=full)
    stage = Stages(report.timings)
    progress = progress or (lambda stage, done, total: None)
    repo = ArticleRepo(settings.articles)
    idx = IndexStore(settings.index_root)
    live = idx.current()
    manifest = live.manifest() if live else None
    pool = pool or EncoderPool(settings.encoders if settings.semantic else ())
    encoders = usable_encoders(pool, manifest.get("encoders", {}) if manifest else None)
    fingerprints = {e.name: e.fingerprint for e in encoders}
    if (manifest is None or manifest.get("analyzer") != ANALYZER_VERSION
            or manifest.get("chunking") != CHUNKING_VERSION
            or manifest.get("format") != INDEX_FORMAT
            or manifest.get("articles_root") != str(repo.root)
            or manifest.get("encoders", {}) != fingerprints):
        full = True  # a new analyzer, folder or encoder fingerprint: reprocess everything
    report.full = full

    files = repo.files()
    raw = repo.read_listed(files)
    hashes = {rel: hashlib.sha1(b).hexdigest() for rel, b in raw.items()}
    prev: dict[str, dict] = {} if full else manifest["articles"]
    to_parse = [rel for rel in files if prev.get(rel, {}).get("hash") != hashes[rel]]
    report.removed = [rel for rel in prev if rel not in raw]
    kept = {rel: prev[rel] for rel in files if rel in prev and rel not in to_parse}
    stage.done("scan")

    # parse what changed; a broken file keeps its previously indexed version, if any
    parsed: dict[str, Article] = {}
    for i, rel in enumerate(to_parse):
        try:
            parsed[rel] = parse_article(rel, raw[rel], display_path=str(Path(settings.articles) / rel))
        except ArticleError as e:
            report.errors.append(e)
            if rel in prev:
                kept[rel] = prev[rel]
        if i % 200 == 0:
            progress("parse", i, len(to_parse))
    taken = {entry["id"]: rel for rel, entry in kept.items()}
    for rel in sorted(parsed):
        a = parsed[rel]
        if a.id in taken:
            fm = raw[rel].decode("utf-8", "replace").split("\n---", 1)[0].split("\n")[1:]
            report.errors.append(ArticleError(str(Path(settings.articles) / rel), _key_line(fm, "id"),
                                              f"id: duplicate id {a.id!r}, already used by {taken[a.id]}"))
            del parsed[rel]
            if rel in prev:
                kept[rel] = prev[rel]
        else:
            taken[a.id] = rel
    for rel in list(kept):
        if rel in prev and rel in parsed:
            del kept[rel]
    report.added = sorted(rel for rel in parsed if rel not in prev)
    report.changed = sorted(rel for rel in parsed if rel in prev)
    report.unchanged = len(kept)
    stage.done("parse")
    if not full and not parsed and not report.removed and manifest.get("commit") == repo.head() \
            and manifest.get("errors") == [str(e) for e in report.errors]:
        return _unchanged(report, live, manifest, stage, pool.failures())

    commits = repo.last_commits(sorted(parsed)) if parsed else {}
    for rel, a in parsed.items():
        info = commits.get(rel)
        if info:
            a.updated, a.author, a.commit = info.date, info.author, info.commit
        else:
            a.updated = repo.file_time(rel)
    stage.done("git")

    gen = idx.new_generation()
    try:
        _write_keyword(gen, live, full, parsed, report.removed + report.changed,
                       [entry["id"] for entry in kept.values()], progress, settings.build_procs)
        stage.done("keyword")
        entries, rows, texts = _chunk_rows(parsed, kept)
        report.articles, report.chunks = len(entries), len(rows)
        table, problems = build_files(repo, repo.head(), {rel: e["id"] for rel, e in entries.items()}, parsed,
                                      FileTable.load(live), settings.file_types, settings.file_max_bytes,
                                      Path(settings.articles))
        report.file_problems = [str(e) for e in sorted(problems, key=lambda e: (e.path, e.line))]
        files_path(gen).write_text(table.to_json(), "utf-8")
        stage.done("files")
        build_families(gen, live, repo, {rel: e["id"] for rel, e in entries.items()}, parsed)
        stage.done("families")
        (gen.chunks_file).write_text(json.dumps([list(r) for r in rows]), "utf-8")
        stage.done("chunks")
        _write_vectors(settings, gen, live, manifest if not full else None, rows, texts, encoders,
                       report, progress, stage)
        report.encoder_failures = pool.failures()
        new_manifest = {
            "analyzer": ANALYZER_VERSION,
            "chunking": CHUNKING_VERSION,
            "format": INDEX_FORMAT,
            "articles_root": str(repo.root),
            "commit": repo.head(),
            "built_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "articles": entries,
            "encoders": report.encoders,
            "errors": [str(e) for e in report.errors],
            "file_errors": report.file_problems,
        }
        (gen.path / "manifest.json").write_text(json.dumps(new_manifest), "utf-8")
        idx.publish(gen)
    except BaseException:
        shutil.rmtree(gen.path, ignore_errors=True)
        raise
    report.generation = gen.name
    stage.done("publish")
    report.timings["total"] = stage.total()
    return report


def _unchanged(report: BuildReport, live, manifest: dict, stage: Stages, failures: dict) -> BuildReport:
    """Nothing to do: the live generation stays as it is, and no model is loaded."""
    report.written, report.encoder_failures = False, failures
    report.file_problems = list(manifest.get("file_errors", []))
    report.generation = live.name
    report.articles = len(manifest["articles"])
    report.chunks = sum(len(e["chunks"]) for e in manifest["articles"].values())
    report.encoders = dict(manifest.get("encoders", {}))
    report.timings["total"] = stage.total()
    return report


def _write_keyword(gen, live, full, parsed, drop, kept_ids, progress, procs: int = 1) -> None:
    """The Whoosh index and the BM25F impacts (kb.core.impact) of the new generation; a full
    build of many articles on several worker processes (indexer.segments)."""
    tick = (lambda done, total: progress("keyword", done, total))
    if (full or live is None) and (procs := segments.procs_for(len(parsed), procs)) > 1:
        gen.whoosh_dir.mkdir()
        whoosh_index.create_in(str(gen.whoosh_dir), schema()).close()
        impacts = impact.ImpactWriter()
        segments.write(gen.whoosh_dir, [parsed[rel] for rel in sorted(parsed)], procs, impacts, tick)
        impacts.write(gen.path / impact.DIR)
        return
    if full or live is None:
        gen.whoosh_dir.mkdir()
        ix = whoosh_index.create_in(str(gen.whoosh_dir), schema())
    else:
        shutil.copytree(live.whoosh_dir, gen.whoosh_dir)
        ix = whoosh_index.open_dir(str(gen.whoosh_dir))
    impacts = impact.ImpactWriter(None if full or live is None else live.path / impact.DIR)
    impacts.carry(kept_ids)
    writer = ix.writer(limitmb=256)
    try:
        for rel in drop:
            writer.delete_by_term("path", rel)
        for i, rel in enumerate(sorted(parsed)):
            doc, terms = document(parsed[rel])
            writer.add_document(**doc)
            impacts.add(doc["id"], terms)
            if i % 200 == 0:
                tick(i, len(parsed))
        writer.commit(optimize=full)
    except BaseException:
        writer.cancel()
        raise
    finally:
        ix.close()
    impacts.write(gen.path / impact.DIR)


def _chunk_rows(parsed: dict[str, Article], kept: dict[str, dict]):
    """Manifest entries and chunk rows (article id, section, chunk hash) for all live articles."""
    entries: dict[str, dict] = {}
    texts: dict[str, str] = {}
    for rel, entry in kept.items():
        entries[rel] = entry
    for rel, a in parsed.items():
        chunks = chunk_article(a)
        for c in chunks:
            texts[c.hash] = c.text
        entries[rel] = {"hash": a.content_hash, "id": a.id,
                        "chunks": [[c.section, c.hash, c.language] for c in chunks],
                        # what search filters by, read at load without opening every document
                        "facets": [a.visibility, a.status, a.language, a.product, [t.lower() for t in a.tags]]}
    rows = [(entries[rel]["id"], section, h, lang) for rel in sorted(entries)
            for section, h, lang in entries[rel]["chunks"]]
    return entries, rows, texts


def _write_vectors(settings, gen, live, manifest, rows, texts, encoders, report, progress, stage) -> None:
    """One matrix per encoder, a row per chunk row: copied from the live generation when the
    encoder and the chunk are unchanged, else from the cache or the encoder (embed_rows). Rows
    an encoder cannot read (Chinese for an English-only one) are never computed and stay zero:
    search never scores them for it."""
    if not encoders:
        return
    db = store.connect(settings)
    hashes = [r[2] for r in rows]
    try:
        live_src = None
        for enc in encoders:
            src, old = np.full(len(hashes), -1, dtype=np.int64), None
            if live is not None and manifest and manifest.get("encoders", {}).get(enc.name) == enc.fingerprint:
                if live_src is None:    # rows the live generation already has: copied in one gather
                    where = {r[2]: i for i, r in enumerate(json.loads(live.chunks_file.read_text("utf-8")))}
                    live_src = np.array([where.get(h, -1) for h in hashes], dtype=np.int64)
                src = live_src
                old = np.load(live.vectors_file(enc.name), mmap_mode="r")
            readable = np.fromiter((reads(enc, r[3]) for r in rows), dtype=bool, count=len(rows))
            take, need = readable & (src >= 0), readable & (src < 0)
            fresh = list(dict.fromkeys(h for h, n in zip(hashes, need) if n))
            try:
                new, n = embed_rows(db, enc, fresh, texts, None,
                                    lambda done, total, enc=enc: progress(f"embed {enc.name}", done, total))
            except ModelUnavailable:
                continue        # named in the report's encoder failures; no vectors for it
            finally:
                stage.done(f"vectors {enc.name}")
            matrix = np.zeros((len(hashes), enc.dim), dtype=np.float32)
            if take.any():
                matrix[take] = old[src[take]]
            if fresh:
                at = {h: i for i, h in enumerate(fresh)}
                matrix[need] = new[[at[h] for h, n in zip(hashes, need) if n]]
            np.save(gen.vectors_file(enc.name), matrix)
            if projection.needs_projection(len(matrix)):      # mapped by every search process
                projection.save(gen.path, enc.name, projection.fit(matrix))
                stage.done(f"projection {enc.name}")
            report.embedded[enc.name] = n
            report.cached[enc.name] = len(fresh) - n
            report.encoders[enc.name] = enc.fingerprint
            stage.done(f"vectors {enc.name}")
    finally:
        db.close()
