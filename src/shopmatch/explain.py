"""Why a product matched: per-stage places, matched terms per field, and token attributions.

- **Places**: the product's rank and score in each retriever, after fusion and after re-ranking
  (what the search already returned under ``retrievers``).
- **Matched terms**: each retriever's explanation of the score (BM25F: each query term's share)
  and, from a retriever that matches words, each field's matched terms and its text cut into
  ``{"text", "match"}`` segments so a page can highlight the matching words without building HTML
  from product text.
- **Attributions** by occlusion: each query word and each title word is removed in turn and the
  product scored again; ``effect`` is how much the score fell without it (negative: the word
  lowered the score). The re-ranker is the model explained when the index has one, else the first
  retriever that scores (query, product) pairs (the bi-encoder: cosine similarity). Zeiler & Fergus
  (2014) style, and model-agnostic like LIME.

Example:
    >>> explanation = explain(snapshot, Query("usb cable"), None, row, places)   # doctest: +SKIP
    >>> explanation["fields"]["title"]["matched"]                                  # doctest: +SKIP
    ['usb', 'cabl']
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from shopmatch.backends.base import IndexSnapshot
from shopmatch.query.query import Query
from shopmatch.text.highlight import WORD

MAX_OCCLUDED_WORDS = 32


def explain(
    index: IndexSnapshot,
    query: Query,
    prepared: Mapping[str, Any] | None,
    row: int,
    places: dict[str, Any],
    *,
    attributions: bool = True,
) -> dict[str, Any]:
    """The explanation of one result (see the module docstring); ``prepared`` is the query as
    each retriever prepared it (prepared here when None)."""
    if prepared is None:
        prepared = {name: r.prepare([query.searched])[0] for name, r in index.retrievers.items()}
    record = index.record(row)
    out: dict[str, Any] = {"retrievers": places, "terms": {}, "fields": {}}
    for name, retriever in index.retrievers.items():
        detail = index.explain(name, prepared[name], row)
        out["terms"].update({t: round(s, 4) for t, s in detail.get("terms", {}).items()})
        fields = retriever.matched_fields(prepared[name], record)
        if fields is not None and not out["fields"]:
            out["fields"] = fields
    if attributions:
        out["attribution"] = attribution(index, query, prepared, record)
    return out


def explain_product(
    index: IndexSnapshot, query: str, product_id: str, *, spelling: bool = True
) -> dict[str, Any] | None:
    """The explanation of one product for ``query``, with its places when the search returns it
    among the top ``candidates`` (None: no such product); with a learned ranker that re-ordered it,
    ``ranker``: its features and each one's contribution to its score. When spelling correction
    changed the query (``spelling=False`` turns it off), ``corrected_query`` and ``corrections``
    say how."""
    from shopmatch.search import search

    row = index.row_of(product_id)
    if row is None:
        return None
    page = search(index, [Query(query, k=index.config.candidates, spelling=spelling)])[0]
    places: dict[str, Any] = {}
    rank = None
    for result, found in zip(page.results, page.rows, strict=True):
        if found == row:
            places, rank = result.sources, result.rank
            break
    out = {"product_id": product_id, "rank": rank, **explain(index, page.query, None, row, places)}
    if page.query.corrected:
        out["corrected_query"] = page.query.corrected
        out["corrections"] = [c.to_dict() for c in page.query.corrections]
    if rank is not None and index.ranker is not None:  # its features and their contributions, as the search saw them
        one = search(index, [Query(query, k=1, offset=rank - 1, explain=True, spelling=spelling)])[0]
        if one.rows == [row] and one.results[0].explanation and "ranker" in one.results[0].explanation:
            out["ranker"] = one.results[0].explanation["ranker"]
    if page.feedback:
        out["feedback"] = {"products": page.feedback, "weight": index.config.feedback.weight}
    if page.fusion is not None:  # the dense weight the adaptive fusion used for this query, and why
        out["fusion"] = page.fusion
    out["understanding"] = {**page.query.understanding(), **page.understanding.to_dict()}
    if rank is not None and "intent" in places:
        out["understanding"]["intent_boost"] = places["intent"]["score"]
    return out


def _words(text: str) -> list[re.Match[str]]:
    return list(WORD.finditer(text))


def _without(text: str, match: re.Match[str]) -> str:
    return (text[: match.start()] + text[match.end() :]).replace("  ", " ").strip()


def occlusion(
    score: Callable[[list[tuple[str, dict[str, Any]]]], np.ndarray], query: str, product: dict[str, Any]
) -> dict[str, Any]:
    """Effect of each query word and title word on ``score`` (higher = the word helped more).

    ``score`` takes (query, product record) pairs and returns one score per pair.
    """
    query_words = _words(query)[:MAX_OCCLUDED_WORDS]
    title = str(product.get("title", ""))
    title_words = _words(title)[:MAX_OCCLUDED_WORDS]
    pairs = [(query, product)]
    pairs += [(_without(query, w), product) for w in query_words]
    pairs += [(query, {**product, "title": _without(title, w) or "-"}) for w in title_words]
    scores = np.asarray(score(pairs), dtype=np.float64)
    full = float(scores[0])
    effects = full - scores[1:]
    return {
        "score": round(full, 6),
        "query": [
            {"token": w.group(), "effect": round(float(e), 6)} for w, e in zip(query_words, effects, strict=False)
        ],
        "product": [
            {"token": w.group(), "effect": round(float(e), 6)}
            for w, e in zip(title_words, effects[len(query_words) :], strict=False)
        ],
    }


def attribution(
    index: IndexSnapshot, query: Query, prepared: Mapping[str, Any], record: dict[str, Any]
) -> dict[str, Any] | None:
    """Occlusion attributions from the re-ranker, else from the first retriever that scores pairs
    and can read the query; None without either."""
    reranker = index.reranker
    if reranker is not None:

        def rerank_score(pairs: Sequence[tuple[str, dict[str, Any]]]) -> np.ndarray:
            return reranker.score_pairs([(q, reranker.text_of(p)) for q, p in pairs])

        return {"model": "re-ranker", **occlusion(rerank_score, query.searched, record)}
    for name, retriever in index.retrievers.items():
        if prepared[name] is not None and retriever.scores_pairs:
            return {"model": retriever.model_name, **occlusion(retriever.pair_scores, query.searched, record)}
    return None
