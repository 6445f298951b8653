"""Search over a live state: both segments, filters, facets, re-ranking and paging.

For one query:

1. every retriever searches the base index (deleted rows masked out) and the delta, and the two
   lists are merged by score (the segments' scores are comparable, see :mod:`shopmatch.live.delta`);
2. the retrievers' lists are fused as the pipeline fuses them (RRF by default);
   with pseudo-relevance feedback (``[feedback]``), the bi-encoder's vector is then moved towards
   the top fused products (those that mention what the query excludes are not feedback) and steps
   1–2 run again, as in :meth:`SearchPipeline.retrieve`;
3. facet counts are taken over these candidates (the top ``candidates`` of each retriever for
   the query without filters);
4. with filters, step 1–2 run again with the filters pushed into the retrievers — BM25 with a
   weight mask, vectors by exact scoring of the allowed rows when they are few
   (``EXACT_FILTER_LIMIT``) or over-fetching from the vector index when they are many — so a
   selective filter still returns everything that matches it;
5. the top ``rerank.top_n`` are re-ranked when the index has a re-ranker, the products that
   mention what the query excludes (``… without chicken``) are moved after the others, then the
   page ``offset .. offset + k`` is returned.

Example:
    >>> page = search(state, SearchRequest("usb c cable", k=5, filters=Filters(brand=("Anker",))))  # doctest: +SKIP
    >>> page.total, page.results[0]["product"]["brand"]                                              # doctest: +SKIP
    (12, 'Anker')
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from shopmatch.live.filters import Filters
from shopmatch.live.state import LiveState
from shopmatch.live.vectors import VECTOR_RETRIEVERS, query_vector
from shopmatch.pipeline import SearchResult
from shopmatch.query.exclusion import demote_excluded, first_not_excluded
from shopmatch.query.feedback import expanded_vectors
from shopmatch.rerank.stage import rerank_hits
from shopmatch.retrieval.base import SearchHits
from shopmatch.retrieval.fusion import FusedHits, fuse, single_source

EXACT_FILTER_LIMIT = 50_000


@dataclass(frozen=True)
class SearchRequest:
    """One search: ``k`` results from ``offset`` on, ``filters``, and whether to re-rank and explain."""

    query: str
    k: int = 10
    offset: int = 0
    filters: Filters = field(default_factory=Filters)
    explain: bool = False
    rerank: bool = True


@dataclass
class SearchPage:
    """A page of results, the number of matching candidates and the facet counts."""

    query: str
    total: int
    results: list[dict[str, Any]]
    facets: dict[str, list[dict[str, Any]]]
    reranked: bool
    took_ms: float = 0.0
    rows: list[int] = field(default_factory=list)  # the results' rows in the state searched
    feedback: list[str] = field(default_factory=list)  # the products the query vector moved towards

    def to_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "total": self.total,
            "took_ms": round(self.took_ms, 2),
            "reranked": self.reranked,
            "results": self.results,
            "facets": self.facets,
        }


@dataclass
class QueryContext:
    """What a query needs once per request, whatever the filters: terms and vectors."""

    query: str
    terms: list[str]
    vectors: dict[str, np.ndarray | None]
    feedback_rows: tuple[int, ...] = ()  # the rows the bi-encoder vector was moved towards

    @classmethod
    def of(cls, state: LiveState, query: str) -> QueryContext:
        lexical = state.base.lexical
        terms = lexical.analyzer(query) if lexical is not None else []
        vectors = {
            name: query_vector(retriever, query)
            for name, retriever in state.base.retrievers.items()
            if name in VECTOR_RETRIEVERS
        }
        return cls(query, terms, vectors)


def search(state: LiveState, request: SearchRequest) -> SearchPage:
    """Run ``request`` against ``state`` (see the module docstring)."""
    started = time.perf_counter()
    context = QueryContext.of(state, request.query)
    window = request.offset + request.k
    depth = max(window, state.base.config.candidates)
    runs = retriever_runs(state, context, state.alive, depth)
    pool = fused_candidates(state, runs, depth)
    moved = with_feedback(state, context, pool)
    if moved is not context:  # only the bi-encoder's list changes
        context = moved
        runs["dense"] = _vectors(state, "dense", moved.vectors["dense"], state.alive, depth)
        pool = fused_candidates(state, runs, depth)
    facets = state.columns.facets(_rows(pool), request.filters)
    if request.filters:
        allowed = state.alive & state.columns.mask(request.filters)
        matching = candidates(state, context, allowed, depth)
    else:
        matching = pool
    total = len(_rows(matching))
    reranker = state.base.reranker if request.rerank else None
    if reranker is not None and total:
        matching = rerank_hits(reranker, [request.query], matching, total, state.record)
    matching = demote_excluded(matching, [request.query], state.record, state.base.config.negation)
    results, rows = [], []
    for i in range(request.offset, min(window, total)):
        row = int(matching.rows[0, i])
        score = float(matching.scores[0, i])
        result = SearchResult(state.id_of(row), score, i + 1, state.record(row), matching.places(0, i))
        results.append(result.to_dict())
        rows.append(row)
    took = (time.perf_counter() - started) * 1000
    feedback = [state.id_of(row) for row in context.feedback_rows]
    return SearchPage(request.query, total, results, facets, reranker is not None, took, rows, feedback)


def with_feedback(state: LiveState, context: QueryContext, pool: FusedHits) -> QueryContext:
    """``context`` with its bi-encoder vector moved towards the top of ``pool`` (the unfiltered
    candidates), or ``context`` itself when feedback is off or the bi-encoder cannot read the query."""
    feedback = state.base.config.feedback
    vector = context.vectors.get("dense")
    if not feedback.active or vector is None:
        return context
    ranked = pool.rows[0][pool.rows[0] >= 0]
    negation = state.base.config.negation
    rows = np.asarray(first_not_excluded(context.query, ranked, state.record, negation, feedback.docs), dtype=np.int64)
    moved = expanded_vectors(vector[None, :], [_dense_vectors(state, rows)], feedback.weight)[0]
    return QueryContext(context.query, context.terms, {**context.vectors, "dense": moved}, tuple(map(int, rows)))


def _dense_vectors(state: LiveState, rows: np.ndarray) -> np.ndarray:
    """The bi-encoder vectors of live rows, from the base index and the delta (in no order)."""
    index = state.base.retrievers["dense"].index  # type: ignore[union-attr]
    n = state.base_size
    base, new = rows[rows < n], rows[rows >= n] - n
    parts = [index.vectors_of(base)] if len(base) else []
    if len(new):
        parts.append(state.delta.vectors("dense")[new])
    return np.concatenate(parts).astype(np.float32) if parts else np.zeros((0, index.dim), dtype=np.float32)


def _rows(hits: FusedHits) -> np.ndarray:
    return hits.rows[0][hits.rows[0] >= 0]


def candidates(state: LiveState, context: QueryContext, allowed: np.ndarray, depth: int) -> FusedHits:
    """Each retriever's top ``depth`` allowed rows over both segments, fused (every candidate kept)."""
    return fused_candidates(state, retriever_runs(state, context, allowed, depth), depth)


def retriever_runs(state: LiveState, context: QueryContext, allowed: np.ndarray, depth: int) -> dict[str, SearchHits]:
    """Each retriever's top ``depth`` allowed rows over both segments."""
    runs: dict[str, SearchHits] = {}
    for name in state.base.retrievers:
        if name == "lexical":
            runs[name] = _lexical(state, context, allowed, depth)
        else:
            runs[name] = _vectors(state, name, context.vectors.get(name), allowed, depth)
    return runs


def fused_candidates(state: LiveState, runs: dict[str, SearchHits], depth: int) -> FusedHits:
    """The retrievers' lists fused as the pipeline fuses them, every candidate kept."""
    if len(runs) == 1:
        ((name, hits),) = runs.items()
        return single_source(hits, name, depth)
    total = sum(int((hits.rows >= 0).sum()) for hits in runs.values())
    return fuse(runs, max(total, 1), state.base.config.fusion)


def _merged(rows: np.ndarray, scores: np.ndarray, depth: int) -> SearchHits:
    """The top ``depth`` of candidate rows by score, as one query's hits."""
    keep = np.argsort(-scores, kind="stable")[:depth]
    out_rows = np.full((1, depth), -1, dtype=np.int64)
    out_scores = np.zeros((1, depth), dtype=np.float32)
    out_rows[0, : len(keep)] = rows[keep]
    out_scores[0, : len(keep)] = scores[keep]
    return SearchHits(out_scores, out_rows)


def _lexical(state: LiveState, context: QueryContext, allowed: np.ndarray, depth: int) -> SearchHits:
    lexical = state.base.lexical
    assert lexical is not None
    n = state.base_size
    base_allowed = allowed[:n]
    mask = None if base_allowed.all() else base_allowed.astype(np.float32)
    if base_allowed.any() and n:
        base = lexical.search([context.query], k=depth, weight_mask=mask)
        keep = base.rows[0] >= 0
        rows, scores = base.rows[0][keep], base.scores[0][keep]
    else:
        rows, scores = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    if len(state.delta):
        delta_scores = state.delta.lexical_scores(context.terms, state.idf, lexical.config.k1, allowed[n:])
        slots = np.flatnonzero(delta_scores > 0)
        rows = np.concatenate([rows, slots + n])
        scores = np.concatenate([scores, delta_scores[slots]])
    return _merged(rows, scores, depth)


def _vectors(state: LiveState, name: str, query: np.ndarray | None, allowed: np.ndarray, depth: int) -> SearchHits:
    if query is None:
        return _merged(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32), depth)
    index = state.base.retrievers[name].index  # type: ignore[union-attr]
    n = state.base_size
    base_allowed = allowed[:n]
    n_allowed = int(base_allowed.sum())
    if n_allowed == 0:
        rows, scores = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    elif n_allowed == n:
        hits = index.search(query[None, :], min(depth, n))
        keep = hits.rows[0] >= 0
        rows, scores = hits.rows[0][keep], hits.scores[0][keep]
    elif n_allowed <= EXACT_FILTER_LIMIT:
        rows = np.flatnonzero(base_allowed)
        scores = (index.vectors_of(rows) @ query).astype(np.float32)
    else:  # many allowed rows: over-fetch in proportion to what the filter removes
        fetch = min(n, int(depth * n / n_allowed) + 16)
        hits = index.search(query[None, :], fetch)
        keep = (hits.rows[0] >= 0) & base_allowed[np.maximum(hits.rows[0], 0)]
        rows, scores = hits.rows[0][keep], hits.scores[0][keep]
    if len(state.delta):
        delta_scores = state.delta.vector_scores(name, query)
        slots = np.flatnonzero(allowed[n:])
        rows = np.concatenate([rows, slots + n])
        scores = np.concatenate([scores, delta_scores[slots]])
    return _merged(rows, scores, depth)
