"""The merge policy of incremental commits (indexer/merging.py): small segments gather until
eight of one size class are there, then the next commit merges those eight into its own; the documents stay
findable and deleted ones go. A real Whoosh index."""
from whoosh import index
from whoosh.fields import ID, TEXT, Schema
from whoosh.qparser import QueryParser

from indexer.merging import TIER, size_class, tiered


def _commit(ix, docs, delete=()):
    w = ix.writer()
    for d in delete:
        w.delete_by_term("id", d)
    for d in docs:
        w.add_document(id=d, body=f"printer offline {d}")
    w.commit(mergetype=tiered)


def _found(ix, word):
    with ix.searcher() as s:
        return sorted(h["id"] for h in s.search(QueryParser("body", ix.schema).parse(word), limit=None))


def test_eight_small_segments_of_one_class_are_merged_into_one(tmp_path):
    ix = index.create_in(str(tmp_path), Schema(id=ID(stored=True, unique=True), body=TEXT))
    _commit(ix, [f"big{i}" for i in range(100)])
    counts = []
    for i in range(TIER + 1):
        _commit(ix, [f"edit{i}"], delete=["big0"] if i == 3 else ())
        counts.append(len(ix._segments()))
    # one segment per edit until eight small ones have gathered: the next commit writes them
    # and its own document as one segment
    assert counts == [2, 3, 4, 5, 6, 7, 8, 9, 2]
    assert sorted(s.doc_count_all() for s in ix._segments()) == [TIER + 1, 100]
    assert _found(ix, "edit5") == ["edit5"] and _found(ix, "big0") == [] and len(_found(ix, "printer")) == 108


def test_size_classes():
    assert [size_class(n) for n in (0, 1, 7, 8, 63, 64, 511, 512)] == [0, 0, 0, 1, 1, 2, 2, 3]
