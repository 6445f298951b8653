"""BM25F over a live segment: products added since the index was built, scored as if indexed with it.

A new product's term weights use the base index's statistics (its product count, each term's
document frequency and each field's average length), exactly the formula of
:mod:`shopmatch.retrieval.lexical`, so the segment's scores merge with the index's by value.
Compaction builds the index again and the statistics catch up.

Example:
    >>> segment = LexicalSegment([{"bottl": 1.2, "water": 1.0}], idf_of=lambda term: 2.0, k1=0.75)
    >>> segment.search([["water", "bottl"]], k=1).query(0)
    [(0, 2.3736...)]
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from shopmatch.hits import SearchHits, stacked, top_by_score
from shopmatch.query.synonyms import term_weights
from shopmatch.text.fields import field_text

if TYPE_CHECKING:
    from shopmatch.catalog import Product
    from shopmatch.retrieval.lexical import LexicalConfig, LexicalRetriever


def idf(num_docs: int, document_frequency: int) -> float:
    """Lucene's BM25 idf, as the lexical retriever computes it."""
    return math.log1p((num_docs - document_frequency + 0.5) / (document_frequency + 0.5))


def lexical_term_weights(retriever: LexicalRetriever, product: Product) -> dict[str, float]:
    """A product's BM25F weighted term frequencies (before idf and saturation), length-normalized
    with the retriever's average field lengths."""
    counts = field_term_counts(retriever.config, retriever.analyzer, product)
    return weighted_term_frequencies(counts, retriever.config, retriever.average_lengths or {})


def field_term_counts(
    config: LexicalConfig, analyzer: Callable[[str], list[str]], product: Product
) -> dict[str, Counter]:
    """Each weighted field's term counts in one product (fields without a term left out)."""
    out: dict[str, Counter] = {}
    for name, fw in config.fields.items():
        if fw.weight <= 0:
            continue
        text = field_text(product, name)
        tokens = analyzer(text) if text else []
        if tokens:
            out[name] = Counter(tokens)
    return out


def weighted_term_frequencies(
    counts: Mapping[str, Counter], config: LexicalConfig, average_lengths: Mapping[str, float]
) -> dict[str, float]:
    """BM25F's ``tf~(t, d) = Σ_f w_f · tf_f(t, d) / (1 − b_f + b_f · len_f(d) / avglen_f)`` of one
    product's :func:`field_term_counts`."""
    weights: Counter[str] = Counter()
    for name, field_counts in counts.items():
        fw = config.fields[name]
        length = sum(field_counts.values())
        average = average_lengths.get(name) or length
        norm = 1.0 - fw.b + fw.b * length / average
        norm = norm or 1.0
        for term, count in field_counts.items():
            weights[term] += fw.weight * count / norm
    return dict(weights)


class LexicalSegment:
    """Products of a live segment as postings of BM25F term weights; slot ``i`` is ``documents[i]``."""

    def __init__(self, documents: Sequence[Mapping[str, float]], idf_of: Callable[[str], float], k1: float) -> None:
        self.documents = list(documents)
        self.idf_of = idf_of
        self.k1 = k1
        self._postings: dict[str, list[tuple[int, float]]] = {}
        for slot, weights in enumerate(self.documents):
            for term, weight in weights.items():
                self._postings.setdefault(term, []).append((slot, weight))

    def __len__(self) -> int:
        return len(self.documents)

    def _scores(self, terms: Sequence[str]) -> np.ndarray:
        scores = np.zeros(len(self), dtype=np.float32)
        for term, query_weight in term_weights(terms).items():
            weight = self.idf_of(term) * query_weight
            for slot, tf in self._postings.get(term, ()):
                scores[slot] += weight * tf / (self.k1 + tf)
        return scores

    def search(self, prepared: Sequence[Sequence[str]], k: int, allowed: np.ndarray | None = None) -> SearchHits:
        """Top ``k`` slots per query among those that match a term (and are ``allowed``)."""
        out = []
        for terms in prepared:
            scores = self._scores(terms)
            if allowed is not None:
                scores[~np.asarray(allowed, dtype=bool)] = 0.0
            slots = np.flatnonzero(scores > 0)
            out.append(top_by_score(slots, scores[slots], k))
        return stacked(out, k)

    def score_rows(self, prepared: Sequence[str], rows: np.ndarray) -> np.ndarray:
        scores = self._scores(prepared)[np.asarray(rows, dtype=np.int64)]
        return np.where(scores > 0, scores, np.nan).astype(np.float32)

    def explain(self, prepared: Sequence[str], row: int) -> dict[str, Any]:
        """``{"terms": {term: its share of the slot's score}}``."""
        tf_of = self.documents[row]
        k1 = self.k1
        weights = term_weights(prepared)
        return {"terms": {t: w * self.idf_of(t) * tf_of[t] / (k1 + tf_of[t]) for t, w in weights.items() if t in tf_of}}
