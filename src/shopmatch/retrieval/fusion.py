"""Hybrid fusion: merge the ranked lists of several retrievers into one.

- **Reciprocal rank fusion** (Cormack et al. 2009): ``score(d) = Σ_r w_r / (rrf_k + rank_r(d))``;
  needs no score calibration, only ranks.
- **Weighted score fusion**: ``score(d) = Σ_r w_r · norm_r(score_r(d))`` with the scores of each
  retriever normalized per query (min-max to [0, 1], or z-scores); a product a retriever did
  not return contributes that retriever's lowest normalized score (0 for min-max).

Every fused result keeps the 1-based rank and the raw score it had in each retriever
(``0`` and NaN where that retriever did not return it), for explanations.

Example:
    >>> import numpy as np
    >>> from shopmatch.hits import FusedHits, SearchHits, SourceHits
    >>> bm25 = SearchHits(np.array([[9.0, 5.0]]), np.array([[3, 1]]))
    >>> dense = SearchHits(np.array([[0.8, 0.7]]), np.array([[1, 2]]))
    >>> fused = fuse({"lexical": bm25, "dense": dense}, k=3, config=FusionConfig())
    >>> fused.rows.tolist(), fused.sources["dense"].ranks.tolist()
    ([[1, 3, 2]], [[1, 0, 2]])
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from shopmatch.hits import FusedHits, SearchHits, SourceHits
from shopmatch.settings import ConfigSection, setting

METHODS = ("rrf", "weighted")
NORMALIZATIONS = ("minmax", "zscore", "none")


@dataclass(frozen=True)
class FusionConfig(ConfigSection):
    """How retrievers are fused (``[fusion]``).

    Attributes:
        method: ``rrf`` or ``weighted``.
        rrf_k: the RRF constant (larger flattens the difference between top ranks).
        normalization: per-query score normalization for ``weighted``: ``minmax``, ``zscore``, ``none``.
        weights: retriever name → weight (a retriever not named weighs 1).
        adaptive: scale the dense weight per query by how far the dense list agrees with the
            lexical one (:mod:`shopmatch.retrieval.adaptive_fusion`); false: ``weights`` as they are.
        agreement_k: how many first results of each list the agreement compares.
        full_agreement: the chance-corrected share of the top ``agreement_k`` the two lists must
            have in common for the dense list to keep its whole weight (less: linearly less).
    """

    SECTION = "fusion"

    method: str = setting("rrf", choices=METHODS)
    rrf_k: float = setting(60.0, minimum=0.0)
    normalization: str = setting("minmax", choices=NORMALIZATIONS)
    weights: Mapping[str, float] = field(default_factory=dict)
    adaptive: bool = True
    agreement_k: int = setting(10, minimum=1)
    full_agreement: float = setting(1.0, minimum=0.0, maximum=1.0)

    def weight(self, retriever: str) -> float:
        return float(self.weights.get(retriever, 1.0))


def _normalized(scores: list[float], normalization: str) -> tuple[list[float], float]:
    """Normalized scores and the value a missing product gets."""
    if normalization == "none" or not scores:
        return scores, 0.0
    values = np.asarray(scores, dtype=np.float64)
    if normalization == "minmax":
        low, high = values.min(), values.max()
        if high - low <= 1e-12:
            return [1.0] * len(scores), 0.0
        return ((values - low) / (high - low)).tolist(), 0.0
    std = values.std()
    normal = (values - values.mean()) / std if std > 1e-12 else np.zeros_like(values)
    return normal.tolist(), float(normal.min())


def fuse(runs: Mapping[str, SearchHits], k: int, config: FusionConfig) -> FusedHits:
    """Fuse retriever runs (same queries, same order) into the top ``k`` per query.

    Ties are broken by the best rank in any retriever, then by catalog row.
    """
    if not runs:
        raise ValueError("nothing to fuse: no retriever runs")
    names = list(runs)
    n_queries = len(next(iter(runs.values())))
    if any(len(run) != n_queries for run in runs.values()):
        raise ValueError("retriever runs cover different numbers of queries")
    rows = np.full((n_queries, k), -1, dtype=np.int64)
    scores = np.zeros((n_queries, k), dtype=np.float32)
    ranks = {name: np.zeros((n_queries, k), dtype=np.int32) for name in names}
    raw = {name: np.full((n_queries, k), np.nan, dtype=np.float32) for name in names}
    for q in range(n_queries):
        seen: dict[str, dict[int, tuple[int, float]]] = {}
        contributions: dict[str, dict[int, float]] = {}
        missing: dict[str, float] = {}
        for name in names:
            hits = runs[name].query(q)
            seen[name] = {row: (rank, score) for rank, (row, score) in enumerate(hits, start=1)}
            weight = config.weight(name)
            if config.method == "rrf":
                contributions[name] = {row: weight / (config.rrf_k + rank) for row, (rank, _) in seen[name].items()}
                missing[name] = 0.0
            else:
                normal, low = _normalized([score for _, score in hits], config.normalization)
                contributions[name] = {row: weight * value for (row, _), value in zip(hits, normal, strict=True)}
                missing[name] = weight * low
        candidates = set().union(*(seen[name].keys() for name in names))
        fused = {row: sum(contributions[n].get(row, missing[n]) for n in names) for row in candidates}
        best_rank = {row: min(seen[n][row][0] for n in names if row in seen[n]) for row in candidates}
        top = sorted(candidates, key=lambda row: (-fused[row], best_rank[row], row))[:k]
        n = len(top)
        rows[q, :n] = top
        scores[q, :n] = [fused[row] for row in top]
        for name in names:  # one array assignment per retriever, not one per result
            places = [seen[name].get(row, (0, np.nan)) for row in top]
            ranks[name][q, :n] = [rank for rank, _ in places]
            raw[name][q, :n] = [score for _, score in places]
    sources = {name: SourceHits(ranks[name], raw[name]) for name in names}
    return FusedHits(scores, rows, sources)
