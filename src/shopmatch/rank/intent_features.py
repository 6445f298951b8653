"""Category-intent features of the learned ranker: how well a candidate's category fits what the query asks for.

An optional feature group (``intent``, after the base features) read from the index's category-intent
model (:mod:`shopmatch.query.intent`: centroids of the catalog's categories over the bi-encoder's
vectors) and the query's bi-encoder vector as the ranker stage receives it (``prepared["dense"]``):

- ``intent_score``: the mean, over the levels of the candidate's category path, of the query's
  probability of the candidate's category at that level (what the intent boost adds);
  :data:`MISSING_SCORE` for a product without a category;
- ``intent_rank``: the place (1 = most probable) of the candidate's category among the categories
  of its deepest predicted level; :data:`MISSING_RANK` when it has none that is predicted;
- ``intent_confidence``: the query's highest top-level probability (how sure the model is of the
  query's department; the same for every candidate of a query).

``shopmatch train ranker`` adds the group when the index has an intent model (the catalog has
categories and the pipeline a bi-encoder). The ranker directory keeps ``intent_features.json``: the
softmax temperature the features were computed with (the stage uses it, whatever ``[intent]
temperature`` says at query time) and the categories' count. A ranker that reads the group is
refused when it is loaded for an index without an intent model (:meth:`IntentFeatures.check`):
quietly feeding it sentinels would re-order every query differently from what it was trained on.

Example:
    >>> import numpy as np
    >>> from shopmatch.query.intent import IntentConfig, IntentModel
    >>> vectors = np.array([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]], dtype=np.float32)
    >>> paths = [["Kitchen", "Mugs"], ["Kitchen", "Mugs"], ["Garden", "Hoses"], None]
    >>> model = IntentModel.train(paths, vectors, IntentConfig(min_products=1))
    >>> values = intent_values(model, np.array([1, 0], np.float32), np.arange(4), lambda row: {})
    >>> values[:, 0].round(2).tolist(), values[:, 1].tolist()   # intent_score, intent_rank
    ([1.0, 1.0, 0.0, -1000.0], [1.0, 1.0, 2.0, 10000.0])
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numba
import numpy as np

from shopmatch.errors import ShopmatchError
from shopmatch.query.intent import NO_LEVEL, IntentModel, candidate_nodes, path_scores
from shopmatch.rank.groups import CandidateContext

logger = logging.getLogger(__name__)

INTENT_FEATURE_NAMES: tuple[str, ...] = ("intent_score", "intent_rank", "intent_confidence")
FILE = "intent_features.json"
MISSING_SCORE = -1000.0  # the base features' sentinels (shopmatch.rank.features)
MISSING_RANK = 10_000.0


def intent_values(
    model: IntentModel, vector: np.ndarray | None, rows: np.ndarray, record_of: Callable[[int], Mapping[str, Any]]
) -> np.ndarray:
    """``(len(rows), 3)`` float32 :data:`INTENT_FEATURE_NAMES` of candidate ``rows`` for one query's
    bi-encoder ``vector`` (None: sentinels)."""
    rows = np.asarray(rows, dtype=np.int64)
    out = np.empty((len(rows), len(INTENT_FEATURE_NAMES)), dtype=np.float32)
    out[:, 0], out[:, 1], out[:, 2] = MISSING_SCORE, MISSING_RANK, MISSING_SCORE
    if vector is None or not len(rows):
        return out
    probabilities = model.probabilities(vector)
    nodes = np.asarray(candidate_nodes(model, rows, record_of), dtype=np.int64)
    _intent_columns(probabilities, model.levels, nodes, out)
    return out


@numba.njit(cache=True, nogil=True)
def _intent_columns(probabilities, levels, nodes, out):  # pragma: no cover - compiled
    # out[i] = (intent_score, intent_rank, intent_confidence) of the candidate with category nodes[i]
    scores = path_scores(probabilities, nodes)
    confidence = -np.inf
    for category in range(probabilities.shape[0]):
        if levels[category] == 1:
            confidence = max(confidence, probabilities[category])
    places = np.zeros(probabilities.shape[0], dtype=np.float64)  # 0: not counted yet
    for i in range(nodes.shape[0]):
        deepest, has_category = -1, False
        for level in range(nodes.shape[1]):
            if nodes[i, level] != NO_LEVEL:
                has_category = True
            if nodes[i, level] >= 0:
                deepest = nodes[i, level]
        out[i, 0] = scores[i] if has_category else MISSING_SCORE
        if deepest >= 0:
            if places[deepest] == 0.0:  # its place among its level's categories, as a stable sort by
                place = 1.0  # falling probability orders them (ties: the lower index first)
                for other in range(probabilities.shape[0]):
                    if levels[other] == levels[deepest] and (
                        probabilities[other] > probabilities[deepest]
                        or (probabilities[other] == probabilities[deepest] and other < deepest)
                    ):
                        place += 1.0
                places[deepest] = place
            out[i, 1] = places[deepest]
        out[i, 2] = confidence


@dataclass
class IntentFeatures:
    """The ``intent`` feature group of a ranker: the settings its features were computed with.

    Attributes:
        temperature: the softmax temperature of the probabilities (the training index's ``[intent]``).
        categories: how many categories the training index's intent model had (a check).
    """

    name = "intent"
    names = INTENT_FEATURE_NAMES

    temperature: float
    categories: int
    _tempered: tuple[Any, IntentModel] | None = dataclasses.field(default=None, init=False, repr=False, compare=False)

    @classmethod
    def of_index(cls, index: Any) -> IntentFeatures | None:
        """The group for a ranker trained on ``index`` (None: the index has no intent model)."""
        model = getattr(index, "intent", None)
        if model is None:
            return None
        return cls(float(model.config.temperature), len(model.paths))

    def model(self, index: Any) -> IntentModel:
        """The index's intent model with this group's temperature.

        Raises:
            ShopmatchError: the index has no intent model.
        """
        model = getattr(index, "intent", None)  # a Milvus index has none
        if model is None:
            raise ShopmatchError(
                "the ranker reads category-intent features (feature group 'intent') but this index has no "
                "intent model ([intent] enabled = false, a catalog without categories, or no bi-encoder "
                "retriever); enable [intent] or train the ranker again with --no-intent-features"
            )
        if model.config.temperature != self.temperature:  # the copy is kept while the index keeps its model
            if self._tempered is None or self._tempered[0] is not model:
                self._tempered = (model, model.with_config(replace(model.config, temperature=self.temperature)))
            model = self._tempered[1]
        return model

    def check(self, index: Any) -> None:
        """Refuse an index the group cannot read (see :meth:`model`); warn when its categories are
        not those the ranker was trained with."""
        model = self.model(index)
        if len(model.paths) != self.categories:
            logger.warning(
                "the ranker was trained with %d intent categories, this index has %d; train it again",
                self.categories,
                len(model.paths),
            )

    def context_values(self, ctx: CandidateContext) -> np.ndarray:
        """The features of one query's candidates as the ranker stage sees them."""
        return intent_values(self.model(ctx.index), ctx.prepared.get("dense"), ctx.rows, ctx.index.record)

    # ---- in a ranker directory -------------------------------------------------------------------

    def save(self, directory: str | Path) -> Path:
        """Write ``intent_features.json`` into ``directory``."""
        path = Path(directory) / FILE
        data = {"names": list(INTENT_FEATURE_NAMES), "temperature": self.temperature, "categories": self.categories}
        path.write_text(json.dumps(data) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, directory: str | Path) -> IntentFeatures:
        """Read ``intent_features.json`` of a ranker directory.

        Raises:
            ShopmatchError: a missing or damaged file; the message names it and the field.
        """
        path = Path(directory) / FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ShopmatchError(f"{path}: not found; the ranker reads category-intent features") from None
        except (OSError, ValueError) as err:
            raise ShopmatchError(f"{path}: unreadable intent features ({err})") from None
        if not isinstance(data, dict) or data.get("names") != list(INTENT_FEATURE_NAMES):
            raise ShopmatchError(f"{path}: field 'names': other intent features than this version's")
        for field, kind in (("temperature", float), ("categories", int)):
            value = data.get(field)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ShopmatchError(f"{path}: field {field!r}: a positive number expected, not {value!r}")
            data[field] = kind(value)
        return cls(data["temperature"], data["categories"])
