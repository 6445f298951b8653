"""Dev-set evaluators that sentence-transformers' trainers call after each epoch.

- :class:`RerankDevEvaluator`: each dev query's judged products ranked by the model; graded
  NDCG@10 (the training targets are the gains scaled to [0, 1], and linear NDCG does not change
  under scaling, so this is the benchmark's NDCG) and MRR@10 (target 1 counts as relevant).
- :class:`PairDevEvaluator`: accuracy, macro-F1 (and AUC for two classes) of a pair classifier.
- :class:`RetrievalDevEvaluator`: a bi-encoder searches the whole catalog for each dev query;
  graded NDCG@10, MRR@10 and Recall@100.

Example:
    >>> from shopmatch.train.data import LabeledPair
    >>> dev = [LabeledPair("mug", "red mug", 1.0, "q1", "a"), LabeledPair("mug", "hose", 0.0, "q1", "b")]
    >>> RerankDevEvaluator(dev).primary_metric
    'dev_ndcg@10'
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from sentence_transformers.base.evaluation.evaluator import SentenceEvaluator

from shopmatch.eval.metrics import pair_metrics, ranking_metrics
from shopmatch.progress import progress_enabled
from shopmatch.train.data import LabeledPair

if TYPE_CHECKING:
    from shopmatch.catalog import Product
    from shopmatch.encoders.product_text import ProductTextTemplate
    from shopmatch.judgments import GainMap, Judgments

logger = logging.getLogger(__name__)


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


class RetrievalDevEvaluator(SentenceEvaluator):
    """The bi-encoder being trained searches the whole catalog for each dev query (exact inner
    product over normalized vectors); graded NDCG@10, MRR@10 and Recall@100 with the project's metrics.

    Args:
        dev: the dev judgments.
        products: the catalog searched.
        gains: label → gain (and what counts as relevant).
        template: how a product becomes text.
        batch_size: texts per forward pass.
    """

    def __init__(
        self,
        dev: Judgments,
        products: Sequence[Product],
        gains: GainMap,
        template: ProductTextTemplate,
        batch_size: int = 64,
    ) -> None:
        super().__init__()
        self.name = "dev"
        self.primary_metric = "dev_ndcg@10"
        self.batch_size = batch_size
        self.texts = [template.render(p) for p in products]
        self.ids = [p.id for p in products]
        self.query_ids = dev.query_ids
        self.queries = [dev.queries[q] for q in self.query_ids]
        self.qrels, self.relevant = dev.qrels(gains), dev.relevant(gains)
        self.recall_relevant = dev.relevant(gains, for_recall=True)
        self.depth = min(100, len(self.ids))

    def __call__(self, model: Any, output_path: str | None = None, epoch: int = -1, steps: int = -1) -> dict:
        started = time.perf_counter()
        kwargs = dict(batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True)
        docs = model.encode(self.texts, show_progress_bar=progress_enabled(), **kwargs)  # (n_products, dim)
        vectors = model.encode(self.queries, show_progress_bar=False, **kwargs)  # (n_queries, dim)
        scores = vectors @ docs.T  # (n_queries, n_products)
        top = np.argpartition(-scores, self.depth - 1, axis=1)[:, : self.depth]
        run = {}
        for i, q in enumerate(self.query_ids):
            order = top[i][np.argsort(-scores[i, top[i]], kind="stable")]
            run[q] = [(self.ids[r], float(scores[i, r])) for r in order]
        metrics = ranking_metrics(
            self.qrels, self.relevant, run, ("ndcg@10", "mrr@10", "recall@100"), recall_relevant=self.recall_relevant
        ).mean
        logger.info("dev retrieval (epoch %s) in %.1f s", epoch, time.perf_counter() - started)
        metrics = self.prefix_name_to_metrics(metrics, self.name)
        self.store_metrics_in_model_card_data(model, metrics, epoch, steps)
        return metrics
