"""Products as rows of the products collection, and search filters as Milvus expressions.

Filter values are stored case-folded (brand, color, every category path prefix), so a filter
matches as in-process (:mod:`shopmatch.filters`): case-insensitively, a category at any depth
under the chosen prefix.

Example:
    >>> filter_expression(Filters(brand=("Acme", "Lumo"), category=("Home",), max_price=20))
    'brand in ["acme", "lumo"] and array_contains(category, "home") and price <= 20.0'
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from shopmatch.backends.milvus.statistics import TermStatistics, analyze
from shopmatch.backends.milvus.store import EMPTY_DOCUMENT_DIM, MAX_CATEGORY_LEVELS, expression_literal
from shopmatch.backends.milvus.vocabulary import Vocabulary
from shopmatch.catalog import Product
from shopmatch.config import PipelineConfig
from shopmatch.filters import CATEGORY_SEPARATOR, Filters


def _fold(value: Any) -> str:
    return str(value).strip().casefold() if value is not None else ""


def category_prefixes(path: Sequence[str]) -> list[str]:
    """Every folded prefix of a category path, shallowest first (``home``, ``home > kitchen``)."""
    parts = [str(p) for p in path][:MAX_CATEGORY_LEVELS]
    return [_fold(CATEGORY_SEPARATOR.join(parts[: level + 1])) for level in range(len(parts))]


def filter_expression(filters: Filters) -> str:
    """A Milvus boolean expression that keeps what ``filters`` keeps ("" when it keeps everything)."""
    parts = []
    for name in ("brand", "color"):
        values = [_fold(v) for v in getattr(filters, name)]
        if values:
            parts.append(f"{name} in [{', '.join(expression_literal(v) for v in values)}]")
    if filters.category:
        prefix = category_prefixes(filters.category)[-1]
        parts.append(f"array_contains(category, {expression_literal(prefix)})")
    for name, operator, value in (
        ("price", ">=", filters.min_price),
        ("price", "<=", filters.max_price),
        ("rating", ">=", filters.min_rating),
    ):
        if value is not None:
            parts.append(f"{name} {operator} {float(value)!r}")
    return " and ".join(parts)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def lexical_vector(
    counts: Mapping[str, Any], config: PipelineConfig, statistics: TermStatistics, vocabulary: Vocabulary
) -> dict[int, float]:
    """A product's BM25F sparse vector over the vocabulary's dimensions."""
    out: dict[int, float] = {}
    for term, weight in statistics.document_vector(counts, config.lexical).items():
        out[vocabulary.dims(term)[0]] = float(np.float32(weight))
    return out or {EMPTY_DOCUMENT_DIM: 1.0}


def product_rows(
    products: Sequence[Product],
    ordinals: Sequence[int],
    config: PipelineConfig,
    statistics: TermStatistics,
    vocabulary: Vocabulary,
    dense_vectors: np.ndarray | None,
    *,
    counted: bool,
) -> list[dict[str, Any]]:
    """The products collection's rows of ``products`` (their new terms get dimensions first);
    ``counted``: the statistics counted these products (a catalog load), else they are written
    after them (and count towards the drift that calls for a reweight)."""
    lexical = "lexical" in config.retrievers
    analyses = [analyze(p, config.lexical) for p in products] if lexical else []
    if lexical:
        vocabulary.register(term for counts in analyses for field in counts.values() for term in field)
    rows = []
    for i, product in enumerate(products):
        record = product.to_dict()
        row: dict[str, Any] = {
            "id": product.id,
            "ordinal": int(ordinals[i]),
            "stats_version": statistics.version,
            "counted": counted,
            "brand": _fold(record.get("brand")),
            "color": _fold(record.get("color")),
            "category": category_prefixes(record.get("category") or []),
            "price": _number(record.get("price")),
            "rating": _number(record.get("rating")),
            "record": record,
        }
        if lexical:
            row["lexical"] = lexical_vector(analyses[i], config, statistics, vocabulary)
        if dense_vectors is not None:
            row["dense"] = dense_vectors[i].astype(np.float32).tolist()
        rows.append(row)
    return rows


def query_vector(terms: Sequence[str], statistics: TermStatistics, vocabulary: Vocabulary) -> dict[int, float]:
    """A query's sparse vector: idf × count on every dimension of each of its terms."""
    vocabulary.lookup(terms)
    out: dict[int, float] = {}
    for term, weight in statistics.query_weights(terms).items():
        for dim in vocabulary.dims(term):
            out[dim] = float(np.float32(weight))
    return out
