"""The postings of a Whoosh segment while it is written, kept compact in memory.

Whoosh's own pool (``whoosh.writing.PostingPool``) keeps every posting as a Python tuple and,
past its memory limit, pickles sorted runs of them to temporary files and merges them back when
the segment is written. For kb's index, which holds ids and the spelling vocabulary (each
article's distinct words once, ``kb.core.generation.schema``), that was a third of a full
build's keyword stage: about two million postings per 10,000 articles, each pickled, read back
and merged. Here a term's postings are an array of document numbers (8 bytes a posting); a
weight or value other than the field's usual one (its first posting's, e.g. a frequency of
1 for the spelling vocabulary) is kept beside it, only when there is one. The segment
gets the same postings in the same order: terms sorted by field and bytes, each term's
documents in ascending order (tests/test_postings.py writes an index both ways and compares).
"""
from __future__ import annotations

from array import array
from typing import Iterator

Posting = tuple[str, bytes, int, float, bytes]


class CompactPool:
    """A drop-in for ``SegmentWriter.pool``: ``add`` postings, then ``iter_postings`` sorted."""

    def __init__(self) -> None:
        self.fieldnames: set[str] = set()
        self._docs: dict[tuple[str, bytes], array] = {}
        self._usual: dict[str, tuple[float, bytes]] = {}      # each field's first weight and value
        self._extra: dict[tuple[str, bytes, int], tuple[float, bytes]] = {}   # any other
        self._unsorted: set[tuple[str, bytes]] = set()     # terms whose documents came out of order

    def add(self, item: Posting) -> None:
        fieldname, text, docnum, weight, value = item
        key = (fieldname, text)
        docs = self._docs.get(key)
        if docs is None:
            if fieldname not in self._usual:
                self.fieldnames.add(fieldname)
                self._usual[fieldname] = (weight, value)
            docs = self._docs[key] = array("q")
        elif docs[-1] > docnum:          # a merged segment's documents may come after new ones
            self._unsorted.add(key)
        docs.append(docnum)
        usual = self._usual[fieldname]
        if weight != usual[0] or value != usual[1]:
            self._extra[(fieldname, text, docnum)] = (weight, value)

    def iter_postings(self) -> Iterator[Posting]:
        extra, usuals = self._extra, self._usual
        for key in sorted(self._docs):
            fieldname, text = key
            weight, value = usuals[fieldname]
            docs = self._docs[key]
            if key in self._unsorted:
                docs = sorted(docs)
            for docnum in docs:
                if extra:
                    got = extra.get((fieldname, text, docnum))
                    if got is not None:
                        yield fieldname, text, docnum, got[0], got[1]
                        continue
                yield fieldname, text, docnum, weight, value

    def cleanup(self) -> None:
        self._docs.clear()
        self._extra.clear()
        self._unsorted.clear()
        self._usual.clear()


def compact(writer):
    """``writer`` (a Whoosh SegmentWriter with nothing added yet) keeping its postings in a
    CompactPool."""
    writer.pool = CompactPool()
    return writer
