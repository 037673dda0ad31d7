"""MiniLM's query graph on ONNX Runtime: exported once from the shipped weights, the same
vectors as torch for any text, and torch keeps answering when the file is missing or damaged;
a build that embeds a few texts uses it without loading torch."""
import numpy as np
import pytest

from kb.core import querygraph
from kb.core import encoders
from kb.core.encoders import EncoderPool, MiniLM

pytestmark = pytest.mark.models

TEXTS = ["printer offline", "VPN error 809 when connecting from home " * 60, "打印机脱机 printer", "  ",
         "reset-password (again)!! ✓", "outlook keeps asking for the password"]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    pool = EncoderPool(("minilm",), models=folder)
    assert pool.get("minilm")._graph is None           # nothing exported yet: torch
    pool.save_model_files()
    assert querygraph.graph_file(folder, pool.get("minilm").fingerprint).exists()
    return folder


def test_the_graph_gives_torchs_vector_for_every_text(models):
    enc = EncoderPool(("minilm",), models=models).get("minilm")
    assert enc._graph is not None
    for text in TEXTS:
        graph, torch = enc.encode([text]), enc._encode_one(text)
        assert graph.shape == (1, 384) and np.allclose(np.linalg.norm(graph), 1, atol=1e-5)
        assert np.abs(graph - torch).max() < querygraph.TOLERANCE, text


def test_a_damaged_graph_is_not_used(models, tmp_path):
    enc = EncoderPool(("minilm",), models=models).get("minilm")
    bad = tmp_path / "models"
    bad.mkdir()
    querygraph.graph_file(bad, enc.fingerprint).write_bytes(b"not a graph")
    other = EncoderPool(("minilm",), models=bad).get("minilm")
    assert other._graph is None
    assert np.abs(other.encode(["printer offline"]) - enc.encode(["printer offline"])).max() < 1e-5


def test_a_build_encodes_a_few_texts_on_the_graph_without_loading_torch(models):
    assert querygraph.check_file(models, MiniLM.fingerprint).exists()     # saved with the graph
    torch_side = EncoderPool(("minilm",), models=models).get("minilm")
    pool = EncoderPool(("minilm",), models=models)
    (deferred,) = pool.deferred()
    got = deferred.encode(TEXTS)
    assert pool.loaded() == []                          # torch was not loaded for them
    want = np.vstack([torch_side._encode_one(t) for t in TEXTS])
    assert got.shape == (len(TEXTS), 384) and np.abs(got - want).max() < querygraph.TOLERANCE
    deferred.encode(["printer offline"] * (encoders.FEW + 1))
    assert [e.name for e in pool.loaded()] == ["minilm"]   # more than a few: torch


def test_a_graph_that_does_not_give_the_saved_vectors_is_not_used_without_torch(models, tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    graph, check = querygraph.graph_file(models, MiniLM.fingerprint), querygraph.check_file(models, MiniLM.fingerprint)
    (folder / graph.name).write_bytes(graph.read_bytes())
    assert MiniLM.standalone(folder) is None                              # no saved vectors: not trusted
    saved = np.load(check)
    saved[2] = -saved[2]
    np.save(folder / check.name, saved)
    assert MiniLM.standalone(folder) is None                              # they disagree
    np.save(folder / check.name, np.load(check))
    assert MiniLM.standalone(folder) is not None
