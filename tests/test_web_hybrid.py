"""Hybrid search through the web app with the real encoders: the API, the customer portal and
the agent console find a Chinese article from English words, which the keyword side alone
cannot, and say which encoders ranked it."""
from __future__ import annotations

import pytest

from indexer.build import build
from kb.accounts.users import add_user
from kb.core.config import Settings
from kb.core.encoders import EncoderPool
from kb.core.store import connect
from kb.search.searcher import Searcher
from tests.conftest import BASIC, make_repo
from tests.web_support import EXTRA, PASSWORDS, signed_in

pytestmark = pytest.mark.models

QUERY = "I forgot my account password and cannot sign in"
ZH_TITLE = "重置忘记的账户密码"            # KB-0003, public and published


@pytest.fixture(scope="module")
def hybrid_app(tmp_path_factory):
    from web import create_app
    root = tmp_path_factory.mktemp("hybrid")
    repo = make_repo(root / "articles", {**BASIC, **EXTRA})
    s = Settings.load(env={}, home=root / "state", articles=repo, secret_key="hybrid-secret")
    pool = EncoderPool(("minilm", "use3"))
    assert build(s, pool=pool).ok
    add_user(connect(s), "alice", PASSWORDS["alice"], "agent", "Alice Agent")
    app = create_app(s, searcher=Searcher(s, pool=pool))
    app.config["TESTING"] = True
    return app


def test_the_api_searches_hybrid_across_languages(hybrid_app):
    c = hybrid_app.test_client()
    keyword = c.get("/api/v1/search", query_string={"q": QUERY, "mode": "keyword"}).get_json()
    assert "KB-0003" not in [h["id"] for h in keyword["results"]]       # no shared word
    out = c.get("/api/v1/search", query_string={"q": QUERY}).get_json()
    assert out["mode"] == "hybrid" and out["degraded"] is False
    assert "KB-0003" in [h["id"] for h in out["results"]][:3]
    assert {"encode_minilm_ms", "encode_use3_ms"} <= set(out["timings"])


def test_the_portal_search_page_finds_it(hybrid_app):
    page = hybrid_app.test_client().get("/help/search", query_string={"q": QUERY}).get_data(as_text=True)
    assert ZH_TITLE in page


def test_the_console_ranks_it_with_the_encoders_and_explains_why(hybrid_app):
    c = signed_in(hybrid_app.test_client(), "alice")
    page = c.get("/agent/results", query_string={"q": QUERY}).get_data(as_text=True)
    assert ZH_TITLE in page
    out = c.get("/api/v1/search", query_string={"q": QUERY, "explain": "1"}).get_json()
    hit = next(h for h in out["results"] if h["id"] == "KB-0003")
    assert "use3" in hit["explanation"] and hit["explanation"]["use3"]["rank"] <= 3
