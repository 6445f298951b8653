"""A consistent view of an in-process index: the base index, its tombstones and the delta.

A :class:`Snapshot` never changes after it is made; each write makes a new one and swaps it in
(:mod:`shopmatch.backends.inprocess.live`), so a search reads one consistent catalog from start
to end. Rows ``0 .. base_size-1`` are the base index's catalog rows, row ``base_size + i`` is
delta slot ``i``. A static index is a snapshot with nothing deleted and an empty delta.

It is the in-process :class:`~shopmatch.backends.base.IndexSnapshot`: each retriever searches
the base (deleted rows masked out) and its part of the delta, and the two lists are merged by
score.

Example:
    >>> from shopmatch.catalog import Product
    >>> from shopmatch.config import PipelineConfig
    >>> base = StaticIndex.build([Product("B01", "USB-C cable")], PipelineConfig(retrievers=("lexical",)))
    >>> snapshot = Snapshot.of(base)
    >>> snapshot.record(snapshot.row_of("B01"))["title"]
    'USB-C cable'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import numpy as np

from shopmatch.backends.inprocess.delta import DeltaSegment
from shopmatch.backends.inprocess.static import StaticIndex
from shopmatch.config import PipelineConfig
from shopmatch.filters import FilterColumns, Filters, SegmentedColumns
from shopmatch.hits import SearchHits, merged
from shopmatch.query.intent import IntentModel
from shopmatch.query.pinyin import PinyinIndex
from shopmatch.query.spelling import Speller, words_of
from shopmatch.query.suggest import Suggester
from shopmatch.rank.model import Ranker
from shopmatch.rank.product_table import ProductTables, build_table
from shopmatch.rerank.cross_encoder import CrossEncoderReranker
from shopmatch.retrieval.base import Retriever
from shopmatch.text.fields import FIELD_GETTERS


@dataclass(frozen=True, eq=False)
class Snapshot:
    """The base index, which of its rows are alive, the delta, and the last applied log batch."""

    base: StaticIndex
    base_alive: np.ndarray
    delta: DeltaSegment
    seq: int = 0

    @classmethod
    def of(cls, base: StaticIndex, *, seq: int = 0) -> Snapshot:
        """The snapshot of a freshly loaded index: every row alive, an empty delta."""
        return cls(base, np.ones(len(base), dtype=bool), DeltaSegment(base.retrievers), seq)

    def with_config(self, config: PipelineConfig) -> Snapshot:
        """This snapshot searched with other query-time settings (see :meth:`StaticIndex.with_config`)."""
        return replace(self, base=self.base.with_config(config))

    # ---- what it holds ---------------------------------------------------------------------------

    @property
    def config(self) -> PipelineConfig:
        return self.base.config

    @property
    def retrievers(self) -> Mapping[str, Retriever]:
        return self.base.retrievers

    @property
    def reranker(self) -> CrossEncoderReranker | None:
        return self.base.reranker

    @property
    def ranker(self) -> Ranker | None:
        return self.base.ranker

    @cached_property
    def speller(self) -> Speller | None:
        """The base index's speller; the words of the delta's products are never corrected."""
        speller = self.base.speller
        if speller is None or not len(self.delta):
            return speller
        words: set[str] = set()
        for slot in range(len(self.delta)):
            product = self.delta.product(slot)
            words.update(words_of("\n".join(get(product) for get in FIELD_GETTERS.values())))
        return speller.knowing(words)

    @property
    def pinyin(self) -> PinyinIndex | None:
        return self.base.pinyin

    @property
    def suggester(self) -> Suggester | None:
        return self.base.suggester

    @property
    def intent(self) -> IntentModel | None:
        return self.base.intent

    @property
    def base_size(self) -> int:
        return len(self.base)

    @property
    def size(self) -> int:
        """Rows in the row space (dead base rows included)."""
        return self.base_size + len(self.delta)

    @cached_property
    def alive_count(self) -> int:
        """Products a search can return."""
        return int(self.base_alive.sum()) + len(self.delta)

    @cached_property
    def everything_alive(self) -> bool:
        return bool(self.base_alive.all())

    @cached_property
    def alive(self) -> np.ndarray:
        return np.concatenate([self.base_alive, np.ones(len(self.delta), dtype=bool)])

    @cached_property
    def columns(self) -> SegmentedColumns:
        delta_records = [self.delta.product(slot).to_dict() for slot in range(len(self.delta))]
        return SegmentedColumns([self.base.columns, FilterColumns(delta_records)])

    def record(self, row: int) -> dict[str, Any]:
        if row < self.base_size:
            return self.base.products.record(row)
        return self.delta.product(row - self.base_size).to_dict()

    def ranker_tables(self) -> ProductTables:
        """The ranker's per-product arrays: the base index's (built once) and this snapshot's delta's."""
        return self._ranker_tables

    @cached_property
    def _ranker_tables(self) -> ProductTables:
        parts = [(0, self.base.ranker_table())]
        if len(self.delta):
            lexical = self.retrievers.get("lexical")
            analyzer = lexical.analyzer if lexical is not None else None
            delta = build_table(len(self.delta), lambda slot: self.delta.product(slot).to_dict(), analyzer, cached=True)
            parts.append((self.base_size, delta))
        return ProductTables(parts)

    def id_of(self, row: int) -> str:
        if row < self.base_size:
            return self.base.products.id_of(row)
        return self.delta.ids[row - self.base_size]

    def row_of(self, product_id: str) -> int | None:
        """The live row of a product (None: unknown or deleted)."""
        slot = self.delta.slot_of(product_id)
        if slot is not None:
            return self.base_size + slot
        row = self.base.products.row_of(product_id)
        if row is not None and self.base_alive[row]:
            return row
        return None

    def rows_of(self, product_ids: Sequence[str]) -> list[int | None]:
        return [self.row_of(pid) for pid in product_ids]

    # ---- IndexSnapshot -------------------------------------------------------------------------

    def allowed(self, filters: Filters) -> np.ndarray | None:
        if not filters:
            return None if self.everything_alive else self.alive
        return self.alive & self.columns.mask(filters)

    def facets(self, rows: np.ndarray, filters: Filters) -> dict[str, list[dict[str, Any]]]:
        return self.columns.facets(rows, filters)

    def search(self, name: str, prepared: Sequence[Any], k: int, allowed: np.ndarray | None) -> SearchHits:
        n = self.base_size
        base_allowed = None if allowed is None else allowed[:n]
        if base_allowed is not None and base_allowed.all():
            base_allowed = None
        if n and (base_allowed is None or base_allowed.any()):
            hits = self.retrievers[name].search(prepared, k, base_allowed)
        else:
            hits = SearchHits.empty(len(prepared), k)
        if not len(self.delta):
            return hits
        found = self.delta.segments[name].search(prepared, k, None if allowed is None else allowed[n:])
        return merged(hits, found, n, k)

    def search_each(self, prepared: Mapping[str, Any], k: int, allowed: np.ndarray | None) -> dict[str, SearchHits]:
        return {name: self.search(name, [one], k, allowed) for name, one in prepared.items()}

    def score_rows(self, name: str, prepared: Any, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        base = rows < self.base_size
        out = np.full(len(rows), np.nan, dtype=np.float32)
        if base.any():
            out[base] = self.retrievers[name].score_rows(prepared, rows[base])
        if not base.all():
            out[~base] = self.delta.segments[name].score_rows(prepared, rows[~base] - self.base_size)
        return out

    def vectors_of(self, name: str, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        if not len(rows):
            return np.zeros((0, 0), dtype=np.float32)
        base = rows < self.base_size
        parts: list[np.ndarray] = [np.empty(0)] * len(rows)
        if base.any():
            for i, vector in zip(np.flatnonzero(base), self.retrievers[name].vectors_of(rows[base]), strict=True):
                parts[i] = vector
        if not base.all():
            delta = self.delta.segments[name].vectors_of(rows[~base] - self.base_size)
            for i, vector in zip(np.flatnonzero(~base), delta, strict=True):
                parts[i] = vector
        return np.stack(parts).astype(np.float32)

    def explain(self, name: str, prepared: Any, row: int) -> dict[str, Any]:
        if row < self.base_size:
            return self.retrievers[name].explain(prepared, row)
        return self.delta.segments[name].explain(prepared, row - self.base_size)
