"""What the ranker's features read of every product, as arrays built once per index snapshot.

The product features of :mod:`shopmatch.rank.features` (the short fields' term counts, the title's
identifiers, price, rating, rating count, whether a product mentions what a query excludes) would
otherwise read and analyze each candidate's record on every query. A :class:`ProductTable` holds them
for one segment of rows:

- ``numbers``: ``(rows, 3)`` float32 price, rating, rating count (``MISSING_SCORE`` where none);
- ``terms``: a sparse ``(rows, 4 · vocabulary)`` matrix of the analyzed term counts of ``title``,
  ``brand``, ``color`` and ``category`` (column ``4 · term id + field``), so that a query's counts in
  the candidates' fields are one gather (:meth:`ProductTable.field_counts`);
- ``identifiers``: a sparse ``(rows, identifiers)`` 0/1 matrix of the title's identifiers;
- the plain terms of the exclusion fields, read from the record the first time a query with an
  exclusion (``… without chicken``) meets the product, then kept.

:class:`ProductTables` is a snapshot's view: the in-process backend builds the base index's table
once (when the ranker first runs, kept by the index and its ``with_config`` copies through a
:class:`TableCache`) and the live delta's table per snapshot, so a product added or changed by
``/products`` is read from the new snapshot's delta table, never from a stale one. A backend
without a table (Milvus: records come with each search's hits) gets one built from the candidates'
records per query (:func:`candidate_tables`).

Example:
    >>> records = [{"title": "Samsung 980 Pro 1TB", "brand": "Samsung", "price": 99.0},
    ...            {"title": "Crucial P3 1TB", "rating": 4.5}]
    >>> table = ProductTable.build(records, lambda text: text.lower().split())
    >>> table.numbers.tolist()
    [[99.0, -1000.0, -1000.0], [-1000.0, 4.5, -1000.0]]
    >>> table.field_counts(np.array([0, 1]), ["1tb", "samsung"]).tolist()  # title, brand, color, category
    [[1.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]]
    >>> table.identifier_matches(np.array([0, 1]), {"980", "1tb"}).tolist()
    [2, 1]
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

import numba
import numpy as np
import scipy.sparse as sp

from shopmatch.catalog import Product
from shopmatch.progress import track
from shopmatch.query.negation import Exclusion, plain_terms
from shopmatch.text.fields import field_text

MISSING = -1000.0  # rank.features.MISSING_SCORE (not imported: features imports this module)
SHORT_FIELDS = ("title", "brand", "color", "category")
NUMBERS = ("price", "rating", "rating_count")
_FIELDS = len(SHORT_FIELDS)
_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)

Analyzer = Callable[[str], list[str]]
Profile = tuple[tuple[dict[str, int], ...], frozenset[str]]


def short_texts(record: Mapping[str, Any]) -> tuple[str, str, str, str]:
    """The texts of a record's short fields as the features analyze them."""
    return (
        record["title"],
        record.get("brand") or "",
        record.get("color") or "",
        " ".join(tuple(record.get("category") or ())),
    )


def identifiers(text: str) -> list[str]:
    """The tokens of ``text`` that hold a digit (model numbers, sizes), lower-cased, in order."""
    return [t for t in _TOKEN.findall(text.lower()) if any(map(str.isdigit, t))]


def profile(analyzer: Analyzer | None, texts: Sequence[str]) -> Profile:
    """A product's short fields' analyzed term counts (none without an analyzer) and its title's identifiers."""
    counts = tuple(dict(Counter(analyzer(text))) if text and analyzer else {} for text in texts)
    return counts, frozenset(identifiers(texts[0]))


@lru_cache(maxsize=1 << 16)
def cached_profile(analyzer: Analyzer | None, texts: tuple[str, ...]) -> Profile:
    """:func:`profile`, kept for the products of live deltas and of tables built per query (a
    product is analyzed once, not once per snapshot or query)."""
    return profile(analyzer, texts)


class ProductTable:
    """The ranker's per-product arrays of one segment's rows ``0 .. len-1`` (see the module docstring)."""

    def __init__(
        self,
        numbers: np.ndarray,
        vocabulary: dict[str, int],
        terms: sp.csr_matrix,
        identifier_vocabulary: dict[str, int],
        identifiers: sp.csr_matrix,
        record_of: Callable[[int], Mapping[str, Any]],
    ) -> None:
        self.numbers = numbers
        self.vocabulary = vocabulary
        self.terms = terms
        self.identifier_vocabulary = identifier_vocabulary
        self.identifiers = identifiers
        self._record_of = record_of
        self._plain: dict[tuple[tuple[str, ...], int], frozenset[str]] = {}

    def __len__(self) -> int:
        return len(self.numbers)

    @classmethod
    def build(
        cls,
        records: Iterable[Mapping[str, Any]],
        analyzer: Analyzer | None,
        record_of: Callable[[int], Mapping[str, Any]] | None = None,
        *,
        cached: bool = False,
    ) -> ProductTable:
        """The table of ``records`` (row ``i`` = the ``i``-th record), their short fields analyzed with
        ``analyzer`` (None: no term counts, for an index without a lexical retriever).
        ``record_of(row)`` reads a record again (exclusions; default: kept from ``records``);
        ``cached``: analyze through :func:`cached_profile` (few products, often seen again)."""
        kept: list[Mapping[str, Any]] = []
        numbers: list[tuple[float, float, float]] = []
        vocabulary: dict[str, int] = {}
        identifier_vocabulary: dict[str, int] = {}
        term_rows: list[int] = []
        term_columns: list[int] = []
        term_counts: list[int] = []
        id_rows: list[int] = []
        id_columns: list[int] = []
        memo: dict[str, dict[str, int]] = {}  # brands, colors and categories repeat
        for row, record in enumerate(records):
            if record_of is None:
                kept.append(record)
            numbers.append(tuple(MISSING if record.get(n) is None else float(record[n]) for n in NUMBERS))
            texts = short_texts(record)
            if cached:
                fields, wanted = cached_profile(analyzer, texts)
            else:
                fields = tuple(_counts(analyzer, text, memo) for text in texts)
                wanted = frozenset(identifiers(texts[0]))
            for field, counts in enumerate(fields):
                for term, count in counts.items():
                    term_rows.append(row)
                    term_columns.append(_FIELDS * vocabulary.setdefault(term, len(vocabulary)) + field)
                    term_counts.append(count)
            for identifier in wanted:
                id_rows.append(row)
                id_columns.append(identifier_vocabulary.setdefault(identifier, len(identifier_vocabulary)))
        rows = len(numbers)
        terms = sp.csr_matrix(
            (np.asarray(term_counts, np.float32), (term_rows, term_columns)),
            shape=(rows, _FIELDS * len(vocabulary)),
        )
        titles = sp.csr_matrix(
            (np.ones(len(id_rows), np.float32), (id_rows, id_columns)), shape=(rows, len(identifier_vocabulary))
        )
        terms.sort_indices()
        titles.sort_indices()
        return cls(
            np.asarray(numbers, dtype=np.float32).reshape(rows, len(NUMBERS)),
            vocabulary,
            terms,
            identifier_vocabulary,
            titles,
            record_of or kept.__getitem__,
        )

    @property
    def nbytes(self) -> int:
        """The arrays' memory (the vocabularies' dicts not counted)."""
        sparse = (m.data.nbytes + m.indices.nbytes + m.indptr.nbytes for m in (self.terms, self.identifiers))
        return int(self.numbers.nbytes + sum(sparse))

    # ---- per query -------------------------------------------------------------------------------

    def field_counts(self, rows: np.ndarray, terms: Sequence[str]) -> np.ndarray:
        """``(len(rows), 4 · len(terms))`` float32: field ``f``'s count of ``terms[t]`` at column
        ``f · len(terms) + t``."""
        columns = np.array(
            [
                _FIELDS * self.vocabulary[term] + field if term in self.vocabulary else -1
                for field in range(_FIELDS)
                for term in terms
            ],
            dtype=np.int64,
        )
        return _gather(self.terms, rows, columns)

    def identifier_matches(self, rows: np.ndarray, wanted: Iterable[str]) -> np.ndarray:
        """How many of the ``wanted`` identifiers each row's title holds."""
        columns = np.array([self.identifier_vocabulary.get(w, -1) for w in set(wanted)], dtype=np.int64)
        return _gather(self.identifiers, rows, columns).sum(axis=1).astype(np.int64)

    def excluded(self, rows: np.ndarray, exclusions: Sequence[Exclusion], fields: tuple[str, ...]) -> np.ndarray:
        """Whether each row's ``fields`` mention every term of one of ``exclusions`` outside a negated
        context (as :func:`shopmatch.query.exclusion.excluded_rows`)."""
        plains = [self._plain_terms(row, fields) for row in rows.tolist()]
        out = np.zeros(len(rows), dtype=bool)
        for exclusion in exclusions:  # term by term over all rows: a set lookup per (term, row)
            mentions = np.ones(len(rows), dtype=bool)
            for term in exclusion.terms:
                mentions &= np.fromiter((term in plain for plain in plains), dtype=bool, count=len(plains))
            out |= mentions
        return out

    def _plain_terms(self, row: int, fields: tuple[str, ...]) -> frozenset[str]:
        """The plain terms of a row's ``fields`` outside negated contexts (read once, then kept)."""
        plain = self._plain.get((fields, row))
        if plain is None:
            product = Product.from_dict(self._record_of(row))
            plain = plain_terms("\n".join(field_text(product, name) for name in fields))
            self._plain[(fields, row)] = plain
        return plain


class ProductTables:
    """A snapshot's tables: ``parts`` of ``(first row, table)`` in row order (the base index, the live delta)."""

    def __init__(self, parts: Sequence[tuple[int, ProductTable]]) -> None:
        self.parts = list(parts)
        self._starts = np.array([start for start, _ in self.parts], dtype=np.int64)

    def __len__(self) -> int:
        start, table = self.parts[-1]
        return start + len(table)

    @property
    def nbytes(self) -> int:
        return sum(table.nbytes for _, table in self.parts)

    def _split(self, rows: np.ndarray) -> list[tuple[np.ndarray, ProductTable, np.ndarray]]:
        """Per part: where its rows are among ``rows``, the part, and their rows in it."""
        if len(self.parts) == 1:
            start, table = self.parts[0]
            return [(np.arange(len(rows)), table, rows - start)]
        part = np.searchsorted(self._starts, rows, side="right") - 1
        out = []
        for p, (start, table) in enumerate(self.parts):
            where = np.flatnonzero(part == p)
            if len(where):
                out.append((where, table, rows[where] - start))
        return out

    def _each(self, rows: np.ndarray, width: tuple[int, ...], dtype: Any, compute: Callable) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        if len(self.parts) == 1:  # no live delta: one call, nothing to scatter
            start, table = self.parts[0]
            return np.asarray(compute(table, rows - start if start else rows), dtype=dtype).reshape(len(rows), *width)
        out = np.zeros((len(rows), *width), dtype=dtype)
        for where, table, local in self._split(rows):
            out[where] = compute(table, local)
        return out

    def numbers(self, rows: np.ndarray) -> np.ndarray:
        """``(len(rows), 3)`` float32 price, rating, rating count."""
        return self._each(rows, (len(NUMBERS),), np.float32, lambda t, r: t.numbers[r])

    def field_counts(self, rows: np.ndarray, terms: Sequence[str]) -> np.ndarray:
        """See :meth:`ProductTable.field_counts`."""
        return self._each(rows, (_FIELDS * len(terms),), np.float32, lambda t, r: t.field_counts(r, terms))

    def identifier_matches(self, rows: np.ndarray, wanted: Iterable[str]) -> np.ndarray:
        wanted = set(wanted)
        return self._each(rows, (), np.int64, lambda t, r: t.identifier_matches(r, wanted))

    def excluded(self, rows: np.ndarray, exclusions: Sequence[Exclusion], fields: tuple[str, ...]) -> np.ndarray:
        return self._each(rows, (), bool, lambda t, r: t.excluded(r, exclusions, fields))


class TableCache:
    """The base index's table, built once when the ranker first needs it and shared by the index's
    ``with_config`` copies (one per lexical retriever: its analyzer decides the term counts)."""

    def __init__(self) -> None:
        self._tables: dict[int, tuple[Any, ProductTable]] = {}
        self._lock = threading.Lock()  # concurrent first searches wait for one build

    def __bool__(self) -> bool:
        """Whether a table was built (the ranker has run on this index)."""
        return bool(self._tables)

    def get(self, lexical: Any, build: Callable[[], ProductTable]) -> ProductTable:
        with self._lock:
            found = self._tables.get(id(lexical))
            if found is None or found[0] is not lexical:
                found = (lexical, build())
                self._tables[id(lexical)] = found
            return found[1]


def build_table(
    size: int, record_of: Callable[[int], Mapping[str, Any]], analyzer: Analyzer | None, *, cached: bool = False
) -> ProductTable:
    """The table of rows ``0 .. size-1`` read with ``record_of`` (a progress bar for large catalogs)."""
    rows: Iterable[int] = range(size)
    if size >= 10_000 and not cached:
        rows = track(rows, total=size, description="ranker product table")
    return ProductTable.build((record_of(r) for r in rows), analyzer, record_of, cached=cached)


def candidate_tables(records: Sequence[Mapping[str, Any]], analyzer: Analyzer | None) -> ProductTables:
    """A table of one query's candidates (rows ``0 .. n-1``), for a snapshot without its own."""
    return ProductTables([(0, ProductTable.build(records, analyzer, cached=True))])


def _counts(analyzer: Analyzer | None, text: str, memo: dict[str, dict[str, int]]) -> dict[str, int]:
    if not text or analyzer is None:
        return {}
    found = memo.get(text)
    if found is None:
        found = memo[text] = dict(Counter(analyzer(text)))
    return found


def _gather(matrix: sp.csr_matrix, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """``matrix[rows][:, columns]`` as a dense float32 array (a column of -1: zeros), without scipy's
    per-call overhead: each row's stored entries are looked up among the sorted wanted columns by
    one compiled loop."""
    out = np.zeros((len(rows), len(columns)), dtype=np.float32)
    if not len(rows) or not (columns >= 0).any():
        return out
    order = np.argsort(columns, kind="stable")
    rows = np.asarray(rows, dtype=np.int64)
    _gather_rows(matrix.indptr, matrix.indices, matrix.data, rows, columns[order], order, out)
    return out


@numba.njit(cache=True, nogil=True)
def _gather_rows(indptr, indices, data, rows, ordered, order, out):  # pragma: no cover - compiled
    # out[i, order[j]] = the stored value of (rows[i], ordered[j]); a repeated column: its first place
    wanted = ordered.shape[0]
    for i in range(rows.shape[0]):
        row = rows[i]
        for p in range(indptr[row], indptr[row + 1]):
            column = indices[p]
            low = np.searchsorted(ordered, column)
            if low < wanted and ordered[low] == column:
                out[i, order[low]] = data[p]
