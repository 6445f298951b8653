"""Blending the cross-encoder's order with the first-stage (fused) order.

A cross-encoder trained on a few hundred judged queries can be less reliable than the retrievers
it re-ranks. Blending keeps part of the first-stage order, the way reciprocal rank fusion does:
``score = 1 / (60 + rerank rank) + fusion_weight / (60 + fusion rank)``.

Example:
    >>> blended_scores(np.array([0.1, 0.9, 0.5]), fusion_weight=0.0)   # the probabilities as they are
    array([0.1, 0.9, 0.5])
    >>> np.argsort(-blended_scores(np.array([0.1, 0.9, 0.5]), fusion_weight=1.0)).tolist()
    [1, 0, 2]
"""

from __future__ import annotations

import numpy as np

RANK_CONSTANT = 60.0


def ranks_of(scores: np.ndarray) -> np.ndarray:
    """1-based rank of each score, highest first (ties keep their input order)."""
    ranks = np.empty(len(scores), dtype=np.float64)
    ranks[np.argsort(-np.asarray(scores), kind="stable")] = np.arange(1, len(scores) + 1)
    return ranks


def blended_scores(
    probabilities: np.ndarray, fusion_weight: float, fusion_ranks: np.ndarray | None = None
) -> np.ndarray:
    """The final re-ranking scores of candidates.

    Args:
        probabilities: the cross-encoder's probability per candidate.
        fusion_weight: weight of the first-stage order (0: the probabilities are returned as they are).
        fusion_ranks: each candidate's 1-based first-stage rank; by default the input order
            (candidate ``i`` has rank ``i + 1``).
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if fusion_weight == 0:
        return probabilities
    if fusion_ranks is None:
        fusion_ranks = np.arange(1, len(probabilities) + 1, dtype=np.float64)
    return 1.0 / (RANK_CONSTANT + ranks_of(probabilities)) + fusion_weight / (RANK_CONSTANT + fusion_ranks)
