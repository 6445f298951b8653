"""What the searcher reads from an index: one consistent snapshot per request.

The searcher (:mod:`shopmatch.search`) runs every stage against this interface, so the same
search runs over an in-process index (:mod:`shopmatch.backends.inprocess`) or any other backend.
Rows are integers in the snapshot's row space; a backend made of several segments (an index and
its live delta) maps them to its segments and merges their results by score.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from shopmatch.catalog import Product
from shopmatch.errors import DataError

if TYPE_CHECKING:
    from shopmatch.config import PipelineConfig
    from shopmatch.filters import Filters
    from shopmatch.hits import SearchHits
    from shopmatch.query.intent import IntentModel
    from shopmatch.query.pinyin import PinyinIndex
    from shopmatch.query.query import Query
    from shopmatch.query.spelling import Speller
    from shopmatch.query.suggest import Suggester
    from shopmatch.rank.model import Ranker
    from shopmatch.rank.product_table import ProductTables
    from shopmatch.rerank.cross_encoder import CrossEncoderReranker
    from shopmatch.retrieval.base import Retriever
    from shopmatch.search import SearchPage


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

    @property
    def ranker(self) -> Ranker | None:
        """The learned ranker (``[ranker] model``), if any."""
        ...

    @property
    def speller(self) -> Speller | None:
        """What corrects query spelling (None: the query is searched as typed)."""
        ...

    @property
    def pinyin(self) -> PinyinIndex | None:
        """The catalog's pinyin index (None: no Chinese in the catalog, or not kept by this backend)."""
        ...

    @property
    def suggester(self) -> Suggester | None:
        """The catalog's completions for ``/suggest`` (None: not kept by this backend or this index)."""
        ...

    @property
    def intent(self) -> IntentModel | None:
        """The category-intent model (None: off, no categories in the catalog, or not supported)."""
        ...

    def record(self, row: int) -> dict[str, Any]:
        """The product record of a row."""
        ...

    def ranker_tables(self) -> ProductTables | None:
        """The learned ranker's per-product arrays over this snapshot's rows (None: the backend
        keeps none, and the features read the candidates' records)."""
        ...

    def id_of(self, row: int) -> str: ...

    def row_of(self, product_id: str) -> int | None:
        """The row of a product that can be returned (None: unknown or deleted)."""
        ...

    def rows_of(self, product_ids: Sequence[str]) -> list[int | None]:
        """:meth:`row_of` of several products (a remote backend asks once)."""
        ...

    def allowed(self, filters: Filters) -> Any:
        """What a search may return under ``filters``, in the form this snapshot's :meth:`search`
        takes (in-process: a row mask; Milvus: an expression; None: everything)."""
        ...

    def facets(self, rows: np.ndarray, filters: Filters) -> dict[str, list[dict[str, Any]]]:
        """Facet counts over candidate ``rows`` (each facet ignores its own filter)."""
        ...

    def search(self, name: str, prepared: Sequence[Any], k: int, allowed: Any) -> SearchHits:
        """Retriever ``name``'s top ``k`` allowed rows for each prepared query, over every segment."""
        ...

    def search_each(self, prepared: Mapping[str, Any], k: int, allowed: Any) -> dict[str, SearchHits]:
        """One query's top ``k`` allowed rows from each retriever (``prepared``: name → its
        prepared query); a backend may run the retrievers concurrently."""
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


class ServedIndex(Protocol):
    """What the HTTP service serves: an in-process live index or a Milvus index."""

    retrievers: Mapping[str, Retriever]
    reranker: CrossEncoderReranker | None
    last_compaction_error: str | None

    def snapshot(self) -> IndexSnapshot: ...

    def search(self, query: Query) -> SearchPage: ...

    def explain(self, query: str, product_id: str, *, spelling: bool = True) -> dict[str, Any] | None: ...

    def get(self, product_id: str) -> dict[str, Any] | None: ...

    def upsert(self, records: Sequence[Mapping[str, Any]]) -> WriteResult: ...

    def delete(self, product_ids: Sequence[str]) -> WriteResult: ...

    def compact(self) -> dict[str, Any]:
        """In-process: fold the live delta into a new index; Milvus: reweight the statistics."""
        ...

    def stats(self) -> dict[str, Any]: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class WriteResult:
    """What a write did: its log sequence number, and the ids it upserted, deleted or did not find."""

    seq: int
    upserted: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    not_found: list[str] = field(default_factory=list)


def parse_products(records: Sequence[Any], *, source: str = "request") -> list[Product]:
    """Validate upsert records; a bad one raises DataError naming its position and field."""
    products = []
    for i, record in enumerate(records):
        try:
            products.append(Product.from_dict(record))
        except DataError as err:
            raise DataError(err.message, path=f"{source} products[{i}]", field=err.field) from None
    return products
