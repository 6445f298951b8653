"""Training data for the ranker from judgments: each judged query's candidates, features and graded labels.

A query's candidates are the pipeline's fused top ``candidates`` plus its judged products (as
rerank mode scores them: fused, with feedback, re-ranked by the cross-encoder when there is one);
unjudged candidates get label 0. Labels are grades: the judgments' distinct gains in increasing
order are 0, 1, 2, … (ESCI: I=0, C=1, S=2, E=3), as LambdaMART's integer relevance levels.

Example:
    >>> grades({"a": 1.0, "b": 0.1, "c": 0.0, "d": 0.1})
    {0.0: 0, 0.1: 1, 1.0: 2}
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from shopmatch.judgments import GainMap, Judgments
from shopmatch.pipeline import SearchPipeline
from shopmatch.progress import track
from shopmatch.rank.features import FEATURE_NAMES, FEATURE_VERSION, candidate_features
from shopmatch.rank.model import Ranker
from shopmatch.search import ranker_inputs


@dataclass
class RankingData:
    """Feature rows grouped by query (``groups``: rows per query, in ``query_ids`` order) and grades."""

    query_ids: list[str]
    features: np.ndarray
    labels: np.ndarray
    groups: list[int]

    def subset(self, query_ids: Sequence[str]) -> RankingData:
        """The rows of these queries, in this order."""
        starts = np.concatenate([[0], np.cumsum(self.groups)])
        where = {q: i for i, q in enumerate(self.query_ids)}
        picks = [where[q] for q in query_ids]
        rows = np.concatenate([np.arange(starts[i], starts[i + 1]) for i in picks]) if picks else np.zeros(0, int)
        return RankingData(list(query_ids), self.features[rows], self.labels[rows], [self.groups[i] for i in picks])


def grades(gains: Mapping[str, float]) -> dict[float, int]:
    """Each distinct gain's grade, counting up from 0 for gain 0 (what an unjudged candidate gets)."""
    return {gain: grade for grade, gain in enumerate(sorted({0.0, *gains.values()}))}


def ranking_data(
    pipeline: SearchPipeline, judgments: Judgments, gains: GainMap, *, candidates: int = 100
) -> RankingData:
    """Candidates, features and grades of every judged query (``pipeline`` without a ranker)."""
    snapshot = pipeline.snapshot
    qrels = judgments.qrels(gains)
    grade_of = grades({f"{q}\t{p}": g for q, judged in qrels.items() for p, g in judged.items()})
    query_ids, blocks, labels, groups = [], [], [], []
    for q in track(judgments.query_ids, total=len(judgments.query_ids), description="Features"):
        text, judged = judgments.queries[q], qrels.get(q, {})
        found = [pid for pid, _ in pipeline.search_ids([text], k=candidates)[0]]
        ids = list(dict.fromkeys([*found, *sorted(judged)]))
        inputs = ranker_inputs(snapshot, text, ids)
        n = int((inputs.hits.rows[0] >= 0).sum())
        if not n:
            continue
        features = candidate_features(snapshot, inputs.query, inputs.prepared, inputs.hits, n)
        ids_of = [snapshot.id_of(int(row)) for row in inputs.hits.rows[0, :n]]
        query_ids.append(q)
        blocks.append(features)
        labels.append([grade_of.get(judged[pid], 0) if pid in judged else 0 for pid in ids_of])
        groups.append(n)
    features = np.concatenate(blocks) if blocks else np.zeros((0, len(FEATURE_NAMES)), dtype=np.float32)
    flat = np.concatenate([np.asarray(block, dtype=np.int32) for block in labels]) if labels else np.zeros(0, np.int32)
    return RankingData(query_ids, features, flat, groups)


def train_ranker(data: RankingData, *, valid_share: float = 0.2, seed: int = 0, **params) -> Ranker:
    """LambdaMART on ``data``, early-stopped on a seeded held-out ``valid_share`` of its queries
    (none held out with fewer than 5 queries)."""
    query_ids = list(data.query_ids)
    random.Random(seed).shuffle(query_ids)
    held = int(round(len(query_ids) * valid_share)) if len(query_ids) >= 5 else 0
    train, valid = data.subset(query_ids[held:]), data.subset(query_ids[:held])
    ranker = Ranker.train(
        train.features,
        train.labels,
        train.groups,
        FEATURE_NAMES,
        valid=(valid.features, valid.labels, valid.groups) if held else None,
        seed=seed,
        feature_version=FEATURE_VERSION,
        **params,
    )
    return ranker


def cross_validated(data: RankingData, folds: int, *, seed: int = 0, **params) -> dict[str, float | int]:
    """NDCG@10 (gains ``2**grade - 1``, over each query's training candidates) of the candidates' own
    order and of rankers trained on the other folds, each query held out once (folds by query, seeded)."""
    query_ids = list(data.query_ids)
    random.Random(seed).shuffle(query_ids)
    folds = max(2, min(folds, len(query_ids)))
    before, after = [], []
    for k in range(folds):
        held = query_ids[k::folds]
        rest = [q for q in query_ids if q not in set(held)]
        ranker = train_ranker(data.subset(rest), seed=seed, **params)
        test = data.subset(held)
        start = 0
        for size in test.groups:
            features, labels = test.features[start : start + size], test.labels[start : start + size]
            start += size
            fused = features[:, FEATURE_NAMES.index("fused_rank")]
            before.append(ndcg_at(labels[np.argsort(fused, kind="stable")], 10))
            after.append(ndcg_at(labels[np.argsort(-ranker.predict(features), kind="stable")], 10))
    return {"folds": folds, "ndcg@10_before": float(np.mean(before)), "ndcg@10_ranker": float(np.mean(after))}


def ndcg_at(grades_in_order: np.ndarray, k: int) -> float:
    """NDCG@k of grades listed in ranked order (gains ``2**grade - 1``); 0 when none is relevant.

    Example:
        >>> ndcg_at(np.array([0, 1]), 10) < ndcg_at(np.array([1, 0]), 10) == 1.0
        True
    """
    gains = np.power(2.0, grades_in_order.astype(np.float64)) - 1.0
    discounts = 1.0 / np.log2(np.arange(2, min(k, len(gains)) + 2))
    ideal = float((np.sort(gains)[::-1][:k] * discounts).sum())
    return float((gains[:k] * discounts).sum()) / ideal if ideal > 0 else 0.0
