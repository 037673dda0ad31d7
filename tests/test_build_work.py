"""What index builds leave undone: Chinese text an English-only encoder cannot read (article
chunks and similar-ticket tickets), models no vector is needed from, and a generation when
nothing changed. Tiny deterministic encoders stand in for the real ones under their names
(tests/test_models.py runs the real models)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from indexer import tickets as ticket_index
from indexer.build import build
from kb.core import store, tables
from kb.core.encoders import EncoderPool
from kb.core.errors import ModelUnavailable
from kb.core.generation import IndexStore, ticket_index_dir, ticket_manifest
from kb.core.text import detect_language
from kb.search.searcher import Searcher, SearchQuery
from kb.tickets.records import upsert_ticket
from kb.tickets.similar import SimilarTickets
from tests.conftest import article, commit_all, git, write
from tests.test_similar import TICKETS, add_tickets
from tests.tiny_encoder import TinyEncoder

LOADS: list[str] = []                       # encoders loaded, in order
READ: dict[str, list[str]] = {}             # encoder → every text it embedded


class Logged(TinyEncoder):
    def __init__(self):
        LOADS.append(self.name)

    def encode(self, texts):
        READ.setdefault(self.name, []).extend(texts)
        return super().encode(texts)


class EnglishOnly(Logged):
    name = "minilm"
    multilingual = False
    fingerprint = "tiny-minilm:1"


class Multilingual(Logged):
    name = "use3"
    fingerprint = "tiny-use3:1"


class CannotLoad(EnglishOnly):
    """Knows its fingerprint (its package is there) but the model fails to load."""

    def __init__(self):
        raise ModelUnavailable("minilm: cannot load all-MiniLM-L6-v2 (OSError: weights damaged)")


def pool(english=EnglishOnly) -> EncoderPool:
    return EncoderPool(("minilm", "use3"), factories={"minilm": english, "use3": Multilingual})


@pytest.fixture
def both(settings):
    LOADS.clear()
    READ.clear()
    return settings.replace(semantic=True, encoders=("minilm", "use3"))


def generations(s) -> list[str]:
    return sorted(p.name for p in s.index_root.glob("gen-*"))


def test_an_english_only_encoder_embeds_no_chinese_chunk_and_search_still_reads_both(both):
    r = build(both, pool=pool())
    assert READ["minilm"] and all(detect_language(t) != "zh" for t in READ["minilm"])
    assert any(detect_language(t) == "zh" for t in READ["use3"])
    assert r.embedded == {"minilm": len(READ["minilm"]), "use3": len(READ["use3"])}
    assert r.embedded["minilm"] < r.embedded["use3"] == r.chunks
    snap = Searcher(both, pool=pool()).snapshot()
    minilm, use3 = snap.vectors["minilm"], snap.vectors["use3"]
    assert minilm.shape[0] == use3.shape[0] == len(snap.row_article) and snap.row_zh.any()
    assert not minilm[snap.row_zh].any()                                   # never computed
    assert np.allclose(np.linalg.norm(minilm[~snap.row_zh], axis=1), 1, atol=1e-5)
    # the cache keeps its key (fingerprint, chunk hash) and holds nothing for the skipped rows
    rows = tables.Chunks(IndexStore(both.index_root).current().path).rows()
    zh = [h for h, z in zip(rows.hexes().values(), rows.zh) if z]
    en = [h for h, z in zip(rows.hexes().values(), rows.zh) if not z]
    db = store.connect(both)
    assert store.cached_vectors(db, "tiny-minilm:1", zh) == {}
    assert set(store.cached_vectors(db, "tiny-minilm:1", en)) == set(en)
    searcher = Searcher(both, pool=pool())
    res = searcher.search(SearchQuery("printer router replaced", role="agent"))
    assert res.results[0].id == "KB-0001" and "minilm" in res.results[0].explanation
    res = searcher.search(SearchQuery("重置 密码", role="agent", mode="semantic"))
    assert res.results[0].id == "KB-0003" and "use3" in res.results[0].explanation and not res.degraded


def test_nothing_changed_writes_no_generation_and_loads_no_model(both, repo):
    build(both, pool=pool())
    assert LOADS == ["minilm", "use3"]
    live = generations(both)
    LOADS.clear()
    r = build(both, pool=pool())
    assert not r.written and LOADS == [] and generations(both) == live
    assert (r.articles, r.generation, r.encoders) == (6, IndexStore(both.index_root).current_name(),
                                                      {"minilm": "tiny-minilm:1", "use3": "tiny-use3:1"})
    # a full rebuild finds every vector in the cache: a new generation, still no model loaded
    r = build(both, full=True, pool=pool())
    assert r.written and r.full and LOADS == [] and r.embedded == {"minilm": 0, "use3": 0}
    # a changed Chinese article needs the multilingual encoder only
    write(repo, {"reset-password-zh.md": article("KB-0003", "重置忘记的域账户密码", product="accounts",
                                                 language="zh", tags=("密码",))})
    r = build(both, pool=pool())
    assert LOADS == ["use3"] and r.embedded["minilm"] == 0 and r.embedded["use3"] > 0
    # a commit that touches no article moves the indexed commit: recorded in a new generation
    write(repo, {"notes.txt": "not an article\n"})
    commit_all(repo, "Add notes")
    before = generations(both)
    r = build(both, pool=pool())
    assert r.written and not (r.added or r.changed or r.removed) and generations(both) != before
    assert IndexStore(both.index_root).current().manifest()["commit"] == git(repo, "rev-parse", "HEAD").strip()


def test_a_model_that_cannot_load_leaves_out_its_vectors_not_the_build(both):
    r = build(both, pool=pool(CannotLoad))
    assert r.ok and "weights damaged" in r.encoder_failures["minilm"] and set(r.encoders) == {"use3"}
    assert not IndexStore(both.index_root).current().vectors_file("minilm").exists()
    res = Searcher(both, pool=pool(CannotLoad)).search(SearchQuery("printer router", role="agent"))
    assert res.degraded and "weights damaged" in res.degraded_reason and res.results
    # the next build tries it once, sees it still cannot load, and has nothing to do
    r = build(both, pool=pool(CannotLoad))
    assert not r.full and not r.written and "weights damaged" in r.encoder_failures["minilm"]


def test_similar_tickets_skip_chinese_for_the_english_only_encoder(both):
    db = store.connect(both)
    add_tickets(db, TICKETS)
    r = ticket_index.update(both, db, pool=pool())
    assert r.embedded == {"minilm": 2, "use3": 3}
    assert not any("打印机" in t for t in READ["minilm"])
    root = ticket_index_dir(both.home)
    gen = root / ticket_manifest(root)["generation_dir"]
    ids = json.loads((gen / "ids.json").read_text("utf-8"))
    minilm = np.load(gen / "vec-minilm.npy")
    assert [bool(minilm[i].any()) for i in range(len(ids["ids"]))] == [lang != "zh" for lang in ids["lang"]]
    finder = SimilarTickets(both, pool=pool())
    assert finder.search("打印机 脱机", role="agent")[0].id == "R-3"
    assert finder.search("vpn error 809 home router", role="agent")[0].id == "R-2"
    # nothing to do: no model loaded; a changed Chinese ticket: the multilingual encoder only
    LOADS.clear()
    r = ticket_index.update(both, db, pool=pool())
    assert (r.added, r.changed, r.embedded) == (0, 0, {}) and LOADS == []
    upsert_ticket(db, {"id": "R-3", "resolution": "重新连接无线网络。"})
    r = ticket_index.update(both, db, pool=pool())
    assert r.embedded == {"minilm": 0, "use3": 1} and LOADS == ["use3"]
