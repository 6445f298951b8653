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

import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from shopmatch.backends.base import IndexSnapshot
from shopmatch.hits import FusedHits
from shopmatch.query.exclusion import excluded_rows
from shopmatch.query.query import Query

FEATURE_VERSION = 1
MISSING_SCORE = -1000.0
MISSING_RANK = 10_000.0
RETRIEVERS = ("lexical", "dense", "word_vectors")
SHORT_FIELDS = ("title", "brand", "color", "category")

FEATURE_NAMES: tuple[str, ...] = (
    *(f"{name}_{what}" for name in RETRIEVERS for what in ("score", "rank")),
    "fused_score",
    "fused_rank",
    "bm25f",
    "dense_cosine",
    "rerank_score",
    *(f"{name}_{what}" for name in SHORT_FIELDS for what in ("coverage", "bm25")),
    "identifier_matches",
    "query_identifiers",
    "excluded",
    "price",
    "rating",
    "rating_count",
    "query_terms",
)
_COLUMN = {name: i for i, name in enumerate(FEATURE_NAMES)}
_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)


def identifiers(text: str) -> list[str]:
    """The tokens of ``text`` that hold a digit (model numbers, sizes), lower-cased, in order."""
    return [t for t in _TOKEN.findall(text.lower()) if any(c.isdigit() for c in t)]


def candidate_features(
    index: IndexSnapshot, query: Query, prepared: Mapping[str, Any], hits: FusedHits, n: int
) -> np.ndarray:
    """The ``(n, len(FEATURE_NAMES))`` float32 features of the first ``n`` candidates of ``hits``
    (one query, as the stages pass it on), for ``query`` and its ``prepared`` forms."""
    rows = hits.rows[0, :n].astype(np.int64)
    n = len(rows)
    out = np.full((n, len(FEATURE_NAMES)), MISSING_SCORE, dtype=np.float32)
    if not n:
        return out
    for name in RETRIEVERS:
        _source_columns(out, hits, name, f"{name}_score", f"{name}_rank", n)
    fusion = hits.sources.get("fusion")
    if fusion is not None:  # after the cross-encoder: the place fusion gave
        out[:, _COLUMN["fused_score"]] = fusion.scores[0, :n]
        out[:, _COLUMN["fused_rank"]] = fusion.ranks[0, :n]
    else:
        out[:, _COLUMN["fused_score"]] = hits.scores[0, :n]
        out[:, _COLUMN["fused_rank"]] = np.arange(1, n + 1)
    _source_columns(out, hits, "rerank", "rerank_score", None, n)
    if "lexical" in index.retrievers:
        out[:, _COLUMN["bm25f"]] = _bm25f(index, prepared["lexical"], hits, rows)
    if "dense" in index.retrievers and prepared.get("dense") is not None:
        cosine = index.score_rows("dense", prepared["dense"], rows)
        out[:, _COLUMN["dense_cosine"]] = np.nan_to_num(cosine, nan=MISSING_SCORE)
    records = [index.record(int(row)) for row in rows]
    _field_columns(out, index, query, records)
    out[:, _COLUMN["excluded"]] = excluded_rows(query.exclusions, rows, index.record, index.config.negation)
    for name in ("price", "rating", "rating_count"):
        out[:, _COLUMN[name]] = [MISSING_SCORE if r.get(name) is None else float(r[name]) for r in records]
    return out


def _bm25f(index: IndexSnapshot, prepared: Any, hits: FusedHits, rows: np.ndarray) -> np.ndarray:
    """BM25F of every candidate: the lexical retriever's score where it listed it, else scored now (0: no term)."""
    source = hits.sources.get("lexical")
    out = np.zeros(len(rows), dtype=np.float32)
    listed = np.zeros(len(rows), dtype=bool) if source is None else source.ranks[0, : len(rows)] > 0
    if listed.any():
        out[listed] = source.scores[0, : len(rows)][listed]
    if not listed.all():
        out[~listed] = np.nan_to_num(index.score_rows("lexical", prepared, rows[~listed]), nan=0.0)
    return out


def _source_columns(out: np.ndarray, hits: FusedHits, name: str, score: str, rank: str | None, n: int) -> None:
    source = hits.sources.get(name)
    if source is None:
        if rank is not None:
            out[:, _COLUMN[rank]] = MISSING_RANK
        return
    returned = source.ranks[0, :n] > 0
    out[:, _COLUMN[score]] = np.where(returned, np.nan_to_num(source.scores[0, :n], nan=MISSING_SCORE), MISSING_SCORE)
    if rank is not None:
        out[:, _COLUMN[rank]] = np.where(returned, source.ranks[0, :n], MISSING_RANK)


def _field_columns(out: np.ndarray, index: IndexSnapshot, query: Query, records: Sequence[Mapping[str, Any]]) -> None:
    """``{field}_coverage`` and ``{field}_bm25`` of the short fields (0 without a lexical retriever's
    analyzer), and ``identifier_matches``."""
    wanted = identifiers(query.searched)
    out[:, _COLUMN["query_identifiers"]] = len(wanted)
    lexical = index.retrievers.get("lexical")
    columns = [_COLUMN[f"{name}_{what}"] for name in SHORT_FIELDS for what in ("coverage", "bm25")]
    out[:, columns] = 0.0
    analyzer = lexical.analyzer if lexical is not None else _plain_terms
    profiles = [
        _profile(analyzer, r["title"], r.get("brand") or "", r.get("color") or "", tuple(r.get("category") or ()))
        for r in records
    ]
    if wanted:
        wanted_set = set(wanted)
        out[:, _COLUMN["identifier_matches"]] = [len(wanted_set & p[-1]) for p in profiles]
    terms = list(dict.fromkeys(analyzer(query.searched)))
    out[:, _COLUMN["query_terms"]] = len(terms)
    if lexical is None or not terms:
        return
    weights = np.array([lexical.idf(t) for t in terms], dtype=np.float32)
    k1 = lexical.config.k1
    for f, name in enumerate(SHORT_FIELDS):
        counts = np.array([[p[f].get(t, 0) for t in terms] for p in profiles], dtype=np.float32)
        out[:, _COLUMN[f"{name}_coverage"]] = (counts > 0).mean(axis=1)
        out[:, _COLUMN[f"{name}_bm25"]] = (weights * counts / (k1 + counts)).sum(axis=1)


@lru_cache(maxsize=1 << 17)
def _profile(
    analyzer: Callable[[str], list[str]], title: str, brand: str, color: str, category: tuple[str, ...]
) -> tuple[dict[str, int], dict[str, int], dict[str, int], dict[str, int], frozenset[str]]:
    """A product's short fields' analyzed term counts and its title's identifiers (cached: a product
    is analyzed once, not once per query)."""
    fields = (title, brand, color, " ".join(category))
    return (*(dict(Counter(analyzer(text))) if text else {} for text in fields), frozenset(identifiers(title)))


def _plain_terms(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())
