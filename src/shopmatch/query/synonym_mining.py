"""Synonym candidates for a merchandiser to review, mined from the catalog and from search events.

Nothing mined is applied: :func:`write_candidates` writes a synonyms file in Solr's format with
every rule commented out under a line of evidence; a merchandiser accepts a rule by removing its
``# `` and points ``[synonyms] file`` at the file.

- **Catalog** (:func:`mine_catalog`): title terms that occur in at least ``min_df`` titles; two
  terms are candidates when the bi-encoder puts the words themselves close (``term_cosine``),
  the products that mention them are close too (the cosine of the mean product vectors,
  ``context_cosine``), they seldom share a title (substitutes, not a phrase such as ``memory
  foam``: at most ``max_together`` of the rarer term's titles), one is not the other with
  ``-less`` or ``non-`` (``sleeve`` / ``sleeveless``) and, when the catalog has categories, they
  occur under at least one same category.
- **Events** (:func:`mine_events`): two queries whose searches led to purchases of at least
  ``min_shared`` same products.

Example:
    >>> candidate = Candidate(("couch", "sofa"), "catalog", {"term cosine": 0.8, "titles": "12/30"})
    >>> print(candidate.lines()[0])
    # catalog: term cosine 0.8, titles 12/30
    >>> print(candidate.lines()[1])
    # couch, sofa
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from shopmatch.progress import track

_WORD = re.compile(r"[^\W\d_]{3,}")  # words of three letters or more, no digits


@dataclass(frozen=True)
class Candidate:
    """A synonym rule proposed for review: its phrases (an equivalence group), where it comes
    from (``catalog`` or ``events``), the evidence, and the score it was ranked by."""

    phrases: tuple[str, ...]
    source: str
    evidence: Mapping[str, Any] = field(default_factory=dict)
    score: float = 0.0

    def lines(self) -> list[str]:
        """The evidence comment and the commented-out rule."""
        evidence = ", ".join(f"{k} {v}" for k, v in self.evidence.items())
        return [f"# {self.source}: {evidence}", "# " + ", ".join(p.replace(",", "\\,") for p in self.phrases)]


def mine_catalog(
    titles: Sequence[str],
    categories: Sequence[Sequence[str] | None],
    product_vectors: np.ndarray,
    encode: Callable[[list[str]], np.ndarray],
    analyzer: Callable[[str], list[str]],
    *,
    min_df: int = 5,
    max_terms: int = 3000,
    neighbors: int = 5,
    term_cosine: float = 0.6,
    context_cosine: float = 0.8,
    max_together: float = 0.1,
    category_depth: int = 2,
) -> list[Candidate]:
    """Pairs of title terms that look like synonyms (see the module docstring), best first.

    Args:
        titles, categories, product_vectors: the catalog, one entry per product (the vectors
            are the index's bi-encoder vectors, unit length).
        encode: the bi-encoder's query encoder (texts → unit vectors).
        analyzer: the index's analyzer: two words with the same analyzed term are one term.
    """
    surface: dict[str, Counter] = defaultdict(Counter)
    postings: dict[str, set[int]] = defaultdict(set)
    for row, title in enumerate(track(titles, total=len(titles), description="reading titles")):
        for word in set(_WORD.findall(title.casefold())):
            terms = analyzer(word)
            if len(terms) == 1:
                surface[terms[0]][word] += 1
                postings[terms[0]].add(row)
    kept = sorted((t for t, rows in postings.items() if len(rows) >= min_df), key=lambda t: (-len(postings[t]), t))
    kept = kept[:max_terms]
    if len(kept) < 2:
        return []
    words = [surface[t].most_common(1)[0][0] for t in kept]
    incidence = sp.csr_matrix(
        (
            np.ones(sum(len(postings[t]) for t in kept), dtype=np.float32),
            (
                np.repeat(np.arange(len(kept)), [len(postings[t]) for t in kept]),
                np.concatenate([sorted(postings[t]) for t in kept]),
            ),
        ),
        shape=(len(kept), len(titles)),
    )
    df = np.asarray(incidence.sum(axis=1)).ravel()
    context = np.asarray(incidence @ np.asarray(product_vectors, dtype=np.float32))
    context /= np.maximum(np.linalg.norm(context, axis=1, keepdims=True), 1e-12)
    vectors = np.asarray(encode(words), dtype=np.float32)
    together = (incidence @ incidence.T).tocsr()
    paths = [tuple(str(c) for c in (cat or ()))[:category_depth] for cat in categories]
    has_categories = any(paths)
    term_categories = [{paths[r] for r in postings[t] if paths[r]} for t in kept]
    out: list[Candidate] = []
    seen: set[tuple[int, int]] = set()
    for start in track(range(0, len(kept), 512), total=(len(kept) + 511) // 512, description="comparing terms"):
        block = vectors[start : start + 512] @ vectors.T
        for offset, row in enumerate(block):
            a = start + offset
            row[a] = -1.0
            for b in np.argsort(-row)[:neighbors]:
                b = int(b)
                pair = (min(a, b), max(a, b))
                if row[b] < term_cosine or pair in seen:
                    continue
                seen.add(pair)
                if _negated(words[a], words[b]):
                    continue
                ctx = float(context[a] @ context[b])
                shared_titles = int(together[a, b])
                if ctx < context_cosine or shared_titles > max_together * min(df[a], df[b]):
                    continue
                shared_categories = len(term_categories[a] & term_categories[b])
                if has_categories and not shared_categories:
                    continue
                evidence = {
                    "term cosine": round(float(row[b]), 3),
                    "product cosine": round(ctx, 3),
                    "titles": f"{int(df[a])}/{int(df[b])}",
                    "together": shared_titles,
                }
                if has_categories:
                    evidence["shared categories"] = shared_categories
                phrases = (words[pair[0]], words[pair[1]])
                out.append(Candidate(phrases, "catalog", evidence, float(row[b]) * ctx))
    return sorted(out, key=lambda c: (-c.score, c.phrases))


def _negated(a: str, b: str) -> bool:
    """``sleeve`` / ``sleeveless``, ``wire`` / ``wireless``: close vectors, opposite meanings."""
    return (
        a + "less" == b
        or b + "less" == a
        or a.startswith("non")
        and a[3:].lstrip("-") == b
        or b.startswith("non")
        and b[3:].lstrip("-") == a
    )


def mine_events(log: Any, analyzer: Callable[[str], list[str]], *, min_shared: int = 2) -> list[Candidate]:
    """Pairs of queries whose searches led to purchases of at least ``min_shared`` same products
    (queries grouped by :func:`~shopmatch.events.model.query_key`; pairs whose analyzed terms are
    the same are left out), most shared first.

    Args:
        log: an :class:`~shopmatch.events.io.EventLog`.
    """
    from shopmatch.events.model import query_key

    bought: dict[str, set[str]] = defaultdict(set)
    for event in log.interactions:
        if event.type != "purchase":
            continue
        shown = log.by_search_id.get(event.search_id)
        if shown is not None:
            bought[query_key(shown.query)].add(event.product_id)
    by_product: dict[str, list[str]] = defaultdict(list)
    for query, products in bought.items():
        for product in products:
            by_product[product].append(query)
    shared: Counter[tuple[str, str]] = Counter()
    for queries in by_product.values():
        queries = sorted(queries)
        for i, a in enumerate(queries):
            for b in queries[i + 1 :]:
                shared[(a, b)] += 1
    out = []
    for (a, b), count in shared.items():
        if count < min_shared or sorted(analyzer(a)) == sorted(analyzer(b)):
            continue
        union = len(bought[a] | bought[b])
        evidence = {"shared purchased products": count, "purchased": f"{len(bought[a])}/{len(bought[b])}"}
        out.append(Candidate((a, b), "events", evidence, count / union))
    return sorted(out, key=lambda c: (-c.evidence["shared purchased products"], -c.score, c.phrases))


def write_candidates(candidates: Sequence[Candidate], path: str | Path, *, header: Sequence[str] = ()) -> int:
    """Write ``candidates`` as a reviewable synonyms file (every rule commented out); returns how many."""
    lines = [
        "# Synonym candidates mined by `shopmatch synonyms mine`. NOTHING HERE IS APPLIED.",
        "# To accept a rule, remove the '# ' in front of it; then set [synonyms] file to this file.",
        "# Each rule follows the line of evidence it was mined from.",
        *(f"# {h}" for h in header),
        "",
    ]
    for candidate in candidates:
        lines.extend(candidate.lines())
        lines.append("")
    Path(path).write_text("\n".join(lines), encoding="utf-8")
    return len(candidates)


def mine_index(index: Any, **options: Any) -> list[Candidate]:
    """:func:`mine_catalog` over an in-process index (its products, its bi-encoder vectors and
    encoder, its analyzer); ``options`` go to :func:`mine_catalog`.

    Raises:
        ShopmatchError: the index has no bi-encoder (``dense``) to compare terms with.
    """
    from shopmatch.errors import ShopmatchError

    dense = index.retrievers.get("dense")
    if dense is None:
        raise ShopmatchError("mining synonyms from the catalog needs an index with the dense retriever")
    records = [index.products.record(row) for row in range(len(index.products))]
    vectors = dense.vectors_of(np.arange(len(records)))
    return mine_catalog(
        [str(r.get("title", "")) for r in records],
        [r.get("category") for r in records],
        vectors,
        dense.encoder.encode_queries,
        index.config.lexical.analyzer(),
        **options,
    )
