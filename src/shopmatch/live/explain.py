"""Why a product matched: per-retriever places, matched terms per field, and token attributions.

- **Places**: the product's rank and score in each retriever, after fusion and after re-ranking
  (what the search already returned under ``retrievers``).
- **Matched terms**: which of the query's index terms occur in each field, each term's share of
  the BM25F score, and every field's text cut into ``{"text", "match"}`` segments so a page can
  highlight the matching words without building HTML from product text.
- **Attributions** by occlusion: each query word and each title word is removed in turn and the
  product scored again; ``effect`` is how much the score fell without it (negative: the word
  lowered the score). The re-ranker is the model explained when the index has one, else the
  bi-encoder (cosine similarity). Zeiler & Fergus (2014) style, and model-agnostic like LIME.

Example:
    >>> [(s["text"], s["match"]) for s in highlight("USB-C cable, 6ft", {"usb", "cabl"}, Analyzer())]
    [('USB', True), ('-C ', False), ('cable', True), (', 6ft', False)]
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from shopmatch.catalog import Product
from shopmatch.live.state import LiveState
from shopmatch.text.fields import field_text
from shopmatch.text.tokenize import _CJK, Analyzer

# A word for highlighting and occlusion: one CJK character, or a run of letters and digits.
_WORD = re.compile(f"[{_CJK}]|[^\\W{_CJK}]+")
EXPLAINED_FIELDS = ("title", "brand", "color", "category", "bullets", "attributes", "description")
MAX_FIELD_CHARS = 600
MAX_OCCLUDED_WORDS = 32


def highlight(text: str, terms: set[str], analyzer: Analyzer) -> list[dict[str, Any]]:
    """``text`` as consecutive segments, ``match`` true for the words whose terms are in ``terms``."""
    segments: list[dict[str, Any]] = []
    position = 0

    def add(piece: str, match: bool) -> None:
        if not piece:
            return
        if segments and segments[-1]["match"] == match:
            segments[-1]["text"] += piece
        else:
            segments.append({"text": piece, "match": match})

    for word in _WORD.finditer(text):
        add(text[position : word.start()], False)
        add(word.group(), bool(terms.intersection(analyzer(word.group()))))
        position = word.end()
    add(text[position:], False)
    return segments


def matched_fields(state: LiveState, query: str, row: int) -> dict[str, Any]:
    """Per field: the query terms it contains and its highlighted text; with each term's BM25F share."""
    lexical = state.base.lexical
    product = Product.from_dict(state.record(row))
    if lexical is None:
        return {"terms": {}, "fields": {}}
    terms = list(dict.fromkeys(lexical.analyzer(query)))
    wanted = set(terms)
    if row < state.base_size:
        term_scores = lexical.term_scores(query, row)
    else:
        term_scores = state.delta.term_scores(terms, row - state.base_size, state.idf, lexical.config.k1)
    fields: dict[str, Any] = {}
    for name in EXPLAINED_FIELDS:
        text = field_text(product, name) if name != "category" else " > ".join(product.category)
        if not text:
            continue
        text = text[:MAX_FIELD_CHARS]
        field_terms = set(lexical.analyzer(text))
        found = [t for t in terms if t in field_terms]
        fields[name] = {"matched": found, "highlight": highlight(text, wanted, lexical.analyzer)}
    return {"terms": {t: round(s, 4) for t, s in term_scores.items()}, "fields": fields}


def _words(text: str) -> list[re.Match[str]]:
    return list(_WORD.finditer(text))


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


def attribution(state: LiveState, query: str, row: int) -> dict[str, Any] | None:
    """Occlusion attributions from the re-ranker, else the bi-encoder; None without either."""
    record = state.record(row)
    reranker = state.base.reranker
    if reranker is not None:

        def rerank_score(pairs: Sequence[tuple[str, dict[str, Any]]]) -> np.ndarray:
            return reranker.score_pairs([(q, reranker.text_of(p)) for q, p in pairs])

        return {"model": "re-ranker", **occlusion(rerank_score, query, record)}
    dense = state.base.dense
    if dense is None or dense.encoder.unknown_share([query])[0] > dense.config.max_unknown:
        return None
    template = state.base.config.dense.text

    def cosine(pairs: Sequence[tuple[str, dict[str, Any]]]) -> np.ndarray:
        queries = dense.encoder.encode_queries([q or " " for q, _ in pairs])
        documents = dense.encoder.encode_documents([template.render(Product.from_dict(p)) for _, p in pairs])
        return (queries * documents).sum(axis=1)

    return {"model": "bi-encoder", **occlusion(cosine, query, record)}


def explain(state: LiveState, query: str, row: int, retrievers: dict[str, Any], *, attributions: bool = True):
    """The explanation of one result (see the module docstring)."""
    out: dict[str, Any] = {"retrievers": retrievers, **matched_fields(state, query, row)}
    if attributions:
        out["attribution"] = attribution(state, query, row)
    return out
