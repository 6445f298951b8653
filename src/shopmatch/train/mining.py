"""Negatives for training: what the shop's own search returns for a judged query that is not a match.

A shop's judgments are mostly of products its search already showed, so judged pairs are mostly
good matches; a model trained on them alone rarely sees what re-ranking and retrieval mostly see:
products nobody judged. Both transformer families mine negatives from the current search:

- :func:`mining_pipeline` builds a search over the catalog with the retrievers asked for, through
  the pipeline's stable public API (``SearchPipeline.build`` and ``search_ids``) only;
- :func:`retrieve_candidates` runs the judged queries through it;
- :func:`unjudged_negatives` (cross-encoder): per query, a seeded sample of the unjudged products
  it returns, with target 0;
- :func:`mine_negatives` (bi-encoder): (query, positive, hard negatives) rows, the query's judged
  non-matches first, then unjudged products below the top few (which are often true matches
  nobody labelled), never a product judged relevant enough for the query.

Why not :func:`sentence_transformers.util.mine_hard_negatives`: it mines with one dense model and
excludes only the positives of the dataset; it cannot be told about products judged relevant but
not used as positives (ESCI ``S``), and it does not prefer the judged non-matches, the most
informative negatives a shop has. The shop's hybrid pipeline also finds lexical near-misses (same
brand, same model number) that a dense-only miner ranks lower.

Example:
    >>> pairs = [LabeledPair("usb", "", 1.0, "q", "a"), LabeledPair("usb", "", 0.0, "q", "c")]
    >>> rows, stats = mine_negatives(pairs, {"q": ["a", "x", "c"]}, skip_top=0)
    >>> [(r.positive_id, r.negative_ids) for r in rows], stats.judged_negatives
    ([('a', ('c',))], 1)
"""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from shopmatch.catalog import Catalog, Product
from shopmatch.encoders.product_text import ProductTextTemplate
from shopmatch.judgments import Judgments
from shopmatch.train.data import LabeledPair, product_lookup

if TYPE_CHECKING:
    from shopmatch.pipeline import SearchPipeline

logger = logging.getLogger(__name__)

RETRIEVERS = ("lexical", "dense")


def mining_pipeline(
    products: Sequence[Product],
    retrievers: Sequence[str],
    *,
    dense_model: str | None = None,
    max_length: int | None = None,
    text: ProductTextTemplate | None = None,
    depth: int = 100,
) -> SearchPipeline:
    """A search over ``products`` with ``retrievers`` (``lexical``, ``dense``) for mining negatives.

    Args:
        dense_model: the bi-encoder of the ``dense`` retriever (default: the pipeline's default,
            the bundled MiniLM); the bi-encoder recipe mines with the model it starts from.
        max_length, text: that retriever's token limit and product text template.
        depth: candidates each retriever returns before fusion (at least 100).

    Example:
        >>> mining_pipeline(catalog.products, ("lexical",))  # doctest: +SKIP
    """
    from shopmatch.config import PipelineConfig
    from shopmatch.pipeline import SearchPipeline

    logger.info("building the mining pipeline (%s) over %d products", " + ".join(retrievers), len(products))
    if depth <= PipelineConfig.candidates and ("dense" not in retrievers or dense_model is None):
        return SearchPipeline.build(products, PipelineConfig(retrievers=tuple(retrievers)))
    # another dense model or a deeper list: the same settings a pipeline config file would give
    settings: dict = {"pipeline": {"retrievers": list(retrievers), "candidates": max(depth, PipelineConfig.candidates)}}
    if "dense" in retrievers and dense_model is not None:
        settings["dense"] = {"model": dense_model}
        if max_length is not None:
            settings["dense"]["max_length"] = max_length
        if text is not None:
            settings["dense"]["text"] = text.to_dict()
    return SearchPipeline.build(products, PipelineConfig.from_dict(settings))


@dataclass(frozen=True, slots=True)
class Triple:
    """One training row: a query, one of its positives and its hard negatives (product ids)."""

    query_id: str
    query: str
    positive_id: str
    negative_ids: tuple[str, ...]


@dataclass
class MiningStats:
    """What :func:`mine_negatives` found, for the log and the training summary."""

    queries: int = 0
    queries_without_positive: int = 0
    queries_with_random_negatives: int = 0
    rows: int = 0
    judged_negatives: int = 0
    retrieved_negatives: int = 0
    random_negatives: int = 0

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def retrieve_candidates(
    pipeline: SearchPipeline, judgments: Judgments, depth: int = 100, *, batch_size: int = 64
) -> dict[str, list[str]]:
    """Query id → the product ids ``pipeline`` returns for it, best first (``depth`` of them).

    Example:
        >>> retrieve_candidates(mining_pipeline(products, ("lexical",)), judgments, 50)  # doctest: +SKIP
        {'q1': ['p7', 'p2', ...], ...}
    """
    from shopmatch.progress import track

    query_ids = judgments.query_ids
    out: dict[str, list[str]] = {}
    batches = [query_ids[i : i + batch_size] for i in range(0, len(query_ids), batch_size)]
    for batch in track(batches, total=len(batches), description="mining negatives"):
        results = pipeline.search_ids([judgments.queries[q] for q in batch], k=depth)
        out.update((q, [pid for pid, _ in ranked]) for q, ranked in zip(batch, results, strict=True))
    return out


def mine_negatives(
    pairs: Sequence[LabeledPair],
    ranked: Mapping[str, Sequence[str]],
    *,
    positive_min_target: float = 1.0,
    exclude_min_target: float = 0.1,
    skip_top: int = 10,
    depth: int = 100,
    per_pair: int = 1,
    max_positives: int | None = None,
    catalog_ids: Sequence[str] = (),
    seed: int = 0,
) -> tuple[list[Triple], MiningStats]:
    """Build (query, positive, negatives) rows from labelled pairs and retrieved candidates.

    See the module docstring for the order in which negatives are chosen. A product whose target
    for the query is ``exclude_min_target`` or more is never one of its negatives.

    Args:
        pairs: the judged pairs (:func:`~shopmatch.train.data.labeled_pairs`), targets in [0, 1].
        ranked: query id → product ids the current retrievers return, best first (may be empty).
        positive_min_target: pairs with a target at least this are positives.
        exclude_min_target: products with a target at least this are never negatives of the query.
        skip_top: unjudged products at ranks ``1 … skip_top`` are not used.
        depth: unjudged products below rank ``depth`` are not used.
        per_pair: negatives per row.
        max_positives: keep at most this many positives per query (a seeded sample, in file order).
        catalog_ids: product ids for the random fallback (a query with no candidate negative).
        seed: seeds the random fallback.

    Returns:
        The rows in query order (as first seen in ``pairs``), and counts.

    Example:
        >>> pairs = [LabeledPair("usb", "", 1.0, "q", "a"), LabeledPair("usb", "", 0.1, "q", "b"),
        ...          LabeledPair("usb", "", 0.0, "q", "c")]
        >>> rows, _ = mine_negatives(pairs, {"q": ["b", "x", "c", "a", "y"]}, skip_top=1)
        >>> [(r.positive_id, r.negative_ids) for r in rows]
        [('a', ('c',))]
    """
    if exclude_min_target > positive_min_target:
        raise ValueError("exclude_min_target must not exceed positive_min_target")
    rng = random.Random(seed)
    by_query: dict[str, list[LabeledPair]] = {}
    for pair in pairs:
        by_query.setdefault(pair.query_id, []).append(pair)
    stats = MiningStats(queries=len(by_query))
    rows: list[Triple] = []
    for query_id, judged in by_query.items():
        positives = list(dict.fromkeys(p.product_id for p in judged if p.target >= positive_min_target))
        if not positives:
            stats.queries_without_positive += 1
            continue
        if max_positives is not None and len(positives) > max_positives:
            keep = set(rng.sample(range(len(positives)), max_positives))
            positives = [p for i, p in enumerate(positives) if i in keep]
        judged_ids = {p.product_id for p in judged}
        candidates = list(dict.fromkeys(ranked.get(query_id, ())))
        rank_of = {pid: i for i, pid in enumerate(candidates)}
        judged_negative = list(dict.fromkeys(p.product_id for p in judged if p.target < exclude_min_target))
        # judged non-matches, those the retrievers rank highest first, then the rest in file order
        judged_negative.sort(key=lambda pid: rank_of.get(pid, len(candidates)))
        retrieved = [pid for pid in candidates[skip_top:depth] if pid not in judged_ids]
        pool = judged_negative + retrieved
        n_judged = len(judged_negative)
        random_pool = not pool
        if random_pool:
            pool = _random_negatives(catalog_ids, judged_ids, max(per_pair, len(positives) * per_pair), rng)
            stats.queries_with_random_negatives += 1
            if not pool:
                logger.warning("query %r: no product can serve as its negative; its positives are skipped", query_id)
                continue
        used: set[int] = set()
        for i, positive in enumerate(positives):
            picks = [(i * per_pair + j) % len(pool) for j in range(per_pair)]
            used.update(picks)
            negatives = tuple(pool[k] for k in picks)
            rows.append(Triple(query_id, judged[0].query, positive, negatives))
        if random_pool:
            stats.random_negatives += len(used)
        else:
            stats.judged_negatives += sum(1 for k in used if k < n_judged)
            stats.retrieved_negatives += sum(1 for k in used if k >= n_judged)
    stats.rows = len(rows)
    if stats.queries_with_random_negatives:
        logger.info(
            "%d training queries had no judged non-match and no retrieved candidate: random negatives used",
            stats.queries_with_random_negatives,
        )
    return rows, stats


def _random_negatives(catalog_ids: Sequence[str], exclude: set[str], n: int, rng: random.Random) -> list[str]:
    allowed = [pid for pid in catalog_ids if pid not in exclude]
    if not allowed:
        return []
    return rng.sample(allowed, min(n, len(allowed)))


def unjudged_negatives(
    judgments: Judgments,
    products: Catalog | Mapping[str, Product] | Sequence[Product],
    ranked: Mapping[str, Sequence[str]],
    per_query: int,
    template: ProductTextTemplate | None = None,
    *,
    seed: int = 0,
) -> list[LabeledPair]:
    """Target-0 pairs for a cross-encoder: per judged query, ``per_query`` products sampled from
    what the retrievers return for it (``ranked``: query id → product ids, best first, e.g. from
    :func:`retrieve_candidates`) that are not judged for that query.

    Judged pairs alone are mostly good matches (ESCI: over half exact); re-ranking in retrieval
    mode, the cross-encoder mostly sees products nobody judged. These pairs show it some.

    Example:
        >>> from shopmatch.judgments import Judgment, Judgments
        >>> judged = Judgments([Judgment("q1", "red mug", "a", "E")])
        >>> products = {"a": Product("a", "Red mug"), "b": Product("b", "Red plate")}
        >>> [(p.text, p.target) for p in unjudged_negatives(judged, products, {"q1": ["a", "b"]}, 1)]
        [('Red plate', 0.0)]
    """
    template = template or ProductTextTemplate()
    lookup = product_lookup(products)
    rng = random.Random(seed)
    out = []
    for query_id in judgments.query_ids:
        judged_ids = {r.product_id for r in judgments.by_query[query_id]}
        unjudged = [pid for pid in ranked.get(query_id, ()) if pid not in judged_ids and pid in lookup]
        for product_id in rng.sample(unjudged, min(per_query, len(unjudged))):
            query = judgments.queries[query_id]
            out.append(LabeledPair(query, template.render(lookup[product_id]), 0.0, query_id, product_id))
    return out
