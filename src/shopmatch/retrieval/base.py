"""What every retriever offers: batch search returning arrays of scores and catalog rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

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


class Retriever(Protocol):
    """A first-stage retriever over a fixed catalog."""

    def search(self, queries: list[str], k: int = 10) -> SearchHits:
        """Top ``k`` catalog rows for each query."""
        ...
