"""The learned-ranker stage: each query's top ``ranker.top_n`` candidates re-ordered by the ranker.

It runs after fusion, feedback and the cross-encoder (when the index has one), before the
exclusion demotion: the cross-encoder's probability is one of its features, and its order
replaces the cross-encoder's. Candidates beyond ``top_n`` keep their order after the re-ordered ones.

Example:
    >>> hits = rank_hits(ranker, snapshot, query, prepared, fused, top_n=100)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from shopmatch.backends.base import IndexSnapshot
from shopmatch.hits import FusedHits, SourceHits
from shopmatch.query.query import Query
from shopmatch.rank.feature_groups import ranker_features
from shopmatch.rank.model import Ranker


def rank_hits(
    ranker: Ranker, index: IndexSnapshot, query: Query, prepared: Mapping[str, Any], hits: FusedHits, *, top_n: int
) -> FusedHits:
    """One query's ``hits`` with its first ``top_n`` re-ordered by the ranker's score (the rest after
    them, in their order), the same width.

    The sources add ``ranker`` (the place and score after it; rank 0 beyond ``top_n``) and, when not
    there yet, ``fusion`` (the place before it).
    """
    found = int((hits.rows[0] >= 0).sum())
    n = min(found, top_n)
    width = hits.rows.shape[1]
    scores = ranker.predict(ranker_features(ranker, index, query, prepared, hits, n))
    ranked = np.argsort(-scores, kind="stable")  # ties keep the order they came in
    scores[ranked] = _strictly_decreasing(scores[ranked])
    scores = scores.astype(np.float32)
    order = np.concatenate([ranked, np.arange(n, found)])
    rows = np.full((1, width), -1, dtype=np.int64)
    out_scores = np.zeros((1, width), dtype=np.float32)
    rows[0, :found] = hits.rows[0, order]
    # beyond top_n: below every ranked one, in their order
    tail = scores.min() - 1.0 - np.arange(found - n, dtype=np.float32) if n else hits.scores[0, n:found]
    out_scores[0, :found] = np.concatenate([scores, tail])[order]
    sources = {name: _reordered(s, order, width) for name, s in hits.sources.items()}
    if "fusion" not in sources:
        fusion_ranks = np.zeros((1, width), dtype=np.int32)
        fusion_scores = np.full((1, width), np.nan, dtype=np.float32)
        fusion_ranks[0, :found] = order + 1
        fusion_scores[0, :found] = hits.scores[0, order]
        sources["fusion"] = SourceHits(fusion_ranks, fusion_scores)
    ranked = order < n
    ranker_ranks = np.zeros((1, width), dtype=np.int32)
    ranker_scores = np.full((1, width), np.nan, dtype=np.float32)
    ranker_ranks[0, :found] = np.where(ranked, np.arange(1, found + 1), 0)
    ranker_scores[0, :found] = np.where(ranked, out_scores[0, :found], np.nan)
    sources["ranker"] = SourceHits(ranker_ranks, ranker_scores)
    return FusedHits(out_scores, rows, sources)


def _strictly_decreasing(scores: np.ndarray) -> np.ndarray:
    """Scores sorted best first, ties (and near-ties) nudged apart so that whoever orders by score
    (rerank mode's evaluation) keeps the stage's order: ``out[i] = min(scores[i], out[i - 1] - step)``,
    computed as a running minimum of ``scores[j] + j · step``."""
    out = scores.astype(np.float64)
    step = 1e-4 * max(1.0, float(np.abs(out).max(initial=0.0)))
    shift = step * np.arange(len(out), dtype=np.float64)
    return np.minimum.accumulate(out + shift) - shift


def _reordered(source: SourceHits, order: np.ndarray, width: int) -> SourceHits:
    ranks = np.zeros((1, width), dtype=np.int32)
    scores = np.full((1, width), np.nan, dtype=np.float32)
    ranks[0, : len(order)] = source.ranks[0, order]
    scores[0, : len(order)] = source.scores[0, order]
    return SourceHits(ranks, scores)


def ranker_explanation(
    index: IndexSnapshot, query: Query, prepared: Mapping[str, Any], hits: FusedHits, rows: list[int], top_n: int
) -> dict[int, dict[str, Any]]:
    """For the given ``rows`` among the first ``top_n`` of ``hits`` (the candidates the ranker saw):
    ``{"features": {name: value}, "contributions": {name: share of the score, ..., "bias"}}``."""
    ranker = index.ranker
    n = min(int((hits.rows[0] >= 0).sum()), top_n)
    place = {int(row): i for i, row in enumerate(hits.rows[0, :n])}
    wanted = [row for row in rows if row in place]
    if ranker is None or not wanted:
        return {}
    features = ranker_features(ranker, index, query, prepared, hits, n)
    out = {}
    for row in wanted:
        values = features[place[row]]
        contributions = ranker.contributions(values)
        out[row] = {
            "features": {name: round(float(v), 6) for name, v in zip(ranker.feature_names, values, strict=True)},
            "contributions": {name: round(v, 6) for name, v in contributions.items()},
        }
    return out
