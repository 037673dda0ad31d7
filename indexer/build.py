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
import json
import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from whoosh import index as whoosh_index

from indexer import merging, segments, shared
from indexer.changes import scan
from indexer.families import build as build_families
from indexer.files import build as build_files
from indexer.members import kept as family_members_kept
from indexer.postings import compact
from indexer.stages import Stages
from indexer.table import assemble, write_vectors
from indexer.vectors import CHUNKING_VERSION, ArticleChunks, usable_encoders
from kb.core import impact, tables, text
from kb.core.filetable import FileTable, files_path
from kb.core.articles import Article, _key_line, parse_article
from kb.core.config import Settings
from kb.core.encoders import EncoderPool
from kb.core.errors import ArticleError
from kb.core.generation import INDEX_FORMAT, IndexStore, codec, schema
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


BY_WORD = 50_000    # Chinese characters an incremental build segments with jieba's dictionary read by word
                    # (13 µs each): past it, loading the whole dictionary (0.7-0.9 s) costs less


def build(settings: Settings, *, full: bool = False, pool: EncoderPool | None = None,
          progress: Progress | None = None) -> BuildReport:
    report = BuildReport(full=full)
    stage = Stages(report.timings)
    progress = progress or (lambda stage, done, total: None)
    repo = ArticleRepo(settings.articles)
    idx = IndexStore(settings.index_root)
    live = idx.current()
    manifest = live.manifest() if live else None
    pool = pool or EncoderPool.configured(settings)
    encoders = usable_encoders(pool, manifest.get("encoders", {}) if manifest else None)
    fingerprints = {e.name: e.fingerprint for e in encoders}
    if (manifest is None or manifest.get("analyzer") != ANALYZER_VERSION
            or manifest.get("chunking") != CHUNKING_VERSION
            or manifest.get("format") != INDEX_FORMAT
            or manifest.get("articles_root") != str(repo.root)
            or manifest.get("encoders", {}) != fingerprints
            or not family_members_kept(live.path)):
        full = True  # a new analyzer, folder or encoder fingerprint, lost family facts: reprocess everything
    report.full = full

    old_paths, old_hashes = tables.record(live.path) if not full else ([], [])
    old_ids = manifest["articles"] if not full else []
    old_pos = {rel: i for i, rel in enumerate(old_paths)}
    found = scan(repo, None if full else manifest, old_paths)
    files, raw = found.files, found.raw
    to_parse = [rel for rel in sorted(raw) if rel not in old_pos or old_hashes[old_pos[rel]] != found.hashes[rel]]
    present = set(files)
    report.removed = [rel for rel in old_paths if rel not in present]
    kept = {rel for rel in files if rel in old_pos and rel not in to_parse}
    stage.done("scan")

    # parse what changed; a broken file keeps its previously indexed version, if any
    parsed: dict[str, Article] = {}
    broken: set[str] = set()
    for i, rel in enumerate(to_parse):
        try:
            parsed[rel] = parse_article(rel, raw[rel], display_path=str(Path(settings.articles) / rel))
        except ArticleError as e:
            report.errors.append(e)
            broken.add(rel)
            if rel in old_pos:
                kept.add(rel)
        if i % 200 == 0:
            progress("parse", i, len(to_parse))
    live_owner = dict(zip(old_ids, old_paths)) if parsed else {}     # id → its path in the live index
    taken: dict[str, str] = {}             # id → the kept or accepted article that has it, for the ids seen
    for rel in sorted(parsed):
        a = parsed[rel]
        if a.id not in taken and live_owner.get(a.id) in kept:
            taken[a.id] = live_owner[a.id]
        if a.id in taken and taken[a.id] != rel:
            fm = raw[rel].decode("utf-8", "replace").split("\n---", 1)[0].split("\n")[1:]
            report.errors.append(ArticleError(str(Path(settings.articles) / rel), _key_line(fm, "id"),
                                              f"id: duplicate id {a.id!r}, already used by {taken[a.id]}"))
            del parsed[rel]
            broken.add(rel)
            if rel in old_pos:
                kept.add(rel)
        else:
            taken[a.id] = rel
    kept -= set(parsed)
    report.added = sorted(rel for rel in parsed if rel not in old_pos)
    report.changed = sorted(rel for rel in parsed if rel in old_pos)
    report.unchanged = len(kept)
    stage.done("parse")
    unsettled = sorted(found.dirty | broken)
    head = repo.head()                     # the commit this build is of: its files and its manifest
    if not full and not parsed and not report.removed and manifest.get("commit") == head \
            and manifest.get("errors") == [str(e) for e in report.errors] \
            and manifest.get("unsettled", []) == unsettled:
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
        with_texts = bool(encoders)         # chunk texts are kept only to be embedded
        # a few Chinese articles are segmented with jieba's dictionary read word by word
        by_word = not full and text.cjk_count((a.title + a.body for a in parsed.values()), BY_WORD) <= BY_WORD
        with text.dictionary_from(settings.models_dir if by_word else None) as dictionary_kept:
            chunked = _write_keyword(gen, live, full, parsed, report.removed + report.changed,
                                     [old_ids[old_pos[rel]] for rel in sorted(kept)], progress,
                                     settings.build_procs, with_texts)
        stage.done("keyword")
        table = assemble(None if full else live.path, old_paths, old_hashes, old_ids, kept, parsed, chunked,
                         with_texts)
        table.write(gen.path)
        report.articles, report.chunks = len(table.ids), len(table.chunks)
        live_ids = dict(zip(table.paths, table.ids))
        stage.done("chunks")
        file_table, problems = build_files(repo, head, live_ids, parsed, FileTable.load(live),
                                           settings.file_types, settings.file_max_bytes, Path(settings.articles))
        report.file_problems = [str(e) for e in sorted(problems, key=lambda e: (e.path, e.line))]
        files_path(gen).write_text(file_table.to_json(), "utf-8")
        stage.done("files")
        build_families(gen, live, repo, live_ids, parsed, report.removed)
        stage.done("families")
        write_vectors(settings, gen, None if full else live, None if full else manifest, table, encoders,
                      report, progress, stage)
        report.encoder_failures = pool.failures()
        new_manifest = {
            "analyzer": ANALYZER_VERSION,
            "chunking": CHUNKING_VERSION,
            "format": INDEX_FORMAT,
            "articles_root": str(repo.root),
            "commit": head,
            "built_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "articles": table.ids,             # article ids, in the order of every table
            "chunks": len(table.chunks),
            "encoders": report.encoders,
            "errors": [str(e) for e in report.errors],
            "unsettled": unsettled,            # dirty or broken files: looked at again next time
            "file_errors": report.file_problems,
        }
        (gen.path / "manifest.json").write_text(json.dumps(new_manifest), "utf-8")
        idx.publish(gen)
    except BaseException:
        shutil.rmtree(gen.path, ignore_errors=True)
        raise
    report.generation = gen.name
    stage.done("publish")
    _save_model_files(pool, settings.models_dir if by_word and not dictionary_kept else None)
    stage.done("model files")
    report.timings["total"] = stage.total()
    return report


def _save_model_files(pool: EncoderPool, dictionary_to: Path | None) -> None:
    """Export MiniLM's query graph (kb/core/querygraph.py) and keep USE3's tokenizer and weights
    (kb/core/use3cache.py) unless they are there already; keep jieba's dictionary in
    ``dictionary_to`` (kb/core/jiebadict.py) if an edit loaded it whole for want of it. Only a
    speed-up: if they cannot be written, torch goes on encoding queries, USE3 loads from its
    package and jieba loads its whole dictionary."""
    try:
        pool.save_model_files()
    except Exception as e:
        logging.getLogger("kb").warning("the encoders' files were not written (they load as before): %s", e)
    if dictionary_to is not None:
        try:
            text.keep_dictionary(dictionary_to)
        except Exception as e:
            logging.getLogger("kb").warning("jieba's dictionary was not kept (it loads whole as before): %s", e)


def _unchanged(report: BuildReport, live, manifest: dict, stage: Stages, failures: dict) -> BuildReport:
    """Nothing to do: the live generation stays as it is, and no model is loaded."""
    report.written, report.encoder_failures = False, failures
    report.file_problems = list(manifest.get("file_errors", []))
    report.generation = live.name
    report.articles = len(manifest["articles"])
    report.chunks = manifest.get("chunks", 0)
    report.encoders = dict(manifest.get("encoders", {}))
    report.timings["total"] = stage.total()
    return report


def _write_keyword(gen, live, full, parsed, drop, kept_ids, progress, procs: int = 1,
                   with_texts: bool = True) -> dict[str, ArticleChunks]:
    """The Whoosh index and the BM25F impacts (kb.core.impact) of the new generation; a full
    build of many articles on several worker processes (indexer.segments). Returns the chunk
    rows of the parsed articles, cut from the section texts their analysis made."""
    tick = (lambda done, total: progress("keyword", done, total))
    order = sorted(parsed)
    if (full or live is None) and (procs := segments.procs_for(len(parsed), procs)) > 1:
        gen.whoosh_dir.mkdir()
        whoosh_index.create_in(str(gen.whoosh_dir), schema()).close()
        impacts = impact.ImpactWriter()
        chunks = segments.write(gen.whoosh_dir, [parsed[rel] for rel in order], procs, impacts, tick, with_texts)
        impacts.write(gen.path / impact.DIR)
        return dict(zip(order, chunks))
    if full or live is None:
        gen.whoosh_dir.mkdir()
        ix = whoosh_index.create_in(str(gen.whoosh_dir), schema())
    else:
        # Whoosh never rewrites a file it wrote (a commit adds segment and table-of-contents
        # files), so the live index's files are linked, not copied
        shutil.copytree(live.whoosh_dir, gen.whoosh_dir, copy_function=_link_or_copy)
        ix = whoosh_index.open_dir(str(gen.whoosh_dir))
    plan = shared.impact_plan(None if full or live is None else live.path / impact.DIR, kept_ids, len(parsed),
                              gen.path)
    impacts = plan.writer
    writer = compact(ix.writer(compound=False, codec=codec()))    # see schema(): files, not one compound file
    chunks = {}
    try:
        for rel in drop:
            writer.delete_by_term("path", rel)
        for i, rel in enumerate(order):
            chunks[rel] = segments.add_article(writer, impacts, parsed[rel], with_texts)
            if i % 200 == 0:
                tick(i, len(parsed))
        writer.commit(optimize=True) if full else writer.commit(mergetype=merging.tiered)
    except BaseException:
        writer.cancel()
        raise
    finally:
        ix.close()
    plan.write(gen.path / impact.DIR)
    return chunks


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
