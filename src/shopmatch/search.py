"""The searcher: the one path every search takes, from a :class:`~shopmatch.query.Query` to a page.

``shopmatch search``, ``shopmatch evaluate`` (both modes), the Python API
(:class:`~shopmatch.pipeline.SearchPipeline`) and the HTTP service all call :func:`search` or
:func:`score_candidates` on an :class:`~shopmatch.backends.base.IndexSnapshot`. For each query:

1. **understand** it once (a pinyin query read as the catalog's Chinese, spelling correction,
   normalized text, exclusions: :func:`~shopmatch.query.understand`) and **prepare** it once per
   retriever (terms, a vector) from :attr:`~shopmatch.query.Query.searched` (the pinyin reading or
   the corrected text, else the text as typed); the configured synonyms join the BM25F terms at a
   lower weight and the category-intent model predicts the query's categories
   (:mod:`shopmatch.query.understanding`);
2. **retrieve**: each retriever's top ``max(offset + k, candidates)`` rows over every segment of
   the index (deleted rows never come back);
3. **fuse** the retrievers' lists (RRF); the dense list's weight is scaled per query by how far
   it agrees with the lexical list (:mod:`~shopmatch.retrieval.adaptive_fusion`: a query the
   bi-encoder cannot read is BM25F's alone); the best ``max(offset + k, candidates)`` are the
   query's candidates (what ``total`` counts, facets count, and later stages order); the
   products in the predicted categories get the intent boost (``[intent] weight``);
4. **feedback**: the bi-encoder's query vector is moved towards the top fused products (those that
   mention what the query excludes are not feedback), it searches again, and the lists are fused
   again (``[feedback]``);
5. **filter / facets**: facet counts over these candidates; with filters, steps 2–4's lists are
   searched again with the filters pushed into the retrievers, so a selective filter still returns
   everything that matches it;
6. **re-rank** the top ``rerank.top_n`` with the cross-encoder (when the index has one);
   then the learned ranker (``[ranker] model``) re-orders the top ``ranker.top_n`` by its
   LambdaMART score over each candidate's features (the cross-encoder's probability among them);
   then, for a query with a shopper profile (``user_id``), the personalizer (``[personalize] model``)
   re-orders the top ``personalize.top_n`` by the plain score plus its score of the user features;
7. **demote** the products that mention what the query excludes (``… without chicken``) after
   the others;
8. **page**: results ``offset .. offset + k``, each with its place in every stage (``sources``).

Rerank mode (:func:`score_candidates`) runs the same stages over given candidates: step 2 scores
those rows instead of searching the catalog, the feedback comes from the best of them, and every
candidate is re-ranked (by the cross-encoder, then the ranker).

Each query runs on its own: results never depend on the other queries of a batch.

Example:
    >>> from shopmatch.backends.inprocess.snapshot import Snapshot
    >>> from shopmatch.backends.inprocess.static import StaticIndex
    >>> from shopmatch.catalog import Product
    >>> from shopmatch.config import PipelineConfig
    >>> index = StaticIndex.build([Product("1", "USB-C cable"), Product("2", "HDMI cable")],
    ...                           PipelineConfig(retrievers=("lexical",)))
    >>> page = search(Snapshot.of(index), [Query("usb cable", k=5)])[0]
    >>> page.total, [r.product_id for r in page.results]
    (2, ['1', '2'])
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from shopmatch.backends.base import IndexSnapshot
from shopmatch.filters import Filters
from shopmatch.hits import FusedHits, SearchHits, SourceHits, single_source, top_by_score
from shopmatch.personalize.stage import personalized
from shopmatch.query.exclusion import demote_excluded, first_not_excluded
from shopmatch.query.feedback import expanded_vectors
from shopmatch.query.query import Query, understand
from shopmatch.query.understanding import QueryUnderstanding, understand_prepared
from shopmatch.rank.stage import rank_hits, ranker_explanation
from shopmatch.rerank.stage import rerank_hits
from shopmatch.retrieval.adaptive_fusion import DenseWeight, dense_weight, unknown_share
from shopmatch.retrieval.fusion import FusionConfig, fuse

_LARGE_CATALOG = 1 << 30  # a backend that does not say its size: chance agreement taken as 0


@dataclass
class SearchResult:
    """One ranked product: its id, score, 1-based rank, the product record, and where it stood
    in each stage (``sources``: name → ``{"rank", "score"}``, both None where it was not returned).

    With a re-ranker, ``score`` is its relevance probability for the top ``rerank.top_n`` results
    (the fused score beyond them), and ``sources`` also holds ``fusion`` (the place before
    re-ranking) and ``rerank``; a demoted result has ``excluded`` (its place before the demotion).
    """

    product_id: str
    score: float
    rank: int
    product: dict[str, Any] = field(repr=False)
    sources: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)
    explanation: dict[str, Any] | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        out = {
            "rank": self.rank,
            "product_id": self.product_id,
            "score": round(self.score, 6),
            "retrievers": self.sources,
            "product": self.product,
        }
        if self.explanation is not None:
            out["explanation"] = self.explanation
        return out


@dataclass
class SearchPage:
    """A page of results, how many candidates matched, facet counts, and what the search did."""

    query: Query
    total: int
    results: list[SearchResult]
    facets: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    reranked: bool = False
    took_ms: float = 0.0
    rows: list[int] = field(default_factory=list, repr=False)  # the results' rows in the snapshot searched
    feedback: list[str] = field(default_factory=list)  # the products the query vector moved towards
    fusion: dict[str, Any] | None = None  # the dense weight fusion used and why (adaptive fusion)
    understanding: QueryUnderstanding = field(default_factory=QueryUnderstanding, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The page as the service and ``search --json`` give it; ``corrected_query`` is the text
        searched when spelling correction changed it (None: the query was searched as typed), and
        ``understanding`` all that query understanding did (correction, pinyin reading,
        exclusions, synonym expansions, predicted categories)."""
        understood = {**self.query.understanding(), **self.understanding.to_dict()}
        return {
            "query": self.query.text,
            "corrected_query": self.query.corrected or None,
            "corrections": [c.to_dict() for c in self.query.corrections],
            "total": self.total,
            "took_ms": round(self.took_ms, 2),
            "reranked": self.reranked,
            **({"fusion": self.fusion} if self.fusion is not None else {}),
            "results": [r.to_dict() for r in self.results],
            "facets": self.facets,
            "predicted_categories": understood["predicted_categories"],
            "understanding": understood,
        }


def search(index: IndexSnapshot, queries: Sequence[Query | str]) -> list[SearchPage]:
    """Run each query through the stages (see the module docstring); a string is ``Query(text)``."""
    return [_search_one(index, _understood(index, q)) for q in queries]


def score_candidates(index: IndexSnapshot, query: Query | str, product_ids: Sequence[str]) -> np.ndarray:
    """Scores of the given products for ``query`` (rerank mode), higher first; unknown ids -inf.

    The stages of :func:`search` over these candidates: each retriever ranks them (a product the
    lexical retriever does not match counts as not returned by it), the lists are fused, the
    feedback comes from the best of them, the cross-encoder scores all of them (blended with the
    fused order by ``rerank.fusion_weight``), and the products that mention what the query
    excludes score below all the others.
    """
    query = _understood(index, query)
    rows = index.rows_of(product_ids)
    known = np.asarray([r for r in rows if r is not None], dtype=np.int64)
    out = np.full(len(product_ids), -np.inf, dtype=np.float64)
    if not len(known):
        return out
    stages, candidates = _reranked_candidates(index, query, known)
    if index.ranker is not None:
        candidates = rank_hits(index.ranker, index, query, stages.prepared, candidates, top_n=len(known))
    candidates = personalized(index, query, candidates, top_n=len(known))
    final = stages.demoted(candidates)
    score_of = dict(final.query(0))
    scores = np.array([score_of[int(row)] for row in known], dtype=np.float64)
    excluded = final.sources.get("excluded")
    if excluded is not None:  # below every product that does not mention the excluded thing
        demoted = {int(row) for row, rank in zip(final.rows[0], excluded.ranks[0], strict=True) if rank}
        mask = np.array([int(row) in demoted for row in known])
        scores = np.where(mask, scores - (scores.max() - scores.min() + 1.0), scores)
    out[[i for i, row in enumerate(rows) if row is not None]] = scores
    return out


def ranker_inputs(index: IndexSnapshot, query: Query | str, product_ids: Sequence[str]) -> RankerInputs:
    """What the ranker stage of :func:`score_candidates` reads for these products: the understood
    query, its prepared forms and the candidates after fusion, feedback and the cross-encoder
    (unknown ids left out). ``shopmatch train ranker`` computes its features from them."""
    query = _understood(index, query)
    known = np.asarray([r for r in index.rows_of(product_ids) if r is not None], dtype=np.int64)
    if not len(known):
        return RankerInputs(query, {}, FusedHits.empty(1, 1))
    stages, candidates = _reranked_candidates(index, query, known)
    return RankerInputs(query, stages.prepared, candidates)


@dataclass(frozen=True)
class RankerInputs:
    """One query's candidates as the ranker stage receives them (see :func:`ranker_inputs`)."""

    query: Query
    prepared: Mapping[str, Any]
    hits: FusedHits


# ---- the stages ----------------------------------------------------------------------------------


def _reranked_candidates(index: IndexSnapshot, query: Query, known: np.ndarray) -> tuple[_Stages, FusedHits]:
    """Rerank mode's stages before the ranker: the ``known`` rows fused, with feedback, re-ranked."""
    stages = _Stages(index, query)
    candidates = stages.first_stage(
        lambda prepared: {name: _ranked_rows(index, name, one, known) for name, one in prepared.items()},
        len(known),
        catalog=len(known),
    )
    candidates = _with_unreturned(candidates, known)
    if stages.reranker is not None:
        candidates = rerank_hits(
            stages.reranker, [query.searched], candidates, len(known), index.record, top_n=len(known)
        )
    return stages, candidates


def _understood(index: IndexSnapshot, query: Query | str) -> Query:
    pinyin = index.pinyin if index.config.pinyin.enabled else None
    return understand(Query(query) if isinstance(query, str) else query, index.config.negation, index.speller, pinyin)


class _Stages:
    """One query's way through the stages: its prepared forms, the runs, the feedback."""

    def __init__(self, index: IndexSnapshot, query: Query) -> None:
        self.index = index
        self.query = query
        self.config = index.config
        self.prepared = {name: r.prepare([query.searched])[0] for name, r in index.retrievers.items()}
        self.understanding = understand_prepared(index, self.prepared)
        self.feedback_rows: list[int] = []
        self.reranker = index.reranker if query.rerank else None
        self.fusion: FusionConfig = self.config.fusion
        self.dense_weight: DenseWeight | None = None

    def first_stage(self, retrieve, keep: int, catalog: int) -> FusedHits:
        """Retrieve (``retrieve({name: prepared}) -> {name: one query's hits}``), fuse, and with
        feedback retrieve again with the moved query vectors and fuse again; the best ``keep`` kept.
        ``catalog``: how many products the lists are drawn from (for the adaptive dense weight)."""
        runs = retrieve(self.prepared)
        self.adapt(runs, catalog)
        pool = self.fused(runs, keep)
        moved = self.feedback(pool)
        if moved:
            self.prepared.update(moved)
            runs.update(retrieve(moved))
            pool = self.fused(runs, keep)
        return pool

    def fused(self, runs: Mapping[str, SearchHits], keep: int) -> FusedHits:
        """The retrievers' lists fused, with the intent boost; the best ``keep`` kept."""
        if len(runs) == 1:
            ((name, hits),) = runs.items()
            pool = single_source(hits, name, keep)
        else:
            pool = fuse(runs, keep, self.fusion)
        return self.understanding.boosted(self.index, pool)

    def adapt(self, runs: Mapping[str, SearchHits], catalog: int) -> None:
        """Scale the dense weight by the agreement of the first lists (``[fusion] adaptive``); the
        weight then holds for every later fusion of this query (feedback, filters)."""
        settings = self.config.fusion
        if not settings.adaptive or not {"lexical", "dense"} <= set(runs):
            return
        k = settings.agreement_k
        records = [self.index.record(row) for row, _ in runs["dense"].query(0)[:k]]
        unknown = unknown_share(self.index.retrievers["dense"], self.query.searched, records)
        self.dense_weight = dense_weight(
            runs,
            catalog,
            k,
            settings.full_agreement,
            base=settings.weight("dense"),
            unknown=unknown,
            max_unknown=self.config.dense.max_unknown,
        )
        weights = {**settings.weights, "dense": self.dense_weight.weight}
        self.fusion = replace(settings, weights=weights)

    def feedback(self, pool: FusedHits) -> dict[str, np.ndarray]:
        """Pseudo-relevance feedback: the moved query vector of each retriever it applies to."""
        settings = self.config.feedback
        names = [
            name
            for name, retriever in self.index.retrievers.items()
            if retriever.feedback and settings.active and self.prepared[name] is not None
        ]
        if not names:
            return {}
        rows = first_not_excluded(
            self.query.exclusions, pool.found(0), self.index.record, self.config.negation, settings.docs
        )
        self.feedback_rows = rows
        found = np.asarray(rows, dtype=np.int64)
        moved = {}
        for name in names:
            vectors = self.index.vectors_of(name, found) if len(found) else np.zeros((0, 1), dtype=np.float32)
            moved[name] = expanded_vectors(self.prepared[name][None, :], [vectors], settings.weight)[0]
        return moved

    def demoted(self, hits: FusedHits) -> FusedHits:
        return demote_excluded(hits, [self.query.exclusions], self.index.record, self.config.negation)


def retrieval_ranker_inputs(index: IndexSnapshot, query: Query | str) -> RankerInputs:
    """What the ranker stage of :func:`search` reads for ``query``: its candidates from the whole
    catalog after fusion, feedback and the cross-encoder, exactly as a search passes them on
    (``shopmatch train ranker`` learns from these, so it trains on what it will re-order)."""
    query = _understood(index, query)
    stages, _, matching = _before_ranker(index, query)
    return RankerInputs(query, stages.prepared, matching)


def _before_ranker(index: IndexSnapshot, query: Query) -> tuple[_Stages, FusedHits, FusedHits]:
    """Retrieval mode's stages before the ranker: the pool (for facets) and the matching candidates."""
    depth = max(query.window, index.config.candidates)
    stages = _Stages(index, query)
    alive = index.allowed(Filters())  # every row a search may return

    def retrieve(prepared: Mapping[str, Any], allowed: Any = alive) -> dict[str, SearchHits]:
        return index.search_each(prepared, depth, allowed)

    pool = stages.first_stage(retrieve, depth, catalog=getattr(index, "alive_count", None) or _LARGE_CATALOG)
    if query.filters:
        matching = stages.fused(retrieve(stages.prepared, index.allowed(query.filters)), depth)
    else:
        matching = pool
    total = len(matching.found(0))
    if stages.reranker is not None and total:
        matching = rerank_hits(stages.reranker, [query.searched], matching, total, index.record)
    return stages, pool, matching


def _search_one(index: IndexSnapshot, query: Query) -> SearchPage:
    started = time.perf_counter()
    config = index.config
    stages, pool, matching = _before_ranker(index, query)
    facets = index.facets(pool.found(0), query.filters) if query.facets else {}
    total = len(matching.found(0))
    before_ranker = matching
    if index.ranker is not None and total:
        matching = rank_hits(index.ranker, index, query, stages.prepared, matching, top_n=config.ranker.top_n)
    if total:
        matching = personalized(index, query, matching)
    matching = stages.demoted(matching)
    results, rows = [], []
    for i in range(query.offset, min(query.window, total)):
        row = int(matching.rows[0, i])
        score = float(matching.scores[0, i])
        results.append(SearchResult(index.id_of(row), score, i + 1, index.record(row), matching.places(0, i)))
        rows.append(row)
    if query.explain:
        from shopmatch.explain import explain

        for result, row in zip(results, rows, strict=True):
            result.explanation = explain(index, query, stages.prepared, row, result.sources)
        if index.ranker is not None and total:
            contributions = ranker_explanation(index, query, stages.prepared, before_ranker, rows, config.ranker.top_n)
            for result, row in zip(results, rows, strict=True):
                if row in contributions:
                    result.explanation["ranker"] = contributions[row]
    took = (time.perf_counter() - started) * 1000
    feedback = [index.id_of(row) for row in stages.feedback_rows]
    fusion = stages.dense_weight.to_dict() if stages.dense_weight is not None else None
    reranked = stages.reranker is not None and total > 0
    return SearchPage(query, total, results, facets, reranked, took, rows, feedback, fusion, stages.understanding)


def _ranked_rows(index: IndexSnapshot, name: str, prepared: Any, rows: np.ndarray) -> SearchHits:
    """Retriever ``name``'s ranking of the given rows: those it would return, best first."""
    scores = index.score_rows(name, prepared, rows)
    returned = np.isfinite(scores)
    return top_by_score(rows[returned], scores[returned].astype(np.float32), max(len(rows), 1))


def _with_unreturned(hits: FusedHits, rows: np.ndarray) -> FusedHits:
    """``hits`` followed by the ``rows`` no retriever returned (score 0, in their given order)."""
    found = set(hits.found(0).tolist())
    missing = [int(r) for r in rows if int(r) not in found]
    if not missing:
        return hits
    n = len(hits.found(0))
    width = n + len(missing)
    out_rows = np.concatenate([hits.rows[0, :n], missing])[None, :]
    out_scores = np.concatenate([hits.scores[0, :n], np.zeros(len(missing), dtype=np.float32)])[None, :]
    sources = {
        name: SourceHits(
            np.concatenate([s.ranks[0, :n], np.zeros(len(missing), dtype=np.int32)])[None, :width],
            np.concatenate([s.scores[0, :n], np.full(len(missing), np.nan, dtype=np.float32)])[None, :width],
        )
        for name, s in hits.sources.items()
    }
    return FusedHits(out_scores, out_rows, sources)
