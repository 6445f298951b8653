"""A searchable index that takes catalog updates while it serves: log, apply, compact.

Writes (:meth:`LiveIndex.upsert`, :meth:`LiveIndex.delete`) are validated, prepared (new
products are tokenized and embedded), appended to the write-ahead log with ``fsync``, and only
then applied by swapping in a new :class:`~shopmatch.backends.inprocess.snapshot.Snapshot`: a write is durable
before it is acknowledged, and searchable as soon as the call returns.

The log lives beside the index directory (``INDEX.wal``). Opening an index replays the batches
numbered above the index's ``live_seq`` (the last batch it contains). Compaction writes the
current catalog as a new index directory — the surviving base products with their stored
vectors, plus the delta — through an atomic rename, then drops the log's batches it holds.
Writes that arrive while it runs stay in the delta of the new state. It runs in a background
thread once the delta holds ``compact_after`` products, or on demand.

Example:
    >>> live = LiveIndex.open("demo-index")                                    # doctest: +SKIP
    >>> live.upsert([{"id": "N1", "title": "Insulated steel water bottle"}])   # doctest: +SKIP
    WriteResult(seq=1, upserted=['N1'], deleted=[], not_found=[])
    >>> live.search(Query("water bottle")).results[0].product_id              # doctest: +SKIP
    'N1'
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from shopmatch.backends.base import WriteResult, parse_products
from shopmatch.backends.inprocess.delta import DeltaEntry
from shopmatch.backends.inprocess.products import MemoryProducts
from shopmatch.backends.inprocess.snapshot import Snapshot
from shopmatch.backends.inprocess.static import StaticIndex, read_index_manifest
from shopmatch.backends.inprocess.wal import LogEntry, WriteAheadLog
from shopmatch.catalog import Product
from shopmatch.errors import DataError
from shopmatch.explain import explain_product
from shopmatch.query.query import Query
from shopmatch.query.spelling import SpellingModel
from shopmatch.search import SearchPage, search

logger = logging.getLogger(__name__)

DEFAULT_COMPACT_AFTER = 5_000


def wal_path_for(index_dir: str | Path) -> Path:
    """The write-ahead log of an index directory: a sibling file ``<index>.wal``."""
    index_dir = Path(index_dir)
    return index_dir.with_name(index_dir.name + ".wal")


class LiveIndex:
    """An index directory served with live updates (see the module docstring).

    Args:
        directory: the index directory (``shopmatch index`` writes one).
        wal_path: the write-ahead log (default ``<directory>.wal``).
        compact_after: compact in the background once the delta holds this many products (0: never).
        backend: the lexical backend (``numba`` is faster on large catalogs, slower to start).
        ranker: a learned ranker directory searched with (``[ranker] model``), loaded beside the
            index and never written into it by a compaction.
    """

    def __init__(
        self,
        directory: str | Path,
        *,
        wal_path: str | Path | None = None,
        compact_after: int = DEFAULT_COMPACT_AFTER,
        backend: str = "numpy",
        ranker: str | Path | None = None,
    ) -> None:
        self.directory = Path(directory)
        self.backend = backend
        self.ranker_dir = ranker
        self.compact_after = compact_after
        self._write_lock = threading.Lock()  # one writer (and one compaction swap) at a time
        self._compaction: threading.Thread | None = None
        self._compact_lock = threading.Lock()  # one compaction at a time (see compact)
        self._compacted: tuple[int, dict[str, Any]] = (0, {})  # (finished compactions, the last one's report)
        self.compactions = 0
        self.last_compaction_error: str | None = None
        base, seq = self._load_base()
        self.wal = WriteAheadLog(wal_path or wal_path_for(self.directory))
        self._state = Snapshot.of(base, seq=seq)
        replayed = 0
        for entry in self.wal.read():
            if entry.seq > seq:
                self._state = self._applied(self._state, entry)
                replayed += 1
        if replayed:
            logger.info("replayed %d logged batches (through #%d) onto %s", replayed, self._state.seq, self.directory)

    @classmethod
    def open(cls, directory: str | Path, **options: Any) -> LiveIndex:
        return cls(directory, **options)

    def _load_base(self) -> tuple[StaticIndex, int]:
        manifest = read_index_manifest(self.directory)
        return self._loaded(), int(manifest.get("live_seq", 0))

    def _loaded(self) -> StaticIndex:
        """The index directory loaded, with ``ranker`` when given (the saved config keeps its own)."""
        base = StaticIndex.load(self.directory, backend=self.backend)
        self._saved_ranker = base.config.ranker
        if self.ranker_dir is None:
            return base
        return base.with_config(replace(base.config, ranker=replace(base.config.ranker, model=str(self.ranker_dir))))

    @property
    def state(self) -> Snapshot:
        """The current state; a search holds on to one so it reads a single consistent catalog."""
        return self._state

    @property
    def retrievers(self):
        return self._state.retrievers

    @property
    def reranker(self):
        return self._state.reranker

    def snapshot(self) -> Snapshot:
        """The searcher's view (the current state)."""
        return self._state

    # ---- reading -------------------------------------------------------------------------

    def search(self, query: Query) -> SearchPage:
        """Search the live catalog (see :func:`shopmatch.search.search`)."""
        return search(self._state, [query])[0]

    def explain(self, query: str, product_id: str, *, spelling: bool = True) -> dict[str, Any] | None:
        """The explanation of one product for ``query`` (None: no such product)."""
        return explain_product(self._state, query, product_id, spelling=spelling)

    def get(self, product_id: str) -> dict[str, Any] | None:
        state = self._state
        row = state.row_of(product_id)
        return None if row is None else state.record(row)

    def stats(self) -> dict[str, Any]:
        state = self._state
        return {
            "products": state.alive_count,
            "base_products": state.base_size,
            "delta_products": len(state.delta),
            "deleted_in_base": int(state.base_size - state.base_alive.sum()),
            "last_seq": state.seq,
            "compactions": self.compactions,
            "compacting": self.compacting,
        }

    # ---- writing -------------------------------------------------------------------------

    def upsert(self, records: Sequence[Mapping[str, Any]]) -> WriteResult:
        """Add or replace products (validated first: a bad record rejects the whole batch)."""
        products = parse_products(records)
        if not products:
            raise DataError("no products to upsert", path="request", field="products")
        seen: dict[str, Product] = {p.id: p for p in products}  # the last of a repeated id wins
        products = list(seen.values())
        with self._write_lock:
            entries = self._entries(self._state, products)
            seq = self.wal.append("upsert", {"products": [p.to_dict() for p in products]}, min_seq=self._state.seq)
            self._state = self._with_upserts(self._state, entries, seq)
        self._maybe_compact()
        return WriteResult(seq, upserted=[p.id for p in products])

    def delete(self, product_ids: Sequence[str]) -> WriteResult:
        """Delete products; ids that are not in the catalog come back in ``not_found``."""
        with self._write_lock:
            state = self._state
            wanted = list(dict.fromkeys(product_ids))
            found = [pid for pid in wanted if state.row_of(pid) is not None]
            missing = [pid for pid in wanted if state.row_of(pid) is None]
            if not found:
                return WriteResult(state.seq, not_found=missing)
            seq = self.wal.append("delete", {"ids": found}, min_seq=state.seq)
            self._state = self._with_deletes(state, found, seq)
        return WriteResult(seq, deleted=found, not_found=missing)

    @staticmethod
    def _entries(state: Snapshot, products: Sequence[Product]) -> list[DeltaEntry]:
        """Everything search needs of new products, from each retriever (term weights, vectors)."""
        documents = {name: retriever.documents(products) for name, retriever in state.retrievers.items()}
        return [
            DeltaEntry(product, {name: docs[i] for name, docs in documents.items()})
            for i, product in enumerate(products)
        ]

    @staticmethod
    def _tombstoned(state: Snapshot, product_ids: Iterable[str]) -> np.ndarray:
        alive = state.base_alive
        rows = [r for r in (state.base.products.row_of(pid) for pid in product_ids) if r is not None]
        if rows and alive[rows].any():
            alive = alive.copy()
            alive[rows] = False
        return alive

    def _with_upserts(self, state: Snapshot, entries: list[DeltaEntry], seq: int) -> Snapshot:
        ids = [e.product.id for e in entries]
        return replace(
            state, base_alive=self._tombstoned(state, ids), delta=state.delta.with_changes(entries, []), seq=seq
        )

    def _with_deletes(self, state: Snapshot, product_ids: list[str], seq: int) -> Snapshot:
        return replace(
            state,
            base_alive=self._tombstoned(state, product_ids),
            delta=state.delta.with_changes([], product_ids),
            seq=seq,
        )

    def _applied(self, state: Snapshot, entry: LogEntry) -> Snapshot:
        """A logged batch applied to ``state`` (start-up replay)."""
        if entry.op == "upsert":
            products = parse_products(entry.body["products"], source=f"{self.wal.path} batch #{entry.seq}")
            return self._with_upserts(state, self._entries(state, products), entry.seq)
        return self._with_deletes(state, list(entry.body["ids"]), entry.seq)

    # ---- compaction ----------------------------------------------------------------------

    @property
    def compacting(self) -> bool:
        return self._compaction is not None and self._compaction.is_alive()

    def _maybe_compact(self) -> None:
        if self.compact_after and len(self._state.delta) >= self.compact_after and not self.compacting:
            self._compaction = threading.Thread(target=self._compact_logged, name="shopmatch-compaction", daemon=True)
            self._compaction.start()

    def _compact_logged(self) -> None:
        try:
            self.compact()
        except Exception as err:  # a background thread has nobody to raise to: keep serving, report it
            self.last_compaction_error = f"{type(err).__name__}: {err}"
            logger.exception("compaction of %s failed; the delta and the log are kept", self.directory)

    def compact(self) -> dict[str, Any]:
        """Fold the delta and the deletions into a new index directory (atomic), swap it in,
        and drop the log batches it holds. Returns what it did.

        Single flight: a call made while another compaction runs waits for it. If that one
        covered every batch logged when the call was made, the call returns its report with
        ``"joined": True`` instead of rebuilding the index again.
        """
        arrived_seq, arrived_after = self._state.seq, self._compacted[0]
        with self._compact_lock:
            finished, report = self._compacted
            if finished > arrived_after and report["seq"] >= arrived_seq:
                return {**report, "joined": True}
            report = self._compact_now()
            self._compacted = (finished + 1, report)
            return report

    def _compact_now(self) -> dict[str, Any]:
        started = time.perf_counter()
        snapshot = self._state
        if not len(snapshot.delta) and snapshot.base_alive.all():
            # The logged batches cancel out (e.g. an upsert and its delete): the index on disk
            # already is the catalog, so the log only needs emptying.
            with self._write_lock:
                if self._state is snapshot:
                    self.wal.truncate_through(snapshot.seq)
            return {"compacted": False, "seq": snapshot.seq}
        merged = self._merged(snapshot)
        merged.config = replace(merged.config, ranker=self._saved_ranker)  # --ranker is not written into the index
        merged.save(self.directory, live_seq=snapshot.seq)
        base = self._loaded()
        if snapshot.base.ranker_table_built:  # a ranker searches this index: build its table here, not in a search
            base.ranker_table()
        with self._write_lock:
            state = Snapshot.of(base, seq=snapshot.seq)
            for entry in self.wal.read():  # writes that arrived while compacting
                if entry.seq > snapshot.seq:
                    state = self._applied(state, entry)
            self._state = state
            remaining = self.wal.truncate_through(snapshot.seq)
        self.compactions += 1
        seconds = time.perf_counter() - started
        logger.info(
            "compacted %s: %d products through batch #%d in %.1f s (%d batches left in the log)",
            self.directory,
            len(base),
            snapshot.seq,
            seconds,
            remaining,
        )
        return {"compacted": True, "seq": snapshot.seq, "products": len(base), "seconds": round(seconds, 2)}

    @staticmethod
    def _merged(state: Snapshot) -> StaticIndex:
        """The snapshot's catalog as one in-memory index; each retriever folds in its part of the delta."""
        base = state.base
        keep = np.flatnonzero(state.base_alive)
        products = [Product.from_dict(base.products.record(int(r))) for r in keep]
        products += [state.delta.product(slot) for slot in range(len(state.delta))]
        retrievers = {
            name: retriever.compacted(keep, state.delta.segments[name], products)
            for name, retriever in base.retrievers.items()
        }
        spelling = SpellingModel.build(products) if base.spelling is not None else None
        return StaticIndex(
            base.config,
            MemoryProducts(products),
            retrievers,
            base.reranker,
            spelling,
            pinyin=base.pinyin,  # the catalog's terms as last built: a later build brings them up to date
            suggester=base.suggester,
        )

    def close(self) -> None:
        """Wait for a running compaction, then close the log."""
        if self._compaction is not None:
            self._compaction.join()
        self.wal.close()
