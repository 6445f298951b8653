"""The arrays every search stage passes on: rows and scores per query, and where each came from.

Rows are catalog rows of the index being searched (``-1`` pads a query with fewer results);
numeric kernels know nothing of product ids.

Example:
    >>> import numpy as np
    >>> hits = SearchHits(np.array([[2.0, 1.0, 0.0]], dtype=np.float32), np.array([[7, 3, -1]]))
    >>> hits.query(0)
    [(7, 2.0), (3, 1.0)]
    >>> single_source(hits, "lexical", 3).places(0, 1)
    {'lexical': {'rank': 2, 'score': 1.0}}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class SearchHits:
    """Top-k results of a batch of queries.

    Attributes:
        scores: ``(n_queries, k)`` float32, best first.
        rows: ``(n_queries, k)`` int64 catalog rows; ``-1`` pads queries with fewer than
            ``k`` matches (their score is 0).
    """

    scores: np.ndarray
    rows: np.ndarray

    def __len__(self) -> int:
        return len(self.rows)

    def query(self, i: int) -> list[tuple[int, float]]:
        """(row, score) pairs of query ``i``, padding removed."""
        keep = self.rows[i] >= 0
        return list(zip(self.rows[i][keep].tolist(), self.scores[i][keep].tolist(), strict=True))

    def found(self, i: int) -> np.ndarray:
        """The rows of query ``i``, padding removed."""
        return self.rows[i][self.rows[i] >= 0]

    @classmethod
    def empty(cls, n_queries: int, k: int) -> SearchHits:
        return cls(np.zeros((n_queries, k), dtype=np.float32), np.full((n_queries, k), -1, dtype=np.int64))


@dataclass(frozen=True)
class SourceHits:
    """Where each fused result stood in one retriever: 1-based ``ranks`` (0 = not returned) and
    raw ``scores`` (NaN = not returned), both ``(n_queries, k)`` aligned with the fused rows."""

    ranks: np.ndarray
    scores: np.ndarray


@dataclass(frozen=True)
class FusedHits(SearchHits):
    """Fused top-k results plus, per retriever, the rank and score each result had there."""

    sources: dict[str, SourceHits] = field(default_factory=dict)

    def places(self, q: int, i: int) -> dict[str, dict[str, Any]]:
        """Where result ``i`` of query ``q`` stood in each source: ``{name: {"rank", "score"}}``,
        both None where that source did not return it."""
        out = {}
        for name, source in self.sources.items():
            rank = int(source.ranks[q, i])
            out[name] = {"rank": rank or None, "score": round(float(source.scores[q, i]), 6) if rank else None}
        return out

    def one(self, q: int) -> FusedHits:
        """Query ``q`` alone, as a batch of one."""
        sources = {name: SourceHits(s.ranks[q : q + 1], s.scores[q : q + 1]) for name, s in self.sources.items()}
        return FusedHits(self.scores[q : q + 1], self.rows[q : q + 1], sources)


def truncated(hits: FusedHits, k: int) -> FusedHits:
    """The first ``k`` results of each query (``hits`` itself when it holds no more)."""
    if hits.rows.shape[1] <= k:
        return hits
    sources = {name: SourceHits(s.ranks[:, :k], s.scores[:, :k]) for name, s in hits.sources.items()}
    return FusedHits(hits.scores[:, :k], hits.rows[:, :k], sources)


def single_source(hits: SearchHits, name: str, k: int) -> FusedHits:
    """One retriever's top ``k`` hits in the shape fusion returns (its own ranks and scores as the source)."""
    rows, scores = hits.rows[:, :k], hits.scores[:, :k]
    ranks = np.where(rows >= 0, np.arange(1, rows.shape[1] + 1, dtype=np.int32), 0)
    raw = np.where(rows >= 0, scores, np.nan).astype(np.float32)
    return FusedHits(scores, rows, {name: SourceHits(ranks, raw)})


def top_by_score(rows: np.ndarray, scores: np.ndarray, k: int) -> SearchHits:
    """One query's top ``k`` of candidate ``rows`` by score (ties keep the input order), as hits."""
    keep = np.argsort(-scores, kind="stable")[:k]
    out = SearchHits.empty(1, k)
    out.rows[0, : len(keep)] = rows[keep]
    out.scores[0, : len(keep)] = scores[keep]
    return out


def stacked(hits: list[SearchHits], k: int) -> SearchHits:
    """Single-query hits stacked into one batch of width ``k`` (narrower ones padded)."""
    out = SearchHits.empty(len(hits), k)
    for i, one in enumerate(hits):
        width = min(k, one.rows.shape[1])
        out.rows[i, :width] = one.rows[0, :width]
        out.scores[i, :width] = one.scores[0, :width]
    return out


def merged(first: SearchHits, second: SearchHits, offset: int, k: int) -> SearchHits:
    """Two segments' hits of the same queries merged by score: ``second``'s rows are shifted by
    ``offset`` (its rows follow ``first``'s in one row space); ``first`` wins ties."""
    parts = []
    for q in range(len(first)):
        a, b = first.rows[q] >= 0, second.rows[q] >= 0
        rows = np.concatenate([first.rows[q][a], second.rows[q][b] + offset])
        scores = np.concatenate([first.scores[q][a], second.scores[q][b]])
        parts.append(top_by_score(rows, scores, k))
    return stacked(parts, k)
