"""Dev-set evaluators that sentence-transformers' trainers call after each epoch.

- :class:`RerankDevEvaluator`: each dev query's judged products ranked by the model; graded
  NDCG@10 (the training targets are the gains scaled to [0, 1], and linear NDCG does not change
  under scaling, so this is the benchmark's NDCG) and MRR@10 (target 1 counts as relevant).
- :class:`PairDevEvaluator`: accuracy, macro-F1 (and AUC for two classes) of a pair classifier.

Example:
    >>> from shopmatch.train.data import LabeledPair
    >>> dev = [LabeledPair("mug", "red mug", 1.0, "q1", "a"), LabeledPair("mug", "hose", 0.0, "q1", "b")]
    >>> RerankDevEvaluator(dev).primary_metric
    'dev_ndcg@10'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sentence_transformers.base.evaluation.evaluator import SentenceEvaluator

from shopmatch.eval.metrics import pair_metrics, ranking_metrics
from shopmatch.train.data import LabeledPair


class RerankDevEvaluator(SentenceEvaluator):
    """Ranks each dev query's judged products with a cross-encoder and scores the rankings.

    Args:
        pairs: dev examples with ``query_id`` and ``product_id`` set (from ``labeled_pairs``).
        name: metric prefix (``dev`` gives ``dev_ndcg@10``; the trainer adds ``eval_``).
        batch_size: pairs per forward pass.
    """

    def __init__(self, pairs: Sequence[LabeledPair], name: str = "dev", batch_size: int = 64) -> None:
        super().__init__()
        self.pairs = list(pairs)
        self.name = name
        self.batch_size = batch_size
        self.primary_metric = f"{name}_ndcg@10"
        self.qrels: dict[str, dict[str, float]] = {}
        for p in self.pairs:
            self.qrels.setdefault(p.query_id, {})[p.product_id] = p.target
        self.relevant = {q: {pid for pid, t in judged.items() if t >= 1.0} for q, judged in self.qrels.items()}

    def scores(self, model: Any) -> np.ndarray:
        return np.asarray(
            model.predict([(p.query, p.text) for p in self.pairs], batch_size=self.batch_size, show_progress_bar=False),
            dtype=np.float64,
        )

    def __call__(self, model: Any, output_path: str | None = None, epoch: int = -1, steps: int = -1) -> dict:
        scores = self.scores(model)
        run: dict[str, list[tuple[str, float]]] = {}
        for pair, score in zip(self.pairs, scores, strict=True):
            run.setdefault(pair.query_id, []).append((pair.product_id, float(score)))
        for ranked in run.values():
            ranked.sort(key=lambda item: (-item[1], item[0]))  # label-blind tie break, as in evaluate_rerank
        result = ranking_metrics(self.qrels, self.relevant, run, ("ndcg@10", "mrr@10"))
        metrics = self.prefix_name_to_metrics(result.mean, self.name)
        self.store_metrics_in_model_card_data(model, metrics, epoch, steps)
        return metrics


class PairDevEvaluator(SentenceEvaluator):
    """Classification metrics of a cross-encoder pair classifier on a dev set.

    With one output (two classes) the positive-class probability is thresholded at 0.5; with
    several outputs the class is the arg-max of the softmax.
    """

    def __init__(
        self, pairs: Sequence[tuple[str, str]], labels: Sequence[int], name: str = "dev", batch_size: int = 64
    ) -> None:
        super().__init__()
        self.pairs = list(pairs)
        self.labels = np.asarray(labels, dtype=np.int64)
        self.name = name
        self.batch_size = batch_size
        self.primary_metric = f"{name}_f1"

    def __call__(self, model: Any, output_path: str | None = None, epoch: int = -1, steps: int = -1) -> dict:
        predictions, probabilities = predict_classes(model, self.pairs, self.batch_size)
        metrics = pair_metrics(self.labels.tolist(), predictions.tolist(), probabilities)
        metrics.pop("n", None)
        metrics = self.prefix_name_to_metrics(metrics, self.name)
        self.store_metrics_in_model_card_data(model, metrics, epoch, steps)
        return metrics


def predict_classes(
    model: Any, pairs: Sequence[tuple[str, str]], batch_size: int = 64
) -> tuple[np.ndarray, np.ndarray]:
    """Predicted classes ``(n,)`` and probabilities (``(n,)`` positive class, or ``(n, classes)``)."""
    import torch

    if model.num_labels == 1:
        probabilities = np.asarray(
            model.predict(list(pairs), batch_size=batch_size, show_progress_bar=False), dtype=np.float64
        )
        return (probabilities >= 0.5).astype(np.int64), probabilities
    logits = model.predict(
        list(pairs),
        batch_size=batch_size,
        show_progress_bar=False,
        activation_fn=torch.nn.Identity(),
        convert_to_tensor=True,
    )
    probabilities = torch.softmax(logits.float(), dim=-1).cpu().numpy().astype(np.float64)
    return probabilities.argmax(axis=1).astype(np.int64), probabilities
