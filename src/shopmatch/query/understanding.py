"""What the searcher understood of one query from its prepared forms: synonyms and category intent.

:func:`understand_prepared` runs once per query, after each retriever has prepared it: the
configured synonyms (:mod:`shopmatch.query.synonyms`) are added to the BM25F query, and the
category-intent model (:mod:`shopmatch.query.intent`) predicts the query's categories from the
bi-encoder's query vector. :meth:`QueryUnderstanding.boosted` then applies the intent boost to
the fused candidates. ``QueryUnderstanding.to_dict`` is what ``/search``, ``/explain`` and
``shopmatch search --json`` show.

Example:
    >>> QueryUnderstanding().to_dict()
    {'expansions': [], 'predicted_categories': [], 'intent_weight': 0.0}
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from shopmatch.query.intent import IntentModel, PredictedCategory, boost_by_intent, candidate_intent_scores
from shopmatch.query.synonyms import Expansion, expanded_terms, synonym_table

if TYPE_CHECKING:
    from shopmatch.backends.base import IndexSnapshot
    from shopmatch.hits import FusedHits


@dataclass
class QueryUnderstanding:
    """The synonyms a query searched for and the categories predicted for it.

    Attributes:
        expansions: each synonym added to the BM25F query.
        categories: the most probable categories (deepest level), best first.
        model, probabilities: the intent model and the query's probability of each of its
            categories (None: no intent for this index).
        weight: the intent boost's weight (0: no boost).
    """

    expansions: list[Expansion] = field(default_factory=list)
    categories: list[PredictedCategory] = field(default_factory=list)
    model: IntentModel | None = None
    probabilities: np.ndarray | None = None
    weight: float = 0.0

    def intent_scores(self, index: IndexSnapshot, rows: np.ndarray) -> np.ndarray:
        """Each row's intent score for this query (zeros without an intent model): the ranker feature."""
        if self.model is None or self.probabilities is None:
            return np.zeros(len(rows), dtype=np.float64)
        return candidate_intent_scores(self.model, self.probabilities, rows, index.record)

    def boosted(self, index: IndexSnapshot, hits: FusedHits) -> FusedHits:
        """One query's fused ``hits`` with the intent boost applied (themselves when there is none)."""
        if self.model is None or self.weight <= 0 or not len(hits.found(0)):
            return hits
        return boost_by_intent(hits, self.intent_scores(index, hits.found(0)), self.weight)

    def to_dict(self) -> dict[str, Any]:
        return {
            "expansions": [e.to_dict() for e in self.expansions],
            "predicted_categories": [c.to_dict() for c in self.categories],
            "intent_weight": self.weight,
        }


def understand_prepared(index: IndexSnapshot, prepared: MutableMapping[str, Any]) -> QueryUnderstanding:
    """Add the synonyms to ``prepared["lexical"]`` (in place) and predict the categories."""
    out = QueryUnderstanding()
    config = index.config
    if "lexical" in prepared and prepared["lexical"] is not None:
        table = synonym_table(config.synonyms, config.lexical)
        if table is not None:
            out.expansions = table.expansions(prepared["lexical"], config.synonyms.weight)
            prepared["lexical"] = expanded_terms(prepared["lexical"], out.expansions)
    model = index.intent
    vector = prepared.get("dense")
    if model is not None and vector is not None:
        out.model = model
        out.probabilities = model.probabilities(vector)
        out.categories = model.predict(vector, probabilities=out.probabilities)
        out.weight = config.intent.weight
    return out
