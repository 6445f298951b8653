"""Per-query dense weight: trust the bi-encoder's list as far as it agrees with BM25F's.

Equal-weight fusion adds the bi-encoder's list to BM25F's whatever its quality. Where the model
reads the catalog poorly (Chinese titles for the bundled English model, Home Depot's terse
tool names) its list is mostly noise, and the noise pushes BM25F's good results down. A shop
with neither judgments nor clicks cannot learn a weight, but every query carries its own
evidence: two retrievers that read the query differently rarely agree by chance, so where the
bi-encoder's top ``k`` shares products with BM25F's top ``k`` it has understood the query, and
where it shares none it usually has not.

For each query, from the retrievers' first lists (before pseudo-relevance feedback):

1. ``agreement`` = share of the top ``k`` (``agreement_k``) of the dense list that is also in
   the top ``k`` of the lexical list, corrected for chance: among ``n`` candidates two random
   top-``k`` lists share ``k / n`` of their items (``n`` is the catalog in retrieval mode, the
   given candidates in rerank mode), ``(share − k/n) / (1 − k/n)``, at least 0;
2. ``readable``: the share ``u`` of ``[UNK]`` tokens in the query or in the texts of the dense
   list's top ``k`` products (the larger) makes ``1 − u / max_unknown`` (``[dense]
   max_unknown``), at least 0. The English model maps most Chinese to ``[UNK]``: products it
   cannot read have noise vectors even when the query has a few words it knows;
3. the dense weight is ``weights.dense × readable × min(1, agreement / full_agreement)``: full
   where the lists share at least ``full_agreement``, falling linearly to 0 where they share
   nothing (the query is then BM25F's alone, re-ordered by nothing else).

A query the lexical retriever finds nothing for keeps the full dense weight (the bi-encoder's
list is all there is); so do a pool of at most ``k`` candidates (both lists hold all of them)
and a pipeline without both retrievers. The weight and its reason
are in every page (``search --json``: ``fusion``; ``/explain``). ``[fusion] adaptive = false``
is the plain fusion of ``weights``.

``full_agreement`` was chosen by leave-one-dataset-out cross-validation over esci-us-150,
Home Depot dev and zh-ecom-query-item (``bench/experiments/no_data_default.py``,
``docs/experiments/2026-12-06-no-data-default.md``).

Example:
    >>> import numpy as np
    >>> from shopmatch.hits import SearchHits
    >>> lexical = SearchHits(np.array([[3.0, 2.0, 1.0]]), np.array([[1, 2, 3]]))
    >>> noise = SearchHits(np.array([[0.9, 0.8, 0.7]]), np.array([[7, 8, 9]]))
    >>> choice = dense_weight({"lexical": lexical, "dense": noise}, catalog=1000, k=3, full_agreement=0.2)
    >>> choice.weight, choice.reason
    (0.0, 'dense top 3 shares 0 of 3 with lexical top 3: the query is lexical only')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shopmatch.hits import SearchHits


@dataclass(frozen=True)
class DenseWeight:
    """The dense retriever's share of the fusion for one query, and why (explanations)."""

    weight: float
    agreement: float | None
    reason: str
    readable: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        agreement = None if self.agreement is None else round(self.agreement, 4)
        return {
            "dense_weight": round(self.weight, 4),
            "agreement": agreement,
            "readable": round(self.readable, 4),
            "reason": self.reason,
        }


def dense_weight(
    runs: Mapping[str, SearchHits],
    catalog: int,
    k: int,
    full_agreement: float,
    base: float = 1.0,
    unknown: float = 0.0,
    max_unknown: float = 0.5,
) -> DenseWeight:
    """The dense weight for one query (row 0 of each run) from the agreement of its lists.

    Args:
        runs: the first lists of ``lexical`` and ``dense`` (other retrievers are not looked at).
        catalog: how many products the lists were drawn from (chance agreement is ``k / catalog``).
        k: how many of each list's first results are compared.
        full_agreement: the chance-corrected agreement at which the dense list keeps ``base``.
        base: the configured weight of the dense retriever.
        unknown: the share of tokens the encoder does not know (``[UNK]``) in the query or in the
            texts of the dense list's first ``k`` products, the larger.
        max_unknown: the share at which the encoder reads nothing (``[dense] max_unknown``).
    """
    lexical = [row for row, _ in runs["lexical"].query(0)][:k] if "lexical" in runs else []
    dense = [row for row, _ in runs["dense"].query(0)][:k] if "dense" in runs else []
    if not dense:
        return DenseWeight(base, None, "no dense results")
    if not lexical:
        return DenseWeight(base, None, "no lexical results: the dense list is all there is")
    compared = min(k, len(lexical), len(dense))
    shared = len(set(lexical[:compared]) & set(dense[:compared]))
    chance = compared / max(catalog, 1)
    if chance >= 1.0:
        return DenseWeight(base, None, f"only {catalog} candidates: both top {compared} hold them all")
    agreement = max(0.0, (shared / compared - chance) / (1.0 - chance))
    readable = readability(unknown, max_unknown)
    if readable <= 0.0:
        reason = f"{unknown:.0%} of the query's or its dense results' tokens unknown to the encoder: lexical only"
        return DenseWeight(0.0, agreement, reason, readable)
    scale = 1.0 if full_agreement <= 0 else min(1.0, agreement / full_agreement)
    weight = base * scale * readable
    what = f"dense top {compared} shares {shared} of {compared} with lexical top {compared}"
    if readable < 1.0:
        what = f"{unknown:.1%} of the tokens unknown to the encoder (weight × {readable:.2f}); {what}"
    if scale >= 1.0:
        reason = f"{what}: full dense weight"
    elif scale <= 0.0:
        reason = f"{what}: the query is lexical only"
    else:
        reason = f"{what}: agreement {agreement:.2f} below {full_agreement:g}, dense weight scaled by {scale:.2f}"
    return DenseWeight(weight, agreement, reason, readable)


def readability(unknown: float, max_unknown: float) -> float:
    """How much of the text the encoder reads: 1 with no ``[UNK]`` tokens, falling linearly to 0
    at ``max_unknown`` of them.

    >>> readability(0.0, 0.5), readability(0.25, 0.5), readability(0.7, 0.5)
    (1.0, 0.5, 0.0)
    """
    if max_unknown <= 0:
        return 1.0 if unknown <= 0 else 0.0
    return float(min(1.0, max(0.0, 1.0 - unknown / max_unknown)))


def unknown_share(retriever: Any, query: str, records: Sequence[Mapping[str, Any]]) -> float:
    """The share of ``[UNK]`` tokens in ``query`` or in the texts of ``records`` (their mean), the
    larger, for the dense ``retriever``'s encoder (0 for a retriever without one)."""
    encoder = getattr(retriever, "encoder", None)
    if encoder is None:
        return 0.0
    from shopmatch.catalog import Product

    texts = [query, *(retriever.config.text.render(Product.from_dict(record)) for record in records)]
    shares = encoder.unknown_share(texts)
    return float(max(shares[0], shares[1:].mean() if len(shares) > 1 else 0.0))
