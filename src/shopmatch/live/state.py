"""A consistent view of the live catalog: the base index, its tombstones and the delta segment.

A :class:`LiveState` never changes after it is made; each write makes a new one and swaps it in
(:mod:`shopmatch.live.index`), so a search reads one consistent catalog from start to end.
Rows ``0 .. base_size-1`` are the base index's catalog rows, row ``base_size + i`` is delta slot
``i``.

Example:
    >>> state = LiveState.of(pipeline)               # doctest: +SKIP
    >>> state.record(state.row_of("B01"))["title"]   # doctest: +SKIP
    'USB-C cable'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from shopmatch.live.delta import DeltaSegment, idf
from shopmatch.live.filters import FilterColumns, SegmentedColumns
from shopmatch.pipeline import SearchPipeline


@dataclass(frozen=True, eq=False)
class LiveState:
    """The base pipeline, which of its rows are alive, the delta, and the last applied log batch."""

    base: SearchPipeline
    base_alive: np.ndarray
    delta: DeltaSegment
    base_columns: FilterColumns
    average_lengths: Mapping[str, float]
    seq: int = 0

    @classmethod
    def of(cls, base: SearchPipeline, *, seq: int = 0, average_lengths: Mapping[str, float] | None = None):
        """The state of a freshly loaded index: every row alive, an empty delta."""
        records = [base.products.record(row) for row in range(len(base))]
        if average_lengths is None:
            lexical = base.lexical
            average_lengths = (lexical.average_lengths if lexical is not None else None) or {}
        return cls(base, np.ones(len(base), dtype=bool), DeltaSegment(), FilterColumns(records), average_lengths, seq)

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
    def alive(self) -> np.ndarray:
        return np.concatenate([self.base_alive, np.ones(len(self.delta), dtype=bool)])

    @cached_property
    def columns(self) -> SegmentedColumns:
        delta_records = [self.delta.product(slot).to_dict() for slot in range(len(self.delta))]
        return SegmentedColumns([self.base_columns, FilterColumns(delta_records)])

    def record(self, row: int) -> dict[str, Any]:
        if row < self.base_size:
            return self.base.products.record(row)
        return self.delta.product(row - self.base_size).to_dict()

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

    def idf(self, term: str) -> float:
        """A term's idf with the base segment's statistics (both segments are scored with it)."""
        lexical = self.base.lexical
        assert lexical is not None
        return idf(lexical.num_docs, lexical.document_frequency(term))
