"""One search's view of a Milvus index: the :class:`~shopmatch.backends.base.IndexSnapshot` the
searcher (:mod:`shopmatch.search`) runs its stages on.

Each retriever's leg is a Milvus search (BM25F: the query's sparse idf vector against the
products' sparse vectors; the bi-encoder: its vector against theirs), the legs of one stage run
concurrently, and filters are pushed down as Milvus expressions. Rows are this snapshot's own
numbering of the products it has seen: a product's catalog ordinal where free (so ties break as
in-process), and its record comes with the hit. What Milvus shows one search is what its
consistency level allows (``Session``: this worker's own writes, at once).

Example::

    index = MilvusIndex.open("shop-index")
    page = search(index.snapshot(), [Query("usb cable")])[0]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np

from shopmatch.backends.milvus.documents import filter_expression, query_vector
from shopmatch.backends.milvus.store import expression_literal
from shopmatch.filters import FilterColumns, Filters, SegmentedColumns
from shopmatch.hits import SearchHits, stacked, top_by_score

if TYPE_CHECKING:
    from shopmatch.backends.milvus.index import MilvusIndex
    from shopmatch.config import PipelineConfig
    from shopmatch.query.intent import IntentModel
    from shopmatch.query.pinyin import PinyinIndex
    from shopmatch.query.spelling import Speller
    from shopmatch.query.suggest import Suggester
    from shopmatch.rank.model import Ranker
    from shopmatch.rerank.cross_encoder import CrossEncoderReranker
    from shopmatch.retrieval.base import Retriever

FIELDS = {"lexical": "lexical", "dense": "dense"}
_LEGS = ThreadPoolExecutor(max_workers=8, thread_name_prefix="milvus-leg")
FRESH_ROWS = 2**62  # rows of products whose ordinal another product of this search already has


class MilvusSnapshot:
    """The searcher's view of a :class:`~shopmatch.backends.milvus.index.MilvusIndex` for one search."""

    def __init__(self, index: MilvusIndex) -> None:
        self.index = index
        self.store = index.store
        self.statistics = index.statistics
        self.vocabulary = index.vocabulary
        self._ids: dict[int, str] = {}
        self._records: dict[int, dict[str, Any]] = {}
        self._rows: dict[str, int] = {}
        self._fresh = FRESH_ROWS

    # ---- what it holds ---------------------------------------------------------------------------

    @property
    def config(self) -> PipelineConfig:
        return self.index.config

    @property
    def retrievers(self) -> Mapping[str, Retriever]:
        return self.index.retrievers

    @property
    def reranker(self) -> CrossEncoderReranker | None:
        return self.index.reranker

    @property
    def ranker(self) -> Ranker | None:
        return self.index.ranker

    @property
    def alive_count(self) -> int:
        """Products a search can return, as the BM25F statistics counted them (no call to Milvus):
        the catalog size adaptive fusion corrects its agreement for."""
        return int(self.statistics.num_docs)

    @property
    def speller(self) -> Speller | None:
        """The index's speller (:attr:`MilvusIndex.speller`)."""
        return self.index.speller

    @property
    def pinyin(self) -> PinyinIndex | None:
        """The loaded catalog's pinyin index (None: a worker opened by URI alone)."""
        return self.index.pinyin

    @property
    def suggester(self) -> Suggester | None:
        """The loaded catalog's suggestions (None: a worker opened by URI alone; ``/suggest`` answers 404)."""
        return self.index.suggester

    @property
    def intent(self) -> IntentModel | None:
        """The index's category-intent model (:attr:`MilvusIndex.intent`); rows of the loaded catalog
        are its ordinals, so the model's stored categories apply, and later products' come from their records."""
        return self.index.intent

    def ranker_tables(self) -> None:
        """No catalog-wide tables: the ranker's features read the candidates' records, which come with the hits."""
        return None

    def _row(self, product_id: str, ordinal: int, record: dict[str, Any]) -> int:
        row = self._rows.get(product_id)
        if row is None:
            row = int(ordinal)
            if row in self._ids:
                row, self._fresh = self._fresh, self._fresh + 1
            self._rows[product_id] = row
            self._ids[row] = product_id
        self._records[row] = record
        return row

    def record(self, row: int) -> dict[str, Any]:
        return self._records[row]

    def id_of(self, row: int) -> str:
        return self._ids[row]

    def row_of(self, product_id: str) -> int | None:
        return self.rows_of([product_id])[0]

    def rows_of(self, product_ids: Sequence[str]) -> list[int | None]:
        """The rows of these products (None: unknown or deleted), in one request."""
        wanted = [pid for pid in dict.fromkeys(product_ids) if pid not in self._rows]
        for found in self.store.get(wanted):
            self._row(found["id"], found["ordinal"], found["record"])
        return [self._rows.get(pid) for pid in product_ids]

    # ---- IndexSnapshot -------------------------------------------------------------------------

    def allowed(self, filters: Filters) -> str | None:
        """A Milvus expression (None: every product)."""
        return filter_expression(filters) or None

    def facets(self, rows: np.ndarray, filters: Filters) -> dict[str, list[dict[str, Any]]]:
        columns = SegmentedColumns([FilterColumns([self._records[int(row)] for row in rows])])
        return columns.facets(np.arange(len(rows)), filters)

    def _leg(self, name: str, prepared: Any) -> tuple[Any | None, dict[str, Any]]:
        """The Milvus query vector of one prepared query and its search parameters (None: it matches nothing)."""
        if name == "lexical":
            vector = query_vector(prepared, self.statistics, self.vocabulary) if prepared else {}
            return (vector or None), {"metric_type": "IP"}
        if name == "dense":
            return (None if prepared is None else np.asarray(prepared, np.float32).tolist()), (
                self.index.backend.dense_search_params()
            )
        raise ValueError(f"the Milvus backend has no {name!r} retriever")

    def _as_hits(self, found: list[dict[str, Any]] | None, k: int) -> SearchHits:
        """One leg's Milvus hits (None: the leg did not run) as rows of this snapshot."""
        if not found:
            return SearchHits.empty(1, k)
        rows = np.asarray([self._row(h["id"], h["entity"]["ordinal"], h["entity"]["record"]) for h in found], np.int64)
        scores = np.asarray([h["distance"] for h in found], dtype=np.float32)
        return top_by_score(rows, scores, k)

    def search(self, name: str, prepared: Sequence[Any], k: int, allowed: str | None) -> SearchHits:
        return stacked([self._as_hits(self._search_raw(name, one, k, allowed), k) for one in prepared], k)

    def search_each(self, prepared: Mapping[str, Any], k: int, allowed: str | None) -> dict[str, SearchHits]:
        """Every retriever's leg of one query, run concurrently."""
        futures = {name: _LEGS.submit(self._search_raw, name, one, k, allowed) for name, one in prepared.items()}
        return {name: self._as_hits(future.result(), k) for name, future in futures.items()}

    def _search_raw(self, name: str, prepared: Any, k: int, allowed: str | None) -> list[dict[str, Any]] | None:
        vector, params = self._leg(name, prepared)
        if vector is None:
            return None
        return self.store.search(FIELDS[name], [vector], k, expression=allowed or "", params=params)[0]

    def score_rows(self, name: str, prepared: Any, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        out = np.full(len(rows), np.nan, dtype=np.float32)
        vector, params = self._leg(name, prepared)
        if vector is None or not len(rows):
            return out
        ids = [self._ids[int(r)] for r in rows]
        expression = f"id in [{', '.join(expression_literal(i) for i in ids)}]"
        (found,) = self.store.search(FIELDS[name], [vector], len(ids), expression=expression, params=params)
        score_of = {h["id"]: h["distance"] for h in found}
        for i, product_id in enumerate(ids):
            if product_id in score_of:
                out[i] = score_of[product_id]
        return out

    def _stored(self, field: str, rows: Sequence[int]) -> dict[str, Any]:
        ids = [self._ids[int(r)] for r in rows]
        return {found["id"]: found[field] for found in self.store.get(ids, [field])}

    def vectors_of(self, name: str, rows: np.ndarray) -> np.ndarray:
        if not len(rows):
            return np.zeros((0, 0), dtype=np.float32)
        stored = self._stored(FIELDS[name], rows)
        return np.stack([np.asarray(stored[self._ids[int(r)]], dtype=np.float32) for r in rows])

    def explain(self, name: str, prepared: Any, row: int) -> dict[str, Any]:
        if name != "lexical" or not prepared:
            return {}
        document = self._stored("lexical", [row]).get(self._ids[row], {})
        weights = self.statistics.query_weights(prepared)
        terms = {}
        for term, weight in weights.items():
            share = sum(weight * float(document.get(dim, 0.0)) for dim in self.vocabulary.dims(term))
            if share > 0:
                terms[term] = share
        return {"terms": terms}
