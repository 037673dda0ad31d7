"""Scrub benchmark: precision and recall of kb.scrub.find per kind of customer data on the
labelled ticket lines in tests/data/scrub_labelled.tsv (English and Chinese, with hard
negatives: versions, error codes, KB numbers, dates, prices). A found span counts only when
its start, end and kind all equal the labelled ones. `--write` puts the table into
bench/RESULTS.md under "## Scrub".

    .venv/bin/python bench/scrub.py [--write]
"""
from __future__ import annotations

import argparse
import re
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kb.quality.scrub import KINDS, find  # noqa: E402

LABELLED = ROOT / "tests" / "data" / "scrub_labelled.tsv"
_MARK = re.compile(r"\[\[(\w+):(.+?)\]\]")


def parse_line(marked: str) -> tuple[str, list[tuple[int, int, str]]]:
    """Plain text and its labelled spans (start, end, kind) from ``[[kind:text]]`` marks."""
    out, spans, pos = [], [], 0
    length = 0
    for m in _MARK.finditer(marked):
        if m.group(1) not in KINDS:
            raise ValueError(f"unknown kind {m.group(1)!r} in {marked!r}")
        before = marked[pos:m.start()]
        out.append(before)
        length += len(before)
        spans.append((length, length + len(m.group(2)), m.group(1)))
        out.append(m.group(2))
        length += len(m.group(2))
        pos = m.end()
    out.append(marked[pos:])
    return "".join(out), spans


def load_labelled(path: Path = LABELLED) -> list[dict]:
    """Every case: line number, language, names, text and labelled spans."""
    cases = []
    for no, line in enumerate(path.read_text("utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 3:
            raise ValueError(f"{path}:{no}: expected 3 tab-separated columns, got {len(parts)}")
        lang, names, marked = parts
        text, spans = parse_line(marked)
        cases.append({"line": no, "lang": lang, "names": [n.strip() for n in names.split(";") if n.strip()],
                      "text": text, "spans": spans})
    return cases


def score(cases: list[dict]) -> tuple[dict, list[str], int]:
    """Per kind: true positives, false positives, false negatives; the mistakes; hard-negative
    lines with any false positive."""
    tp, fp, fn = Counter(), Counter(), Counter()
    mistakes, negatives_hit = [], 0
    for c in cases:
        gold = set(c["spans"])
        got = {(r.start, r.end, r.kind) for r in find(c["text"], c["names"])}
        for s in got & gold:
            tp[s[2]] += 1
        for s in got - gold:
            fp[s[2]] += 1
            mistakes.append(f"line {c['line']}: extra {s[2]} {c['text'][s[0]:s[1]]!r}")
        for s in gold - got:
            fn[s[2]] += 1
            mistakes.append(f"line {c['line']}: missed {s[2]} {c['text'][s[0]:s[1]]!r}")
        if not gold and got:
            negatives_hit += 1
    return {k: (tp[k], fp[k], fn[k]) for k in KINDS}, mistakes, negatives_hit


def table(cases: list[dict]) -> tuple[list[str], list[str]]:
    t0 = time.perf_counter()
    per_kind, mistakes, negatives_hit = score(cases)
    elapsed = (time.perf_counter() - t0) / max(len(cases), 1) * 1000
    negatives = sum(1 for c in cases if not c["spans"])
    lines = ["| kind | labelled | found right | wrong | precision | recall |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    total = Counter()
    for k, (t, f, n) in per_kind.items():
        total.update({"tp": t, "fp": f, "fn": n})
        lines.append(f"| {k} | {t + n} | {t} | {f} | {t / (t + f) if t + f else 1:.2f} | "
                     f"{t / (t + n) if t + n else 1:.2f} |")
    t, f, n = total["tp"], total["fp"], total["fn"]
    lines.append(f"| all | {t + n} | {t} | {f} | {t / (t + f) if t + f else 1:.2f} | {t / (t + n) if t + n else 1:.2f} |")
    langs = Counter(c["lang"] for c in cases)
    lines += ["", f"{len(cases)} lines ({langs['en']} English, {langs['zh']} Chinese); {negatives} hard-negative "
              f"lines (versions, error codes, KB numbers, dates, prices) of which {negatives_hit} had a false "
              f"positive; {elapsed:.2f} ms per line."]
    return lines, mistakes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--write", action="store_true", help="store the table in bench/RESULTS.md")
    args = ap.parse_args()
    from results import report
    lines, mistakes = table(load_labelled())
    for m in mistakes:
        print(m, file=sys.stderr)
    lines += ["", "The lines after the comment in the middle of the file were written after the rules and first "
              "showed 8 mistakes; two rules were then fixed (netmasks are not addresses; 415.555.2671 is a "
              "phone number, not a dotted version) and one label (陈工, surname + honorific, is a name by the "
              "rule). Left as known limits: a 10-digit Unix time counts as an id, a landline without area "
              "code as an id rather than a phone, a 7-digit QQ number is missed. Names are only those of the "
              "ticket's customer and contact fields: a name written in another script (Zhang Wei for 张伟) "
              "is not found."]
    report(lines, "Scrub", "python bench/scrub.py --write",
           "exact span and kind must match; tests/data/scrub_labelled.tsv", args.write)


if __name__ == "__main__":
    main()
