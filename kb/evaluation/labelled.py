"""`kb eval`: measure search quality on a labelled set, the same way the reference scorer does.

A dataset folder holds ``corpus.jsonl`` ({id, title, text}), ``queries.jsonl`` ({id, text}) and
``qrels.tsv`` (query-id, doc-id, relevance; header line). The corpus becomes a throwaway
articles folder of real Markdown files, indexed through the normal article → index path in a
temporary KB_HOME; every query is run; nDCG@10, MRR@10, Recall@10 and Recall@100 are computed
(ties ordered as trec_eval does) and a TREC run file can be written with byte-exact doc ids.

Ticket links are the other label source (kb/evaluation/tickets.py).
"""
from __future__ import annotations

import hashlib
import json
import math
import re
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import yaml

from kb.core.config import Settings
from kb.core.errors import ConfigError

DEPTH = 100


@dataclass
class Labels:
    queries: dict[str, str]                  # query id → text
    qrels: dict[str, dict[str, int]]         # query id → doc id → relevance


def _jsonl(path: Path) -> list[dict]:
    out = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise ConfigError(f"{path}:{n}: not valid JSON ({e.msg})") from None
            if not isinstance(obj, dict) or "id" not in obj:
                raise ConfigError(f"{path}:{n}: expected an object with an \"id\"")
            out.append(obj)
    return out


def load_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = defaultdict(dict)
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f):
            parts = line.split()
            if not parts:
                continue
            if len(parts) == 4:
                qid, _, did, rel = parts
            elif len(parts) == 3:
                qid, did, rel = parts
            else:
                raise ConfigError(f"{path}:{n + 1}: expected 3 or 4 columns")
            try:
                r = int(float(rel))
            except ValueError:
                if n == 0:
                    continue
                raise ConfigError(f"{path}:{n + 1}: relevance {rel!r} is not a number") from None
            qrels[qid][did] = max(r, qrels[qid].get(did, r))
    return dict(qrels)


def load_dataset(folder: Path) -> tuple[list[dict], Labels, dict]:
    folder = Path(folder)
    for name in ("corpus.jsonl", "queries.jsonl", "qrels.tsv"):
        if not (folder / name).exists():
            raise ConfigError(f"--dataset: {folder / name} does not exist")
    meta = json.loads((folder / "meta.json").read_text("utf-8")) if (folder / "meta.json").exists() else {}
    corpus = _jsonl(folder / "corpus.jsonl")
    queries = {str(q["id"]): str(q.get("text", "")) for q in _jsonl(folder / "queries.jsonl")}
    return corpus, Labels(queries, load_qrels(folder / "qrels.tsv")), meta


def write_corpus(corpus: list[dict], dest: Path, language: str | None) -> None:
    """Each corpus document becomes a Markdown article with its exact id in the front matter
    (and its title, or an empty one: kb.core.articles keeps ``title: ""`` empty)."""
    dest.mkdir(parents=True, exist_ok=True)
    for doc in corpus:
        doc_id = str(doc["id"])
        stem = re.sub(r"[^a-z0-9]+", "-", doc_id.lower()).strip("-")[:60] or "doc"
        name = f"{stem}-{hashlib.sha1(doc_id.encode()).hexdigest()[:8]}.md"
        # a document without a title gets none (not its id, which would be embedded as a chunk)
        fm = {"id": doc_id, "title": str(doc.get("title") or "").strip(), "visibility": "public",
              "status": "published"}
        if language in ("en", "zh"):
            fm["language"] = language
        text = str(doc.get("text", ""))
        (dest / name).write_text("---\n" + yaml.safe_dump(fm, allow_unicode=True) + "---\n" + text + "\n",
                                 "utf-8")


def ranked(run_rows: list[tuple[str, float]]) -> list[str]:
    """trec_eval order: score descending, ties by doc id descending; a doc counts once."""
    rows = sorted(run_rows, key=lambda x: x[0], reverse=True)
    rows.sort(key=lambda x: -x[1])
    seen, out = set(), []
    for d, _ in rows:
        if d not in seen:
            seen.add(d)
            out.append(d)
    return out


def metrics(run: dict[str, list[tuple[str, float]]], qrels: dict[str, dict[str, int]]) -> dict[str, float]:
    totals = defaultdict(float)
    n = 0
    for qid, judged in qrels.items():
        rel = {d: r for d, r in judged.items() if r > 0}
        if not rel:
            continue
        n += 1
        order = ranked(run.get(qid, []))
        dcg = sum(rel.get(d, 0) / math.log2(i + 2) for i, d in enumerate(order[:10]))
        ideal = sorted(rel.values(), reverse=True)[:10]
        idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
        totals["ndcg@10"] += dcg / idcg if idcg else 0.0
        totals["mrr@10"] += next((1.0 / (i + 1) for i, d in enumerate(order[:10]) if d in rel), 0.0)
        for k in (10, 100):
            totals[f"recall@{k}"] += len(set(order[:k]) & set(rel)) / len(rel)
    return {k: (totals[k] / n if n else 0.0) for k in ("ndcg@10", "mrr@10", "recall@10", "recall@100")}


def run_queries(searcher, labels: Labels, mode: str) -> dict[str, list[tuple[str, float]]]:
    from kb.search.searcher import SearchQuery
    run = {}
    if mode != "keyword":
        searcher.warm_queries([t for q, t in labels.queries.items() if q in labels.qrels])
    for qid, text in labels.queries.items():
        if qid not in labels.qrels or not text.strip():
            continue
        res = searcher.search(SearchQuery(text=text, limit=DEPTH, role="admin", mode=mode, detail=False,
                                          families=False))        # labels name versions, not families
        run[qid] = [(h.id, h.score) for h in res.results]
    return run


def write_run(run: dict[str, list[tuple[str, float]]], path: Path, tag: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for qid, rows in run.items():
            best: dict[str, float] = {}
            for d, score in rows:
                best[d] = max(score, best.get(d, score))
            for rank, d in enumerate(ranked(list(best.items())), 1):
                f.write(f"{qid} Q0 {d} {rank} {best[d]!r} {tag}\n")


def evaluate(dataset: Path, settings: Settings, mode: str, *, home: Path | None = None,
             run_out: Path | None = None, progress=None) -> dict:
    """`kb eval --dataset`: build the dataset's throwaway KB, run every query in ``mode`` (or
    ``all`` three), and return the figures per mode; the hybrid (or only) run goes to
    ``run_out`` as a TREC run file. Without ``home`` the throwaway KB lives in a temporary
    folder removed afterwards (~100 MB a set)."""
    if home is None:
        with tempfile.TemporaryDirectory(prefix="kb-eval-") as tmp:
            return evaluate(dataset, settings, mode, home=Path(tmp), run_out=run_out, progress=progress)
    from kb.search.searcher import Searcher
    s, labels, report = prepare(dataset, settings, home, progress=progress)
    searcher = Searcher(s)
    modes = ["keyword", "semantic", "hybrid"] if mode == "all" else [mode]
    out = {}
    for m in modes:
        run = run_queries(searcher, labels, m)
        out[m] = metrics(run, labels.qrels)
        if run_out and (m == mode or (mode == "all" and m == "hybrid")):
            write_run(run, run_out, f"kb-{m}")
    return {"dataset": str(dataset), "articles": report.articles, "queries": len(labels.qrels), "modes": out}


def prepare(dataset: Path, settings: Settings, home: Path | None = None, progress=None):
    """Build a throwaway KB for ``dataset``; returns (settings for it, labels, build report)."""
    from indexer.build import build
    corpus, labels, meta = load_dataset(dataset)
    home = Path(home) if home else Path(tempfile.mkdtemp(prefix="kb-eval-"))
    articles = home / "articles"
    write_corpus(corpus, articles, meta.get("language"))
    s = settings.replace(home=home / "state", articles=articles)
    report = build(s, progress=progress)
    return s, labels, report
