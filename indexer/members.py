"""The family facts of every article of a generation (id, language, visibility, status, the
source it translates and its title), kept for the next incremental build as
``family-members.jsonl``: a header line, then one JSON line per article that starts with its
path. The header counts how often each id is named as a source and says whether the ids are
unique, which is what deciding that an edit leaves the families as they were needs of the
articles it did not touch.

An edit reads the lines of the articles it touched and writes the file again by splicing those
lines into the live one's bytes, so at 100,000 articles (15 MB) it neither parses nor dumps
every article's facts; only a build that must group the families again reads them all. A
generation written before keeps them as ``family-members.json`` (one JSON object), read whole.
"""
from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from kb.core import families
from kb.core.articles import Article

NAME = "family-members.jsonl"
BEFORE = "family-members.json"          # format 2: {"format": 2, "members": {path: facts}}
FORMAT = 3
FEW = 32         # up to this many touched articles, their lines are found one by one (2 ms each at 100,000)
_ROW = re.compile(rb'^\[("(?:[^"\\\n]|\\.)*"),', re.M)   # a row's opening: its path as a JSON string


def facts(a: Article) -> list:
    """[id, language, visibility, status, translation_of, title] of a parsed article."""
    m = families.member(a)
    return [m.id, m.language, m.visibility, m.status, m.translation_of, a.title]


def _line(rel: str, row: list) -> bytes:
    return json.dumps([rel, *row]).encode("ascii") + b"\n"


@dataclass
class Members:
    """One generation's members file: the header's counts, and its rows read when asked."""
    named: Counter                          # source id → how many articles name it
    unique: bool                            # no two articles have one id
    rows: int                               # how many articles it has
    data: bytes = b""                       # the rows, one line each (the header cut off)
    whole: dict[str, list] | None = None    # path → facts, once read whole
    _spans: dict[str, tuple[int, int]] | None = field(default=None, repr=False)

    @classmethod
    def read(cls, folder: Path) -> Members | None:
        """The members kept in a generation folder; None when it has none that can be read."""
        try:
            raw = (folder / NAME).read_bytes()
            end = raw.index(b"\n") + 1
            head = _head(raw[:end])
            if head is not None:
                return cls(Counter(head["named"]), bool(head["unique"]), int(head["rows"]), raw[end:])
        except (OSError, ValueError):
            pass
        try:
            before = json.loads((folder / BEFORE).read_text("utf-8"))
        except (OSError, ValueError):
            return None
        if before.get("format") != 2:
            return None
        rows = before["members"]
        return cls(Counter(v[4] for v in rows.values() if v[4]), _unique(rows), len(rows), whole=rows)

    def spans(self) -> dict[str, tuple[int, int]]:
        """Path → (start, end) of its line in ``data``."""
        if self._spans is None:
            starts = [(m.start(), m.group(1)) for m in _ROW.finditer(self.data)]
            ends = [s for s, _ in starts[1:]] + [len(self.data)]
            self._spans = {(json.loads(q) if b"\\" in q else q[1:-1].decode("ascii")): (s, e)
                           for (s, q), e in zip(starts, ends)}
        return self._spans

    def span(self, rel: str) -> tuple[int, int] | None:
        """Where ``rel``'s line is in ``data`` (None: it has no line). Without every line's
        place worked out, found by its opening, which only a line's start can hold: a row is
        one line of JSON, where a newline inside a string is escaped."""
        if self._spans is not None:
            return self._spans.get(rel)
        opening = b"[" + json.dumps(rel).encode("ascii") + b","
        if self.data.startswith(opening):
            start = 0
        elif (start := self.data.find(b"\n" + opening) + 1) == 0:
            return None
        end = self.data.find(b"\n", start) + 1
        return start, end or len(self.data)

    def get(self, rel: str) -> list | None:
        if self.whole is not None:
            return self.whole.get(rel)
        span = self.span(rel)
        return json.loads(self.data[span[0]:span[1]])[1:] if span else None

    def gone(self, articles: dict[str, str], fresh: dict[str, list], removed: list[str] | None) -> list[str]:
        """Its paths that ``articles`` has not. ``removed``, the paths the build saw go, is
        taken when the rows add up (every article then is ``fresh`` or one of its rows, and
        few were touched); otherwise every line's path is read."""
        if removed is not None and self.whole is None and len(removed) + len(fresh) <= FEW:
            there = [rel for rel in removed if self.span(rel) is not None]
            if self.rows - len(there) + sum(self.span(rel) is None for rel in fresh) == len(articles):
                return there
        return [rel for rel in self.paths() if rel not in articles]

    def paths(self):
        return self.whole.keys() if self.whole is not None else self.spans().keys()

    def all(self) -> dict[str, list]:
        """Every article's facts, by path."""
        if self.whole is None:
            rows = json.loads(b"[" + self.data.rstrip(b"\n").replace(b"\n", b",") + b"]") if self.data else []
            self.whole = {r[0]: r[1:] for r in rows}
        return self.whole


def kept(folder: Path) -> bool:
    """Whether a generation folder keeps its articles' facts in a form ``Members.read`` reads
    (its header is checked; a build without them must parse every article again)."""
    try:
        with open(folder / NAME, "rb") as f:
            if _head(f.readline()) is not None:
                return True
    except OSError:
        pass
    return (folder / BEFORE).exists()


def _head(line: bytes) -> dict | None:
    try:
        head = json.loads(line)
        if head.get("format") == FORMAT and isinstance(head["named"], dict) and int(head["rows"]) >= 0:
            bool(head["unique"])
            return head
    except (ValueError, KeyError, TypeError, AttributeError):
        pass
    return None


def _unique(rows: dict[str, list]) -> bool:
    return len({v[0] for v in rows.values()}) == len(rows)


def write_all(path: Path, rows: dict[str, list]) -> None:
    """Every article's facts (path → facts), in that order."""
    head = {"format": FORMAT, "named": Counter(v[4] for v in rows.values() if v[4]), "unique": _unique(rows),
            "rows": len(rows)}
    path.write_bytes(b"".join([json.dumps(head).encode("ascii") + b"\n", *(_line(r, v) for r, v in rows.items())]))


def splice(path: Path, old: Members, new: dict[str, list | None], unique: bool) -> bool:
    """Write ``old``'s rows with those of ``new`` (path → facts, None: gone) put in place of
    theirs, removed or, for a path ``old`` has not, added at the end. False when nothing would
    differ (nothing is written then)."""
    if len(new) > FEW:
        old.spans()
    named, count = Counter(old.named), old.rows
    cuts: list[tuple[int, int, bytes]] = []
    added: list[bytes] = []
    for rel, row in new.items():
        was = old.get(rel)
        if was == row:
            continue
        if was is not None and was[4]:
            named[was[4]] -= 1
        if row is not None and row[4]:
            named[row[4]] += 1
        line = _line(rel, row) if row is not None else b""
        count += (row is not None) - (was is not None)
        if was is not None:
            cuts.append((*old.span(rel), line))
        elif row is not None:
            added.append(line)
    if not cuts and not added and unique == old.unique:
        return False
    head = {"format": FORMAT, "named": {k: n for k, n in named.items() if n > 0}, "unique": unique, "rows": count}
    pieces, at = [json.dumps(head).encode("ascii") + b"\n"], 0
    for start, end, line in sorted(cuts):
        pieces += [old.data[at:start], line]
        at = end
    path.write_bytes(b"".join([*pieces, old.data[at:], *added]))
    return True
