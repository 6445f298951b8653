"""A worker's copy of an index's vocabulary: each term's sparse dimensions and document frequency.

Loaded once when the index opens; kept current by reading only the rows added since (Milvus
assigns the terms collection's primary keys in order), when a query holds a term this copy does
not know and at most every ``SYNC_SECONDS`` otherwise. A write registers the terms it brings
(:meth:`Vocabulary.register`), with dimensions from a block this worker claimed.

Example::

    vocabulary = Vocabulary.load(store, stats_version=1)
    vocabulary.dims("cabl")           # [17]
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence

from shopmatch.backends.milvus.store import BLOCK_SIZE, MilvusStore

SYNC_SECONDS = 5.0


class Vocabulary:
    """Term → its sparse dimensions and document frequency (thread-safe)."""

    def __init__(self, store: MilvusStore, stats_version: int) -> None:
        self.store = store
        self.stats_version = stats_version  # rows of newer statistics (a reweight under way) wait
        self._dims: dict[str, list[int]] = {}
        self._df: dict[str, tuple[int, int]] = {}  # term → (statistics version, df)
        self._last_pk = -1
        self._synced = 0.0
        self._next_dim = 0
        self._block_end = 0
        self._lock = threading.Lock()

    @classmethod
    def load(cls, store: MilvusStore, stats_version: int) -> Vocabulary:
        vocabulary = cls(store, stats_version)
        vocabulary.sync(force=True)
        return vocabulary

    def __len__(self) -> int:
        return len(self._dims)

    def df(self, term: str) -> int:
        """The term's document frequency under the newest statistics seen (0: new since)."""
        return self._df.get(term, (0, 0))[1]

    @property
    def document_frequencies(self) -> dict[str, int]:
        return {term: df for term, (_, df) in self._df.items()}

    @property
    def last_pk(self) -> int:
        """The newest vocabulary row this copy has read."""
        return self._last_pk

    def dims(self, term: str) -> list[int]:
        return self._dims.get(term, [])

    def _add(self, rows: Iterable[dict]) -> None:
        for row in rows:
            self._last_pk = max(self._last_pk, int(row["pk"]))
            if int(row["version"]) > self.stats_version:
                continue
            term, dim = row["term"], int(row["dim"])
            dims = self._dims.setdefault(term, [])
            if dim not in dims:
                dims.append(dim)
            version = (int(row["version"]), int(row["df"]))
            if version > self._df.get(term, (-1, 0)):
                self._df[term] = version

    def sync(self, *, force: bool = False) -> None:
        """Read the vocabulary rows added since the last read (all of them the first time)."""
        if not force and time.monotonic() - self._synced < SYNC_SECONDS:
            return
        with self._lock:
            self._add(self.store.vocabulary(after_pk=self._last_pk))
            self._synced = time.monotonic()

    def lookup(self, terms: Sequence[str]) -> None:
        """Make sure the dimensions of these (query) terms are known, if any writer registered them."""
        missing = [t for t in dict.fromkeys(terms) if t not in self._dims]
        if missing:
            with self._lock:
                self._add(self.store.terms_named(missing))
        self.sync()

    def register(self, terms: Iterable[str]) -> None:
        """Give every term without a dimension one (a write's new terms)."""
        wanted = [t for t in dict.fromkeys(terms) if t not in self._dims]
        if not wanted:
            return
        with self._lock:
            self._add(self.store.terms_named(wanted))  # another worker may have registered them
            new = [t for t in wanted if t not in self._dims]
            rows = []
            for term in new:
                if self._next_dim >= self._block_end:
                    self._next_dim = self.store.claim_block()
                    self._block_end = self._next_dim + BLOCK_SIZE
                rows.append({"term": term, "dim": self._next_dim, "df": 0, "version": 0})
                self._next_dim += 1
            if rows:
                self.store.add_terms(rows)
                for row in rows:
                    self._dims[row["term"]] = [row["dim"]]
                    self._df.setdefault(row["term"], (0, 0))
