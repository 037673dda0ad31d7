"""Fusion of ranked lists (keyword, and one per encoder) into one hybrid ranking.

Pure functions over {doc: score} maps, so they are testable with a tiny deterministic encoder.
The chosen method and weights come from measurement with `kb eval` (bench/RESULTS.md):
scores are normalised per query (BM25 by its top score, cosine similarities against a floor
that stands for "unrelated"), then combined with weights that depend on the query language —
an English-only encoder gets no say on a Chinese query.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Ranking:
    name: str                      # "keyword", "minilm", "use3"
    scores: dict[str, float]       # doc id → raw score (BM25, cosine)
    kind: str = "keyword"          # keyword | vector
    sections: dict[str, str] = field(default_factory=dict)   # doc id → best-matching section
    scale: float | None = None     # the best score this query could reach (BM25 upper bound)

    def ranks(self) -> dict[str, int]:
        order = sorted(self.scores, key=lambda d: (-self.scores[d], d))
        return {d: i + 1 for i, d in enumerate(order)}


@dataclass
class Fused:
    doc: str
    score: float
    parts: dict[str, float] = field(default_factory=dict)   # method → weighted contribution


@dataclass(frozen=True)
class FusionConfig:
    """Defaults chosen with `kb eval` on the dev sets (bench/RESULTS.md, "Search quality")."""
    method: str = "score"          # score | rrf
    rrf_k: int = 60
    cosine_floor: float = 0.2      # similarity that counts as "no relation"
    keyword_norm: str = "bound"    # top: divide by the best score; bound: by the query's upper bound
    vector_norm: str = "absolute"  # top: (s - floor) / (best - floor); absolute: / (1 - floor)
    # weights by query language, then method
    weights: dict = field(default_factory=lambda: {
        "en": {"keyword": 0.5, "minilm": 1.0, "use3": 0.0},
        "zh": {"keyword": 1.0, "minilm": 0.0, "use3": 1.0},
    })
    # an encoder that cannot read a document lets the multilingual one score it in its place
    stand_in: dict = field(default_factory=lambda: {"minilm": "use3"})

    def weight(self, language: str, name: str) -> float:
        return (self.weights.get(language) or self.weights.get("en") or {}).get(name, 0.0)

    def needed(self, language: str, name: str) -> bool:
        """Whether encoder ``name`` must run for a query in ``language``."""
        return self.weight(language, name) > 0 or any(
            other == name and self.weight(language, user) > 0 for user, other in self.stand_in.items())

    def without_keyword(self) -> "FusionConfig":
        w = {lang: {k: v for k, v in ws.items() if k != "keyword"} for lang, ws in self.weights.items()}
        return FusionConfig(self.method, self.rrf_k, self.cosine_floor, self.keyword_norm, self.vector_norm,
                            w, self.stand_in)


def normalise(r: Ranking, cfg: FusionConfig) -> dict[str, float]:
    if not r.scores:
        return {}
    top = max(r.scores.values())
    if r.kind == "keyword":
        scale = r.scale if (cfg.keyword_norm == "bound" and r.scale) else top
        return {d: (s / scale if scale > 0 else 0.0) for d, s in r.scores.items()}
    floor = cfg.cosine_floor
    span = max((1.0 if cfg.vector_norm == "absolute" else top) - floor, 1e-6)
    return {d: max(s - floor, 0.0) / span for d, s in r.scores.items()}


def fuse(rankings: list[Ranking], language: str, cfg: FusionConfig,
         boosts: dict[str, float] | None = None) -> list[Fused]:
    """Combine rankings; ``boosts`` multiplies a doc's fused score (e.g. ticket evidence)."""
    out: dict[str, Fused] = {}
    for r in rankings:
        w = cfg.weight(language, r.name)
        if w <= 0 or not r.scores:
            continue
        if cfg.method == "rrf":
            contrib = {d: w / (cfg.rrf_k + rank) for d, rank in r.ranks().items()}
        else:
            contrib = {d: w * s for d, s in normalise(r, cfg).items()}
        for d, c in contrib.items():
            f = out.setdefault(d, Fused(d, 0.0))
            f.parts[r.name] = c
            f.score += c
    if boosts:
        for d, f in out.items():
            f.score *= boosts.get(d, 1.0)
    return sorted(out.values(), key=lambda f: (-f.score, f.doc))
