"""Metric kernels: ranking metrics through ranx, pair metrics through scikit-learn.

Ranking:
    - ``ndcg@10``: linear gains (Järvelin & Kekäläinen) from the gain map, ideal ranking over
      all judged products of the query.
    - ``mrr@10``, ``recall@100``, ``map@100``: binary relevance (the gain map decides what is
      relevant; for ESCI, E only, or E and S for recall per the benchmark protocol).

ranx takes integer relevance, so gains are scaled by 1000 and rounded; linear NDCG does not
change under scaling, and ESCI's 1/0.1/0.01 survive the rounding exactly.

Example:
    >>> qrels = {"q": {"a": 1.0, "b": 0.1}}
    >>> run = {"q": [("b", 2.0), ("a", 1.0)]}  # DCG = 0.1/log2(2) + 1/log2(3); IDCG = 1 + 0.1/log2(3)
    >>> m = ranking_metrics(qrels, {"q": {"a"}}, run)
    >>> round(m.mean["ndcg@10"], 4), m.mean["mrr@10"]
    (0.6876, 0.5)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

GAIN_SCALE = 1000
DEFAULT_RANKING_METRICS = ("ndcg@10", "mrr@10", "recall@100", "map@100")
_PLACEHOLDER = "\x00no-result"


@dataclass
class RankingMetrics:
    """Mean and per-query values of each metric."""

    mean: dict[str, float]
    per_query: dict[str, dict[str, float]]


def ranking_metrics(
    qrels: Mapping[str, Mapping[str, float]],
    relevant: Mapping[str, set[str]],
    run: Mapping[str, Sequence[tuple[str, float]]],
    metrics: Sequence[str] = DEFAULT_RANKING_METRICS,
    recall_relevant: Mapping[str, set[str]] | None = None,
) -> RankingMetrics:
    """Compute ranking metrics over the queries of ``qrels``.

    Args:
        qrels: query → product → gain (for NDCG).
        relevant: query → relevant products (for MRR, MAP, and Recall unless
            ``recall_relevant`` is given).
        run: query → ranked (product, score), best first; queries missing from the run
            count as returning nothing.
        metrics: ranx metric names.
        recall_relevant: A different relevant set for ``recall@k`` (ESCI: E and S).

    Returns:
        :class:`RankingMetrics` (queries with no relevant product score 0 on binary metrics).
    """
    from ranx import Qrels, Run, evaluate

    query_ids = sorted(qrels)
    if not query_ids:
        return RankingMetrics({m: 0.0 for m in metrics}, {m: {} for m in metrics})
    run_dict = {}
    for q in query_ids:
        ranked = list(run.get(q, ()))
        # ranx orders by score; give every result a strictly decreasing score so ties
        # keep the order the system returned.
        n = len(ranked)
        run_dict[q] = {pid: float(n - i) for i, (pid, _) in enumerate(ranked)} or {_PLACEHOLDER: 0.0}
    mean: dict[str, float] = {}
    per_query: dict[str, dict[str, float]] = {}
    for metric in metrics:
        if metric.startswith("ndcg"):
            table = {q: {p: int(round(g * GAIN_SCALE)) for p, g in qrels[q].items()} for q in query_ids}
        else:
            chosen = recall_relevant if (metric.startswith("recall") and recall_relevant) else relevant
            table = {q: {p: int(p in chosen.get(q, ())) for p in qrels[q]} for q in query_ids}
        ranx_qrels = Qrels(table)
        ranx_run = Run(run_dict)
        scores = evaluate(ranx_qrels, ranx_run, metric, return_mean=False, make_comparable=True)
        values = dict(zip(sorted(ranx_run.get_query_ids()), np.atleast_1d(scores).tolist(), strict=False))
        per_query[metric] = {q: float(values.get(q, 0.0)) for q in query_ids}
        mean[metric] = float(np.mean(list(per_query[metric].values()))) if query_ids else 0.0
    return RankingMetrics(mean, per_query)


def pair_metrics(
    labels: Sequence[int], predictions: Sequence[int], probabilities: np.ndarray | None = None
) -> dict[str, float]:
    """Classification metrics for pair sets.

    Args:
        labels: True classes.
        predictions: Predicted classes.
        probabilities: ``(n,)`` positive-class probabilities (binary) or ``(n, classes)``;
            enables ``auc`` and ``mse`` (Brier score / squared error of the expected class).

    Returns:
        ``accuracy``, ``precision``, ``recall``, ``f1`` (binary for two classes, macro
        otherwise), plus ``auc`` and ``mse`` when probabilities are given.

    Example:
        >>> pair_metrics([1, 0, 1, 1], [1, 0, 0, 1])["f1"]
        0.8
    """
    from sklearn.metrics import (
        accuracy_score,
        mean_squared_error,
        precision_recall_fscore_support,
        roc_auc_score,
    )

    y = np.asarray(labels)
    p = np.asarray(predictions)
    classes = np.unique(np.concatenate([y, p]))
    binary = set(classes.tolist()) <= {0, 1}
    average = "binary" if binary else "macro"
    precision, recall, f1, _ = precision_recall_fscore_support(y, p, average=average, zero_division=0)
    out = {
        "accuracy": float(accuracy_score(y, p)),
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
        "n": int(len(y)),
    }
    if probabilities is not None:
        prob = np.asarray(probabilities, dtype=np.float64)
        if binary and prob.ndim == 2 and prob.shape[1] == 2:
            prob = prob[:, 1]  # (n, 2) class probabilities → positive-class probability
        if binary and prob.ndim == 1:
            if len(np.unique(y)) == 2:
                out["auc"] = float(roc_auc_score(y, prob))
            out["mse"] = float(mean_squared_error(y, prob))
        elif prob.ndim == 2:
            if len(np.unique(y)) == prob.shape[1]:
                out["auc"] = float(roc_auc_score(y, prob, multi_class="ovr", average="macro"))
            expected = prob @ np.arange(prob.shape[1])
            out["mse"] = float(mean_squared_error(y, expected))
    return out
