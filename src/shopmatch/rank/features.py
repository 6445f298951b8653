"""The ranker's features of (query, candidate) pairs: a fixed, versioned list of what the pipeline
already computed or can compute cheaply.

Version 1 (:data:`FEATURE_NAMES`, in this order):

- ``{retriever}_score``, ``{retriever}_rank`` for ``lexical``, ``dense`` and ``word_vectors``:
  the raw score and 1-based rank the retriever gave the candidate in the fused lists;
  :data:`MISSING_SCORE` / :data:`MISSING_RANK` where it did not return it (or the index has no such
  retriever);
- ``fused_score``, ``fused_rank``: the fused (RRF) score and place before any re-ranking;
- ``bm25f``: the candidate's BM25F score for the query (0 when no query term matches),
  whether or not the lexical retriever listed it; ``dense_cosine``: its bi-encoder cosine
  (with the query vector the pipeline searched with);
- ``rerank_score``: the cross-encoder's probability (sentinel where it did not score the candidate);
- ``{field}_coverage`` (share of the query's distinct terms the field holds) and ``{field}_bm25``
  (``Σ idf(t) · tf / (k1 + tf)`` over the query terms in that field alone, raw term counts) for the
  short fields ``title``, ``brand``, ``color``, ``category`` (the long ones count in ``bm25f``);
- ``identifier_matches``: how many of the query's identifiers and numbers (tokens with a digit, such as
  ``rtx4090`` or ``12``) the title holds; ``query_identifiers``: how many the query has;
- ``excluded``: 1 when the candidate mentions what the query excludes (``… without chicken``);
- ``price``, ``rating``, ``rating_count`` (:data:`MISSING_SCORE` where the product has none);
- ``query_terms``: the query's analyzed term count.

Missing values are sentinels, not NaN, so a model sees the same numbers whatever LightGBM's
missing-value settings.

Example:
    >>> FEATURE_NAMES[:4]
    ('lexical_score', 'lexical_rank', 'dense_score', 'dense_rank')
    >>> identifiers("samsung 980 pro 1tb nvme")
    ['980', '1tb']
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from shopmatch.backends.base import IndexSnapshot
from shopmatch.hits import FusedHits
from shopmatch.query.query import Query
from shopmatch.rank.groups import CandidateContext, FeatureGroup
from shopmatch.rank.product_table import _TOKEN, ProductTables, candidate_tables, identifiers

FEATURE_VERSION = 1
MISSING_SCORE = -1000.0
MISSING_RANK = 10_000.0
RETRIEVERS = ("lexical", "dense", "word_vectors")
SHORT_FIELDS = ("title", "brand", "color", "category")


# ---- the groups, in column order ------------------------------------------------------------------


def _retriever_columns(ctx: CandidateContext) -> np.ndarray:
    out = np.empty((ctx.n, 2 * len(RETRIEVERS)), dtype=np.float32)
    for i, name in enumerate(RETRIEVERS):
        out[:, 2 * i], out[:, 2 * i + 1] = _source_columns(ctx.hits, name, ctx.n)
    return out


def _fused_columns(ctx: CandidateContext) -> np.ndarray:
    out = np.empty((ctx.n, 2), dtype=np.float32)
    fusion = ctx.hits.sources.get("fusion")
    if fusion is not None:  # after the cross-encoder: the place fusion gave
        out[:, 0], out[:, 1] = fusion.scores[0, : ctx.n], fusion.ranks[0, : ctx.n]
    else:
        out[:, 0], out[:, 1] = ctx.hits.scores[0, : ctx.n], np.arange(1, ctx.n + 1)
    return out


def _match_columns(ctx: CandidateContext) -> np.ndarray:
    out = np.full((ctx.n, 3), MISSING_SCORE, dtype=np.float32)
    if "lexical" in ctx.index.retrievers:
        out[:, 0] = _bm25f(ctx.index, ctx.prepared["lexical"], ctx.hits, ctx.rows)
    if "dense" in ctx.index.retrievers and ctx.prepared.get("dense") is not None:
        cosine = ctx.index.score_rows("dense", ctx.prepared["dense"], ctx.rows)
        out[:, 1] = _filled(cosine, MISSING_SCORE)
    out[:, 2] = _source_columns(ctx.hits, "rerank", ctx.n)[0]
    return out


def _product_columns(ctx: CandidateContext) -> np.ndarray:
    out = np.empty((ctx.n, 4), dtype=np.float32)
    tables, rows = _tables(ctx)
    negation = ctx.index.config.negation
    if ctx.query.exclusions and negation.enabled:
        out[:, 0] = tables.excluded(rows, ctx.query.exclusions, tuple(negation.fields))
    else:
        out[:, 0] = 0.0
    out[:, 1:] = tables.numbers(rows)
    return out


FEATURE_GROUPS: tuple[FeatureGroup, ...] = (
    FeatureGroup(
        "retrievers", tuple(f"{name}_{what}" for name in RETRIEVERS for what in ("score", "rank")), _retriever_columns
    ),
    FeatureGroup("fused", ("fused_score", "fused_rank"), _fused_columns),
    FeatureGroup("match", ("bm25f", "dense_cosine", "rerank_score"), _match_columns),
    FeatureGroup(
        "fields",
        (
            *(f"{name}_{what}" for name in SHORT_FIELDS for what in ("coverage", "bm25")),
            "identifier_matches",
            "query_identifiers",
        ),
        lambda ctx: _field_columns(ctx),
    ),
    FeatureGroup("product", ("excluded", "price", "rating", "rating_count"), _product_columns),
    FeatureGroup("query", ("query_terms",), lambda ctx: _query_terms(ctx)),
)
"""The feature groups, in column order; add a group (a new module's :class:`FeatureGroup`) at the
end and raise :data:`FEATURE_VERSION` (rankers trained on other features are refused at load)."""

FEATURE_NAMES: tuple[str, ...] = tuple(name for group in FEATURE_GROUPS for name in group.features)


def candidate_features(
    index: IndexSnapshot, query: Query, prepared: Mapping[str, Any], hits: FusedHits, n: int
) -> np.ndarray:
    """The ``(n, len(FEATURE_NAMES))`` float32 features of the first ``n`` candidates of ``hits``
    (one query, as the stages pass it on), for ``query`` and its ``prepared`` forms: each group of
    :data:`FEATURE_GROUPS` computes its columns."""
    n = min(n, hits.rows.shape[1])
    out = np.full((n, len(FEATURE_NAMES)), MISSING_SCORE, dtype=np.float32)
    if not n:
        return out
    ctx = CandidateContext(index, query, prepared, hits, n)
    column = 0
    for group in FEATURE_GROUPS:
        width = len(group.features)
        out[:, column : column + width] = group.compute(ctx)
        column += width
    return out


def _bm25f(index: IndexSnapshot, prepared: Any, hits: FusedHits, rows: np.ndarray) -> np.ndarray:
    """BM25F of every candidate: the lexical retriever's score where it listed it, else scored now (0: no term)."""
    source = hits.sources.get("lexical")
    out = np.zeros(len(rows), dtype=np.float32)
    listed = np.zeros(len(rows), dtype=bool) if source is None else source.ranks[0, : len(rows)] > 0
    if listed.any():
        out[listed] = source.scores[0, : len(rows)][listed]
    if not listed.all():
        out[~listed] = _filled(index.score_rows("lexical", prepared, rows[~listed]), 0.0)
    return out


def _source_columns(hits: FusedHits, name: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The score and rank source ``name`` gave each candidate (sentinels where it did not return it)."""
    source = hits.sources.get(name)
    if source is None:
        return np.full(n, MISSING_SCORE, np.float32), np.full(n, MISSING_RANK, np.float32)
    returned = source.ranks[0, :n] > 0
    scores = np.where(returned, _filled(source.scores[0, :n], MISSING_SCORE), MISSING_SCORE)
    return scores, np.where(returned, source.ranks[0, :n], MISSING_RANK)


def _filled(values: np.ndarray, nan: float) -> np.ndarray:
    """``np.nan_to_num(values, nan=nan)`` without most of its per-call cost."""
    out = np.array(values, copy=True)
    out[np.isnan(out)] = nan
    return np.nan_to_num(out) if np.isinf(out).any() else out


def _analyzer(index: IndexSnapshot) -> Callable[[str], list[str]]:
    lexical = index.retrievers.get("lexical")
    return lexical.analyzer if lexical is not None else _plain_terms


def product_tables(index: IndexSnapshot) -> ProductTables | None:
    """The snapshot's product tables (:mod:`shopmatch.rank.product_table`), None where the backend keeps none."""
    tables = getattr(index, "ranker_tables", None)
    return tables() if tables is not None else None


def _tables(ctx: CandidateContext) -> tuple[ProductTables, np.ndarray]:
    """The tables the product features read and the candidates' rows in them (shared by the groups)."""
    if "tables" not in ctx.memo:
        tables = product_tables(ctx.index)
        if tables is None:  # a table of the candidates alone
            lexical = ctx.index.retrievers.get("lexical")
            tables = candidate_tables(ctx.records, lexical.analyzer if lexical is not None else None)
            ctx.memo["tables"] = tables, np.arange(ctx.n, dtype=np.int64)
        else:
            ctx.memo["tables"] = tables, ctx.rows
    return ctx.memo["tables"]


def _terms(ctx: CandidateContext) -> list[str]:
    """The query's distinct analyzed terms, in order."""
    if "terms" not in ctx.memo:
        ctx.memo["terms"] = list(dict.fromkeys(_analyzer(ctx.index)(ctx.query.searched)))
    return ctx.memo["terms"]


def _query_terms(ctx: CandidateContext) -> np.ndarray:
    return np.full((ctx.n, 1), len(_terms(ctx)), dtype=np.float32)


def _field_columns(ctx: CandidateContext) -> np.ndarray:
    """``{field}_coverage`` and ``{field}_bm25`` of the short fields (0 without a lexical retriever),
    ``identifier_matches`` and ``query_identifiers``."""
    width = 2 * len(SHORT_FIELDS)
    out = np.zeros((ctx.n, width + 2), dtype=np.float32)
    wanted = identifiers(ctx.query.searched)
    out[:, width + 1] = len(wanted)
    tables, rows = _tables(ctx)
    # a query without identifiers: the sentinel
    out[:, width] = tables.identifier_matches(rows, wanted) if wanted else MISSING_SCORE
    lexical = ctx.index.retrievers.get("lexical")
    terms = _terms(ctx)
    if lexical is None or not terms:
        return out
    weights = np.array([lexical.idf(t) for t in terms], dtype=np.float32)
    k1 = lexical.config.k1
    # (candidates, fields, terms), each field's terms contiguous: the same sums, in the same order,
    # as one field's (candidates, terms) counts
    counts = tables.field_counts(rows, terms).reshape(ctx.n, len(SHORT_FIELDS), len(terms))
    out[:, 0:width:2] = (counts > 0).mean(axis=2)
    out[:, 1:width:2] = (weights * counts / (k1 + counts)).sum(axis=2)
    return out


def _plain_terms(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())
