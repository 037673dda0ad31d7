"""How alike near-duplicate articles are, against distinct ones: the data behind the thresholds
in kb/quality/dupes.py.

Pairs that should be flagged:
- near-copies of every starter article (title reworded, Cause dropped, steps reordered, one
  sentence added) — what an agent captures when they missed the existing article;
- StackFAQ documents of the same thread (same question, answers written by different people).
Pairs that must not be flagged:
- every two distinct starter articles of the same language (hard: same product, same words);
- StackFAQ documents of different threads, GNOME help pages (en, zh) of different pages.

    .venv/bin/python bench/duplicates.py [--encoders minilm,use3] [--eval ../shared/eval]

Prints, per method, the similarity quantiles of each group and, for candidate thresholds, the
share of near-duplicates caught and of distinct pairs flagged.
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from kb.core.articles import parse_article  # noqa: E402
from kb.quality.dupes import Similarity, article_text, keyword_matrix  # noqa: E402
from kb.core.encoders import EncoderPool  # noqa: E402
from kb.core.repo import list_markdown  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def near_copy(a, rng: random.Random) -> str:
    """Another person's write-up of the same fix."""
    title = ("How to fix: " if a.language == "en" else "如何解决：") + a.title
    body_parts = []
    for s in a.sections:
        if s.kind == "cause":
            continue
        lines = [l for l in s.markdown.splitlines() if l.strip()]
        if s.kind == "resolution" and len(lines) > 2:
            lines[0], lines[1] = lines[1], lines[0]
        body_parts.append("\n".join(lines))
    extra = "Reported again by a customer today." if a.language == "en" else "今天又有客户报告了这个问题。"
    return article_text(title, a.summary, "\n\n".join(body_parts) + "\n" + extra)


def load_jsonl(path: Path) -> list[dict]:
    return [json.loads(l) for l in path.read_text("utf-8").splitlines() if l.strip()]


def groups(eval_dir: Path, rng: random.Random) -> dict[str, tuple[str, list[tuple[str, str]]]]:
    """name → (language, [(text a, text b)])."""
    arts = [parse_article(p, (ROOT / "articles" / p).read_bytes()) for p in list_markdown(ROOT / "articles")]
    out: dict[str, tuple[str, list]] = {}
    for lang in ("en", "zh"):
        mine = [a for a in arts if a.language == lang]
        texts = {a.id: article_text(a.title, a.summary, a.body) for a in mine}
        out[f"starter {lang}: near-copies"] = (lang, [(texts[a.id], near_copy(a, rng)) for a in mine])
        out[f"starter {lang}: distinct articles"] = (lang, [(texts[a.id], texts[b.id])
                                                            for a, b in itertools.combinations(mine, 2)])
    faq = eval_dir / "stackfaq-a" / "corpus.jsonl"
    if faq.exists():
        docs = load_jsonl(faq)
        text = {d["id"]: f"{d['title']}\n{d['text']}"[:2000] for d in docs}
        thread = {d["id"]: d["id"].split("-")[0] for d in docs}
        ids = sorted(text)
        same = [(text[a], text[b]) for a, b in itertools.combinations(ids, 2) if thread[a] == thread[b]]
        other = [(text[a], text[b]) for a, b in itertools.combinations(ids, 2) if thread[a] != thread[b]]
        out["stackfaq: same thread"] = ("en", same)
        out["stackfaq: different threads"] = ("en", rng.sample(other, min(len(other), 20000)))
    for lang in ("en", "zh"):
        corpus = eval_dir / f"gnome-help-{lang}" / "corpus.jsonl"
        if corpus.exists():
            docs = load_jsonl(corpus)
            text = [f"{d['title']}\n{d['text']}"[:2000] for d in docs]
            pairs = [(text[a], text[b]) for a, b in itertools.combinations(range(len(text)), 2)]
            out[f"gnome-help-{lang}: distinct pages"] = (lang, rng.sample(pairs, min(len(pairs), 20000)))
    return out


def scores(sim: Similarity, method: str, lang: str, pairs: list[tuple[str, str]]) -> np.ndarray:
    if method == "keyword":
        # idf over the group's texts, as `kb check` computes it over the articles folder
        uniq = list(dict.fromkeys([t for p in pairs for t in p]))
        m = keyword_matrix(uniq, uniq)
        idx = {t: i for i, t in enumerate(uniq)}
        return np.array([m[idx[a], idx[b]] for a, b in pairs])
    enc = sim.pool.get(method)
    uniq = list(dict.fromkeys([t for p in pairs for t in p]))
    vec = dict(zip(uniq, enc.encode(uniq)))
    return np.array([float(vec[a] @ vec[b]) for a, b in pairs])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--encoders", default="minilm,use3")
    ap.add_argument("--eval", default=str(ROOT.parent / "shared" / "eval"))
    args = ap.parse_args()
    rng = random.Random(7)
    data = groups(Path(args.eval), rng)
    pool = EncoderPool(tuple(e for e in args.encoders.split(",") if e))
    sim = Similarity(pool)
    methods = ["keyword"] + [e for e in pool.names if pool.get(e) is not None]
    for method in methods:
        t0 = time.perf_counter()
        print(f"\n== {method}")
        print(f"{'group':40} {'pairs':>6} {'p01':>6} {'p50':>6} {'p99':>6} {'max':>6}")
        res = {}
        for name, (lang, pairs) in data.items():
            if method == "minilm" and lang == "zh":
                continue          # MiniLM reads Chinese as [UNK]; Chinese always uses use3
            s = scores(sim, method, lang, pairs)
            res[name] = s
            print(f"{name:40} {len(s):6} {np.quantile(s, .01):6.3f} {np.median(s):6.3f} "
                  f"{np.quantile(s, .99):6.3f} {s.max():6.3f}")
        pos = [k for k in res if "near-copies" in k or "same thread" in k]
        neg = [k for k in res if k not in pos]
        print("threshold  " + "  ".join(f"{k.split(':')[0][:12]}+{'copy' if 'copies' in k else 'thread'}"
                                        for k in pos) + "  | flagged distinct: " + ", ".join(neg))
        for th in np.arange(0.5, 0.99, 0.02):
            caught = "  ".join(f"{(res[k] >= th).mean():17.2f}" for k in pos)
            flagged = ", ".join(f"{(res[k] >= th).mean() * 100:.2f}%" for k in neg)
            print(f"{th:9.2f}  {caught}  | {flagged}")
        print(f"({time.perf_counter() - t0:.1f} s)")


if __name__ == "__main__":
    main()
