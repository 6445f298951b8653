"""Evaluation: ranking metrics (ranx), pair-classification metrics (scikit-learn), evaluators."""

from shopmatch.eval.evaluator import EvalResult, evaluate_rerank, evaluate_retrieval
from shopmatch.eval.metrics import pair_metrics, ranking_metrics

__all__ = ["EvalResult", "evaluate_rerank", "evaluate_retrieval", "pair_metrics", "ranking_metrics"]
