"""The ranker's base features computed the straightforward way, one product record at a time.

This is the specification :func:`shopmatch.rank.features.candidate_features` must reproduce
exactly (``tests/rank/test_product_table.py`` compares them) and the baseline of
``bench/ranker_latency.py``: it is feature version 1 as first written, reading each candidate's
record, analyzing its short fields (cached per product), checking exclusions on the record, and
scoring the BM25F of candidates the lexical retriever did not list by a search restricted to them.
It needs an in-process snapshot (its :meth:`search` takes a row mask).

Example:
    >>> sorted(REFERENCE_GROUPS) == sorted(g.name for g in FEATURE_GROUPS)
    True
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

import numpy as np

from shopmatch.backends.base import IndexSnapshot
from shopmatch.hits import FusedHits
from shopmatch.query.exclusion import excluded_rows
from shopmatch.query.query import Query
from shopmatch.rank.features import (
    FEATURE_GROUPS,
    FEATURE_NAMES,
    MISSING_SCORE,
    RETRIEVERS,
    SHORT_FIELDS,
    _analyzer,
    _fused_columns,
    _source_columns,
    identifiers,
)
from shopmatch.rank.groups import CandidateContext


def _retriever_columns(ctx: CandidateContext) -> np.ndarray:
    out = np.empty((ctx.n, 2 * len(RETRIEVERS)), dtype=np.float32)
    for i, name in enumerate(RETRIEVERS):
        out[:, 2 * i], out[:, 2 * i + 1] = _source_columns(ctx.hits, name, ctx.n)
    return out


def _match_columns(ctx: CandidateContext) -> np.ndarray:
    out = np.full((ctx.n, 3), MISSING_SCORE, dtype=np.float32)
    if "lexical" in ctx.index.retrievers:
        out[:, 0] = _bm25f(ctx.index, ctx.prepared["lexical"], ctx.hits, ctx.rows)
    if "dense" in ctx.index.retrievers and ctx.prepared.get("dense") is not None:
        cosine = ctx.index.score_rows("dense", ctx.prepared["dense"], ctx.rows)
        out[:, 1] = np.nan_to_num(cosine, nan=MISSING_SCORE)
    out[:, 2] = _source_columns(ctx.hits, "rerank", ctx.n)[0]
    return out


def _bm25f(index: IndexSnapshot, prepared: Any, hits: FusedHits, rows: np.ndarray) -> np.ndarray:
    source = hits.sources.get("lexical")
    out = np.zeros(len(rows), dtype=np.float32)
    listed = np.zeros(len(rows), dtype=bool) if source is None else source.ranks[0, : len(rows)] > 0
    if listed.any():
        out[listed] = source.scores[0, : len(rows)][listed]
    if not listed.all():
        out[~listed] = np.nan_to_num(_searched_scores(index, prepared, rows[~listed]), nan=0.0)
    return out


def _searched_scores(index: Any, prepared: Any, rows: np.ndarray) -> np.ndarray:
    """BM25F of ``rows`` by a lexical search allowed to return only them (NaN: not returned)."""
    out = np.full(len(rows), np.nan, dtype=np.float32)
    allowed = np.zeros(index.size, dtype=bool)
    allowed[rows] = True
    hits = index.search("lexical", [prepared], len(set(rows.tolist())), allowed)
    score_of = dict(hits.query(0))
    for i, row in enumerate(rows.tolist()):
        if row in score_of:
            out[i] = score_of[row]
    return out


def _field_columns(ctx: CandidateContext) -> np.ndarray:
    width = 2 * len(SHORT_FIELDS)
    out = np.zeros((ctx.n, width + 2), dtype=np.float32)
    wanted = identifiers(ctx.query.searched)
    out[:, width + 1] = len(wanted)
    lexical = ctx.index.retrievers.get("lexical")
    analyzer = _analyzer(ctx.index)
    profiles = [
        _profile(analyzer, r["title"], r.get("brand") or "", r.get("color") or "", tuple(r.get("category") or ()))
        for r in ctx.records
    ]
    if wanted:
        wanted_set = set(wanted)
        out[:, width] = [len(wanted_set & p[-1]) for p in profiles]
    else:
        out[:, width] = MISSING_SCORE
    terms = list(dict.fromkeys(analyzer(ctx.query.searched)))
    if lexical is None or not terms:
        return out
    weights = np.array([lexical.idf(t) for t in terms], dtype=np.float32)
    k1 = lexical.config.k1
    for f in range(len(SHORT_FIELDS)):
        counts = np.array([[p[f].get(t, 0) for t in terms] for p in profiles], dtype=np.float32)
        out[:, 2 * f] = (counts > 0).mean(axis=1)
        out[:, 2 * f + 1] = (weights * counts / (k1 + counts)).sum(axis=1)
    return out


@lru_cache(maxsize=1 << 17)
def _profile(
    analyzer: Callable[[str], list[str]], title: str, brand: str, color: str, category: tuple[str, ...]
) -> tuple[dict[str, int], dict[str, int], dict[str, int], dict[str, int], frozenset[str]]:
    fields = (title, brand, color, " ".join(category))
    return (*(dict(Counter(analyzer(text))) if text else {} for text in fields), frozenset(identifiers(title)))


def _product_columns(ctx: CandidateContext) -> np.ndarray:
    out = np.empty((ctx.n, 4), dtype=np.float32)
    out[:, 0] = excluded_rows(ctx.query.exclusions, ctx.rows, ctx.index.record, ctx.index.config.negation)
    for i, name in enumerate(("price", "rating", "rating_count")):
        out[:, i + 1] = [MISSING_SCORE if r.get(name) is None else float(r[name]) for r in ctx.records]
    return out


def _query_terms(ctx: CandidateContext) -> np.ndarray:
    return np.full((ctx.n, 1), len(dict.fromkeys(_analyzer(ctx.index)(ctx.query.searched))), dtype=np.float32)


REFERENCE_GROUPS: dict[str, Callable[[CandidateContext], np.ndarray]] = {
    "retrievers": _retriever_columns,
    "fused": _fused_columns,
    "match": _match_columns,
    "fields": _field_columns,
    "product": _product_columns,
    "query": _query_terms,
}


def reference_features(
    index: IndexSnapshot, query: Query, prepared: Mapping[str, Any], hits: FusedHits, n: int
) -> np.ndarray:
    """:func:`~shopmatch.rank.features.candidate_features`, computed one record at a time."""
    n = min(n, hits.rows.shape[1])
    out = np.full((n, len(FEATURE_NAMES)), MISSING_SCORE, dtype=np.float32)
    if not n:
        return out
    ctx = CandidateContext(index, query, prepared, hits, n)
    column = 0
    for group in FEATURE_GROUPS:
        width = len(group.features)
        out[:, column : column + width] = REFERENCE_GROUPS[group.name](ctx)
        column += width
    return out
