"""Chunking, the vector cache, fingerprints, degraded mode and filters in every mode.

Uses the tiny deterministic encoder; the real models are tested in test_models.py.
"""
import threading

import numpy as np
import pytest

from indexer.build import build
from indexer.vectors import chunk_article
from kb.core.articles import parse_article
from kb.core.encoders import EncoderPool
from kb.search import beside
from kb.search.fusion import FusionConfig, Ranking, fuse
from kb.core.generation import IndexStore
from kb.search.searcher import Searcher, SearchQuery
from tests.conftest import article, write
from tests.tiny_encoder import BrokenEncoder, TinyEncoder

TINY = FusionConfig(weights={"en": {"keyword": 1.0, "tiny": 1.0}, "zh": {"keyword": 1.0, "tiny": 1.0}})


def pool(factory=TinyEncoder):
    return EncoderPool(("tiny",), factories={"tiny": factory})


@pytest.fixture
def vsettings(settings):
    return settings.replace(semantic=True, encoders=("tiny",))


def search(s, text, p=None, **kw):
    return Searcher(s, pool=p or pool(), fusion=TINY).search(SearchQuery(text, **kw))


def test_chunks_are_title_plus_each_section_and_long_sections_are_windowed():
    long_res = "## Resolution\n" + " ".join(f"step{i}" for i in range(400)) + "\n"
    a = parse_article("a.md", article("KB-1", "Printer offline", body="## Symptoms\nIt is offline.\n" + long_res).encode())
    chunks = chunk_article(a)
    assert (chunks[0].section, chunks[0].text) == ("title", "Printer offline\nA short summary.")
    assert chunks[1].section == "Symptoms"
    assert chunks[1].text == "Printer offline\nA short summary.\nSymptoms\nIt is offline."
    assert [c.section for c in chunks[2:]] == ["Resolution"] * (len(chunks) - 2)
    assert len(chunks) - 2 >= 3                               # 400 words → several windows
    assert all(len(c.text.split()) <= 170 for c in chunks[2:])
    assert all(c.text.startswith("Printer offline: Resolution\n") for c in chunks[2:])
    bare = parse_article("b.md", b"---\ntitle: Only a title\n---\n")
    assert [(c.section, c.text) for c in chunk_article(bare)] == [("title", "Only a title")]
    zh = parse_article("z.md", article("KB-2", "打印机脱机", language="zh",
                                       body="## 解决方法\n" + "重新连接打印机。" * 120).encode())
    zc = chunk_article(zh)
    assert len(zc) >= 3 and all(c.language == "zh" for c in zc)


def test_unchanged_chunks_are_never_embedded_again(vsettings, repo):
    TinyEncoder.calls = []
    r = build(vsettings, pool=pool())
    first = len(TinyEncoder.calls)
    assert r.embedded == {"tiny": first} and first == r.chunks
    TinyEncoder.calls = []
    build(vsettings, pool=pool())
    assert TinyEncoder.calls == []                            # nothing changed
    # change only the Resolution of one article: only that chunk is embedded
    text = (repo / "printer-offline.md").read_text().replace("Restart the device.", "Power-cycle the router.")
    write(repo, {"printer-offline.md": text})
    r = build(vsettings, pool=pool())
    assert len(TinyEncoder.calls) == 1 and "Power-cycle the router" in TinyEncoder.calls[0]
    assert r.embedded == {"tiny": 1}
    # a full rebuild reuses the SQLite cache: still nothing to embed
    TinyEncoder.calls = []
    build(vsettings, full=True, pool=pool())
    assert TinyEncoder.calls == []


def test_new_fingerprint_reembeds_everything(vsettings):
    build(vsettings, pool=pool())

    class NextTiny(TinyEncoder):
        fingerprint = "tiny:2"
    TinyEncoder.calls = []
    r = build(vsettings, pool=pool(NextTiny))
    assert r.full and r.embedded["tiny"] == r.chunks and len(TinyEncoder.calls) == r.chunks
    assert IndexStore(vsettings.index_root).current().manifest()["encoders"] == {"tiny": "tiny:2"}


def test_vectors_match_articles_row_for_row(vsettings):
    build(vsettings, pool=pool())
    snap = Searcher(vsettings, pool=pool()).snapshot()
    m = snap.vectors["tiny"]
    assert m.shape == (len(snap.row_article), 64)
    assert np.allclose(np.linalg.norm(m, axis=1), 1.0, atol=1e-5)


def test_semantic_hit_points_at_the_matching_section(vsettings, repo):
    write(repo, {"dock.md": article("KB-0020", "Docking station problems", product="laptop", body=(
        "## Symptoms\nExternal monitors stay black.\n\n## Resolution\nUpdate the dock firmware with DisplayLink.\n"))})
    build(vsettings, pool=pool())
    res = search(vsettings, "dock firmware displaylink", mode="semantic", role="agent")
    top = res.results[0]
    assert top.id == "KB-0020" and top.explanation["tiny"]["rank"] == 1
    assert top.section == "Resolution"


def test_model_failure_degrades_to_keyword_with_reason(vsettings):
    r = build(vsettings, pool=pool(BrokenEncoder))
    assert r.ok and "weights not found" in r.encoder_failures["tiny"]
    for mode in ("hybrid", "semantic"):
        res = search(vsettings, "router", pool(BrokenEncoder), mode=mode, role="customer")
        assert res.degraded and "weights not found" in res.degraded_reason
        assert [h.id for h in res.results][:1] == ["KB-0001"]


def test_index_without_vectors_for_the_encoder_degrades(settings, vsettings):
    build(settings)                                           # keyword-only build
    res = search(vsettings, "router", mode="hybrid", role="customer")
    assert res.degraded and "run `kb index`" in res.degraded_reason and res.results


@pytest.mark.parametrize("mode", ["keyword", "semantic", "hybrid"])
def test_filters_apply_in_every_mode(vsettings, mode):
    build(vsettings, pool=pool())
    every = "printer vpn scanner spooler retired router server 密码 账户"
    customer = {h.id for h in search(vsettings, every, mode=mode, role="customer", limit=50).results}
    assert customer <= {"KB-0001", "KB-0002", "KB-0003"} and customer
    agent = {h.id for h in search(vsettings, every, mode=mode, role="agent", limit=50).results}
    assert "KB-0006" not in agent and {"KB-0004", "KB-0005"} & agent
    vpn = {h.id for h in search(vsettings, every, mode=mode, role="agent", product="vpn").results}
    assert vpn == {"KB-0002"}
    zh = {h.id for h in search(vsettings, every, mode=mode, role="agent", lang="zh").results}
    assert zh == {"KB-0003"}
    tagged = {h.id for h in search(vsettings, every, mode=mode, role="agent", tags=("server",)).results}
    assert tagged == {"KB-0004"}


def test_fusion_normalises_and_weights_by_language():
    kw = Ranking("keyword", {"a": 10.0, "b": 5.0}, "keyword")
    en = Ranking("minilm", {"b": 0.9, "c": 0.5}, "vector")
    ml = Ranking("use3", {"c": 0.8, "a": 0.2}, "vector")
    cfg = FusionConfig(cosine_floor=0.1, keyword_norm="top", vector_norm="top", weights={"en": {"keyword": 1, "minilm": 1, "use3": 0},
                                                  "zh": {"keyword": 1, "minilm": 0, "use3": 1}})
    en_order = fuse([kw, en, ml], "en", cfg)
    assert [f.doc for f in en_order] == ["b", "a", "c"]
    assert en_order[0].parts == {"keyword": 0.5, "minilm": 1.0}
    zh_order = fuse([kw, en, ml], "zh", cfg)
    assert "minilm" not in {p for f in zh_order for p in f.parts}
    assert [f.doc for f in zh_order][0] in ("a", "c")
    boosted = fuse([kw], "en", cfg, boosts={"b": 3.0})
    assert [f.doc for f in boosted] == ["b", "a"]


def test_rrf_option():
    kw = Ranking("keyword", {"a": 10.0, "b": 5.0}, "keyword")
    v = Ranking("use3", {"b": 0.9, "a": 0.1}, "vector")
    out = fuse([kw, v], "en", FusionConfig(method="rrf", weights={"en": {"keyword": 1, "use3": 1}}))
    assert out[0].score == pytest.approx(1 / 61 + 1 / 62)


def test_warm_prepares_what_the_loaded_encoders_read(vsettings):
    from kb.search.searcher import Searcher, SearchQuery
    build(vsettings, pool=pool())
    searcher = Searcher(vsettings, pool=pool(), fusion=TINY)
    snap = searcher.snapshot()                 # loaded before any encoder: nothing to prepare yet
    assert not snap._parts
    res = searcher.search(SearchQuery("printer offline", mode="hybrid", role="agent"))
    assert res.results and not res.degraded
    snap._parts.clear()
    searcher.warm()
    # the tiny encoder is multilingual: its Chinese rows, for when it stands in for another one
    part = snap._parts[("tiny", "zh")]
    assert int(part.select.sum()) == int(snap.row_zh.sum()) > 0 and (part.select == snap.row_zh).all()
    assert part.matrix is snap.vectors["tiny"]                  # the mapped matrix itself, no copy
    assert snap._parts[("tiny", "all")].select is None


def test_a_query_being_typed_encodes_its_finished_words_only(vsettings):
    """While a word is unfinished the keyword side searches its completions and the encoder
    reads the words before it (reused from the cache as the fragment grows); a last word that
    is already an index word counts as finished. Nothing typed yet to encode is not degraded."""
    from kb.search.suggest import typed
    build(vsettings, pool=pool())
    p = pool()
    s = Searcher(vsettings, pool=p, fusion=TINY)
    assert typed(s, "router repla")[1] == "router"
    assert "replaced" in typed(s, "router repla")[0].split()[2:]
    assert typed(s, "router replaced")[1] == "router replaced"
    assert typed(s, "router ") == ("router ", "router")          # one vector for "router" and "router "
    assert typed(s, "rou")[1] == ""
    TinyEncoder.calls = []
    for prefix in ("router", "router ", "router r", "router rep", "router repl", "router repla"):
        kw, sem = typed(s, prefix)
        res = s.search(SearchQuery(kw, role="customer", mode="hybrid", semantic_text=sem))
        assert res.results and not res.degraded
        assert "tiny" in res.results[0].explanation
    assert TinyEncoder.calls == ["router"]                    # encoded once, then reused
    kw, sem = typed(s, "rou")
    res = s.search(SearchQuery(kw, role="customer", mode="hybrid", semantic_text=sem))
    assert res.results and not res.degraded and "tiny" not in res.results[0].explanation
    assert TinyEncoder.calls == ["router"]
    broken = Searcher(vsettings, pool=pool(BrokenEncoder), fusion=TINY)
    res = broken.search(SearchQuery(kw, role="customer", mode="hybrid", semantic_text=sem))
    assert res.degraded and "weights not found" in res.degraded_reason        # still said while typing


def test_explain_timings_name_every_stage_loading_included_and_add_up(vsettings):
    build(vsettings, pool=pool())
    res = Searcher(vsettings, pool=pool(), fusion=TINY).search(SearchQuery("printer router", role="agent"))
    assert list(res.timings) == ["load_index_ms", "filter_ms", "keyword_ms", "load_tiny_ms", "encode_tiny_ms",
                                 "vector_tiny_ms", "boost_ms", "fuse_ms", "families_ms", "snippets_ms"]
    assert res.took_ms == pytest.approx(sum(res.timings.values()), abs=0.01)


class OtherTiny(TinyEncoder):
    """A second encoder: the same words hashed with another salt, English only."""
    name, fingerprint, multilingual = "tiny2", "tiny2:1", False

    def encode(self, texts):
        return super().encode([" ".join(f"{w}x" for w in t.split()) for t in texts])


def test_two_encoders_side_by_side_rank_as_one_after_the_other(vsettings, monkeypatch):
    two = vsettings.replace(encoders=("tiny", "tiny2"))
    pools = lambda: EncoderPool(("tiny", "tiny2"), factories={"tiny": TinyEncoder, "tiny2": OtherTiny})
    weights = FusionConfig(weights={lang: {"keyword": 1.0, "tiny": 1.0, "tiny2": 0.5} for lang in ("en", "zh")})
    build(two, pool=pools())
    threads: list[str] = []
    real = Searcher._encoder_ranking

    def spy(self, *a):
        threads.append(threading.current_thread().name)
        return real(self, *a)
    monkeypatch.setattr(Searcher, "_encoder_ranking", spy)
    got = {}
    for side_by_side in (False, True):
        s = Searcher(two, pool=pools(), fusion=weights)
        if not side_by_side:
            assert beside.take() is not None               # as while another search has the thread
        res = s.search(SearchQuery("printer router", role="agent"))
        if not side_by_side:
            beside.give_back()
        got[side_by_side] = [(h.id, h.score, h.explanation) for h in res.results]
        assert res.took_ms == pytest.approx(sum(res.timings.values()), abs=0.01)
        assert {"encode_tiny_ms", "vector_tiny_ms", "encode_tiny2_ms", "vector_tiny2_ms"} <= set(res.timings)
    assert got[True] == got[False] and got[True]
    on_thread = [t.startswith("kb-vectors") for t in threads]
    assert on_thread[:2] == [False, False] and sorted(on_thread[2:]) == [False, True]   # the second one beside
