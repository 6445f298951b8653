"""Category intent: which categories a query asks for, from a light head on the bi-encoder's vectors.

Trained from the catalog itself when the index is built (no judgments, no configuration): every
category-path prefix (``Home``, ``Home > Kitchen``, ...) down to ``[intent] depth`` levels that at
least ``min_products`` products are filed under gets a centroid, the normalized mean of those
products' bi-encoder vectors (already in the index, so nothing is encoded again). A query's
probability of a category is a softmax over the cosines between its vector and the centroids of
that level (``temperature``): a nearest-centroid classifier over the bi-encoder's representation.

It is used three ways:

- **boost**: each candidate's *intent score* — the mean, over the levels of its path, of the
  probability of the product's own category at that level — times ``[intent] weight`` is added
  to its fused score before the later stages (:func:`candidate_intent_scores`; the learned
  ranker's optional ``intent`` feature group, :mod:`shopmatch.rank.intent_features`, reads the
  same score, the rank of the product's category and the query's confidence). The weight is 0
  by default: on esci-us-150 the boost did not help (nested cross-validation chose none);
- **facet**: the response's ``predicted_categories``, the top ``top`` categories at the deepest
  level, with their probabilities (the web page offers them as filters);
- **explain**: ``/explain`` and ``search --json`` show the predictions and the boost.

A catalog with fewer than two categories (Home Depot's has none) has no intent model, and the
search skips the stage. An index written before this stage is trained on first use (seconds:
one pass over the stored vectors), not written back.

Example:
    >>> import numpy as np
    >>> vectors = np.array([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]], dtype=np.float32)
    >>> paths = [["Kitchen", "Mugs"], ["Kitchen", "Mugs"], ["Garden", "Hoses"], ["Garden", "Hoses"]]
    >>> model = IntentModel.train(paths, vectors, IntentConfig(min_products=2))
    >>> [(p.path, round(p.probability, 2)) for p in model.predict(np.array([1, 0], dtype=np.float32), 1)]
    [(('Kitchen', 'Mugs'), 1.0)]
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numba
import numpy as np

from shopmatch.errors import IndexFormatError
from shopmatch.hits import FusedHits, SourceHits
from shopmatch.settings import ConfigSection, setting
from shopmatch.store import atomic_directory, read_manifest, write_manifest

logger = logging.getLogger(__name__)

INTENT_KIND = "shopmatch-intent"
INTENT_FORMAT_VERSION = 1
RARE = -1  # product_nodes: the product's category at this level has too few products to be predicted
NO_LEVEL = -2  # product_nodes: the product's category path stops before this level


@dataclass(frozen=True)
class IntentConfig(ConfigSection):
    """Category intent (``[intent]``).

    Attributes:
        enabled: predict categories and boost the products in them (skipped when the catalog has
            no categories or the pipeline no bi-encoder).
        weight: how much of a product's intent score (0..1) is added to its fused score (RRF
            scores are about 1/60 per retriever). 0 by default: on esci-us-150 nested
            cross-validation chose no boost (docs/experiments/2026-12-06-query-understanding.md);
            the categories are still predicted and suggested, and the ranker can use the score.
        depth: the category levels predicted (1: top level only).
        min_products: products a category needs to be predicted.
        temperature: softmax temperature over the cosines (lower: sharper probabilities).
        top: predicted categories reported per query.
    """

    SECTION = "intent"

    enabled: bool = True
    weight: float = setting(0.0, minimum=0.0)
    depth: int = setting(3, minimum=1, maximum=8)
    min_products: int = setting(3, minimum=1)
    temperature: float = setting(0.05, greater_than=0.0)
    top: int = setting(3, minimum=1)


@dataclass(frozen=True)
class PredictedCategory:
    """One predicted category: its path and probability (among the categories of its level)."""

    path: tuple[str, ...]
    probability: float

    def to_dict(self) -> dict[str, Any]:
        return {"path": list(self.path), "probability": round(self.probability, 4)}


class IntentModel:
    """Category centroids over the bi-encoder's vectors and each product's category per level.

    Attributes:
        paths: the categories (path prefixes), ``levels[i]`` long.
        centroids: ``(len(paths), dim)`` unit vectors.
        product_nodes: ``(products, depth)``: each product's category index at each level
            (``RARE`` or ``NO_LEVEL`` where it has none).
    """

    def __init__(
        self, paths: Sequence[tuple[str, ...]], centroids: np.ndarray, product_nodes: np.ndarray, config: IntentConfig
    ) -> None:
        self.paths = [tuple(p) for p in paths]
        self.levels = np.array([len(p) for p in self.paths], dtype=np.int32)
        self.centroids = np.asarray(centroids, dtype=np.float32)
        self.product_nodes = np.asarray(product_nodes, dtype=np.int32)
        self.config = config
        self.node_of = {p: i for i, p in enumerate(self.paths)}
        self.depth = int(self.levels.max()) if len(self.levels) else 0

    @classmethod
    def train(
        cls,
        categories: Sequence[Sequence[str] | None],
        vectors: np.ndarray,
        config: IntentConfig,
        *,
        queries: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> IntentModel | None:
        """Centroids of every category prefix with ``min_products`` products; None when fewer than
        two top-level categories qualify (nothing to tell apart). ``queries``: the vectors of
        shoppers' queries and the catalog rows of the products they clicked (or that were judged
        relevant to them); each query joins the centroids of its product's categories, as one more
        member, so the centroids move towards how shoppers ask for what they bought."""
        paths = [tuple(str(c) for c in (cat or ()))[: config.depth] for cat in categories]
        counts = Counter(p[:level] for p in paths for level in range(1, len(p) + 1))
        kept = sorted(p for p, n in counts.items() if n >= config.min_products)
        if sum(1 for p in kept if len(p) == 1) < 2:
            return None
        node_of = {p: i for i, p in enumerate(kept)}
        depth = max(len(p) for p in kept)
        product_nodes = np.full((len(paths), depth), NO_LEVEL, dtype=np.int32)
        for row, path in enumerate(paths):
            for level in range(1, min(len(path), depth) + 1):
                product_nodes[row, level - 1] = node_of.get(path[:level], RARE)
        vectors = np.asarray(vectors, dtype=np.float32)
        sums = np.zeros((len(kept), vectors.shape[1]), dtype=np.float64)
        for level in range(depth):
            nodes = product_nodes[:, level]
            has = nodes >= 0
            np.add.at(sums, nodes[has], vectors[has])
            if queries is not None and len(queries[1]):
                query_vectors, rows = np.asarray(queries[0], dtype=np.float32), np.asarray(queries[1], dtype=np.int64)
                clicked = product_nodes[rows, level]
                np.add.at(sums, clicked[clicked >= 0], query_vectors[clicked >= 0])
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        centroids = (sums / np.where(norms > 0, norms, 1.0)).astype(np.float32)
        logger.info("category intent: %d categories over %d levels", len(kept), depth)
        return cls(kept, centroids, product_nodes, config)

    def probabilities(self, query_vector: np.ndarray) -> np.ndarray:
        """``(len(paths),)``: each category's probability among those of its level."""
        cosines = self.centroids @ np.asarray(query_vector, dtype=np.float32)
        return _softmax_by_level(cosines, self.levels, self.depth, float(self.config.temperature))

    def predict(
        self,
        query_vector: np.ndarray,
        top: int | None = None,
        level: int | None = None,
        probabilities: np.ndarray | None = None,
    ) -> list[PredictedCategory]:
        """The ``top`` most probable categories at ``level`` (default: the deepest);
        ``probabilities``: the query's, when :meth:`probabilities` has computed them already."""
        level = self.depth if level is None else level
        probs = self.probabilities(query_vector) if probabilities is None else probabilities
        nodes = np.flatnonzero(self.levels == level)
        best = nodes[np.argsort(-probs[nodes], kind="stable")][: top or self.config.top]
        return [PredictedCategory(self.paths[i], float(probs[i])) for i in best]

    def nodes_of_path(self, category: Sequence[str] | None) -> np.ndarray:
        """A category path's node per level (``RARE``: not a predicted category; ``NO_LEVEL``:
        the path stops before that level)."""
        path = tuple(str(c) for c in (category or ()))
        out = np.full(self.product_nodes.shape[1], NO_LEVEL, dtype=np.int32)
        for level in range(1, min(len(path), len(out)) + 1):
            out[level - 1] = self.node_of.get(path[:level], RARE)
        return out

    def scores(self, probabilities: np.ndarray, nodes: np.ndarray) -> np.ndarray:
        """Intent scores of products given their ``(n, depth)`` nodes: the mean, over the levels
        of the product's path, of the probability of its category at that level (0 for a
        category too rare to be predicted; 0 for a product without a category)."""
        nodes = np.asarray(nodes, dtype=np.int64).reshape(len(nodes), -1)
        return path_scores(np.asarray(probabilities, dtype=np.float64), nodes)

    # ---- persistence -----------------------------------------------------------------------------

    def save(self, directory: str | Path) -> None:
        """Write ``centroids.npy``, ``product_nodes.npy``, ``categories.json`` and the manifest."""
        with atomic_directory(Path(directory)) as tmp:
            np.save(tmp / "centroids.npy", self.centroids)
            np.save(tmp / "product_nodes.npy", self.product_nodes)
            (tmp / "categories.json").write_text(json.dumps([list(p) for p in self.paths], ensure_ascii=False))
            write_manifest(tmp, kind=INTENT_KIND, format_version=INTENT_FORMAT_VERSION, config=self.config.to_dict())

    @classmethod
    def load(cls, directory: str | Path, config: IntentConfig) -> IntentModel:
        """Read a saved model; query-time settings (``weight``, ``temperature``, ``top``) come from
        ``config``, the trained ones (``depth``, ``min_products``) from the directory.

        Raises:
            IndexFormatError: damaged or written in a newer format.
        """
        directory = Path(directory)
        manifest = read_manifest(directory, kind=INTENT_KIND, supported_version=INTENT_FORMAT_VERSION)
        try:
            trained = IntentConfig.from_dict(manifest["config"])
            paths = [tuple(p) for p in json.loads((directory / "categories.json").read_text())]
            centroids = np.load(directory / "centroids.npy")
            product_nodes = np.load(directory / "product_nodes.npy")
        except (OSError, ValueError, KeyError) as err:
            raise IndexFormatError(f"{directory}: damaged intent model ({type(err).__name__}: {err})") from None
        config = IntentConfig(
            enabled=config.enabled,
            weight=config.weight,
            depth=trained.depth,
            min_products=trained.min_products,
            temperature=config.temperature,
            top=config.top,
        )
        return cls(paths, centroids, product_nodes, config)

    def with_config(self, config: IntentConfig) -> IntentModel:
        """This model with other query-time settings (the trained ones are kept)."""
        query_time = ("enabled", "weight", "temperature", "top")
        if all(getattr(config, name) == getattr(self.config, name) for name in query_time):
            return self  # the search path asks per query: no new (validated) config then
        keep = IntentConfig(
            config.enabled, config.weight, self.config.depth, self.config.min_products, config.temperature, config.top
        )
        return IntentModel(self.paths, self.centroids, self.product_nodes, keep)


@numba.njit(cache=True, nogil=True)
def _softmax_by_level(cosines, levels, depth, temperature):  # pragma: no cover - compiled
    # per level: exp(cosine / temperature - the level's largest) / the level's sum, in float64
    out = np.zeros(cosines.shape[0], dtype=np.float64)
    for level in range(1, depth + 1):
        largest = -np.inf
        for i in range(cosines.shape[0]):
            if levels[i] == level:
                largest = max(largest, np.float64(cosines[i]) / temperature)
        total = 0.0
        for i in range(cosines.shape[0]):
            if levels[i] == level:
                out[i] = np.exp(np.float64(cosines[i]) / temperature - largest)
                total += out[i]
        for i in range(cosines.shape[0]):
            if levels[i] == level:
                out[i] /= total
    return out


@numba.njit(cache=True, nogil=True)
def path_scores(probabilities, nodes):  # pragma: no cover - compiled
    """See :meth:`IntentModel.scores` (compiled; the ranker's intent features call it too)."""
    out = np.zeros(nodes.shape[0], dtype=np.float64)
    for i in range(nodes.shape[0]):
        total, levels = 0.0, 0
        for level in range(nodes.shape[1]):
            node = nodes[i, level]
            if node != NO_LEVEL:
                levels += 1
                if node >= 0:
                    total += probabilities[node]
        if levels:
            out[i] = total / levels
    return out


# ---- the search stage ----------------------------------------------------------------------------


def candidate_intent_scores(
    model: IntentModel, probabilities: np.ndarray, rows: np.ndarray, record_of: Callable[[int], Mapping[str, Any]]
) -> np.ndarray:
    """The intent score (0..1) of each candidate row for one query's ``probabilities``: rows of
    the catalog the model was trained on use its stored categories, newer rows (a live index's
    delta) their record's.

    This is the per-candidate value a learned ranker can take as a feature.
    """
    return model.scores(probabilities, candidate_nodes(model, rows, record_of))


def candidate_nodes(model: IntentModel, rows: np.ndarray, record_of: Callable[[int], Mapping[str, Any]]) -> np.ndarray:
    """``(len(rows), depth)``: each candidate row's category node per level (``RARE`` /
    ``NO_LEVEL`` where none): the stored ones for rows of the catalog the model was trained on,
    from the record's ``category`` for newer rows (a live index's delta)."""
    rows = np.asarray(rows, dtype=np.int64)
    known = len(model.product_nodes)
    nodes = np.full((len(rows), model.product_nodes.shape[1]), NO_LEVEL, dtype=np.int32)
    stored = rows < known
    nodes[stored] = model.product_nodes[rows[stored]]
    for i in np.flatnonzero(~stored):
        nodes[i] = model.nodes_of_path(record_of(int(rows[i])).get("category"))
    return nodes


def boost_by_intent(hits: FusedHits, intent_scores: np.ndarray, weight: float) -> FusedHits:
    """One query's ``hits`` re-ordered by ``score + weight · intent score`` (ties keep their
    order); the ``intent`` source holds each result's place before the boost and the boost added."""
    found = int((hits.rows[0] >= 0).sum())
    added = (weight * np.asarray(intent_scores, dtype=np.float64)[:found]).astype(np.float32)
    new_scores = hits.scores[0, :found] + added
    order = np.argsort(-new_scores, kind="stable")
    rows, scores = hits.rows.copy(), hits.scores.copy()
    rows[0, :found] = hits.rows[0, order]
    scores[0, :found] = new_scores[order]
    sources = {}
    for name, source in hits.sources.items():
        ranks, raw = source.ranks.copy(), source.scores.copy()
        ranks[0, :found] = source.ranks[0, order]
        raw[0, :found] = source.scores[0, order]
        sources[name] = SourceHits(ranks, raw)
    places = np.zeros(rows.shape, dtype=np.int32)
    boosts = np.full(rows.shape, np.nan, dtype=np.float32)
    places[0, :found] = order + 1
    boosts[0, :found] = added[order]
    return FusedHits(scores, rows, {**sources, "intent": SourceHits(places, boosts)})


def intent_feature(index: Any, prepared: Mapping[str, Any], rows: np.ndarray) -> np.ndarray:
    """The learned ranker's hook: each candidate row's intent score (0..1) for a query, from the
    index's intent model and the query's prepared bi-encoder vector (``prepared["dense"]``, the
    one the ranker stage receives, i.e. after feedback); zeros when the index has no intent model
    or the query no vector.

    Example:
        >>> class NoIntent:
        ...     intent = None
        >>> intent_feature(NoIntent(), {}, np.array([3, 5])).tolist()
        [0.0, 0.0]
    """
    rows = np.asarray(rows, dtype=np.int64)
    model = index.intent
    vector = prepared.get("dense")
    if model is None or vector is None:
        return np.zeros(len(rows), dtype=np.float64)
    return candidate_intent_scores(model, model.probabilities(vector), rows, index.record)


def clicked_pairs(log: Any) -> list[tuple[str, str]]:
    """``(query, product id)`` of the clicks, adds to cart and purchases on logged searches (each
    pair once): what ``StaticIndex.with_clicked_queries`` trains category intent with.

    Example:
        >>> from shopmatch.events import parse_event
        >>> from shopmatch.events.io import EventLog
        >>> shown = parse_event({"type": "impression", "search_id": "s1", "query": "couch",
        ...                      "results": ["p1", "p2"], "ts": "2026-01-01T00:00:00Z"})
        >>> events = [parse_event({"type": kind, "search_id": "s1", "product_id": "p2",
        ...                        "ts": "2026-01-01T00:00:05Z"}) for kind in ("click", "purchase")]
        >>> clicked_pairs(EventLog([shown], events))
        [('couch', 'p2')]
    """
    query_of = {shown.search_id: shown.query for shown in log.impressions}
    pairs = {(i.search_id, i.product_id): query_of[i.search_id] for i in log.interactions if i.search_id in query_of}
    return list(dict.fromkeys((query, product_id) for (_, product_id), query in pairs.items()))
