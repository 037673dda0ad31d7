"""The articles' facets gathered as arrays (kb.core.tables.FacetRows.join, what an incremental
build does with the live generation's) are what the same articles' facets made one by one give,
and the written tables are the same bytes."""
from __future__ import annotations

import numpy as np

from kb.core import tables

OLD = [("public", "published", "en", "printing", ["driver", "printer"]),
       ("internal", "draft", "zh", "vpn", []),
       ("public", "published", "en", "crm", ["account", "lockout", "zeta"]),       # its product and tags go
       ("internal", "published", "en", "vpn", ["printer", "vpn"])]
NEW = [("public", "retired", "de", "printing", ["drucker"]),                         # new values
       ("public", "published", "en", "vpn", [])]


def _same(a: tables.FacetRows, b: tables.FacetRows) -> None:
    assert a.values == b.values and list(a.values) == list(b.values)
    for x, y in [(a.codes, b.codes), (a.tag_codes, b.tag_codes), (a.tag_ptr, b.tag_ptr)]:
        assert x.dtype == y.dtype and x.shape == y.shape and np.array_equal(x, y)


def _written(folder, facets) -> dict[str, bytes]:
    folder.mkdir()
    tables.write(folder, [f"a{i}.md" for i in range(len(facets))], ["h"] * len(facets), facets,
                 tables.chunk_rows([], [], [], []))
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_facets_gathered_as_arrays_equal_the_ones_made_article_by_article(tmp_path):
    live = tmp_path / "live"
    _written(live, OLD)
    old = tables.FacetRows.read(tables.Articles(live))
    _same(old, tables.FacetRows.of(OLD))
    for pick in ([0, 4, 1, 3, 5], [4, 5], [1], [3, 0], []):       # kept and new articles, in a new order
        got = tables.FacetRows.join([old, tables.FacetRows.of(NEW)], np.array(pick))
        want = tables.FacetRows.of([(OLD + NEW)[i] for i in pick])
        _same(got, want)
        assert _written(tmp_path / f"got{len(pick)}{pick[:1]}", got) == \
            _written(tmp_path / f"want{len(pick)}{pick[:1]}", [(OLD + NEW)[i] for i in pick])


def test_an_article_keeps_its_tags_in_order_when_the_tag_table_shrinks_and_grows(tmp_path):
    old = tables.FacetRows.of(OLD)
    got = tables.FacetRows.join([old, tables.FacetRows.of(NEW)], np.array([3, 4, 0]))
    tags = [[got.values["tag"][c] for c in got.tag_codes[got.tag_ptr[i]:got.tag_ptr[i + 1]]] for i in range(3)]
    assert tags == [["printer", "vpn"], ["drucker"], ["driver", "printer"]]
    assert got.values["product"] == ["printing", "vpn"] and got.values["language"] == ["de", "en"]
