"""What the searcher reads from an index: one consistent snapshot per request.

The searcher (:mod:`shopmatch.search`) runs every stage against this interface, so the same
search runs over an in-process index (:mod:`shopmatch.backends.inprocess`) or any other backend.
Rows are integers in the snapshot's row space; a backend made of several segments (an index and
its live delta) maps them to its segments and merges their results by score.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:
    from shopmatch.config import PipelineConfig
    from shopmatch.filters import Filters
    from shopmatch.hits import SearchHits
    from shopmatch.rerank.cross_encoder import CrossEncoderReranker
    from shopmatch.retrieval.base import Retriever


class IndexSnapshot(Protocol):
    """A consistent, unchanging view of an index for the length of one search."""

    @property
    def config(self) -> PipelineConfig:
        """The pipeline's stages and their settings."""
        ...

    @property
    def retrievers(self) -> Mapping[str, Retriever]:
        """The retrievers by name, in fusion order (they prepare queries and explain)."""
        ...

    @property
    def reranker(self) -> CrossEncoderReranker | None: ...

    def record(self, row: int) -> dict[str, Any]:
        """The product record of a row."""
        ...

    def id_of(self, row: int) -> str: ...

    def row_of(self, product_id: str) -> int | None:
        """The row of a product that can be returned (None: unknown or deleted)."""
        ...

    def allowed(self, filters: Filters) -> np.ndarray | None:
        """The rows a search may return under ``filters`` (None: every row)."""
        ...

    def facets(self, rows: np.ndarray, filters: Filters) -> dict[str, list[dict[str, Any]]]:
        """Facet counts over candidate ``rows`` (each facet ignores its own filter)."""
        ...

    def search(self, name: str, prepared: Sequence[Any], k: int, allowed: np.ndarray | None) -> SearchHits:
        """Retriever ``name``'s top ``k`` allowed rows for each prepared query, over every segment."""
        ...

    def score_rows(self, name: str, prepared: Any, rows: np.ndarray) -> np.ndarray:
        """Retriever ``name``'s scores of ``rows`` for one prepared query (NaN: it would not return the row)."""
        ...

    def vectors_of(self, name: str, rows: np.ndarray) -> np.ndarray:
        """The stored vectors of ``rows`` in vector retriever ``name``."""
        ...

    def explain(self, name: str, prepared: Any, row: int) -> dict[str, Any]:
        """Retriever ``name``'s explanation of ``row``'s score."""
        ...
