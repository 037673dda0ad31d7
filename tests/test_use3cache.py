"""USE3 kept ready to load (kb/core/use3cache.py): a build keeps its tokenizer and backend, the
next process loads from them, its weights mapped from the file, and gets the package's
vectors; damaged or foreign files are never used."""
import pickle

import numpy as np
import pytest

from kb.core import use3cache
from kb.core.encoders import USE3, EncoderPool

pytestmark = pytest.mark.models

TEXTS = ["printer offline after the update", "打印机脱机无法打印", "VPN 连接错误 809", "", "Сброс пароля " * 40]


@pytest.fixture(scope="module")
def kept(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    pool = EncoderPool(("use3",), models=folder)
    want = pool.get("use3").encode(TEXTS)
    assert not any(f.exists() for f in use3cache.files(folder, USE3.fingerprint))
    pool.save_model_files()
    assert all(f.exists() for f in use3cache.files(folder, USE3.fingerprint))
    return folder, want


def test_the_next_process_loads_from_the_kept_files_with_the_same_vectors(kept):
    folder, want = kept
    enc = EncoderPool(("use3",), models=folder).get("use3")
    assert enc._model._sp is not None and enc._model._backend is not None    # loaded from the kept files
    table = enc._model._backend.table
    assert not table.flags.writeable and not table.flags.owndata            # a view of the mapped file
    np.testing.assert_array_equal(enc.encode(TEXTS), want)


def _beside(folder, tmp_path, **contents):
    """A models folder holding the kept files ``tok`` and ``backend``, or the bytes given for them."""
    files = dict(zip(("tok", "backend"), use3cache.files(folder, USE3.fingerprint)))
    bad = tmp_path / "bad"
    bad.mkdir(exist_ok=True)
    for key, f in files.items():
        (bad / f.name).write_bytes(contents.get(key, f.read_bytes()))
    return bad, files["tok"], files["backend"]


def test_damaged_or_foreign_files_are_not_used(kept, tmp_path):
    folder, want = kept
    bad, tok, _ = _beside(folder, tmp_path, tok=b"not a pickle")
    assert use3cache.load(bad, USE3.fingerprint, 1) is None
    other = pickle.loads(tok.read_bytes())
    other["check"][0] = [1, 2, 3]
    (bad / tok.name).write_bytes(pickle.dumps(other))
    assert use3cache.load(bad, USE3.fingerprint, 1) is None
    enc = EncoderPool(("use3",), models=bad).get("use3")
    assert enc._model._sp is None                                             # the package loads its own
    np.testing.assert_array_equal(enc.encode(TEXTS), want)


def test_a_backend_whose_weights_changed_is_not_used(kept, tmp_path):
    folder, want = kept
    backend = use3cache.files(folder, USE3.fingerprint)[1]
    data = bytearray(backend.read_bytes())
    data[-4096:] = bytes(255 - b for b in data[-4096:])                        # the last array's bytes
    bad, _, _ = _beside(folder, tmp_path, backend=bytes(data))
    assert use3cache.load(bad, USE3.fingerprint, 1) is None
    _beside(folder, tmp_path, backend=backend.read_bytes()[:1000])              # cut short
    assert use3cache.load(bad, USE3.fingerprint, 1) is None
    assert use3cache.load(folder, USE3.fingerprint, 1) is not None
