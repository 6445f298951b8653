"""Search filters (brand, color, category prefix, price range, rating) and facet counts.

Filter values are matched case-insensitively; several brands (or colors) mean "any of them".
A category filter is a path prefix: ``["Home", "Kitchen"]`` keeps every product filed under
Home > Kitchen at any depth. Facet counts are disjunctive, as shops show them: each facet counts
the candidates that pass every *other* filter, so picking one brand still shows the others.

Example:
    >>> from shopmatch.catalog import Product
    >>> columns = FilterColumns([
    ...     Product("1", "Mug", brand="Acme", category=["Home", "Kitchen"], price=8.0).to_dict(),
    ...     Product("2", "Lamp", brand="Lumo", category=["Home", "Lighting"], price=30.0).to_dict(),
    ... ])
    >>> columns.mask(Filters(category=("home", "kitchen"))).tolist()
    [True, False]
    >>> columns.mask(Filters(max_price=20)).tolist()
    [True, False]

Facets of the index and its live delta are merged by :class:`SegmentedColumns` (value names
are compared case-insensitively, and shown as first seen).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

CATEGORY_SEPARATOR = " > "
MAX_CATEGORY_DEPTH = 8
PRICE_BUCKETS = (0.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, math.inf)
RATING_THRESHOLDS = (4.0, 3.0, 2.0, 1.0)


@dataclass(frozen=True)
class Filters:
    """What a search may return. Empty tuples and ``None`` bounds mean "no restriction"."""

    brand: tuple[str, ...] = ()
    color: tuple[str, ...] = ()
    category: tuple[str, ...] = ()
    min_price: float | None = None
    max_price: float | None = None
    min_rating: float | None = None

    def __bool__(self) -> bool:
        return any(getattr(self, f.name) not in ((), None) for f in fields(self))

    def without(self, facet: str) -> Filters:
        """These filters less the one a facet sets (for disjunctive counts)."""
        if facet == "price":
            return Filters(self.brand, self.color, self.category, None, None, self.min_rating)
        if facet == "rating":
            return Filters(self.brand, self.color, self.category, self.min_price, self.max_price, None)
        return Filters(**{**{f.name: getattr(self, f.name) for f in fields(self)}, facet: ()})

    def to_dict(self) -> dict[str, Any]:
        return {f.name: (list(v) if isinstance(v, tuple) else v) for f in fields(self) if (v := getattr(self, f.name))}


def category_path(text: str | None) -> tuple[str, ...]:
    """A category path typed as text, ``"Home > Kitchen"`` → ``("Home", "Kitchen")`` (the form the
    HTTP API's ``category=`` and the CLI's ``--category`` take)."""
    return tuple(part.strip() for part in (text or "").split(">") if part.strip())


def _fold(value: Any) -> str:
    return str(value).strip().casefold()


class _Codes:
    """Text values of one column as integer codes (-1 = the product has none)."""

    def __init__(self, values: Sequence[str | None]) -> None:
        self.names: dict[str, str] = {}  # folded → as first seen (for display)
        self.code_of: dict[str, int] = {}
        codes = np.full(len(values), -1, dtype=np.int32)
        for row, value in enumerate(values):
            if value is None or not str(value).strip():
                continue
            key = _fold(value)
            if key not in self.code_of:
                self.code_of[key] = len(self.code_of)
                self.names[key] = str(value).strip()
            codes[row] = self.code_of[key]
        self.codes = codes
        self.display = list(self.names.values())

    def matching(self, wanted: Sequence[str]) -> np.ndarray:
        codes = [self.code_of[k] for k in map(_fold, wanted) if k in self.code_of]
        return np.isin(self.codes, np.asarray(codes, dtype=np.int32))


class FilterColumns:
    """The filterable fields of a list of product records, as arrays (one entry per row)."""

    def __init__(self, records: Sequence[Mapping[str, Any]]) -> None:
        self.size = len(records)
        self.brand = _Codes([r.get("brand") for r in records])
        self.color = _Codes([r.get("color") for r in records])
        paths = [[str(c) for c in (r.get("category") or [])][:MAX_CATEGORY_DEPTH] for r in records]
        self.category = [
            _Codes([CATEGORY_SEPARATOR.join(p[: level + 1]) if len(p) > level else None for p in paths])
            for level in range(MAX_CATEGORY_DEPTH)
        ]
        self.price = np.array([_number(r.get("price")) for r in records], dtype=np.float64)
        self.rating = np.array([_number(r.get("rating")) for r in records], dtype=np.float64)

    def mask(self, filters: Filters) -> np.ndarray:
        """Rows that pass every filter."""
        keep = np.ones(self.size, dtype=bool)
        if filters.brand:
            keep &= self.brand.matching(filters.brand)
        if filters.color:
            keep &= self.color.matching(filters.color)
        if filters.category:
            level = min(len(filters.category), MAX_CATEGORY_DEPTH) - 1
            keep &= self.category[level].matching([CATEGORY_SEPARATOR.join(filters.category[: level + 1])])
        with np.errstate(invalid="ignore"):
            if filters.min_price is not None:
                keep &= self.price >= filters.min_price
            if filters.max_price is not None:
                keep &= self.price <= filters.max_price
            if filters.min_rating is not None:
                keep &= self.rating >= filters.min_rating
        return keep

    def facet_counts(self, rows: np.ndarray, filters: Filters) -> dict[str, dict[Any, int]]:
        """Raw facet counts over candidate ``rows`` of this part (see :class:`SegmentedColumns`)."""
        rows = np.asarray(rows, dtype=np.int64)
        out: dict[str, dict[Any, int]] = {}
        for name, column in (("brand", self.brand), ("color", self.color)):
            out[name] = _value_counts(column, rows[self.mask(filters.without(name))[rows]])
        level = min(len(filters.category), MAX_CATEGORY_DEPTH - 1)
        category_rows = rows[self.mask(filters.without("category"))[rows]]
        if filters.category:  # children of the chosen category, among the products under it
            parent = self.category[level - 1].matching([CATEGORY_SEPARATOR.join(filters.category[:level])])
            category_rows = category_rows[parent[category_rows]]
        out["category"] = _value_counts(self.category[level], category_rows)
        prices = self.price[rows[self.mask(filters.without("price"))[rows]]]
        out["price"] = {
            (low, high): int(((prices >= low) & (prices < high)).sum())
            for low, high in zip(PRICE_BUCKETS, PRICE_BUCKETS[1:], strict=False)
        }
        ratings = self.rating[rows[self.mask(filters.without("rating"))[rows]]]
        out["rating"] = {threshold: int((ratings >= threshold).sum()) for threshold in RATING_THRESHOLDS}
        return out


class SegmentedColumns:
    """Filter columns of consecutive row ranges (the index, then its live delta) seen as one.

    Example:
        >>> base = FilterColumns([{"brand": "Acme"}, {"brand": "Lumo"}])
        >>> both = SegmentedColumns([base, FilterColumns([{"brand": "acme"}])])
        >>> both.mask(Filters(brand=("ACME",))).tolist()
        [True, False, True]
        >>> both.facets(np.arange(3), Filters())["brand"][0]
        {'value': 'Acme', 'count': 2, 'selected': False}
    """

    def __init__(self, parts: Sequence[FilterColumns]) -> None:
        self.parts = list(parts)
        self.offsets = np.cumsum([0, *(part.size for part in self.parts)])

    @property
    def size(self) -> int:
        return int(self.offsets[-1])

    def mask(self, filters: Filters) -> np.ndarray:
        if not self.parts:
            return np.zeros(0, dtype=bool)
        return np.concatenate([part.mask(filters) for part in self.parts])

    def facets(self, rows: np.ndarray, filters: Filters, *, limit: int = 20) -> dict[str, list[dict[str, Any]]]:
        """Facet counts over candidate ``rows`` (disjunctive: a facet ignores its own filter)."""
        rows = np.asarray(rows, dtype=np.int64)
        totals: dict[str, dict[Any, int]] = {}
        display: dict[str, str] = {}  # folded value → its text in the first part that has it
        for part, start, end in zip(self.parts, self.offsets[:-1], self.offsets[1:], strict=True):
            local = rows[(rows >= start) & (rows < end)] - start
            for facet, counts in part.facet_counts(local, filters).items():
                merged = totals.setdefault(facet, {})
                for key, count in counts.items():
                    if isinstance(key, str):
                        key = display.setdefault(_fold(key), key)
                    merged[key] = merged.get(key, 0) + count
        out: dict[str, list[dict[str, Any]]] = {}
        for name in ("brand", "color", "category"):
            chosen = {_fold(v) for v in getattr(filters, name)} if name != "category" else set()
            ranked = sorted(((v, c) for v, c in totals.get(name, {}).items() if c), key=lambda vc: (-vc[1], vc[0]))
            out[name] = [{"value": v, "count": c, "selected": _fold(v) in chosen} for v, c in ranked[:limit]]
        for item in out["category"]:
            item["path"] = item["value"].split(CATEGORY_SEPARATOR)
        out["price"] = [
            {"min": low, "max": None if math.isinf(high) else high, "count": count}
            for (low, high), count in totals.get("price", {}).items()
            if count
        ]
        out["rating"] = [{"min": t, "count": c} for t, c in totals.get("rating", {}).items() if c]
        return out


def _value_counts(column: _Codes, rows: np.ndarray) -> dict[str, int]:
    codes = column.codes[rows]
    codes = codes[codes >= 0]
    if not len(codes):
        return {}
    counts = np.bincount(codes, minlength=len(column.display))
    return {column.display[c]: int(counts[c]) for c in np.flatnonzero(counts)}


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return math.nan
    return float(value)
