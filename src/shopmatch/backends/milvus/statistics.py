"""BM25F as sparse vectors: a product's saturated term weights, a query's idf, their inner product
the score the in-process retriever gives (:mod:`shopmatch.retrieval.lexical`):

    document d:  v_d[t] = tf~(t, d) / (k1 + tf~(t, d))      (tf~ with the average field lengths)
    query q:     v_q[t] = idf(t) · (times t occurs in q)
    v_q · v_d  = Σ_{t ∈ q} idf(t) · tf~(t, d) / (k1 + tf~(t, d))  = BM25F(q, d)

The statistics (product count, document frequencies, average field lengths) are computed here,
over the whole catalog, so every shard of a distributed collection scores with the same idf.
A product written later is weighted with the statistics it was written under (as in-process live
updates are); ``shopmatch reweight`` computes them again and rewrites every document vector.

Example:
    >>> from shopmatch.catalog import Product
    >>> from shopmatch.retrieval.lexical import LexicalConfig
    >>> config = LexicalConfig()
    >>> products = [Product("1", "USB-C cable"), Product("2", "HDMI cable")]
    >>> counts = [analyze(p, config) for p in products]
    >>> stats = TermStatistics.of(counts)
    >>> stats.num_docs, stats.df["cabl"]
    (2, 2)
    >>> vector, query = stats.document_vector(counts[0], config), stats.query_weights(["usb", "cabl"])
    >>> score = sum(weight * vector.get(term, 0.0) for term, weight in query.items())
    >>> from shopmatch.retrieval.lexical import LexicalRetriever
    >>> in_process = LexicalRetriever.build(products, config).search_texts(["usb cable"], k=1).scores[0, 0]
    >>> bool(abs(score - in_process) < 1e-6)
    True
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from shopmatch.catalog import Product
from shopmatch.retrieval.lexical import LexicalConfig
from shopmatch.retrieval.lexical_segment import field_term_counts, idf, weighted_term_frequencies
from shopmatch.text.tokenize import Analyzer


@cache
def _analyzer(stem: bool, stopwords: bool, chinese: str, identifiers: bool) -> Analyzer:
    return Analyzer(stem=stem, stopwords=stopwords, chinese=chinese, identifiers=identifiers)


def analyzer_of(config: LexicalConfig) -> Analyzer:
    """The (shared) analyzer of a lexical config."""
    return _analyzer(config.stem, config.stopwords, config.chinese, config.identifiers)


def analyze(product: Product, config: LexicalConfig) -> dict[str, Counter]:
    """Each weighted field's term counts in ``product``."""
    return field_term_counts(config, analyzer_of(config), product)


@dataclass
class TermStatistics:
    """The catalog-wide statistics BM25F scores with.

    Attributes:
        version: bumped by each reweight; each product stores the version its vector used.
        num_docs: products counted.
        average_lengths: field → mean term count over the products that have the field.
        df: term → products that hold it in a weighted field.
    """

    version: int = 1
    num_docs: int = 0
    average_lengths: dict[str, float] = field(default_factory=dict)
    df: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, analyses: Iterable[Mapping[str, Counter]], *, version: int = 1) -> TermStatistics:
        """The statistics of a catalog's :func:`analyze` results."""
        num_docs = 0
        totals: Counter[str] = Counter()
        having: Counter[str] = Counter()
        df: Counter[str] = Counter()
        for counts in analyses:
            num_docs += 1
            terms: set[str] = set()
            for name, field_counts in counts.items():
                totals[name] += sum(field_counts.values())
                having[name] += 1
                terms.update(field_counts)
            df.update(terms)
        averages = {name: totals[name] / having[name] for name in totals}
        return cls(version, num_docs, averages, dict(df))

    def idf(self, term: str) -> float:
        """Lucene's idf (a term the statistics never saw counts as in no product)."""
        return idf(self.num_docs, self.df.get(term, 0))

    def document_vector(self, counts: Mapping[str, Counter], config: LexicalConfig) -> dict[str, float]:
        """A product's saturated BM25F weights by term (see the module docstring)."""
        tf = weighted_term_frequencies(counts, config, self.average_lengths)
        return {term: value / (config.k1 + value) for term, value in tf.items() if value > 0}

    def query_weights(self, terms: Sequence[str]) -> dict[str, float]:
        """A query's weight per term: idf times how often the term occurs in it."""
        out: dict[str, float] = {}
        for term in terms:
            out[term] = out.get(term, 0.0) + self.idf(term)
        return out

    def header(self) -> dict[str, Any]:
        """What the metadata collection stores (the document frequencies live with the terms)."""
        return {"version": self.version, "num_docs": self.num_docs, "average_lengths": self.average_lengths}
