"""The compact posting pool writes the same segment as Whoosh's own pool: the same terms with
the same documents, weights and values, also when a commit merges older segments into it."""
from whoosh import index as whoosh_index
from whoosh.fields import ID, KEYWORD, STORED, TEXT, Schema

from indexer.postings import CompactPool, compact

SCHEMA = Schema(id=ID(stored=True, unique=True), words=KEYWORD(), text=TEXT(phrase=True), note=STORED)

DOCS = [
    {"id": "KB-1", "words": "printer spooler queue", "text": "The printer queue is stuck stuck", "note": 1},
    {"id": "KB-2", "words": "vpn queue", "text": "VPN error 809 after update", "note": 2},
    {"id": "KB-3", "words": "outlook printer", "text": "Outlook asks for the password again", "note": 3},
]
MORE = [
    {"id": "KB-4", "words": "printer vpn", "text": "printer printer driver", "note": 4},
    {"id": "KB-5", "words": "zebra", "text": "label printer", "note": 5},
]


def _postings(path):
    ix = whoosh_index.open_dir(str(path))
    with ix.searcher() as s:
        r = s.reader()
        out = {}
        for fieldname, text in r.all_terms():
            out[(fieldname, text)] = _walk(r.postings(fieldname, text))
        stored = sorted((d["id"], d["note"]) for d in s.all_stored_fields())
    ix.close()
    return out, stored


def _walk(m):
    got = []
    while m.is_active():
        got.append((m.id(), m.weight(), m.value()))
        m.next()
    return got


def _write(path, use_compact: bool, merge: bool):
    path.mkdir()
    ix = whoosh_index.create_in(str(path), SCHEMA)
    w = ix.writer()
    for d in DOCS:
        w.add_document(**d)
    w.commit()
    w = ix.writer()
    if use_compact:
        compact(w)
    w.delete_by_term("id", "KB-2")
    for d in MORE:
        w.add_document(**d)
    w.commit(optimize=merge)
    ix.close()


def test_the_same_postings_as_whoosh_pool(tmp_path):
    for merge in (False, True):
        _write(tmp_path / f"whoosh-{merge}", False, merge)
        _write(tmp_path / f"compact-{merge}", True, merge)
        whoosh, compact_ = _postings(tmp_path / f"whoosh-{merge}"), _postings(tmp_path / f"compact-{merge}")
        assert compact_ == whoosh
        terms = whoosh[0]
        assert terms[("words", b"printer")]         # the comparison saw real postings
        assert any(w != 1 for ps in terms.values() for _, w, _ in ps)        # and weights other than 1


def test_out_of_order_documents_come_out_sorted():
    pool = CompactPool()
    for item in [("f", b"b", 5, 1.0, b""), ("f", b"a", 3, 2.0, b"v"), ("f", b"b", 2, 1.0, b""),
                 ("e", b"z", 1, 1.0, b"")]:
        pool.add(item)
    assert list(pool.iter_postings()) == [("e", b"z", 1, 1.0, b""), ("f", b"a", 3, 2.0, b"v"),
                                          ("f", b"b", 2, 1.0, b""), ("f", b"b", 5, 1.0, b"")]
    assert pool.fieldnames == {"e", "f"}
