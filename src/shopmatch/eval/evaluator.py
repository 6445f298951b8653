"""Evaluate a pipeline on judgments in retrieval mode or rerank mode.

- **retrieval**: every judged query searches the whole catalog; unjudged products count as
  irrelevant. Reports NDCG@10, MRR@10, Recall@100, MAP@100.
- **rerank**: each query's judged products are the candidates, ordered by the pipeline's
  scores. Products the pipeline gives equal scores keep a label-blind order (by product id),
  so a file sorted by label cannot leak into the ranking.

Example:
    >>> from shopmatch.catalog import Product
    >>> from shopmatch.judgments import Judgment, Judgments, GainMap
    >>> from shopmatch.pipeline import SearchPipeline
    >>> pipe = SearchPipeline.build([Product("a", "red mug"), Product("b", "blue mug")])
    >>> j = Judgments([Judgment("q1", "red mug", "a", "E"), Judgment("q1", "red mug", "b", "I")])
    >>> evaluate_retrieval(pipe, j, GainMap.esci()).metrics["ndcg@10"]
    1.0
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from shopmatch.eval.metrics import ranking_metrics
from shopmatch.judgments import GainMap, Judgments
from shopmatch.progress import track


class Searchable(Protocol):
    def search_ids(self, queries: Sequence[str], k: int = 100) -> list[list[tuple[str, float]]]: ...

    def score_candidates(self, query: str, product_ids: Sequence[str]) -> Any: ...


@dataclass
class EvalResult:
    """Metrics of one evaluation run.

    Attributes:
        mode: ``"retrieval"`` or ``"rerank"``.
        metrics: metric name → mean over queries.
        per_query: metric name → query id → value.
        queries: Number of queries evaluated.
        run: query id → ranked product ids (what the system returned).
    """

    mode: str
    metrics: dict[str, float]
    per_query: dict[str, dict[str, float]]
    queries: int
    run: dict[str, list[str]] = field(default_factory=dict, repr=False)
    gains: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            **{k: round(v, 6) for k, v in self.metrics.items()},
            "queries": self.queries,
            "mode": self.mode,
            "gains": self.gains,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict())


def evaluate_retrieval(
    pipeline: Searchable, judgments: Judgments, gains: GainMap, *, depth: int = 100, batch_size: int = 64
) -> EvalResult:
    """Search the whole catalog with every judged query and score the rankings."""
    query_ids = judgments.query_ids
    run: dict[str, list[tuple[str, float]]] = {}
    batches = [query_ids[i : i + batch_size] for i in range(0, len(query_ids), batch_size)]
    for batch in track(batches, total=len(batches), description="Evaluating"):
        results = pipeline.search_ids([judgments.queries[q] for q in batch], k=depth)
        run.update(zip(batch, results, strict=True))
    return score_run(run, judgments, gains, "retrieval")


def evaluate_rerank(pipeline: Searchable, judgments: Judgments, gains: GainMap) -> EvalResult:
    """Order each query's judged products by the pipeline's scores and score the rankings."""
    run: dict[str, list[tuple[str, float]]] = {}
    for q in track(judgments.query_ids, total=len(judgments.queries), description="Re-ranking"):
        candidates = sorted(r.product_id for r in judgments.by_query[q])
        scores = pipeline.score_candidates(judgments.queries[q], candidates)
        order = sorted(range(len(candidates)), key=lambda i: (-float(scores[i]), candidates[i]))
        run[q] = [(candidates[i], float(scores[i])) for i in order]
    return score_run(run, judgments, gains, "rerank")


def score_run(
    run: Mapping[str, list[tuple[str, float]]], judgments: Judgments, gains: GainMap, mode: str
) -> EvalResult:
    """The metrics of a ranked ``run`` (query id → (product id, score) best first), however it was made.

    ``mode`` is ``"retrieval"`` (NDCG@10, MRR@10, Recall@100, MAP@100) or ``"rerank"`` (no recall).
    """
    metrics = (
        ("ndcg@10", "mrr@10", "recall@100", "map@100") if mode == "retrieval" else ("ndcg@10", "mrr@10", "map@100")
    )
    result = ranking_metrics(
        judgments.qrels(gains),
        judgments.relevant(gains),
        run,
        metrics,
        recall_relevant=judgments.relevant(gains, for_recall=True),
    )
    return EvalResult(
        mode,
        result.mean,
        result.per_query,
        len(judgments.queries),
        {q: [p for p, _ in ranked] for q, ranked in run.items()},
        str(gains),
    )


EVALUATORS: dict[str, Callable[..., EvalResult]] = {"retrieval": evaluate_retrieval, "rerank": evaluate_rerank}
