"""Choosing the ranker a shop ships: a small search over candidate models by inner cross-validation.

The candidates (:data:`CANDIDATES`) are the orders the pipeline already has — the fused order and
each retriever's own order (linear rankers of one rank feature) — and a few strongly regularised
LambdaMART settings trained with the evaluation's gains (``label_gain``), optionally with
monotone constraints on the retrievers' scores and ranks. Each is scored by NDCG@10 over held-out
queries of ``inner_folds`` folds of the training queries; the best is trained on all of them.
So a ranker never ships that did worse, on queries it was not trained on, than the best single
retriever's or the fused order: with too little data it ships one of those orders.

Example:
    >>> [c.name for c in CANDIDATES][:3]
    ['fused order', 'lexical order', 'dense order']
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from shopmatch.progress import track
from shopmatch.rank.features import FEATURE_VERSION, MISSING_RANK
from shopmatch.rank.model import Ranker
from shopmatch.rank.training import RankingData, per_query_ndcg, query_folds

# The score may only rise with a retriever's score and fall with its rank (the ranks of candidates
# a retriever did not return are a large sentinel, so "worse" stays worse).
MONOTONE = {
    "lexical_score": 1,
    "dense_score": 1,
    "word_vectors_score": 1,
    "bm25f": 1,
    "dense_cosine": 1,
    "fused_score": 1,
    "rerank_score": 1,
    "lexical_rank": -1,
    "dense_rank": -1,
    "word_vectors_rank": -1,
    "fused_rank": -1,
    "intent_score": 1,  # category intent (shopmatch.rank.intent_features)
    "intent_rank": -1,
}


@dataclass(frozen=True)
class Candidate:
    """One model the selection may ship: an order alone (``base`` without ``trees``) or LambdaMART
    ``params`` (correcting the ``base`` order when there is one)."""

    name: str
    base: str | None = None
    trees: bool = True
    params: dict[str, Any] = field(default_factory=dict)
    monotone: bool = False

    def usable(self, data: RankingData) -> bool:
        """A retriever's order is only a candidate when some candidate has a rank from it."""
        if self.base is None:
            return True
        return bool((data.features[:, data.feature_names.index(self.base)] < MISSING_RANK).any())

    def train(self, data: RankingData, *, seed: int = 0, valid_share: float = 0.2) -> Ranker:
        if not self.trees:
            ranker = Ranker.order(self.base, data.feature_names, feature_version=FEATURE_VERSION)
            ranker.summary.update(queries=len(data.groups), rows=int(len(data.labels)))
            return ranker
        monotone = MONOTONE if self.monotone else None
        return train_lambdamart(
            data, seed=seed, valid_share=valid_share, monotone=monotone, base=self.base, **self.params
        )


_CAUTIOUS = {"num_leaves": 7, "min_data_in_leaf": 50, "learning_rate": 0.05, "lambda_l2": 10.0}
CANDIDATES: tuple[Candidate, ...] = (
    Candidate("fused order", base="fused_rank", trees=False),
    Candidate("lexical order", base="lexical_rank", trees=False),
    Candidate("dense order", base="dense_rank", trees=False),
    Candidate("LambdaMART 15 leaves", params={"num_leaves": 15}),
    Candidate("LambdaMART 7 leaves, L2 10", params=_CAUTIOUS),
    Candidate("LambdaMART 7 leaves, L2 10, monotone", params=_CAUTIOUS, monotone=True),
    Candidate(
        "LambdaMART 3 leaves, monotone",
        params={"num_leaves": 3, "min_data_in_leaf": 50, "learning_rate": 0.05, "lambda_l2": 10.0},
        monotone=True,
    ),
    Candidate("LambdaMART 7 leaves, L2 10, correcting the fused order", base="fused_rank", params=_CAUTIOUS),
)


def train_lambdamart(
    data: RankingData,
    *,
    valid_share: float = 0.2,
    seed: int = 0,
    monotone: dict[str, int] | None = None,
    base: str | None = None,
    **params: Any,
) -> Ranker:
    """LambdaMART on ``data`` with its gains, early-stopped on a seeded held-out ``valid_share`` of
    its queries (none held out with fewer than 5 queries)."""
    train, valid = data.held_out(valid_share, seed)
    held = len(valid.query_ids)
    return Ranker.train(
        train.features,
        train.labels,
        train.groups,
        data.feature_names,
        valid=(valid.features, valid.labels, valid.groups) if held else None,
        seed=seed,
        feature_version=FEATURE_VERSION,
        label_gain=data.gains or None,
        monotone=monotone,
        base=base,
        **params,
    )


def held_out_scores(data: RankingData, candidate: Candidate, folds: int, *, seed: int = 0) -> dict[str, float]:
    """Each query's NDCG@10 over its candidates when ``candidate`` is trained on the other folds."""
    out: dict[str, float] = {}
    for train, held in query_folds(data.query_ids, folds, seed=seed):
        ranker = candidate.train(data.subset(train), seed=seed)
        test = data.subset(held)
        out.update(zip(held, per_query_ndcg(test, ranker.predict(test.features)).tolist(), strict=True))
    return out


@dataclass
class Selection:
    """The shipped ranker and every candidate's inner cross-validated NDCG@10 (best first)."""

    ranker: Ranker
    chosen: str
    scores: dict[str, float]


def fit_ranker(
    data: RankingData,
    *,
    candidates: Sequence[Candidate] = CANDIDATES,
    inner_folds: int = 3,
    seed: int = 0,
    progress: Callable[[Any], Any] | None = None,
) -> Selection:
    """Score each candidate by ``inner_folds``-fold cross-validation over ``data``'s queries, train the
    best on all of them; its summary records the choice (``selection``) and every score."""
    usable = [c for c in candidates if c.usable(data)]
    scores: dict[str, float] = {}
    loop = progress or (lambda items: track(items, total=len(usable), description="Choosing the ranker"))
    for candidate in loop(usable):
        per_query = held_out_scores(data, candidate, inner_folds, seed=seed)
        scores[candidate.name] = float(np.mean(list(per_query.values()))) if per_query else 0.0
    # ties go to the earlier (simpler) candidate
    best = max(usable, key=lambda c: (scores[c.name], -usable.index(c)))
    ranker = best.train(data, seed=seed)
    ranker.groups = tuple(data.feature_groups)  # the stage computes their columns after the base features
    ranker.summary["selection"] = {
        "chosen": best.name,
        "inner_folds": inner_folds,
        "ndcg@10": dict(sorted(scores.items(), key=lambda kv: -kv[1])),
    }
    if data.gains:
        ranker.summary["gains"] = list(data.gains)
    return Selection(ranker, best.name, ranker.summary["selection"]["ndcg@10"])


def cross_validated(
    data: RankingData, folds: int, *, inner_folds: int = 3, seed: int = 0, candidates: Sequence[Candidate] = CANDIDATES
) -> dict[str, Any]:
    """Nested cross-validation of :func:`fit_ranker`: NDCG@10 of the candidates' own order and of the
    ranker chosen and trained on the other folds, each query held out once (folds by query, seeded)."""
    before, after, chosen = [], [], []
    splits = query_folds(data.query_ids, folds, seed=seed)
    for train, held in track(splits, total=len(splits), description="Cross-validating"):
        selection = fit_ranker(
            data.subset(train), candidates=candidates, inner_folds=inner_folds, seed=seed, progress=lambda items: items
        )
        test = data.subset(held)
        fused = test.features[:, test.feature_names.index("fused_rank")].astype(np.float64)
        before.extend(per_query_ndcg(test, -fused).tolist())
        after.extend(per_query_ndcg(test, selection.ranker.predict(test.features)).tolist())
        chosen.append(selection.chosen)
    return {
        "folds": len(splits),
        "ndcg@10_before": float(np.mean(before)),
        "ndcg@10_ranker": float(np.mean(after)),
        "chosen": chosen,
    }
