"""A tiny deterministic text encoder for unit tests of the vector and fusion logic only.

Hashes analyzer terms into a small vector, so texts sharing words are similar. It also
counts what it was asked to embed, so tests can prove the cache works. The real models are
exercised in test_models.py.
"""
import hashlib

import numpy as np

from kb.core.text import tokens


class TinyEncoder:
    name = "tiny"
    dim = 64
    multilingual = True
    fingerprint = "tiny:1"
    calls: list[str] = []

    def encode(self, texts):
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            TinyEncoder.calls.append(t)
            for term in tokens(t):
                h = int(hashlib.md5(term.encode()).hexdigest(), 16)
                out[i, h % self.dim] += 1.0
        n = np.linalg.norm(out, axis=1, keepdims=True)
        n[n == 0] = 1
        return out / n


class BrokenEncoder:
    name = "tiny"

    def __init__(self):
        from kb.core.errors import ModelUnavailable
        raise ModelUnavailable("tiny: weights not found in site-packages")
