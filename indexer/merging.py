"""Which Whoosh segments an incremental build's commit merges.

Each incremental build commits its articles as a new segment. Whoosh's default policy
(``MERGE_SMALL``) merges the small segments whenever five have gathered, the one it merged last
time among them, so at 100,000 articles every fourth or fifth edit paid 0.5–1.2 s, and more as
that segment grew, to read and write the same articles' postings again (about 150 µs a term).

``tiered`` groups the segments by size class (fewer than 8 documents, fewer than 64, …; the
largest segment apart) and merges a class only once eight segments of it have gathered, into
the segment of the commit that finds them: eight one-edit segments on every ninth edit, eight of
those about every 64th, and so on. An article's postings are written again once per class
instead of at every merge, and a search reads at most eight segments of each class besides the
largest.
"""
from __future__ import annotations

from whoosh.reading import SegmentReader

TIER = 8


def size_class(docs: int) -> int:
    """0 for fewer than TIER documents, 1 for fewer than TIER², …"""
    k = 0
    while docs >= TIER:
        docs //= TIER
        k += 1
    return k


def tiered(writer, segments: list) -> list:
    """A Whoosh merge policy (``writer.commit(mergetype=tiered)``): the segments kept as they
    are, after adding to ``writer`` those of the smallest size class that has TIER of them."""
    if len(segments) <= TIER:
        return segments
    largest = max(segments, key=lambda s: s.doc_count_all())
    classes: dict[int, list] = {}
    for seg in segments:
        if seg is not largest:
            classes.setdefault(size_class(seg.doc_count_all()), []).append(seg)
    for _, group in sorted(classes.items()):
        if len(group) >= TIER:
            for seg in group:
                reader = SegmentReader(writer.storage, writer.schema, seg)
                writer.add_reader(reader)
                reader.close()
            merged = {id(seg) for seg in group}
            return [seg for seg in segments if id(seg) not in merged]
    return segments
