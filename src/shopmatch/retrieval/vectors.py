"""What the vector retrievers share: a query encoder, a vector index over catalog rows, filtered
search, and live segments of new products' vectors.

Vectors are unit length and scored by inner product (cosine similarity). A prepared query is its
vector, or ``None`` when the retriever cannot read the query (it then returns nothing).

Filtered search (``allowed``, from filters or deleted rows) stays exact: when few rows are
allowed (at most ``EXACT_FILTER_LIMIT``) they are scored one by one; when many are, the vector
index is asked for proportionally more and the rest dropped, so a selective filter still returns
everything that matches it.

Example:
    >>> segment = VectorSegment(np.eye(2, dtype=np.float32))
    >>> segment.search([np.array([0.6, 0.8], dtype=np.float32)], k=2).query(0)
    [(1, 0.800000011920929), (0, 0.6000000238418579)]
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from shopmatch.hits import SearchHits, stacked, top_by_score
from shopmatch.index.factory import build_vector_index
from shopmatch.retrieval.base import Retriever

if TYPE_CHECKING:
    from shopmatch.catalog import Product
    from shopmatch.index.base import VectorIndex, VectorIndexConfig

EXACT_FILTER_LIMIT = 50_000


class VectorSegment:
    """New products' unit vectors, searched exactly (a live segment is small)."""

    def __init__(self, vectors: np.ndarray) -> None:
        self.vectors = np.asarray(vectors, dtype=np.float32)

    def __len__(self) -> int:
        return len(self.vectors)

    def search(self, prepared: Sequence[np.ndarray | None], k: int, allowed: np.ndarray | None = None) -> SearchHits:
        slots = np.arange(len(self)) if allowed is None else np.flatnonzero(allowed)
        out = []
        for vector in prepared:
            if vector is None or not len(slots):
                out.append(SearchHits.empty(1, k))
            else:
                out.append(top_by_score(slots, self.vectors[slots] @ vector, k))
        return stacked(out, k)

    def score_rows(self, prepared: np.ndarray | None, rows: np.ndarray) -> np.ndarray:
        if prepared is None:
            return np.full(len(rows), np.nan, dtype=np.float32)
        return (self.vectors[np.asarray(rows, dtype=np.int64)] @ prepared).astype(np.float32)

    def explain(self, prepared: Any, row: int) -> dict[str, Any]:
        return {}

    def vectors_of(self, rows: np.ndarray) -> np.ndarray:
        return self.vectors[np.asarray(rows, dtype=np.int64)]


class VectorRetriever(Retriever):
    """A retriever whose queries and products are unit vectors in a :class:`VectorIndex`."""

    index: VectorIndex

    @abstractmethod
    def query_vectors(self, queries: Sequence[str]) -> list[np.ndarray | None]:
        """Each query's unit vector, ``None`` for a query the encoder cannot read."""

    @abstractmethod
    def document_vectors(self, products: Sequence[Product]) -> np.ndarray:
        """``(n, dim)`` unit vectors of products, as the index holds them."""

    @abstractmethod
    def with_index(self, index: VectorIndex) -> VectorRetriever:
        """This retriever (same encoder) over another vector index."""

    @property
    @abstractmethod
    def index_config(self) -> VectorIndexConfig:
        """How a rebuilt index is made (compaction)."""

    def __len__(self) -> int:
        return len(self.index)

    def prepare(self, queries: Sequence[str]) -> list[np.ndarray | None]:
        return self.query_vectors(queries)

    def search_texts(self, queries: Sequence[str], k: int = 10) -> SearchHits:
        """:meth:`search` for query texts."""
        return self.search(self.prepare(queries), k)

    def search(
        self, prepared: Sequence[np.ndarray | None], k: int = 10, allowed: np.ndarray | None = None
    ) -> SearchHits:
        """Top ``k`` rows per query vector by cosine similarity; none for an unreadable query."""
        n = len(self.index)
        readable = [i for i, v in enumerate(prepared) if v is not None]
        out = SearchHits.empty(len(prepared), k)
        if not readable or not n:
            return out
        if allowed is None:
            hits = self.index.search(np.stack([prepared[i] for i in readable]).astype(np.float32), min(k, n))
            width = hits.rows.shape[1]
            out.rows[readable, :width] = hits.rows
            out.scores[readable, :width] = hits.scores
            return out
        for i in readable:
            found = self._filtered(np.asarray(prepared[i], dtype=np.float32), k, np.asarray(allowed, dtype=bool))
            out.rows[i], out.scores[i] = found.rows[0], found.scores[0]
        return out

    def _filtered(self, query: np.ndarray, k: int, allowed: np.ndarray) -> SearchHits:
        n = len(self.index)
        n_allowed = int(allowed.sum())
        if n_allowed == 0:
            return SearchHits.empty(1, k)
        if n_allowed == n:
            hits = self.index.search(query[None, :], min(k, n))
            return top_by_score(hits.found(0), hits.scores[0][hits.rows[0] >= 0], k)
        if n_allowed <= EXACT_FILTER_LIMIT:
            rows = np.flatnonzero(allowed)
            return top_by_score(rows, (self.index.vectors_of(rows) @ query).astype(np.float32), k)
        fetch = min(n, int(k * n / n_allowed) + 16)  # over-fetch in proportion to what the filter removes
        hits = self.index.search(query[None, :], fetch)
        keep = (hits.rows[0] >= 0) & allowed[np.maximum(hits.rows[0], 0)]
        return top_by_score(hits.rows[0][keep], hits.scores[0][keep], k)

    def score_rows(self, prepared: np.ndarray | None, rows: np.ndarray) -> np.ndarray:
        """Cosine similarity of one query vector to catalog rows (NaN for an unreadable query)."""
        if prepared is None:
            return np.full(len(rows), np.nan, dtype=np.float32)
        return (self.index.vectors_of(np.asarray(rows, dtype=np.int64)) @ prepared).astype(np.float32)

    def vectors_of(self, rows: np.ndarray) -> np.ndarray:
        """The stored vectors of catalog rows (pseudo-relevance feedback reads them)."""
        return self.index.vectors_of(np.asarray(rows, dtype=np.int64))

    def documents(self, products: Sequence[Product]) -> list[np.ndarray]:
        return list(self.document_vectors(products).astype(np.float32))

    def segment(self, documents: Sequence[np.ndarray]) -> VectorSegment:
        if not len(documents):
            return VectorSegment(np.zeros((0, self.index.dim), dtype=np.float32))
        return VectorSegment(np.stack(documents))

    def compacted(self, keep: np.ndarray, segment: VectorSegment, products: Sequence[Product]) -> VectorRetriever:
        """Stored vectors are reused, not encoded again."""
        vectors = self.index.vectors_of(np.asarray(keep, dtype=np.int64))
        if len(segment):
            vectors = np.concatenate([vectors, segment.vectors])
        index = build_vector_index(np.arange(len(vectors)), vectors.astype(np.float32), self.index_config)
        return self.with_index(index)
