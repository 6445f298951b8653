"""The delta segment: products added or changed since the index was built, searchable at once.

The index on disk (the *base* segment) is immutable. An upsert puts the product into the delta
and, when it replaces a product of the base, marks that base row deleted (a tombstone); a
delete removes it from the delta or tombstones it in the base. Searches read both segments
and merge them, so a write is visible as soon as it is applied.

So that scores of the two segments can be merged:

- **lexical**: a delta product's BM25F term weights use the base segment's statistics (its
  product count, each term's document frequency and each field's average length), exactly the
  formula of :mod:`shopmatch.retrieval.lexical`, as if the product had been indexed with the base;
- **dense** and **word vectors**: cosine similarities are comparable as they are; delta vectors
  are searched exactly (the delta is small).

Compaction (:mod:`shopmatch.live.index`) folds the delta into a new base and recomputes the
statistics.

Example:
    >>> from shopmatch.catalog import Product
    >>> entry = DeltaEntry(Product("n1", "Steel water bottle"), {}, {"bottl": 1.2, "water": 1.0})
    >>> delta = DeltaSegment().with_changes([entry], [])
    >>> len(delta), delta.slot_of("n1")
    (1, 0)
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from shopmatch.catalog import Product
from shopmatch.retrieval.lexical import LexicalRetriever
from shopmatch.text.fields import field_text


@dataclass(frozen=True)
class DeltaEntry:
    """One product of the delta with what search needs of it.

    Attributes:
        product: the product.
        vectors: retriever name → the product's unit vector (dense, word_vectors).
        term_weights: BM25F weighted, length-normalized term frequency per term (before idf
            and saturation), with the base segment's average field lengths.
    """

    product: Product
    vectors: Mapping[str, np.ndarray]
    term_weights: Mapping[str, float]


def lexical_term_weights(retriever: LexicalRetriever, product: Product, average_lengths: Mapping[str, float]):
    """A product's BM25F weighted term frequencies, normalized with ``average_lengths``."""
    weights: Counter[str] = Counter()
    for name, fw in retriever.config.fields.items():
        if fw.weight <= 0:
            continue
        text = field_text(product, name)
        if not text:
            continue
        tokens = retriever.analyzer(text)
        if not tokens:
            continue
        average = average_lengths.get(name) or len(tokens)
        norm = 1.0 - fw.b + fw.b * len(tokens) / average
        norm = norm or 1.0
        for term, count in Counter(tokens).items():
            weights[term] += fw.weight * count / norm
    return dict(weights)


def idf(num_docs: int, document_frequency: int) -> float:
    """Lucene's BM25 idf, as the lexical retriever computes it."""
    return math.log1p((num_docs - document_frequency + 0.5) / (document_frequency + 0.5))


class DeltaSegment:
    """Products of the delta in insertion order; slot ``i`` is row ``base size + i`` in search."""

    def __init__(self, entries: Mapping[str, DeltaEntry] | None = None) -> None:
        self.entries: dict[str, DeltaEntry] = dict(entries or {})
        self.ids = list(self.entries)
        self._slots = {pid: i for i, pid in enumerate(self.ids)}
        self._postings: dict[str, list[tuple[int, float]]] = {}
        for slot, entry in enumerate(self.entries.values()):
            for term, weight in entry.term_weights.items():
                self._postings.setdefault(term, []).append((slot, weight))
        names = {name for entry in self.entries.values() for name in entry.vectors}
        self._vectors = {
            name: np.stack([entry.vectors[name] for entry in self.entries.values()]).astype(np.float32)
            for name in names
        }

    def __len__(self) -> int:
        return len(self.ids)

    def slot_of(self, product_id: str) -> int | None:
        return self._slots.get(product_id)

    def product(self, slot: int) -> Product:
        return self.entries[self.ids[slot]].product

    def with_changes(self, upserts: Iterable[DeltaEntry], deletes: Iterable[str]) -> DeltaSegment:
        """A new segment with ``upserts`` added (replacing same ids, moved to the end) and ``deletes``
        removed; this one is unchanged (searches in flight keep reading it)."""
        entries = dict(self.entries)
        for product_id in deletes:
            entries.pop(product_id, None)
        for entry in upserts:
            entries.pop(entry.product.id, None)
            entries[entry.product.id] = entry
        return DeltaSegment(entries)

    def lexical_scores(
        self, terms: Sequence[str], idf_of: Callable[[str], float], k1: float, allowed: np.ndarray | None
    ) -> np.ndarray:
        """BM25F score of every slot for the query ``terms`` (0 where none matches)."""
        scores = np.zeros(len(self), dtype=np.float32)
        for term in terms:
            weight = idf_of(term)
            for slot, tf in self._postings.get(term, ()):
                scores[slot] += weight * tf / (k1 + tf)
        if allowed is not None:
            scores[~allowed] = 0.0
        return scores

    def term_scores(self, terms: Sequence[str], slot: int, idf_of: Callable[[str], float], k1: float):
        """Each query term's contribution to one delta product's BM25F score (explanations)."""
        tf_of = self.entries[self.ids[slot]].term_weights
        return {t: idf_of(t) * tf_of[t] / (k1 + tf_of[t]) for t in dict.fromkeys(terms) if t in tf_of}

    def vector_scores(self, name: str, query: np.ndarray) -> np.ndarray:
        """Cosine similarity of every slot to a unit query vector (retriever ``name``)."""
        if name not in self._vectors:
            return np.zeros(len(self), dtype=np.float32)
        return self._vectors[name] @ query.astype(np.float32)

    def vectors(self, name: str) -> np.ndarray:
        return self._vectors.get(name, np.zeros((0, 0), dtype=np.float32))
