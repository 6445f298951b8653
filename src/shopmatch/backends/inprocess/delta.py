"""The delta segment: products added or changed since the index was built, searchable at once.

The index on disk (the *base* segment) is immutable. An upsert puts the product into the delta
and, when it replaces a product of the base, marks that base row deleted (a tombstone); a
delete removes it from the delta or tombstones it in the base. Searches read both segments and
merge them by score, so a write is visible as soon as it is applied.

Each retriever keeps its part of the delta (:meth:`~shopmatch.retrieval.base.Retriever.segment`),
scored so that it merges with the base by value: BM25F with the base segment's statistics,
vectors by cosine similarity. Compaction (:mod:`shopmatch.backends.inprocess.live`) folds the
delta into a new base.

Example:
    >>> from shopmatch.catalog import Product
    >>> delta = DeltaSegment({}).with_changes([DeltaEntry(Product("n1", "Steel water bottle"), {})], [])
    >>> len(delta), delta.slot_of("n1")
    (1, 0)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from shopmatch.catalog import Product
from shopmatch.retrieval.base import Retriever, Segment


@dataclass(frozen=True)
class DeltaEntry:
    """One product of the delta and, per retriever name, what that retriever stores of it."""

    product: Product
    documents: Mapping[str, Any]


class DeltaSegment:
    """Products of the delta in insertion order; slot ``i`` is row ``base size + i`` in search."""

    def __init__(self, retrievers: Mapping[str, Retriever], entries: Mapping[str, DeltaEntry] | None = None) -> None:
        self.retrievers = retrievers
        self.entries: dict[str, DeltaEntry] = dict(entries or {})
        self.ids = list(self.entries)
        self._slots = {pid: i for i, pid in enumerate(self.ids)}

    def __len__(self) -> int:
        return len(self.ids)

    @cached_property
    def segments(self) -> dict[str, Segment]:
        """Each retriever's searchable part of the delta (built when first searched)."""
        entries = list(self.entries.values())
        return {name: r.segment([e.documents[name] for e in entries]) for name, r in self.retrievers.items()}

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
        return DeltaSegment(self.retrievers, entries)
