"""The re-ranking stage: the top ``rerank.top_n`` fused candidates re-ordered by the cross-encoder.

Example:
    >>> hits = rerank_hits(reranker, ["usb cable"], fused, 10, snapshot.record)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from shopmatch.hits import FusedHits, SourceHits
from shopmatch.rerank.blend import blended_scores
from shopmatch.rerank.cross_encoder import CrossEncoderReranker


def rerank_hits(
    reranker: CrossEncoderReranker,
    queries: Sequence[str],
    fused: FusedHits,
    k: int,
    record_of: Callable[[int], dict[str, Any]],
    *,
    top_n: int | None = None,
) -> FusedHits:
    """Each query's top ``top_n`` (default ``reranker.config.top_n``) rows re-ordered by the cross-encoder (blended
    with the fused order by ``fusion_weight``); rows beyond them keep their fused order; ``k`` kept.

    The returned sources add ``fusion`` (the place before re-ranking) and ``rerank`` (the place
    and probability after it; rank 0 for rows that were not re-ranked).
    """
    config = reranker.config
    n_queries = len(queries)
    rows = np.full((n_queries, k), -1, dtype=np.int64)
    scores = np.zeros((n_queries, k), dtype=np.float32)
    names = [*fused.sources, "fusion", "rerank"]
    ranks = {name: np.zeros((n_queries, k), dtype=np.int32) for name in names}
    raw = {name: np.full((n_queries, k), np.nan, dtype=np.float32) for name in names}
    for q, query in enumerate(queries):
        found = int((fused.rows[q] >= 0).sum())
        n = min(found, config.top_n if top_n is None else top_n)
        texts = [reranker.text_of(record_of(int(row))) for row in fused.rows[q, :n]]
        probabilities = reranker.score(query, texts)
        final = blended_scores(probabilities, config.fusion_weight)
        order = np.concatenate([np.argsort(-final, kind="stable"), np.arange(n, found)])[:k]
        taken = len(order)
        rows[q, :taken] = fused.rows[q, order]
        scores[q, :taken] = np.concatenate([final, fused.scores[q, n:found]])[order]
        for name, source in fused.sources.items():
            ranks[name][q, :taken] = source.ranks[q, order]
            raw[name][q, :taken] = source.scores[q, order]
        ranks["fusion"][q, :taken] = order + 1
        raw["fusion"][q, :taken] = fused.scores[q, order]
        reranked = order < n
        ranks["rerank"][q, :taken] = np.where(reranked, np.arange(1, taken + 1), 0)
        raw["rerank"][q, :taken] = np.where(
            reranked, np.concatenate([probabilities, np.zeros(found - n)])[order], np.nan
        )
    return FusedHits(scores, rows, {name: SourceHits(ranks[name], raw[name]) for name in names})
